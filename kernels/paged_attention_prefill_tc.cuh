// Private to the prefill attention files: the host side of the two tensor-core kernels (mma.sync
// in paged_attention_prefill_mma.cu, the default; WMMA in paged_attention_prefill_tc.cu), which
// pagedAttentionPrefill (paged_attention_prefill.cu) calls after checking the arguments (and, through
// cp_async.cuh, the copy helpers both kernels use).
#pragma once

#include "cp_async.cuh"
#include "cuda_check.cuh"
#include "paged_attention.h"

namespace hearth::kernels::detail {

// Whether q, out and the cache meet the tensor-core kernels' alignment: q and the K/V caches on
// 16-byte boundaries with strides in multiples of 8 elements (their 16-byte copies), out 4-byte
// aligned (pair stores; the common checks already make outStride even). qStride is the resolved
// (non-zero) stride.
bool prefillTensorCoreAligned(const PrefillAttentionArgs& a, std::int64_t qStride);

// Whether the tensor-core kernels that the current device would run were compiled for sm_80 or
// newer: a build whose CUDA architectures stop below 80 leaves only an empty PTX body, which the
// driver would JIT for an Ampere or newer device.
KernelStatus prefillTensorCoreCompiled(bool* yes);

// The launch parameters both tensor-core kernels take: the arguments with strides resolved, the
// GQA ratio, the grid's row tiles of `rowsPerBlock` (token, head) rows, and the scale in log2 units.
struct PrefillTcParams {
    const void* q;
    void* out;
    std::int64_t qStride, outStride;
    const std::int32_t* queryStart;
    const std::int32_t* contextLens;
    const std::int32_t* blockTables;
    std::int64_t maxPagesPerSeq;
    int nKvHeads, ratio, rowTiles, pageTokens;
    float scaleLog2;  // scale * log2(e): the softmax runs on exp2
    const void* kCache;
    const void* vCache;
    std::int64_t pageStride, tokenStride, headStride;
};
KernelStatus makePrefillTcParams(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                 int rowsPerBlock, PrefillTcParams* p);

// Launch the mma.sync (flash-attention 2) or the WMMA prefill on checked, aligned arguments with
// at least one query row.
KernelStatus prefillAttentionMma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                 cudaStream_t stream);
KernelStatus prefillAttentionWmma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                  cudaStream_t stream);

}  // namespace hearth::kernels::detail
