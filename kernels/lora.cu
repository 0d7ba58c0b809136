// LoRA shrink and expand with a per-row adapter.
// Shrink: grid (row, rank chunk of 8), 256 threads; one warp per (row, rank index) dot product
// over inDim, lanes striding the A row and x in 16-byte chunks when inDim % 8 == 0 and both rows
// are 16-byte aligned (checked on the device: A's pointers live in a device table), 2-byte loads
// otherwise. Reads rank*inDim of A
// per row (rows sharing an adapter reread it from L2) and the x row once per warp (L1).
// Expand: grid (row, 256 outputs), 256 threads; the row's shrunk vector sits in shared memory,
// each thread computes one output from its contiguous B row of rank elements and updates y in
// place. Both are small next to the base projection (rank << in, out): bound by latency at
// decode sizes and by L2 bandwidth on A/B at prefill sizes. A grouped-GEMM (SGMV) form is the
// faster path for long prefills.
#include "cuda_check.cuh"
#include "lora.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kShrinkWarps = 8;
constexpr int kExpandThreads = 256;

struct LoraParams {
    const void* x;
    void* y;
    std::int64_t xStride, yStride;
    const std::int32_t* adapterIndex;
    const void* const* a;
    const void* const* b;
    const std::int32_t* ranks;
    const float* scales;
    std::int64_t inDim, outDim, maxRank;
    float* shrunk;
};

template <typename T>
__global__ void shrinkKernel(LoraParams p)
{
    const std::int64_t row = blockIdx.x;
    const int r = blockIdx.y * kShrinkWarps + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (r >= p.maxRank)
        return;
    const int adapter = p.adapterIndex[row];
    const int rank = adapter >= 0 ? min(p.ranks[adapter], static_cast<int>(p.maxRank)) : 0;
    float acc = 0.0f;
    if (r < rank) {  // warp-uniform
        const T* aRow = static_cast<const T*>(p.a[adapter]) + static_cast<std::int64_t>(r) * p.inDim;
        const T* x = static_cast<const T*>(p.x) + row * p.xStride;
        std::int64_t i = 0;
        if (p.inDim % 8 == 0 && detail::aligned16Device(aRow) && detail::aligned16Device(x)) {
            // 16-byte chunks, two per lane in flight; the scalar loop below then has nothing left.
            const std::int64_t nChunks = p.inDim / 8;
            std::int64_t c = lane;
            for (; c + 32 < nChunks; c += 64) {
                float a0[8], a1[8], x0[8], x1[8];
                detail::load8(aRow + c * 8, a0);
                detail::load8(aRow + (c + 32) * 8, a1);
                detail::load8(x + c * 8, x0);
                detail::load8(x + (c + 32) * 8, x1);
#pragma unroll
                for (int k = 0; k < 8; ++k)
                    acc = fmaf(a0[k], x0[k], fmaf(a1[k], x1[k], acc));
            }
            for (; c < nChunks; c += 32) {
                float a0[8], x0[8];
                detail::load8(aRow + c * 8, a0);
                detail::load8(x + c * 8, x0);
#pragma unroll
                for (int k = 0; k < 8; ++k)
                    acc = fmaf(a0[k], x0[k], acc);
            }
            i = p.inDim;
        }
        for (i += lane; i < p.inDim; i += 32)
            acc = fmaf(toFloat(aRow[i]), toFloat(x[i]), acc);
        acc = detail::warpSum(acc);
    }
    if (lane == 0)
        p.shrunk[row * p.maxRank + r] = acc;
}

