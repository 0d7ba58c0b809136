// GEMV for decode at batch 1..8.
// Shapes: one warp per output row, 8 warps (8 rows) per 256-thread block. Lanes stride through
// the weight row in 16-byte chunks (8 elements), loaded with the streaming hint (read once, kept
// out of L1 so the x rows stay there), 4 chunks in flight per lane; the nRows x rows are read in
// the same chunks through L1/L2, and the warp sums each row's partial dot products by shuffles.
// Traffic: outDim*inDim*2 bytes of weights (dominant), nRows*inDim*2 of x per block (cached),
// nRows*outDim*2 written. Bound by HBM bandwidth on the weights; the fp32 FMAs (nRows*8 per
// 16 bytes) stay far below the compute limit for nRows <= 8. When inDim is not a multiple of 8
// or a pointer is not 16-byte aligned, a scalar path (2-byte loads, same arithmetic) runs.
#include "cuda_check.cuh"
#include "gemv.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kWarpsPerBlock = 8;

template <typename T>
__device__ __forceinline__ void loadWeight8(const T* p, float (&out)[8])
{
    const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(p));
    const auto* pairs = reinterpret_cast<const typename detail::Pair<T>::Type*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = detail::pairToFloat2(pairs[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

template <typename T, int B, bool Vec>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemvKernel(const T* __restrict__ weight, const T* __restrict__ x, const T* __restrict__ bias, T* __restrict__ y,
               std::int64_t outDim, std::int64_t inDim, std::int64_t xStride, std::int64_t yStride)
{
    const int lane = threadIdx.x & 31;
    const std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
    if (o >= outDim)
        return;  // the whole warp leaves together: no shuffle below misses a lane
    const T* w = weight + o * inDim;
    float acc[B];
#pragma unroll
    for (int b = 0; b < B; ++b)
        acc[b] = 0.0f;
    if (Vec) {
        const std::int64_t nChunks = inDim / 8;
#pragma unroll 4
        for (std::int64_t c = lane; c < nChunks; c += 32) {
            float wv[8];
            loadWeight8(w + c * 8, wv);
#pragma unroll
            for (int b = 0; b < B; ++b) {
                float xv[8];
                detail::load8(x + b * xStride + c * 8, xv);
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    acc[b] = fmaf(wv[i], xv[i], acc[b]);
            }
        }
    } else {
        for (std::int64_t i = lane; i < inDim; i += 32) {
            const float wv = toFloat(w[i]);
#pragma unroll
            for (int b = 0; b < B; ++b)
                acc[b] = fmaf(wv, toFloat(x[b * xStride + i]), acc[b]);
        }
    }
#pragma unroll
    for (int b = 0; b < B; ++b)
        acc[b] = detail::warpSum(acc[b]);
    if (lane == 0) {
        const float bv = bias ? toFloat(bias[o]) : 0.0f;
#pragma unroll
        for (int b = 0; b < B; ++b)
            y[b * yStride + o] = fromFloat<T>(acc[b] + bv);
    }
}

template <typename T, int B>
void launchRows(const GemvArgs& a, std::int64_t xStride, std::int64_t yStride, bool vec, cudaStream_t stream)
{
    const auto grid = static_cast<unsigned>((a.outDim + kWarpsPerBlock - 1) / kWarpsPerBlock);
    const auto* w = static_cast<const T*>(a.weight);
    const auto* x = static_cast<const T*>(a.x);
    const auto* bias = static_cast<const T*>(a.bias);
    auto* y = static_cast<T*>(a.y);
    if (vec)
        gemvKernel<T, B, true><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, bias, y, a.outDim, a.inDim, xStride, yStride);
    else
        gemvKernel<T, B, false><<<grid, kWarpsPerBlock * 32, 0, stream>>>(w, x, bias, y, a.outDim, a.inDim, xStride, yStride);
}

template <typename T>
void launch(const GemvArgs& a, std::int64_t xStride, std::int64_t yStride, bool vec, cudaStream_t s)
{
    switch (a.nRows) {
    case 1: launchRows<T, 1>(a, xStride, yStride, vec, s); break;
    case 2: launchRows<T, 2>(a, xStride, yStride, vec, s); break;
    case 3: launchRows<T, 3>(a, xStride, yStride, vec, s); break;
    case 4: launchRows<T, 4>(a, xStride, yStride, vec, s); break;
    case 5: launchRows<T, 5>(a, xStride, yStride, vec, s); break;
    case 6: launchRows<T, 6>(a, xStride, yStride, vec, s); break;
    case 7: launchRows<T, 7>(a, xStride, yStride, vec, s); break;
    default: launchRows<T, 8>(a, xStride, yStride, vec, s); break;
    }
}

}  // namespace

KernelStatus gemv(const GemvArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "gemv takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.nRows >= 1 && a.nRows <= kGemvMaxRows, "gemv takes 1 to 8 rows; use the GEMM for more");
    HEARTH_KERNEL_REQUIRE(a.outDim >= 0 && a.inDim >= 1, "gemv shape must be positive");
    HEARTH_KERNEL_REQUIRE((a.outDim + kWarpsPerBlock - 1) / kWarpsPerBlock < (std::int64_t{1} << 31), "outDim too large");
    HEARTH_KERNEL_REQUIRE(a.xStride == 0 || a.xStride >= a.inDim, "x stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.yStride == 0 || a.yStride >= a.outDim, "y stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.weight && a.x && a.y, "gemv needs weight, x and y");
    if (a.outDim == 0)
        return KernelStatus::success();
    const std::int64_t xStride = a.xStride ? a.xStride : a.inDim;
    const std::int64_t yStride = a.yStride ? a.yStride : a.outDim;
    const bool vec = a.inDim % 8 == 0 && xStride % 8 == 0 && detail::aligned16(a.weight) && detail::aligned16(a.x);
    if (a.type == ElemType::F16)
        launch<__half>(a, xStride, yStride, vec, detail::toStream(stream));
    else
        launch<__nv_bfloat16>(a, xStride, yStride, vec, detail::toStream(stream));
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace hearth::kernels
