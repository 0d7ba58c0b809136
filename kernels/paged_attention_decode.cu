// Paged attention for decode (flash-decoding).
// Shapes: grid (partition, kvHead x group chunk, sequence), 128 threads (4 warps; 256 when the
// launch has a single partition, i.e. few blocks that should each finish sooner). A block takes
// one kv head, up to 8 of the query heads that share it (GQA: each K/V element is loaded once
// for the whole group) and one partition of P context tokens (P = 64, 128 or 256, the largest
// that still gives >= 64 partitions over the batch, so short contexts at batch 1 spread over
// more SMs). Each half-warp (16 lanes) takes a token, each lane 8 elements of its K or V row in
// one 16-byte load (head_dim 80/96 leave lanes 10-15/12-15 idle); a half-warp has 4 tokens'
// loads in flight per step, a warp 8 and the block 32 (64). q (times the scale) sits in
// registers as fp32; scores are reduced over the 16 lanes by shuffles and stored in shared
// memory, the softmax runs per query head over the partition, then the V walk accumulates fp32
// outputs in registers, merged across the two half-warps by shuffles and across warps in shared
// memory.
// With more than one partition each block writes its normalised partial output with its max and
// sum, and a second kernel merges them with log-sum-exp weights (all partitions of a row at once,
// weights in shared memory). Rows and strides that do not allow 16-byte loads use four 4-byte
// loads per lane instead.
// Traffic: every K and V element of the context once per (sequence, kv head, group chunk) plus
// q/out and, when split, nQHeads*(headDim+2)*4 bytes per partition written and read back (under
// 3% of the KV bytes at P = 256). At 32K context, batch 1, 4 kv heads: 128 partitions x 4 = 512
// blocks (~4 per SM) with 8 KB of loads in flight each, bound by HBM bandwidth on the KV read;
// at short contexts it is bound by latency and launch cost.
#include <algorithm>

#include "cuda_check.cuh"
#include "paged_attention.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kSplitWarps = 4;   // blocks of a split launch: 4 resident per SM fill one wave at 32K
constexpr int kDirectWarps = 8;  // one-partition launches have few blocks: twice the tokens per step
constexpr int kGroup = 8;         // query heads per block
constexpr int kSteps = 4;         // tokens per half-warp per step (loads in flight)
constexpr int kMaxPartition = static_cast<int>(kDecodePartitionTokens);
constexpr int kMinPartition = 64;
constexpr std::int64_t kTargetPartitions = 64;  // over the batch; times nKvHeads blocks
constexpr int kMergeThreads = 256;
constexpr int kMaxMergeSplits = 4096;  // partitions one merge block weighs in shared memory

struct DecodeParams {
    const void* q;
    void* out;
    std::int64_t qStride, outStride;
    const std::int32_t* blockTables;
    std::int64_t maxPagesPerSeq;
    const std::int32_t* contextLens;
    int nQHeads, nKvHeads, ratio, nChunks, nSplits, partition, maxContext;
    float scale;
    const void* kCache;
    const void* vCache;
    std::int64_t pageStride, tokenStride, headStride;
    int pageTokens;
    float* partialOut;  // [nSeqs, nQHeads, nSplits, headDim]
    float* partialMax;  // [nSeqs, nQHeads, nSplits]
    float* partialSum;
};

// Eight elements of a K/V row as fp32: one 16-byte load, or four 4-byte ones.
template <typename T, bool Vec>
__device__ __forceinline__ void loadRow8(const T* p, float (&out)[8])
{
    if (Vec) {
        detail::load8(p, out);
    } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float2 f = detail::loadPair(p + 2 * i);
            out[2 * i] = f.x;
            out[2 * i + 1] = f.y;
        }
    }
}

