// Private to the prefill attention files: the host side of the two tensor-core kernels (mma.sync
// in paged_attention_prefill_mma.cu, the default; WMMA in paged_attention_prefill_tc.cu), which
// pagedAttentionPrefill (paged_attention_prefill.cu) calls after checking the arguments, and the
// cp.async helpers both kernels copy their tiles with.
#pragma once

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

// Launch the mma.sync (flash-attention 2) or the WMMA prefill on checked, aligned arguments with
// at least one query row.
KernelStatus prefillAttentionMma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                 cudaStream_t stream);
KernelStatus prefillAttentionWmma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                  cudaStream_t stream);

// 16 bytes global -> shared, asynchronously; with valid false nothing is read and the 16 bytes
// are zero-filled (src must still be a mapped address). Device code for sm_80+ only.
#if defined(HEARTH_CUDASIM)
// cudasim (tests/cudasim): the same copies and groups, without the inline PTX.
__device__ __forceinline__ void copy16Async(void* dst, const void* src, bool valid)
{
    ::cudasim::exec::copyAsync16(dst, src, valid ? 16 : 0);
}
__device__ __forceinline__ void commitAsync() { ::cudasim::exec::commitAsyncGroup(); }
template <int N>
__device__ __forceinline__ void waitAsync()
{
    ::cudasim::exec::waitAsyncGroups(N);
}
#else
__device__ __forceinline__ void copy16Async(void* dst, const void* src, bool valid)
{
    const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    const int srcBytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(srcBytes) : "memory");
}
__device__ __forceinline__ void commitAsync() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void waitAsync()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
#endif

}  // namespace hearth::kernels::detail