template <typename T>
__global__ void expandKernel(LoraParams p)
{
    __shared__ float s[kLoraMaxRank];
    const std::int64_t row = blockIdx.x;
    const int adapter = p.adapterIndex[row];
    if (adapter < 0)
        return;  // uniform for the block
    // B's rows are the adapter's own rank long; only the first maxRank terms fit the scratch.
    const int bStride = max(p.ranks[adapter], 0);
    const int rank = min(bStride, static_cast<int>(p.maxRank));
    for (int r = threadIdx.x; r < rank; r += blockDim.x)
        s[r] = p.shrunk[row * p.maxRank + r];
    __syncthreads();
    const std::int64_t o = static_cast<std::int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
    if (o >= p.outDim)
        return;
    const T* bRow = static_cast<const T*>(p.b[adapter]) + o * bStride;
    // Eight loads issued before their FMAs, so the walk over the rank is not one round trip per term.
    float acc = 0.0f;
    int r = 0;
    for (; r + 8 <= rank; r += 8) {
        float bv[8];
#pragma unroll
        for (int k = 0; k < 8; ++k)
            bv[k] = toFloat(bRow[r + k]);
#pragma unroll
        for (int k = 0; k < 8; ++k)
            acc = fmaf(s[r + k], bv[k], acc);
    }
    for (; r < rank; ++r)
        acc = fmaf(s[r], toFloat(bRow[r]), acc);
    T* y = static_cast<T*>(p.y) + row * p.yStride + o;
    *y = fromFloat<T>(toFloat(*y) + p.scales[adapter] * acc);
}

KernelStatus check(const LoraArgs& a)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "LoRA takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.nRows >= 0 && a.nRows < (std::int64_t{1} << 31), "row count out of range");
    HEARTH_KERNEL_REQUIRE(a.inDim >= 1 && a.outDim >= 1, "LoRA dimensions must be positive");
    HEARTH_KERNEL_REQUIRE(a.maxRank >= 1 && a.maxRank <= kLoraMaxRank, "LoRA rank must be in [1, 256]");
    HEARTH_KERNEL_REQUIRE((a.xStride == 0 || a.xStride >= a.inDim) && (a.yStride == 0 || a.yStride >= a.outDim),
                          "x/y stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.x && a.y && a.adapterIndex && a.a && a.b && a.ranks && a.scales && a.shrunk,
                          "LoRA needs x, y, adapter indices, A/B tables, ranks, scales and scratch");
    return KernelStatus::success();
}

LoraParams paramsOf(const LoraArgs& a)
{
    return LoraParams{a.x,          a.y,     a.xStride ? a.xStride : a.inDim, a.yStride ? a.yStride : a.outDim,
                      a.adapterIndex, a.a,   a.b,     a.ranks,
                      a.scales,     a.inDim, a.outDim, a.maxRank,
                      a.shrunk};
}

}  // namespace

KernelStatus loraShrink(const LoraArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(check(a));
    if (a.nRows == 0)
        return KernelStatus::success();
    const dim3 grid(static_cast<unsigned>(a.nRows), static_cast<unsigned>((a.maxRank + kShrinkWarps - 1) / kShrinkWarps));
    if (a.type == ElemType::F16)
        shrinkKernel<__half><<<grid, kShrinkWarps * 32, 0, detail::toStream(stream)>>>(paramsOf(a));
    else
        shrinkKernel<__nv_bfloat16><<<grid, kShrinkWarps * 32, 0, detail::toStream(stream)>>>(paramsOf(a));
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus loraExpand(const LoraArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(check(a));
    HEARTH_KERNEL_REQUIRE((a.outDim + kExpandThreads - 1) / kExpandThreads <= 65535, "outDim too large for one launch");
    if (a.nRows == 0)
        return KernelStatus::success();
    const dim3 grid(static_cast<unsigned>(a.nRows), static_cast<unsigned>((a.outDim + kExpandThreads - 1) / kExpandThreads));
    if (a.type == ElemType::F16)
        expandKernel<__half><<<grid, kExpandThreads, 0, detail::toStream(stream)>>>(paramsOf(a));
    else
        expandKernel<__nv_bfloat16><<<grid, kExpandThreads, 0, detail::toStream(stream)>>>(paramsOf(a));
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

KernelStatus loraApply(const LoraArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(loraShrink(a, stream));
    return loraExpand(a, stream);
}

}  // namespace hearth::kernels
