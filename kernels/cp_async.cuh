// cp.async (sm_80+): 16-byte global -> shared copies that run while the thread goes on, in
// commit groups, for the tensor-core kernels' tile rings (prefill and decode attention). Device
// code for sm_80+ only; cudasim runs the same copies and groups without the inline PTX.
#pragma once

#include "cuda_check.cuh"

namespace hearth::kernels::detail {

// 16 bytes global -> shared, asynchronously; with valid false nothing is read and the 16 bytes
// are zero-filled (src must still be a mapped address).
#if defined(HEARTH_CUDASIM)
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