template <typename T, int HD, bool Vec, int kWarps>
__global__ void __launch_bounds__(kWarps * 32, 16 / kWarps) decodeKernel(DecodeParams p)
{
    constexpr int kThreads = kWarps * 32;
    constexpr int kLaneChunks = HD / 8;  // lanes of a half-warp that hold 8 elements of a row
    __shared__ float scores[kGroup][kMaxPartition];
    __shared__ float outS[kWarps][kGroup][HD];
    __shared__ float rowMax[kGroup];
    __shared__ float rowSum[kGroup];

    const int seq = blockIdx.z;
    const int kvHead = blockIdx.y / p.nChunks;
    const int chunk = blockIdx.y % p.nChunks;
    const int split = blockIdx.x;
    const int h0 = kvHead * p.ratio + chunk * kGroup;
    const int g = min(kGroup, p.ratio - chunk * kGroup);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int sub = lane & 15;          // lane within the half-warp
    const int half = lane >> 4;         // which half-warp of the warp
    const bool active = sub < kLaneChunks;
    const bool direct = p.nSplits == 1;

    // A length past maxContext would index past the block table; the launcher checked that
    // maxContext fits it, so clamping keeps every read inside.
    const int ctx = min(max(p.contextLens[seq], 0), p.maxContext);
    const int start = split * p.partition;
    const int n = min(p.partition, ctx - start);
    if (n <= 0) {
        // Nothing to attend to: a direct write gives zeros; partitions past the context are
        // skipped by the merge, which also writes the zeros of an empty context.
        if (direct) {
            T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(h0) * HD;
            for (int idx = threadIdx.x; idx < g * HD; idx += kThreads)
                o[idx] = fromFloat<T>(0.0f);
        }
        return;
    }

    // q of the group, scaled, 8 elements per lane.
    float qr[kGroup][8];
    {
        const T* q = static_cast<const T*>(p.q) + seq * p.qStride + static_cast<std::int64_t>(h0) * HD + sub * 8;
#pragma unroll
        for (int r = 0; r < kGroup; ++r) {
#pragma unroll
            for (int i = 0; i < 8; ++i)
                qr[r][i] = 0.0f;
            if (r < g && active) {
                loadRow8<T, false>(q + r * HD, qr[r]);
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    qr[r][i] *= p.scale;
            }
        }
    }

    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;
    const T* kHead = static_cast<const T*>(p.kCache) + kvHead * p.headStride + sub * 8;
    const T* vHead = static_cast<const T*>(p.vCache) + kvHead * p.headStride + sub * 8;
    auto rowOffset = [&](int pos) {
        return static_cast<std::int64_t>(table[pos / p.pageTokens]) * p.pageStride +
               static_cast<std::int64_t>(pos % p.pageTokens) * p.tokenStride;
    };
    // Token steps are warp-uniform (every lane runs every step, so the shuffles see all 32);
    // a half-warp's tokens past n load nothing and store nothing.
    constexpr int kWarpStep = 2 * kSteps;

    // Scores: tokens t0..t0+kSteps-1 per half-warp and step.
    for (int base = warp * kWarpStep; base < n; base += kWarps * kWarpStep) {
        const int t0 = base + half * kSteps;
        float kf[kSteps][8];
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            if (active && t0 + u < n) {
                loadRow8<T, Vec>(kHead + rowOffset(start + t0 + u), kf[u]);
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    kf[u][i] = 0.0f;
            }
        }
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
#pragma unroll
            for (int r = 0; r < kGroup; ++r) {
                if (r < g) {  // block-uniform
                    float d = 0.0f;
#pragma unroll
                    for (int i = 0; i < 8; ++i)
                        d = fmaf(kf[u][i], qr[r][i], d);
#pragma unroll
                    for (int o = 8; o > 0; o >>= 1)
                        d += __shfl_xor_sync(0xffffffffu, d, o);  // within the half-warp
                    if (sub == 0 && t0 + u < n)
                        scores[r][t0 + u] = d;
                }
            }
        }
    }
    __syncthreads();

    // Softmax numerators per query head, in place.
    for (int r = warp; r < g; r += kWarps) {
        float m = -INFINITY;
        for (int t = lane; t < n; t += 32)
            m = fmaxf(m, scores[r][t]);
        m = detail::warpMax(m);
        float s = 0.0f;
        for (int t = lane; t < n; t += 32) {
            const float e = __expf(scores[r][t] - m);
            scores[r][t] = e;
            s += e;
        }
        s = detail::warpSum(s);
        if (lane == 0) {
            rowMax[r] = m;
            rowSum[r] = s;
        }
    }
    __syncthreads();

    // Weighted sum of V rows.
    float acc[kGroup][8];
