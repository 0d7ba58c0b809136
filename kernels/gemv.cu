// GEMV for decode at batch 1..8: y[b] = W x[b] (+ bias) with W [out, in] row-major.
// Shapes: 128-thread blocks of 4 warps; each warp owns R consecutive weight rows (R = 1 at batch
// 1, 2 at batch 2..8 so each x chunk read serves two rows; with the fused SiLU-and-multiply,
// always 2: a gate row and its up row, one output) and walks them in 16-byte chunks
// (8 elements) with its 32 lanes side by side, so one warp load covers 512 contiguous bytes of a
// row. The K loop is unrolled so that each lane has R*U = 8 independent 16-byte weight loads in
// flight (U = 8 / R chunks per row), issued before any of them is used, and the end of the row
// is one more such round trip (loads past the row predicated off); the x chunks of all B
// rows come from L1 (__ldg: every warp of the SM reads the same x) and each weight chunk is
// loaded exactly once for all B rows. fp32 FMAs, one warp-shuffle reduction per (row, b) at the
// end, lanes 0..R*B-1 write the results (bias added in fp32, one rounding to the output type).
// Traffic: outDim*inDim*2 bytes of weights (dominant, loaded with the evict-first hint because
// nothing reuses them within a step), B*inDim*2 of x per SM from L2, B*outDim*2 written. Bound by
// HBM bandwidth: at the 7B shapes (outDim >= 3584) the grid has at least 1792 warps (3584 at
// batch 1), all resident at once (<= 64 per SM), with 4 KB per warp in flight: more than the
// ~20 KB per SM that 3 TB/s at ~1 us loaded latency needs. The FMA work (B*8 per 16-byte chunk
// plus conversions) stays under the issue rate up to B = 8, and the x reads from L1 are B/R
// times the weight bytes. When inDim, the x stride or a pointer do not allow 16-byte chunks, a
// scalar kernel (2-byte loads, one warp per row) computes the same sums.
#include <limits>

