// RMSNorm and residual-add + RMSNorm.
// Shapes: one thread block per normalised slice (a token row, or one head of it); 32 threads for
// slices up to 256 elements (per-head norms), otherwise 256 to 1024 (about n/4, a multiple of 32). Each slice is read twice
// (sum of squares, then scale; the second read hits L1) and written once; the fused form also
// reads and writes the residual once. Memory-bound: about 6 bytes per element (8 fused) against
// a handful of flops, so it runs at DRAM/L2 bandwidth; at decode sizes (one token) it is
// launch-latency-bound instead, which CUDA graphs hide.
#include <algorithm>

#include "cuda_check.cuh"
#include "launch.cuh"
#include "norm.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

template <typename T, bool Fused>
__global__ void __launch_bounds__(1024) rmsNormKernel(const T* x, T* residual, const T* weight, T* out, std::int64_t nHeads, std::int64_t n,
                              std::int64_t xStride, std::int64_t outStride, float eps)
{
    __shared__ float scratch[32];
    detail::pdlWait();
    detail::pdlLaunchDependents();
    const std::int64_t token = blockIdx.x / nHeads;
    const std::int64_t head = blockIdx.x % nHeads;
    const T* xs = x + token * xStride + head * n;
    T* os = out + token * outStride + head * n;
    T* rs = Fused ? residual + token * n : nullptr;

    float sumSquares = 0.0f;
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        float v = toFloat(xs[i]);
        if (Fused) {
            const T sum = fromFloat<T>(toFloat(rs[i]) + v);
            rs[i] = sum;
            v = toFloat(sum);  // normalise what is stored, so later layers see the same values
        }
        sumSquares += v * v;
    }
    const float total = blockDim.x == 32 ? detail::warpSum(sumSquares) : detail::blockSum(sumSquares, scratch);
    const float inv = rsqrtf(total / static_cast<float>(n) + eps);
    for (std::int64_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = Fused ? toFloat(rs[i]) : toFloat(xs[i]);
        os[i] = fromFloat<T>(toFloat(weight[i]) * (v * inv));
    }
}

template <typename T, bool Fused>
KernelStatus launch(const RmsNormArgs& a, StreamHandle stream)
{
    const std::int64_t xStride = a.xStride ? a.xStride : a.nHeads * a.n;
    const std::int64_t outStride = a.outStride ? a.outStride : a.nHeads * a.n;
    const std::int64_t nBlocks = a.nTokens * a.nHeads;
    HEARTH_KERNEL_REQUIRE(nBlocks < (std::int64_t{1} << 31), "too many rows for one launch");
    // One warp for per-head slices; long rows get up to 1024 threads (about 4 elements each), so
    // a decode step's single-row norm is not a long serial walk on one SM.
    const std::int64_t wide = std::min<std::int64_t>(1024, ((a.n / 4 + 31) / 32) * 32);
    const int threads = a.n <= 256 ? 32 : static_cast<int>(std::max<std::int64_t>(256, wide));
    detail::launchPdl(rmsNormKernel<T, Fused>, static_cast<unsigned>(nBlocks), threads, 0, detail::toStream(stream),
                      static_cast<const T*>(a.x), static_cast<T*>(a.residual), static_cast<const T*>(a.weight),
                      static_cast<T*>(a.out), a.nHeads, a.n, xStride, outStride, a.eps);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus check(const RmsNormArgs& a)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "RMSNorm takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.nTokens >= 0 && a.nHeads >= 1 && a.n >= 1, "RMSNorm shape must be positive");
    HEARTH_KERNEL_REQUIRE(a.xStride == 0 || a.xStride >= a.nHeads * a.n, "x stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.outStride == 0 || a.outStride >= a.nHeads * a.n, "out stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.x && a.weight && a.out, "RMSNorm needs x, weight and out");
    return KernelStatus::success();
}

}  // namespace

KernelStatus rmsNorm(const RmsNormArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(check(a));
    if (a.nTokens == 0)
        return KernelStatus::success();
    return a.type == ElemType::F16 ? launch<__half, false>(a, stream) : launch<__nv_bfloat16, false>(a, stream);
}

KernelStatus fusedAddRmsNorm(const RmsNormArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(check(a));
    HEARTH_KERNEL_REQUIRE(a.nHeads == 1 && a.residual != nullptr, "the fused norm works on whole rows with a residual");
    if (a.nTokens == 0)
        return KernelStatus::success();
    return a.type == ElemType::F16 ? launch<__half, true>(a, stream) : launch<__nv_bfloat16, true>(a, stream);
}

}  // namespace hearth::kernels