#pragma unroll
    for (int r = 0; r < kGroup; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[r][i] = 0.0f;
    for (int base = warp * kWarpStep; base < n; base += kWarps * kWarpStep) {
        const int t0 = base + half * kSteps;
        float vf[kSteps][8];
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            if (active && t0 + u < n) {
                loadRow8<T, Vec>(vHead + rowOffset(start + t0 + u), vf[u]);
            } else {
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    vf[u][i] = 0.0f;
            }
        }
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            if (t0 + u < n) {
#pragma unroll
                for (int r = 0; r < kGroup; ++r) {
                    if (r < g) {
                        const float w = scores[r][t0 + u];
#pragma unroll
                        for (int i = 0; i < 8; ++i)
                            acc[r][i] = fmaf(w, vf[u][i], acc[r][i]);
                    }
                }
            }
        }
    }
    // The two half-warps hold the same elements for different tokens.
#pragma unroll
    for (int r = 0; r < kGroup; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[r][i] += __shfl_xor_sync(0xffffffffu, acc[r][i], 16);
    if (half == 0 && active) {
#pragma unroll
        for (int r = 0; r < kGroup; ++r)
            if (r < g)
#pragma unroll
                for (int i = 0; i < 8; ++i)
                    outS[warp][r][sub * 8 + i] = acc[r][i];
    }
    __syncthreads();

    for (int idx = threadIdx.x; idx < g * HD; idx += kThreads) {
        const int r = idx / HD;
        const int d = idx % HD;
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w)
            sum += outS[w][r][d];
        const float value = sum / rowSum[r];
        if (direct) {
            T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(h0 + r) * HD;
            o[d] = fromFloat<T>(value);
        } else {
            const std::int64_t row = (static_cast<std::int64_t>(seq) * p.nQHeads + h0 + r) * p.nSplits + split;
            p.partialOut[row * HD + d] = value;
            if (d == 0) {
                p.partialMax[row] = rowMax[r];
                p.partialSum[row] = rowSum[r];
            }
        }
    }
}

// Merges the partitions of one (sequence, query head): out = sum_z w_z o_z / sum_z w_z with
// w_z = sum_z * exp(max_z - max). The weights are computed once by all threads into shared
// memory; then 256 / headDim groups of headDim threads each sum every group-th partition.
template <typename T, int HD>
__global__ void __launch_bounds__(kMergeThreads) decodeMergeKernel(DecodeParams p)
{
    constexpr int kGroups = kMergeThreads / HD;
    __shared__ float weights[kMaxMergeSplits];
    __shared__ float scratch[32];
    __shared__ float part[kGroups][HD];

    const int seq = blockIdx.y;
    const int head = blockIdx.x;
    const int ctx = min(max(p.contextLens[seq], 0), p.maxContext);
    const int nUsed = min(p.nSplits, (ctx + p.partition - 1) / p.partition);
    const std::int64_t row0 = (static_cast<std::int64_t>(seq) * p.nQHeads + head) * p.nSplits;

    float m = -INFINITY;
    for (int z = threadIdx.x; z < nUsed; z += kMergeThreads)
        m = fmaxf(m, p.partialMax[row0 + z]);
    m = detail::blockMax(m, scratch);
    float total = 0.0f;
    for (int z = threadIdx.x; z < nUsed; z += kMergeThreads) {
        const float w = p.partialSum[row0 + z] * __expf(p.partialMax[row0 + z] - m);
        weights[z] = w;
        total += w;
    }
    total = detail::blockSum(total, scratch);  // its barriers also publish weights[]

    const int group = threadIdx.x / HD;
    const int d = threadIdx.x % HD;
    if (group < kGroups) {
        // Four partitions' loads issued before their FMAs: an L2 round trip per four, not per one.
        float acc = 0.0f;
        const float* src = p.partialOut + row0 * HD + d;
        int z = group;
        for (; z + 3 * kGroups < nUsed; z += 4 * kGroups) {
            float v[4];
#pragma unroll
            for (int u = 0; u < 4; ++u)
                v[u] = src[static_cast<std::int64_t>(z + u * kGroups) * HD];
#pragma unroll
            for (int u = 0; u < 4; ++u)
                acc = fmaf(weights[z + u * kGroups], v[u], acc);
        }
        for (; z < nUsed; z += kGroups)
            acc = fmaf(weights[z], src[static_cast<std::int64_t>(z) * HD], acc);
        part[group][d] = acc;
    }
    __syncthreads();
    if (threadIdx.x < HD) {
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < kGroups; ++k)
            acc += part[k][threadIdx.x];
        T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(head) * HD;
        o[threadIdx.x] = fromFloat<T>(nUsed > 0 ? acc / total : 0.0f);
    }
}

