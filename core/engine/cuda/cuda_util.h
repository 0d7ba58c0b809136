// Private helpers of the CUDA backend's host side (engine/cuda only): CUDA and kernel failures as
// engine Errors naming the call and the place, owning handles for device and pinned host memory,
// and host rounding of weights to fp16/bf16. No CUDA types here: the .cpp files that call the
// runtime include cuda_runtime.h themselves and pass its error codes as int.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernel_status.h"
#include "model/dtype.h"
#include "util/result.h"

namespace hearth::cuda {

// "CUDA: cudaMalloc(&p, n) failed: out of memory (core/engine/cuda/x.cpp:12)"; OutOfMemory for
// allocation failures, Internal otherwise.
Error cudaCallError(int cudaError, const char* call, const char* file, int line);
// A failed launcher's status as an engine Error (its own call and location kept).
Error kernelError(const kernels::KernelStatus& status);

// Returns the error from the enclosing function (returning Status or Result) when a CUDA runtime
// call fails; `expr` yields a cudaError_t.
#define HEARTH_CUDA_TRY(expr)                                                                        \
    do {                                                                                             \
        const int hearthCudaError_ = static_cast<int>(expr);                                         \
        if (hearthCudaError_ != 0)                                                                   \
            return ::hearth::cuda::cudaCallError(hearthCudaError_, #expr, __FILE__, __LINE__);       \
    } while (0)

// Likewise for a kernel launcher's KernelStatus.
#define HEARTH_KERNEL_CALL(expr)                                                                     \
    do {                                                                                             \
        const ::hearth::kernels::KernelStatus hearthKernelStatus_ = (expr);                          \
        if (!hearthKernelStatus_.ok)                                                                 \
            return ::hearth::cuda::kernelError(hearthKernelStatus_);                                 \
    } while (0)

// Device memory that grows on demand (never shrinks). Growing frees the old block first, so it
// may only happen while no work on the device uses it (the backend grows buffers at the start of
// a step, after the previous step's synchronisation).
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    ~DeviceBuffer();
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& other) noexcept;
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;

    // Makes the buffer hold at least `nBytes` (contents are not kept when it grows).
    Status reserve(std::size_t nBytes, const char* what);
    void* data() const { return m_data; }
    std::size_t bytes() const { return m_bytes; }
    template <typename T>
    T* as(std::size_t byteOffset = 0) const
    {
        return reinterpret_cast<T*>(static_cast<std::uint8_t*>(m_data) + byteOffset);
    }

private:
    void release();
    void* m_data = nullptr;
    std::size_t m_bytes = 0;
};

// Page-locked host memory for the step's upload and the logits download (asynchronous copies
// need it), growing like DeviceBuffer.
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    ~PinnedBuffer();
    PinnedBuffer(const PinnedBuffer&) = delete;
    PinnedBuffer& operator=(const PinnedBuffer&) = delete;

    Status reserve(std::size_t nBytes, const char* what);
    void* data() const { return m_data; }
    std::size_t bytes() const { return m_bytes; }

private:
    void* m_data = nullptr;
    std::size_t m_bytes = 0;
};

// Rounds `n` elements of `src` (F32, F16 or BF16) to `target` (F16 or BF16) into `dst`, round to
// nearest even; bf16 -> fp16 saturates finite values to +-65504 as the load pipeline does.
void convertElements(const void* src, DType srcType, std::uint16_t* dst, std::size_t n, kernels::ElemType target);

// n rounded up to a multiple of `align` (a power of two).
inline std::size_t alignUp(std::size_t n, std::size_t align) { return (n + align - 1) & ~(align - 1); }

// "1.5 GiB" style sizes for messages.
std::string formatBytes(std::uint64_t bytes);

}  // namespace hearth::cuda
