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

__device__ __forceinline__ __half toHalfSaturating(float x)
{
    // 65520 and beyond would round to infinity; finite values keep the largest half instead.
    if (isfinite(x) && fabsf(x) >= 65520.0f)
        return __float2half_rn(copysignf(65504.0f, x));
    return __float2half_rn(x);
}

template <typename In>
__device__ __forceinline__ float loadAsFloat(const In* p, std::int64_t i)
{
    return detail::toFloat(p[i]);
}

template <typename In, typename Out>
__global__ void convertKernel(const In* __restrict__ in, Out* __restrict__ out, std::int64_t n)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float v = loadAsFloat(in, i);
        if constexpr (std::is_same_v<Out, __half>)
            out[i] = toHalfSaturating(v);
        else
            out[i] = __float2bfloat16_rn(v);
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