template <typename T, int HD>
KernelStatus launch(const DecodeParams& p, int nSeqs, bool vec, cudaStream_t stream)
{
    const dim3 grid(static_cast<unsigned>(p.nSplits), static_cast<unsigned>(p.nKvHeads * p.nChunks),
                    static_cast<unsigned>(nSeqs));
    if (p.nSplits == 1) {
        constexpr int kThreads = kDirectWarps * 32;
        if (vec)
            decodeKernel<T, HD, true, kDirectWarps><<<grid, kThreads, 0, stream>>>(p);
        else
            decodeKernel<T, HD, false, kDirectWarps><<<grid, kThreads, 0, stream>>>(p);
        HEARTH_CUDA_CHECK_LAUNCH();
        return KernelStatus::success();
    }
    constexpr int kThreads = kSplitWarps * 32;
    if (vec)
        decodeKernel<T, HD, true, kSplitWarps><<<grid, kThreads, 0, stream>>>(p);
    else
        decodeKernel<T, HD, false, kSplitWarps><<<grid, kThreads, 0, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    decodeMergeKernel<T, HD>
        <<<dim3(static_cast<unsigned>(p.nQHeads), static_cast<unsigned>(nSeqs)), kMergeThreads, 0, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const DecodeParams& p, int headDim, int nSeqs, bool vec, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launch<T, 64>(p, nSeqs, vec, stream);
    case 80: return launch<T, 80>(p, nSeqs, vec, stream);
    case 96: return launch<T, 96>(p, nSeqs, vec, stream);
    default: return launch<T, 128>(p, nSeqs, vec, stream);
    }
}

std::int64_t splitsFor(std::int64_t maxContext, std::int64_t partition)
{
    return std::max<std::int64_t>(1, (maxContext + partition - 1) / partition);
}

}  // namespace

std::int64_t decodeAttentionPartitionTokens(std::int64_t nSeqs, std::int64_t maxContext)
{
    if (maxContext <= kMaxPartition)
        return kMaxPartition;  // one partition, direct write, no workspace
    std::int64_t partition = kMaxPartition;
    while (partition > kMinPartition && std::max<std::int64_t>(nSeqs, 1) * splitsFor(maxContext, partition) < kTargetPartitions)
        partition /= 2;
    return partition;
}

std::size_t decodeAttentionWorkspaceBytes(std::int64_t nSeqs, std::int64_t nQHeads, std::int64_t headDim,
                                          std::int64_t maxContext)
{
    const std::int64_t nSplits = splitsFor(maxContext, decodeAttentionPartitionTokens(nSeqs, maxContext));
    if (nSplits <= 1)
        return 0;
    const auto rows = static_cast<std::size_t>(nSeqs * nQHeads * nSplits);
    return rows * sizeof(float) * static_cast<std::size_t>(headDim + 2);
}

