// Embedding gather, dtype conversion and bias add.
// Shapes: gather reads one [hidden] row per token (any id order) and writes [nTokens, hidden];
// conversion and bias add stream their arrays once. All three are purely memory-bound (a few
// bytes moved per flop): gather and conversion use 16-byte accesses when rows are 16-byte aligned
// and fall back to 2-byte accesses otherwise; bias add reads x once and writes it once.
#include "cuda_check.cuh"
#include "launch.cuh"
#include "elementwise.h"

namespace hearth::kernels {
namespace {

using detail::toFloat;
using detail::fromFloat;

// One block per token; threads copy the row in 16-byte (8-element) chunks when `vec`.
template <bool Vec>
__global__ void embeddingKernel(const std::int32_t* ids, const std::uint16_t* table, std::uint16_t* out,
                                std::int64_t vocab, std::int64_t hidden)
{
    detail::pdlWait();
    detail::pdlLaunchDependents();
    const std::int64_t t = blockIdx.x;
    const std::int64_t id = ids[t];
    std::uint16_t* dst = out + t * hidden;
    const bool valid = id >= 0 && id < vocab;
    const std::uint16_t* src = table + (valid ? id : 0) * hidden;
    if (Vec) {
        const std::int64_t nChunks = hidden / 8;
        const auto* s = reinterpret_cast<const uint4*>(src);
        auto* d = reinterpret_cast<uint4*>(dst);
        for (std::int64_t i = threadIdx.x; i < nChunks; i += blockDim.x)
            d[i] = valid ? s[i] : make_uint4(0, 0, 0, 0);
    } else {
        for (std::int64_t i = threadIdx.x; i < hidden; i += blockDim.x)
            dst[i] = valid ? src[i] : std::uint16_t(0);
    }
}

__global__ void bf16ToF16Kernel(const __nv_bfloat16* in, __half* out, std::int64_t n)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        float v = __bfloat162float(in[i]);
        // NaN compares false and passes through; +-inf stay; finite values clamp to fp16's range.
        if (isfinite(v))
            v = fminf(fmaxf(v, -65504.0f), 65504.0f);
        out[i] = __float2half_rn(v);
    }
}

__global__ void f16ToBf16Kernel(const __half* in, __nv_bfloat16* out, std::int64_t n)
{
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = __float2bfloat16_rn(__half2float(in[i]));
}

template <typename T>
__global__ void addBiasKernel(T* x, const T* bias, std::int64_t nCols, std::int64_t rowStride)
{
    detail::pdlWait();
    detail::pdlLaunchDependents();
    T* row = x + static_cast<std::int64_t>(blockIdx.x) * rowStride;
    for (std::int64_t c = threadIdx.x; c < nCols; c += blockDim.x)
        row[c] = fromFloat<T>(toFloat(row[c]) + toFloat(bias[c]));
}

unsigned gridFor(std::int64_t n, int threads)
{
    const std::int64_t blocks = (n + threads - 1) / threads;
    return static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
}

}  // namespace

KernelStatus embeddingGather(const EmbeddingArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "embedding table must be fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.nTokens >= 0 && a.hidden > 0 && a.vocab > 0, "embedding shape must be positive");
    HEARTH_KERNEL_REQUIRE(a.nTokens < (std::int64_t{1} << 31), "too many tokens for one launch");
    if (a.nTokens == 0)
        return KernelStatus::success();
    const auto* table = static_cast<const std::uint16_t*>(a.table);
    auto* out = static_cast<std::uint16_t*>(a.out);
    const bool vec = a.hidden % 8 == 0 && detail::aligned16(table) && detail::aligned16(out);
    const auto grid = static_cast<unsigned>(a.nTokens);
    if (vec)
        detail::launchPdl(embeddingKernel<true>, grid, 128, 0, detail::toStream(stream), a.ids, table, out, a.vocab, a.hidden);
    else
        detail::launchPdl(embeddingKernel<false>, grid, 256, 0, detail::toStream(stream), a.ids, table, out, a.vocab, a.hidden);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus convertBf16ToF16(const void* in, void* out, std::int64_t n, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(n >= 0, "element count must not be negative");
    if (n == 0)
        return KernelStatus::success();
    bf16ToF16Kernel<<<gridFor(n, 256), 256, 0, detail::toStream(stream)>>>(static_cast<const __nv_bfloat16*>(in),
                                                                          static_cast<__half*>(out), n);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus convertF16ToBf16(const void* in, void* out, std::int64_t n, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(n >= 0, "element count must not be negative");
    if (n == 0)
        return KernelStatus::success();
    f16ToBf16Kernel<<<gridFor(n, 256), 256, 0, detail::toStream(stream)>>>(static_cast<const __half*>(in),
                                                                          static_cast<__nv_bfloat16*>(out), n);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus addBias(void* x, const void* bias, std::int64_t nRows, std::int64_t nCols, std::int64_t rowStride,
                     ElemType type, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(type == ElemType::F16 || type == ElemType::BF16, "bias add takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(nRows >= 0 && nCols >= 0 && rowStride >= nCols, "bias add shape is inconsistent");
    HEARTH_KERNEL_REQUIRE(nRows < (std::int64_t{1} << 31), "too many rows for one launch");
    if (nRows == 0 || nCols == 0)
        return KernelStatus::success();
    const auto grid = static_cast<unsigned>(nRows);
    if (type == ElemType::F16)
        detail::launchPdl(addBiasKernel<__half>, grid, 256, 0, detail::toStream(stream), static_cast<__half*>(x),
                          static_cast<const __half*>(bias), nCols, rowStride);
    else
        detail::launchPdl(addBiasKernel<__nv_bfloat16>, grid, 256, 0, detail::toStream(stream), static_cast<__nv_bfloat16*>(x),
                          static_cast<const __nv_bfloat16*>(bias), nCols, rowStride);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace hearth::kernels
