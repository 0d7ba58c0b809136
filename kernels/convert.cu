// convertForLoad: one thread per element in a grid-stride loop, 64-bit indices. Reads 2 or 4
// bytes and writes 2 per element; memory-bound, and far faster than the PCIe upload it follows,
// so plain scalar accesses are enough (the inputs are only element-aligned).
#include "convert.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "cuda_check.cuh"

namespace hearth::kernels {

namespace {

// The conversions below follow core/load/half_convert.cpp bit for bit, so that the device load
// path and the host upload put the same bytes on the device: round to nearest even, finite
// overflow to fp16 saturating at 65504, and NaN payloads kept as the host keeps them (the CUDA
// intrinsics would return a canonical NaN instead).
__device__ __forceinline__ std::uint32_t floatBits(float v) { return __float_as_uint(v); }
__device__ __forceinline__ std::uint32_t floatBits(__nv_bfloat16 v)
{
    return static_cast<std::uint32_t>(__bfloat16_as_ushort(v)) << 16;  // exact, NaN included
}
__device__ __forceinline__ std::uint32_t floatBits(__half v)
{
    const std::uint32_t h = __half_as_ushort(v);
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0)  // NaN: widen the payload as the host does
        return ((h & 0x8000u) << 16) | 0x7f800000u | ((h & 0x3ffu) << 13);
    return __float_as_uint(__half2float(v));
}

__device__ __forceinline__ __half toHalfSaturating(std::uint32_t x)
{
    const std::uint32_t sign = (x >> 16) & 0x8000u;
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u)  // NaN: top payload bits and the quiet bit
        return __ushort_as_half(static_cast<unsigned short>(sign | 0x7e00u | ((absx >> 13) & 0x3ffu)));
    if (absx != 0x7f800000u && absx >= 0x477ff000u)  // finite, 65520 and up: would round to infinity
        return __ushort_as_half(static_cast<unsigned short>(sign | 0x7bffu));
    return __float2half_rn(__uint_as_float(x));
}

__device__ __forceinline__ __nv_bfloat16 toBf16(std::uint32_t x)
{
    if ((x & 0x7fffffffu) > 0x7f800000u)  // NaN: truncate and set the quiet bit
        return __ushort_as_bfloat16(static_cast<unsigned short>((x >> 16) | 0x40u));
    return __float2bfloat16_rn(__uint_as_float(x));
}

template <typename In, typename Out>
__global__ void convertKernel(const In* __restrict__ in, Out* __restrict__ out, std::int64_t n)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const std::uint32_t bits = floatBits(in[i]);
        if constexpr (std::is_same_v<Out, __half>)
            out[i] = toHalfSaturating(bits);
        else
            out[i] = toBf16(bits);
    }
}

template <typename In, typename Out>
KernelStatus launch(const void* in, void* out, std::int64_t n, StreamHandle stream)
{
    constexpr int kThreads = 256;
    const std::int64_t blocks = std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65536);
    convertKernel<In, Out><<<static_cast<unsigned>(blocks), kThreads, 0, detail::toStream(stream)>>>(
        static_cast<const In*>(in), static_cast<Out*>(out), n);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace

KernelStatus convertForLoad(const void* in, ElemType inType, void* out, ElemType outType, std::int64_t n,
                            StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(n >= 0, "element count must not be negative");
    HEARTH_KERNEL_REQUIRE(outType == ElemType::F16 || outType == ElemType::BF16, "the loader converts to fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(inType != outType, "same type in and out: copy instead");
    const std::size_t inAlign = inType == ElemType::F32 ? 4 : 2;
    HEARTH_KERNEL_REQUIRE(reinterpret_cast<std::uintptr_t>(in) % inAlign == 0, "input not aligned to its element size");
    HEARTH_KERNEL_REQUIRE(reinterpret_cast<std::uintptr_t>(out) % 2 == 0, "output not aligned to 2 bytes");
    if (n == 0)
        return KernelStatus::success();
    const bool toHalf = outType == ElemType::F16;
    switch (inType) {
    case ElemType::F32: return toHalf ? launch<float, __half>(in, out, n, stream) : launch<float, __nv_bfloat16>(in, out, n, stream);
    case ElemType::F16: return launch<__half, __nv_bfloat16>(in, out, n, stream);
    case ElemType::BF16: return launch<__nv_bfloat16, __half>(in, out, n, stream);
    }
    return KernelStatus::failure("inType", "unknown element type", __FILE__, __LINE__);
}

}  // namespace hearth::kernels
