// Paged attention for decode (flash-decoding).
// Shapes: grid (split, kvHead x group chunk, sequence), 128 threads (4 warps). A block takes one
// kv head, up to 8 of the query heads that share it (GQA: K/V are read once for the group) and
// one partition of 256 context tokens. Warps take tokens round-robin; lanes hold element pairs of
// the token's K row (4-byte loads; a row of head_dim 128 is 256 contiguous bytes), the q heads
// sit in shared memory as fp32, scores go to shared memory, softmax per q head, then the same
// token walk over V accumulates fp32 outputs in registers, merged across warps in shared memory.
// When the context needs more than one partition, each block writes its normalised partial output
// with its max and sum, and a second kernel merges the partitions (log-sum-exp weights).
// Traffic: every K and V element of the context once per (sequence, kv head, group chunk) plus
// q/out; bound by HBM bandwidth on the KV read at long contexts (the decode-at-32K target), by
// launch latency and occupancy at short ones.
#include <algorithm>

#include "cuda_check.cuh"
#include "paged_attention.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kGroup = 8;  // query heads per block
constexpr int kPartition = static_cast<int>(kDecodePartitionTokens);

struct DecodeParams {
    const void* q;
    void* out;
    std::int64_t qStride, outStride;
    const std::int32_t* blockTables;
    std::int64_t maxPagesPerSeq;
    const std::int32_t* contextLens;
    int nQHeads, nKvHeads, ratio, nChunks, nSplits;
    float scale;
    const void* kCache;
    const void* vCache;
    std::int64_t pageStride, tokenStride, headStride, pageTokens;
    float* partialOut;  // [nSeqs, nQHeads, nSplits, headDim]
    float* partialMax;  // [nSeqs, nQHeads, nSplits]
    float* partialSum;
};

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) decodeKernel(DecodeParams p)
{
    constexpr int kPairs = HD / 2;
    constexpr int kPairsPerLane = (kPairs + 31) / 32;
    __shared__ float2 qS[kGroup][kPairs];
    __shared__ float scores[kGroup][kPartition];
    __shared__ float2 outS[kWarps][kGroup][kPairs];
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
    const bool direct = p.nSplits == 1;

    const int ctx = p.contextLens[seq];
    const int start = split * kPartition;
    const int n = min(kPartition, ctx - start);
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

    const T* q = static_cast<const T*>(p.q) + seq * p.qStride + static_cast<std::int64_t>(h0) * HD;
    for (int idx = threadIdx.x; idx < g * kPairs; idx += kThreads)
        qS[idx / kPairs][idx % kPairs] = detail::loadPair(q + 2 * idx);
    __syncthreads();

    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;
    const T* kHead = static_cast<const T*>(p.kCache) + kvHead * p.headStride;
    const T* vHead = static_cast<const T*>(p.vCache) + kvHead * p.headStride;
    auto rowOffset = [&](int pos) {
        return static_cast<std::int64_t>(table[pos / p.pageTokens]) * p.pageStride + (pos % p.pageTokens) * p.tokenStride;
    };

    // Scores: one token per warp at a time, lanes over element pairs.
    for (int t = warp; t < n; t += kWarps) {
        const T* kr = kHead + rowOffset(start + t);
        float2 kv[kPairsPerLane];
#pragma unroll
        for (int j = 0; j < kPairsPerLane; ++j) {
            const int pr = lane + 32 * j;
            kv[j] = pr < kPairs ? detail::loadPair(kr + 2 * pr) : make_float2(0.0f, 0.0f);
        }
#pragma unroll
        for (int r = 0; r < kGroup; ++r) {
            if (r < g) {
                float d = 0.0f;
#pragma unroll
                for (int j = 0; j < kPairsPerLane; ++j) {
                    const int pr = lane + 32 * j;
                    if (pr < kPairs) {
                        const float2 qq = qS[r][pr];
                        d = fmaf(kv[j].x, qq.x, fmaf(kv[j].y, qq.y, d));
                    }
                }
                d = detail::warpSum(d);
                if (lane == 0)
                    scores[r][t] = d * p.scale;
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
    float2 acc[kGroup][kPairsPerLane];
#pragma unroll
    for (int r = 0; r < kGroup; ++r)
#pragma unroll
        for (int j = 0; j < kPairsPerLane; ++j)
            acc[r][j] = make_float2(0.0f, 0.0f);
    for (int t = warp; t < n; t += kWarps) {
        const T* vr = vHead + rowOffset(start + t);
        float2 vv[kPairsPerLane];
#pragma unroll
        for (int j = 0; j < kPairsPerLane; ++j) {
            const int pr = lane + 32 * j;
            vv[j] = pr < kPairs ? detail::loadPair(vr + 2 * pr) : make_float2(0.0f, 0.0f);
        }
#pragma unroll
        for (int r = 0; r < kGroup; ++r) {
            if (r < g) {
                const float w = scores[r][t];
#pragma unroll
                for (int j = 0; j < kPairsPerLane; ++j) {
                    acc[r][j].x = fmaf(w, vv[j].x, acc[r][j].x);
                    acc[r][j].y = fmaf(w, vv[j].y, acc[r][j].y);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < kGroup; ++r) {
        if (r < g) {
#pragma unroll
            for (int j = 0; j < kPairsPerLane; ++j) {
                const int pr = lane + 32 * j;
                if (pr < kPairs)
                    outS[warp][r][pr] = acc[r][j];
            }
        }
    }
    __syncthreads();

    for (int idx = threadIdx.x; idx < g * kPairs; idx += kThreads) {
        const int r = idx / kPairs;
        const int pr = idx % kPairs;
        float2 sum = make_float2(0.0f, 0.0f);
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            sum.x += outS[w][r][pr].x;
            sum.y += outS[w][r][pr].y;
        }
        const float inv = 1.0f / rowSum[r];
        if (direct) {
            T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(h0 + r) * HD;
            detail::storePair(o + 2 * pr, sum.x * inv, sum.y * inv);
        } else {
            const std::int64_t row = (static_cast<std::int64_t>(seq) * p.nQHeads + h0 + r) * p.nSplits + split;
            float* o = p.partialOut + row * HD;
            o[2 * pr] = sum.x * inv;
            o[2 * pr + 1] = sum.y * inv;
            if (pr == 0) {
                p.partialMax[row] = rowMax[r];
                p.partialSum[row] = rowSum[r];
            }
        }
    }
}

// Merges the partitions of one (sequence, query head): weights sum_z * exp(max_z - max).
template <typename T, int HD>
__global__ void decodeMergeKernel(DecodeParams p)
{
    const int seq = blockIdx.y;
    const int head = blockIdx.x;
    const int ctx = p.contextLens[seq];
    const int nUsed = min(p.nSplits, (ctx + kPartition - 1) / kPartition);
    const std::int64_t row0 = (static_cast<std::int64_t>(seq) * p.nQHeads + head) * p.nSplits;
    T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(head) * HD;
    float m = -INFINITY;
    for (int z = 0; z < nUsed; ++z)
        m = fmaxf(m, p.partialMax[row0 + z]);
    float total = 0.0f;
    for (int z = 0; z < nUsed; ++z)
        total += p.partialSum[row0 + z] * __expf(p.partialMax[row0 + z] - m);
    for (int d = threadIdx.x; d < HD; d += blockDim.x) {
        float acc = 0.0f;
        for (int z = 0; z < nUsed; ++z)
            acc += p.partialSum[row0 + z] * __expf(p.partialMax[row0 + z] - m) * p.partialOut[(row0 + z) * HD + d];
        o[d] = fromFloat<T>(nUsed > 0 ? acc / total : 0.0f);
    }
}

template <typename T, int HD>
KernelStatus launch(const DecodeParams& p, int nSeqs, cudaStream_t stream)
{
    const dim3 grid(static_cast<unsigned>(p.nSplits), static_cast<unsigned>(p.nKvHeads * p.nChunks),
                    static_cast<unsigned>(nSeqs));
    decodeKernel<T, HD><<<grid, kThreads, 0, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    if (p.nSplits > 1) {
        decodeMergeKernel<T, HD><<<dim3(static_cast<unsigned>(p.nQHeads), static_cast<unsigned>(nSeqs)), HD, 0, stream>>>(p);
        HEARTH_CUDA_CHECK_LAUNCH();
    }
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const DecodeParams& p, int headDim, int nSeqs, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launch<T, 64>(p, nSeqs, stream);
    case 80: return launch<T, 80>(p, nSeqs, stream);
    case 96: return launch<T, 96>(p, nSeqs, stream);
    default: return launch<T, 128>(p, nSeqs, stream);
    }
}

std::int64_t splitsFor(std::int64_t maxContext) { return std::max<std::int64_t>(1, (maxContext + kPartition - 1) / kPartition); }

}  // namespace

std::size_t decodeAttentionWorkspaceBytes(std::int64_t nSeqs, std::int64_t nQHeads, std::int64_t headDim,
                                          std::int64_t maxContext)
{
    const std::int64_t nSplits = splitsFor(maxContext);
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
    if (a.nSeqs == 0)
        return KernelStatus::success();
    const std::int64_t nSplits = splitsFor(a.maxContext);
    const std::size_t need = decodeAttentionWorkspaceBytes(a.nSeqs, a.nQHeads, c.headDim, a.maxContext);
    HEARTH_KERNEL_REQUIRE(a.workspaceBytes >= need && (need == 0 || a.workspace != nullptr),
                          "decode attention workspace too small (see decodeAttentionWorkspaceBytes)");
    HEARTH_KERNEL_REQUIRE(nSplits <= 65535, "context too long for one decode launch");

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
    p.scale = a.scale;
    p.kCache = c.kCache;
    p.vCache = c.vCache;
    p.pageStride = c.pageStride;
    p.tokenStride = c.tokenStride;
    p.headStride = c.headStride;
    p.pageTokens = c.pageTokens;
    if (need) {
        const std::size_t rows = static_cast<std::size_t>(a.nSeqs * a.nQHeads * nSplits);
        p.partialOut = static_cast<float*>(a.workspace);
        p.partialMax = p.partialOut + rows * static_cast<std::size_t>(c.headDim);
        p.partialSum = p.partialMax + rows;
    }
    const int nSeqs = static_cast<int>(a.nSeqs);
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, static_cast<int>(c.headDim), nSeqs, detail::toStream(stream));
    return dispatchHeadDim<__nv_bfloat16>(p, static_cast<int>(c.headDim), nSeqs, detail::toStream(stream));
}

}  // namespace hearth::kernels
