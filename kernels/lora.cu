// LoRA shrink and expand with a per-row adapter.
// Shrink: grid (row, rank chunk of 8), 256 threads; one warp per (row, rank index) dot product
// over inDim, lanes striding the A row and x (2-byte loads, coalesced). Reads rank*inDim of A
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
    if (r < rank) {
        const T* aRow = static_cast<const T*>(p.a[adapter]) + static_cast<std::int64_t>(r) * p.inDim;
        const T* x = static_cast<const T*>(p.x) + row * p.xStride;
        for (std::int64_t i = lane; i < p.inDim; i += 32)
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
    const int rank = min(p.ranks[adapter], static_cast<int>(p.maxRank));  // never past the scratch
    for (int r = threadIdx.x; r < rank; r += blockDim.x)
        s[r] = p.shrunk[row * p.maxRank + r];
    __syncthreads();
    const std::int64_t o = static_cast<std::int64_t>(blockIdx.y) * blockDim.x + threadIdx.x;
    if (o >= p.outDim)
        return;
    const T* bRow = static_cast<const T*>(p.b[adapter]) + o * rank;
    float acc = 0.0f;
    for (int r = 0; r < rank; ++r)
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