#include "cuda_check.cuh"
#include "gemv.h"
#include "launch.cuh"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kWarpsPerBlock = 4;
constexpr int kThreads = kWarpsPerBlock * 32;

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& raw, float (&out)[8])
{
    const auto* pairs = reinterpret_cast<const typename detail::Pair<T>::Type*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = detail::pairToFloat2(pairs[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// acc[r][b] += w[r] . x[b] over one 8-element chunk at index `c` (in chunks) of each x row.
template <typename T, int B, int R>
__device__ __forceinline__ void chunkFma(const uint4 (&w)[R], const T* __restrict__ x, std::int64_t xStride, int c,
                                         float (&acc)[R][B])
{
    float wf[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r)
        unpack8<T>(w[r], wf[r]);
#pragma unroll
    for (int b = 0; b < B; ++b) {
        float xf[8];
        unpack8<T>(__ldg(reinterpret_cast<const uint4*>(x + b * xStride) + c), xf);
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int i = 0; i < 8; ++i)
                acc[r][b] = fmaf(wf[r][i], xf[i], acc[r][b]);
    }
}

// Sums acc over the warp; lane r*B+b stores row o0+r of batch row b (rows past outDim skipped).
// Gated (GemvArgs::siluMul): acc[0] is the gate row o0, acc[1] the up row o0 + outDim, and lane b
// stores silu(gate) * up for output o0, each rounded to T first as the unfused path would.
template <typename T, typename TOut, int B, int R, bool Gated>
__device__ __forceinline__ void reduceAndStore(float (&acc)[R][B], int lane, std::int64_t o0, std::int64_t outDim,
                                               const T* __restrict__ bias, TOut* __restrict__ y, std::int64_t yStride)
{
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int b = 0; b < B; ++b)
            acc[r][b] = detail::warpSum(acc[r][b]);
    if constexpr (Gated) {
        static_assert(R == 2, "a gated warp owns one gate row and its up row");
#pragma unroll
        for (int b = 0; b < B; ++b) {
            if (lane == b && o0 < outDim) {
                const float g = toFloat(fromFloat<T>(acc[0][b]));
                const float u = toFloat(fromFloat<T>(acc[1][b]));
                y[b * yStride + o0] = fromFloat<TOut>(detail::silu(g) * u);
            }
        }
    } else {
#pragma unroll
        for (int r = 0; r < R; ++r) {
            const std::int64_t o = o0 + r;
#pragma unroll
            for (int b = 0; b < B; ++b) {
                if (lane == r * B + b && o < outDim) {
                    const float bv = bias ? toFloat(bias[o]) : 0.0f;
                    y[b * yStride + o] = fromFloat<TOut>(acc[r][b] + bv);
                }
            }
        }
    }
}

// Weight row r of the warp whose first output is o0: rows past outDim (last warp only) re-read
// the last one instead of branching (not stored); gated warps read gate row o0 and up row
// o0 + outDim.
template <bool Gated>
__device__ __forceinline__ std::int64_t weightRow(std::int64_t o0, int r, std::int64_t outDim)
{
    if constexpr (Gated)
        return (o0 < outDim ? o0 : outDim - 1) + r * outDim;
    return o0 + r < outDim ? o0 + r : outDim - 1;
}

// Chunks of the round starting at chunk c that a lane walks: U, fewer at the row's end, 0 past it.
template <int U>
__device__ __forceinline__ int roundChunks(int c, int nChunks)
{
    return c < nChunks ? min(U, (nChunks - c + 31) / 32) : 0;
}

// The weight loads of one round, all in flight at once (streaming: nothing reuses them in a step).
template <int U, int R>
__device__ __forceinline__ void loadRound(uint4 (&raw)[U][R], const uint4* const* w, int c, int left)
{
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
        for (int r = 0; r < R; ++r)
            raw[u][r] = u < left ? __ldcs(w[r] + c + 32 * u) : make_uint4(0, 0, 0, 0);
}

// Requires inDim % 8 == 0, xStride % 8 == 0 and 16-byte aligned weight and x.
template <typename T, typename TOut, int B, int R, bool Gated>
__global__ void __launch_bounds__(kThreads)
    gemvVecKernel(const T* __restrict__ weight, const T* __restrict__ x, const T* __restrict__ bias, TOut* __restrict__ y,
                  std::int64_t outDim, std::int64_t inDim, std::int64_t xStride, std::int64_t yStride)
{
    constexpr int U = R == 1 ? 8 : 4;
    const int lane = threadIdx.x & 31;
    const std::int64_t o0 = (static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5)) * (Gated ? 1 : R);
    if (o0 >= outDim)
        return;  // the whole warp leaves together: no shuffle below misses a lane
    const uint4* w[R];
#pragma unroll
    for (int r = 0; r < R; ++r)
        w[r] = reinterpret_cast<const uint4*>(weight + weightRow<Gated>(o0, r, outDim) * inDim);
    float acc[R][B];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
        for (int b = 0; b < B; ++b)
            acc[r][b] = 0.0f;

    // The row in rounds of U chunks per lane (the last round of a row fewer, its loads predicated
    // off past the end: at inDim 3584, 448 chunks, 2 round trips per row instead of 5). The first
    // round's weight loads are issued before waiting for the previous kernel: they read only
    // weights, and they overlap its tail (launch.cuh).
    const int nChunks = static_cast<int>(inDim / 8);
    int c = lane;
    int left = roundChunks<U>(c, nChunks);
    uint4 raw[U][R];
    loadRound<U, R>(raw, w, c, left);
    detail::pdlWait();
    detail::pdlLaunchDependents();
    while (left > 0) {
#pragma unroll
        for (int u = 0; u < U; ++u)
            if (u < left)
                chunkFma<T, B, R>(raw[u], x, xStride, c + 32 * u, acc);
        c += 32 * U;
        left = roundChunks<U>(c, nChunks);
        loadRound<U, R>(raw, w, c, left);
    }
    reduceAndStore<T, TOut, B, R, Gated>(acc, lane, o0, outDim, bias, y, yStride);
}

// Any inDim, stride and alignment: one warp per output (one row, or a gate and an up row), 2-byte
// loads.
template <typename T, typename TOut, int B, bool Gated>
__global__ void __launch_bounds__(kThreads)
    gemvScalarKernel(const T* __restrict__ weight, const T* __restrict__ x, const T* __restrict__ bias, TOut* __restrict__ y,
                     std::int64_t outDim, std::int64_t inDim, std::int64_t xStride, std::int64_t yStride)
{
    const int lane = threadIdx.x & 31;
    const std::int64_t o = static_cast<std::int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
    if (o >= outDim)
        return;
    detail::pdlWait();
    detail::pdlLaunchDependents();
    constexpr int R = Gated ? 2 : 1;
    float acc[R][B];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const T* w = weight + weightRow<Gated>(o, r, outDim) * inDim;
#pragma unroll
        for (int b = 0; b < B; ++b)
            acc[r][b] = 0.0f;
        for (std::int64_t i = lane; i < inDim; i += 32) {
            const float wv = toFloat(w[i]);
#pragma unroll
            for (int b = 0; b < B; ++b)
                acc[r][b] = fmaf(wv, toFloat(x[b * xStride + i]), acc[r][b]);
        }
    }
    reduceAndStore<T, TOut, B, R, Gated>(acc, lane, o, outDim, bias, y, yStride);
}

