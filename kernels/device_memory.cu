// Thin checked wrappers over the CUDA runtime's memory and stream calls; no kernels here.
#include "cuda_check.cuh"
#include "device_memory.h"

namespace hearth::kernels {

KernelStatus deviceAlloc(void** ptr, std::size_t nBytes)
{
    HEARTH_KERNEL_REQUIRE(ptr != nullptr, "deviceAlloc needs somewhere to put the pointer");
    *ptr = nullptr;
    if (nBytes == 0)
        return KernelStatus::success();
    HEARTH_CUDA_CHECK(cudaMalloc(ptr, nBytes));
    return KernelStatus::success();
}

KernelStatus deviceFree(void* ptr)
{
    if (ptr)
        HEARTH_CUDA_CHECK(cudaFree(ptr));
    return KernelStatus::success();
}

KernelStatus copyToDevice(void* dst, const void* src, std::size_t nBytes)
{
    if (nBytes)
        HEARTH_CUDA_CHECK(cudaMemcpy(dst, src, nBytes, cudaMemcpyHostToDevice));
    return KernelStatus::success();
}

KernelStatus copyToHost(void* dst, const void* src, std::size_t nBytes)
{
    if (nBytes)
        HEARTH_CUDA_CHECK(cudaMemcpy(dst, src, nBytes, cudaMemcpyDeviceToHost));
    return KernelStatus::success();
}

KernelStatus copyDeviceToDevice(void* dst, const void* src, std::size_t nBytes)
{
    if (nBytes)
        HEARTH_CUDA_CHECK(cudaMemcpy(dst, src, nBytes, cudaMemcpyDeviceToDevice));
    return KernelStatus::success();
}

KernelStatus deviceMemset(void* ptr, int value, std::size_t nBytes, StreamHandle stream)
{
    if (nBytes)
        HEARTH_CUDA_CHECK(cudaMemsetAsync(ptr, value, nBytes, detail::toStream(stream)));
    return KernelStatus::success();
}

KernelStatus deviceSynchronize()
{
    HEARTH_CUDA_CHECK(cudaDeviceSynchronize());
    return KernelStatus::success();
}

KernelStatus createStream(StreamHandle* stream)
{
    HEARTH_KERNEL_REQUIRE(stream != nullptr, "createStream needs somewhere to put the stream");
    cudaStream_t s = nullptr;
    HEARTH_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    *stream = s;
    return KernelStatus::success();
}

KernelStatus destroyStream(StreamHandle stream)
{
    if (stream)
        HEARTH_CUDA_CHECK(cudaStreamDestroy(detail::toStream(stream)));
    return KernelStatus::success();
}

}  // namespace hearth::kernels
