// Writing the K and V of new tokens into their cache pages (vLLM's reshape_and_cache): each token
// carries a slot number page * pageTokens + offset that the engine took from the block table.
#pragma once

#include <cstdint>

#include "paged_kv.h"

namespace hearth::kernels {

struct KvWriteArgs {
    const void* k = nullptr;             // [nTokens, kStride]: nKvHeads * headDim from column 0
    const void* v = nullptr;             // [nTokens, vStride]
    std::int64_t kStride = 0;            // 0 means nKvHeads * headDim
    std::int64_t vStride = 0;
    const std::int32_t* slotMapping = nullptr;  // [nTokens]; a negative slot skips the token (padding)
    std::int64_t nTokens = 0;
    PagedKv cache;
};

// cache K/V at slotMapping[t] = k/v[t], every head.
KernelStatus writeKv(const KvWriteArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
