// Where one layer's K and V live in the paged cache, as plain strides so the kernels do not
// depend on how the engine arranges pages. Element (page, slot, kvHead, d) of K is at
//   kCache[page * pageStride + slot * tokenStride + kvHead * headStride + d]
// and likewise for V; the headDim elements of one (page, slot, head) are contiguous.
// The CPU engine's layout ([page][layer][K|V][slot][kvHead][d], see core/engine/kv_cache.h) is
// pageStride = elementsPerPage, tokenStride = nKvHeads*headDim, headStride = headDim with the
// layer's K and V base pointers; a head-major page ([kvHead][slot][d]) that keeps each head's
// tokens contiguous for decode is tokenStride = headDim, headStride = pageTokens*headDim.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

struct PagedKv {
    void* kCache = nullptr;         // this layer's K at page 0, slot 0, head 0
    void* vCache = nullptr;         // this layer's V likewise
    std::int64_t pageStride = 0;    // elements between pages (even)
    std::int64_t tokenStride = 0;   // elements between slots of a page (even)
    std::int64_t headStride = 0;    // elements between kv heads (even)
    std::int64_t pageTokens = 16;   // slots per page
    std::int64_t nKvHeads = 0;
    std::int64_t headDim = 0;       // 64, 80, 96 or 128 for the attention kernels
    ElemType type = ElemType::F16;  // F16 or BF16
};

// Shared argument checks of the paged-cache kernels.
KernelStatus checkPagedKv(const PagedKv& cache);

}  // namespace hearth::kernels