KernelStatus pagedAttentionDecode(const DecodeAttentionArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(checkPagedKv(a.cache));
    const PagedKv& c = a.cache;
    HEARTH_KERNEL_REQUIRE(c.headDim == 64 || c.headDim == 80 || c.headDim == 96 || c.headDim == 128,
                          "decode attention supports head_dim 64, 80, 96 and 128");
    HEARTH_KERNEL_REQUIRE(a.nQHeads >= 1 && a.nQHeads % c.nKvHeads == 0, "query heads must be a multiple of kv heads");
    HEARTH_KERNEL_REQUIRE(a.nSeqs >= 0 && a.nSeqs <= 65535, "decode attention takes at most 65535 sequences per call");
    HEARTH_KERNEL_REQUIRE(a.maxContext >= 0 && a.maxContext <= a.maxPagesPerSeq * c.pageTokens,
                          "maxContext exceeds what the block table can address");
    HEARTH_KERNEL_REQUIRE(a.maxContext < (std::int64_t{1} << 30), "maxContext out of range");
    const std::int64_t row = a.nQHeads * c.headDim;
    HEARTH_KERNEL_REQUIRE((a.qStride == 0 || a.qStride >= row) && (a.outStride == 0 || a.outStride >= row),
                          "q/out stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.qStride % 2 == 0 && a.outStride % 2 == 0, "q/out strides must be even");
    HEARTH_KERNEL_REQUIRE(a.q && a.out && a.blockTables && a.contextLens, "decode attention needs q, out, tables and lengths");
    HEARTH_KERNEL_REQUIRE((reinterpret_cast<std::uintptr_t>(a.q) & 3u) == 0, "q must be 4-byte aligned");
    HEARTH_KERNEL_REQUIRE(c.pageTokens <= (std::int64_t{1} << 30), "pageTokens out of range");
    if (a.nSeqs == 0)
        return KernelStatus::success();
    const std::int64_t partition = decodeAttentionPartitionTokens(a.nSeqs, a.maxContext);
    const std::int64_t nSplits = splitsFor(a.maxContext, partition);
    const std::size_t need = decodeAttentionWorkspaceBytes(a.nSeqs, a.nQHeads, c.headDim, a.maxContext);
    HEARTH_KERNEL_REQUIRE(a.workspaceBytes >= need && (need == 0 || a.workspace != nullptr),
                          "decode attention workspace too small (see decodeAttentionWorkspaceBytes)");
    HEARTH_KERNEL_REQUIRE(nSplits <= kMaxMergeSplits, "context too long for one decode launch");
    HEARTH_KERNEL_REQUIRE(c.nKvHeads * ((a.nQHeads / c.nKvHeads + kGroup - 1) / kGroup) <= 65535,
                          "too many kv heads for one decode launch");

    DecodeParams p{};
    p.q = a.q;
    p.out = a.out;
    p.qStride = a.qStride ? a.qStride : row;
    p.outStride = a.outStride ? a.outStride : row;
    p.blockTables = a.blockTables;
    p.maxPagesPerSeq = a.maxPagesPerSeq;
    p.contextLens = a.contextLens;
    p.nQHeads = static_cast<int>(a.nQHeads);
    p.nKvHeads = static_cast<int>(c.nKvHeads);
    p.ratio = static_cast<int>(a.nQHeads / c.nKvHeads);
    p.nChunks = (p.ratio + kGroup - 1) / kGroup;
    p.nSplits = static_cast<int>(nSplits);
    p.partition = static_cast<int>(partition);
    p.maxContext = static_cast<int>(a.maxContext);
    p.scale = a.scale;
    p.kCache = c.kCache;
    p.vCache = c.vCache;
    p.pageStride = c.pageStride;
    p.tokenStride = c.tokenStride;
    p.headStride = c.headStride;
    p.pageTokens = static_cast<int>(c.pageTokens);
    if (need) {
        const std::size_t rows = static_cast<std::size_t>(a.nSeqs * a.nQHeads * nSplits);
        p.partialOut = static_cast<float*>(a.workspace);
        p.partialMax = p.partialOut + rows * static_cast<std::size_t>(c.headDim);
        p.partialSum = p.partialMax + rows;
    }
    // 16-byte K/V loads need every row start 16-byte aligned (head_dim is a multiple of 8).
    const bool vec = detail::aligned16(c.kCache) && detail::aligned16(c.vCache) && c.pageStride % 8 == 0 &&
                     c.tokenStride % 8 == 0 && c.headStride % 8 == 0;
    const int nSeqs = static_cast<int>(a.nSeqs);
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, static_cast<int>(c.headDim), nSeqs, vec, detail::toStream(stream));
    return dispatchHeadDim<__nv_bfloat16>(p, static_cast<int>(c.headDim), nSeqs, vec, detail::toStream(stream));
}

}  // namespace hearth::kernels