template <typename T, typename TOut, int B, bool Gated>
void launchRows(const GemvArgs& a, std::int64_t xStride, std::int64_t yStride, bool vec, cudaStream_t stream)
{
    constexpr int R = B == 1 && !Gated ? 1 : 2;
    const auto* w = static_cast<const T*>(a.weight);
    const auto* x = static_cast<const T*>(a.x);
    const auto* bias = static_cast<const T*>(a.bias);
    auto* y = static_cast<TOut*>(a.y);
    if (vec) {
        const std::int64_t rowsPerBlock = std::int64_t{kWarpsPerBlock} * (Gated ? 1 : R);
        const auto grid = static_cast<unsigned>((a.outDim + rowsPerBlock - 1) / rowsPerBlock);
        detail::launchPdl(gemvVecKernel<T, TOut, B, R, Gated>, grid, kThreads, 0, stream, w, x, bias, y, a.outDim, a.inDim, xStride,
                          yStride);
    } else {
        const auto grid = static_cast<unsigned>((a.outDim + kWarpsPerBlock - 1) / kWarpsPerBlock);
        detail::launchPdl(gemvScalarKernel<T, TOut, B, Gated>, grid, kThreads, 0, stream, w, x, bias, y, a.outDim, a.inDim,
                          xStride, yStride);
    }
}

template <typename T, typename TOut, bool Gated>
void launch(const GemvArgs& a, std::int64_t xStride, std::int64_t yStride, bool vec, cudaStream_t s)
{
    switch (a.nRows) {
    case 1: launchRows<T, TOut, 1, Gated>(a, xStride, yStride, vec, s); break;
    case 2: launchRows<T, TOut, 2, Gated>(a, xStride, yStride, vec, s); break;
    case 3: launchRows<T, TOut, 3, Gated>(a, xStride, yStride, vec, s); break;
    case 4: launchRows<T, TOut, 4, Gated>(a, xStride, yStride, vec, s); break;
    case 5: launchRows<T, TOut, 5, Gated>(a, xStride, yStride, vec, s); break;
    case 6: launchRows<T, TOut, 6, Gated>(a, xStride, yStride, vec, s); break;
    case 7: launchRows<T, TOut, 7, Gated>(a, xStride, yStride, vec, s); break;
    default: launchRows<T, TOut, 8, Gated>(a, xStride, yStride, vec, s); break;
    }
}

template <typename T>
void launchType(const GemvArgs& a, std::int64_t xStride, std::int64_t yStride, bool vec, cudaStream_t s)
{
    if (a.f32Out)
        launch<T, float, false>(a, xStride, yStride, vec, s);
    else if (a.siluMul)
        launch<T, T, true>(a, xStride, yStride, vec, s);
    else
        launch<T, T, false>(a, xStride, yStride, vec, s);
}

}  // namespace

KernelStatus gemv(const GemvArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "gemv takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.nRows >= 1 && a.nRows <= kGemvMaxRows, "gemv takes 1 to 8 rows; use the GEMM for more");
    HEARTH_KERNEL_REQUIRE(a.outDim >= 0 && a.inDim >= 1, "gemv shape must be positive");
    HEARTH_KERNEL_REQUIRE((a.outDim + kWarpsPerBlock - 1) / kWarpsPerBlock < (std::int64_t{1} << 31), "outDim too large");
    HEARTH_KERNEL_REQUIRE(a.inDim <= std::numeric_limits<int>::max(), "inDim too large");
    HEARTH_KERNEL_REQUIRE(a.xStride == 0 || a.xStride >= a.inDim, "x stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.yStride == 0 || a.yStride >= a.outDim, "y stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.weight && a.x && a.y, "gemv needs weight, x and y");
    HEARTH_KERNEL_REQUIRE(!a.siluMul || !a.bias, "the SiLU-and-multiply GEMV takes no bias");
    HEARTH_KERNEL_REQUIRE(!a.siluMul || !a.f32Out, "the SiLU-and-multiply GEMV writes the input type");
    HEARTH_KERNEL_REQUIRE(!a.siluMul || a.outDim <= std::numeric_limits<std::int64_t>::max() / 2, "outDim too large");
    if (a.outDim == 0)
        return KernelStatus::success();
    const std::int64_t xStride = a.xStride ? a.xStride : a.inDim;
    const std::int64_t yStride = a.yStride ? a.yStride : a.outDim;
    const bool vec = a.inDim % 8 == 0 && xStride % 8 == 0 && detail::aligned16(a.weight) && detail::aligned16(a.x);
    if (a.type == ElemType::F16)
        launchType<__half>(a, xStride, yStride, vec, detail::toStream(stream));
    else
        launchType<__nv_bfloat16>(a, xStride, yStride, vec, detail::toStream(stream));
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace hearth::kernels
