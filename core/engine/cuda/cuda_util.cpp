#include "engine/cuda/cuda_util.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "load/half_convert.h"

namespace hearth::cuda {

Error cudaCallError(int cudaError, const char* call, const char* file, int line)
{
    const auto e = static_cast<cudaError_t>(cudaError);
    // A failed call also leaves its error as the thread's last error; cleared here (non-sticky
    // errors clear, sticky ones stay), or the next launch check on this thread would report it
    // as its own failure.
    cudaGetLastError();
    const ErrorCode code = e == cudaErrorMemoryAllocation ? ErrorCode::OutOfMemory : ErrorCode::Internal;
    return makeError(code, std::string("CUDA: ") + call + " failed: " + cudaGetErrorString(e) + " (" + file + ":" +
                               std::to_string(line) + ")");
}

Error kernelError(const kernels::KernelStatus& status)
{
    const ErrorCode code = status.message.find("out of memory") != std::string::npos ? ErrorCode::OutOfMemory
                                                                                     : ErrorCode::Internal;
    return makeError(code, "CUDA: " + status.describe());
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : m_data(std::exchange(other.m_data, nullptr)), m_bytes(std::exchange(other.m_bytes, 0))
{
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept
{
    if (this != &other) {
        release();
        m_data = std::exchange(other.m_data, nullptr);
        m_bytes = std::exchange(other.m_bytes, 0);
    }
    return *this;
}

void DeviceBuffer::release()
{
    // A failure to free cannot be reported from here and leaves nothing to undo.
    if (m_data)
        cudaFree(m_data);
    m_data = nullptr;
    m_bytes = 0;
}

Status DeviceBuffer::reserve(std::size_t nBytes, const char* what)
{
    if (nBytes <= m_bytes)
        return Status::ok();
    // Grow by at least half again, so a slowly growing need does not reallocate every step.
    const std::size_t want = alignUp(std::max(nBytes, m_bytes + m_bytes / 2), 256);
    release();
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, want);
    if (e != cudaSuccess) {
        cudaGetLastError();  // clear the (non-sticky) allocation error
        return makeError(ErrorCode::OutOfMemory, std::string("CUDA backend: cannot allocate ") + formatBytes(want) +
                                                     " of device memory for " + what + ": " + cudaGetErrorString(e));
    }
    m_data = p;
    m_bytes = want;
    return Status::ok();
}

PinnedBuffer::~PinnedBuffer()
{
    if (m_data)
        cudaFreeHost(m_data);
}

Status PinnedBuffer::reserve(std::size_t nBytes, const char* what)
{
    if (nBytes <= m_bytes)
        return Status::ok();
    const std::size_t want = alignUp(std::max(nBytes, m_bytes + m_bytes / 2), 4096);
    if (m_data)
        cudaFreeHost(m_data);
    m_data = nullptr;
    m_bytes = 0;
    void* p = nullptr;
    const cudaError_t e = cudaMallocHost(&p, want);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return makeError(ErrorCode::OutOfMemory, std::string("CUDA backend: cannot allocate ") + formatBytes(want) +
                                                     " of pinned host memory for " + what + ": " + cudaGetErrorString(e));
    }
    m_data = p;
    m_bytes = want;
    return Status::ok();
}

namespace {

std::uint32_t bitsOf(float f)
{
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

float floatOf(std::uint32_t b)
{
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

// IEEE binary16, round to nearest even; finite values beyond the range saturate to +-65504 (as
// the load pipeline's bf16 -> fp16 does), inf stays inf, NaN stays NaN.
std::uint16_t floatToHalf(float f)
{
    std::uint32_t x = bitsOf(f);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u)
        return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (x >= 0x477ff000u)  // would round to inf: saturate
        return static_cast<std::uint16_t>(sign | 0x7bffu);
    if (x < 0x38800000u) {  // below 2^-14: subnormal (or zero) in units of 2^-24, the scaling is exact
        const auto q = static_cast<std::uint32_t>(std::nearbyint(floatOf(x) * 16777216.0f));
        return static_cast<std::uint16_t>(sign | q);
    }
    const std::uint32_t mant = x & 0x7fffffu;
    const std::uint32_t exp = (x >> 23) - 127 + 15;
    std::uint32_t h = (exp << 10) | (mant >> 13);
    const std::uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        ++h;  // a carry into the exponent is the right answer
    return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t floatToBf16(float f)
{
    const std::uint32_t x = bitsOf(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace

void convertElements(const void* src, DType srcType, std::uint16_t* dst, std::size_t n, kernels::ElemType target)
{
    const bool toHalf = target == kernels::ElemType::F16;
    if ((srcType == DType::F16 && toHalf) || (srcType == DType::BF16 && !toHalf)) {
        std::memcpy(dst, src, n * sizeof(std::uint16_t));
        return;
    }
    if (srcType == DType::F16 || srcType == DType::BF16) {
        std::memcpy(dst, src, n * sizeof(std::uint16_t));
        if (toHalf)
            convertBf16ToHalf(dst, n);
        else
            convertHalfToBf16(dst, n);
        return;
    }
    // F32 (ModelWeights admits only float dtypes).
    const auto* f = static_cast<const float*>(src);
    for (std::size_t i = 0; i < n; ++i)
        dst[i] = toHalf ? floatToHalf(f[i]) : floatToBf16(f[i]);
}

std::string formatBytes(std::uint64_t bytes)
{
    char buf[32];
    if (bytes >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / static_cast<double>(1ull << 30));
    else
        std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / static_cast<double>(1ull << 20));
    return buf;
}

}  // namespace hearth::cuda
