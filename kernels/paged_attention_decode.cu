// Paged attention for decode (flash-decoding).
// Grid (partition, kvHead x query-head chunk, sequence); 128 threads (4 warps), 256 when the
// launch has a single partition. A block takes one kv head, a chunk of the query heads that
// share it (GQA: each K/V element is loaded once per chunk) and one partition of P context
// tokens (P = 64, 128 or 256, the largest that still gives >= 64 partitions over the batch).
// Chunks are as small as one wave of blocks allows (groupSizeFor): at batch 1 a short context
// runs one query head per block on 28 blocks instead of 7 heads on 4, a long one keeps all 7.
// Latency decides all but the longest contexts (on an H200 a dependent round trip to the paged
// cache costs ~1.5 us), so the chain of dependent loads is kept short: the context length, the
// partition's block-table entries (turned into row offsets in shared memory, bounded by
// maxContext so they need not wait for the length) and q are loaded together; then each
// half-warp (16 lanes) takes 8 tokens per step, each lane 8 elements of their K or V rows in one
// 16-byte load kept packed until used (head_dim 80/96 leave lanes 10-15/12-15 idle), so a 4-warp
// block has 64 rows in flight. Two kernels do the attention:
//  - decodeOnlineKernel (paged_attention_decode_online.cu), for chunks of 1-2 query heads: K
//    and V of a step are loaded together and folded into an online softmax per half-warp, one
//    wait on memory per step;
//  - decodeKernel (here), for 3-8 heads (q and outputs take most of the 128 registers, no room
//    for V in flight with K): a K walk stores scores in shared memory, the softmax runs per head
//    over the partition, then a V walk whose first step is requested before the softmax. Its
//    variants for 3-4 and 5-7 heads sum the lanes' partial scores with a reduce-scatter (8
//    shuffles per token for 7 heads instead of 28); the 8-head one with a tree per score.
// Outputs are fp32 in registers, merged across half-warps and warps at the end.
// With more than one partition each block writes its normalised partial output with its max and
// sum, and decodeMergeKernel combines them with log-sum-exp weights: one block per (sequence,
// query head) of 512 threads, each a float4 slice of the row for every 16th (head_dim 128)
// partition, whose loads are issued together with the maxima, sums and context length (slots
// past the length are loaded but never used), so the merge waits on memory about once.
// Rows and strides that do not allow 16-byte loads use four 4-byte loads per lane instead.
// A third kernel, decodeTcKernel (paged_attention_decode_tc.cu), does Q K^T and P V on the tensor
// cores for up to 16 query heads per block over the same partitions (same workspace, same merge);
// pagedAttentionDecode picks it for GQA groups of 4+ once the batch holds 2048+ context tokens
// (there the kernels above are bound by their arithmetic: 36.4 us per 7B layer at 32K on an H200,
// where reading K and V takes 16), where the device and the cache's alignment allow, unless
// HEARTH_DECODE_ATTN says otherwise (DecodeAttentionImpl in paged_attention.h).
// Traffic: every K and V element of the context once from DRAM per (sequence, kv head), the
// chunks of a kv head re-reading it from L2, plus q/out and, when split,
// nQHeads*(headDim+2)*4 bytes per partition written and read back.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "launch.cuh"
#include "paged_attention_decode.cuh"

namespace hearth::kernels {
namespace decode {
namespace {

template <typename T, int HD, bool Vec, int kWarps, int KG>
__global__ void __launch_bounds__(kWarps * 32, 16 / kWarps) decodeKernel(DecodeParams p)
{
    detail::pdlWait();  // nothing before it: q, the cache and the tables come from earlier kernels
    detail::pdlLaunchDependents();
    constexpr int kThreads = kWarps * 32;
    __shared__ float scores[KG][kMaxPartition];
    __shared__ float outS[kWarps][KG][HD];
    __shared__ float rowMax[KG];
    __shared__ float rowSum[KG];
    __shared__ std::int64_t rowOff[kMaxPartition];  // element offset of each token's row in the cache

    const Place at = placeOf<HD>(p);
    const int g = at.g, lane = at.lane, warp = at.warp, sub = at.sub, half = at.half;
    const bool active = at.active;

    float qr[KG][8];  // q of the group (times the scale), 8 elements per lane
    const int n = beginPartition<T, HD, KG, kThreads>(p, at, rowOff, qr);
    if (n <= 0)
        return;

    const T* kHead = static_cast<const T*>(p.kCache) + at.kvHead * p.headStride + sub * 8;
    const T* vHead = static_cast<const T*>(p.vCache) + at.kvHead * p.headStride + sub * 8;
    // Token steps are warp-uniform (every lane runs every step, so the shuffles see all 32);
    // a half-warp's tokens past n load nothing and store nothing.
    constexpr int kWarpStep = 2 * kSteps;

    // Scores: tokens t0..t0+kSteps-1 per half-warp and step.
    for (int base = warp * kWarpStep; base < n; base += kWarps * kWarpStep) {
        const int t0 = base + half * kSteps;
        uint4 kRaw[kSteps];
#pragma unroll
        for (int u = 0; u < kSteps; ++u)
            kRaw[u] = active && t0 + u < n ? loadRaw8<Vec>(kHead + rowOff[t0 + u]) : make_uint4(0u, 0u, 0u, 0u);
        if constexpr (KG == kGroup) {
            // 8 heads: no registers left for the reduce-scatter below; a shuffle tree per score.
#pragma unroll
            for (int u = 0; u < kSteps; ++u) {
                float kf[8];
                unpack8<T>(kRaw[u], kf);
#pragma unroll
                for (int r = 0; r < KG; ++r) {
                    if (r < g) {  // block-uniform
                        const float d = halfWarpDot(kf, qr[r]);
                        if (sub == 0 && t0 + u < n)
                            scores[r][t0 + u] = d;
                    }
                }
            }
        } else {
            // kTokens tokens at a time, their partial dot products with the KG heads (8 values
            // with padding) summed over the half-warp by a reduce-scatter: at each of three
            // levels a lane keeps half of its values and sends the other half to its partner,
            // then one shuffle finishes: 8 shuffles for 7 heads where a tree per score takes 28.
            // Lane sub then holds value sub >> 1 (head (sub >> 1) / kTokens) complete.
            constexpr int kTokens = KG <= 4 ? 2 : 1;
            static_assert(KG * kTokens <= 8 && kSteps % kTokens == 0, "reduce-scatter shape");
#pragma unroll
            for (int j = 0; j < kSteps; j += kTokens) {
                float v[8];  // v[kTokens * head + token]
#pragma unroll
                for (int uu = 0; uu < kTokens; ++uu) {
                    float kf[8];
                    unpack8<T>(kRaw[j + uu], kf);
#pragma unroll
                    for (int r = 0; r < 8 / kTokens; ++r) {
                        float d = 0.0f;
                        if (r < KG) {
#pragma unroll
                            for (int i = 0; i < 8; ++i)
                                d = fmaf(kf[i], qr[r][i], d);
                        }
                        v[kTokens * r + uu] = d;
                    }
                }
#pragma unroll
                for (int level = 0; level < 3; ++level) {
                    const int o = 8 >> level;
                    const int count = 4 >> level;
                    const bool upper = (sub & o) != 0;
#pragma unroll
                    for (int i = 0; i < 4; ++i) {
                        if (i < count) {
                            const float send = upper ? v[i] : v[i + count];
                            const float keep = upper ? v[i + count] : v[i];
                            v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
                        }
                    }
                }
                v[0] += __shfl_xor_sync(0xffffffffu, v[0], 1);
                const int r = (sub >> 1) / kTokens;
                const int t = t0 + j + (sub >> 1) % kTokens;
                if ((sub & 1) == 0 && r < g && t < n)
                    scores[r][t] = v[0];
            }
        }
    }
    // The first V step's rows are requested now (q is dead), so their latency overlaps the
    // barrier and the softmax.
    uint4 vRaw[kSteps];
    auto loadV = [&](int base) {
        const int t0 = base + half * kSteps;
#pragma unroll
        for (int u = 0; u < kSteps; ++u)
            vRaw[u] = active && t0 + u < n ? loadRaw8<Vec>(vHead + rowOff[t0 + u]) : make_uint4(0u, 0u, 0u, 0u);
    };
    loadV(warp * kWarpStep);
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
    float acc[KG][8];
#pragma unroll
    for (int r = 0; r < KG; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[r][i] = 0.0f;
    for (int base = warp * kWarpStep; base < n; base += kWarps * kWarpStep) {
        if (base != warp * kWarpStep)
            loadV(base);
        const int t0 = base + half * kSteps;
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            if (t0 + u < n) {
                float vf[8];
                unpack8<T>(vRaw[u], vf);
#pragma unroll
                for (int r = 0; r < KG; ++r) {
                    if (r < g) {
                        const float w = scores[r][t0 + u];
#pragma unroll
                        for (int i = 0; i < 8; ++i)
                            acc[r][i] = fmaf(w, vf[i], acc[r][i]);
                    }
                }
            }
        }
    }
    // The two half-warps hold the same elements for different tokens.
#pragma unroll
    for (int r = 0; r < KG; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[r][i] += __shfl_xor_sync(0xffffffffu, acc[r][i], 16);
    if (half == 0 && active) {
#pragma unroll
        for (int r = 0; r < KG; ++r)
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
        storeResult<T, HD>(p, at, r, d, sum / rowSum[r], rowMax[r], rowSum[r]);
    }
}
// Merges the partitions of one (sequence, query head): out = sum_z w_z o_z / sum_z w_z with
// w_z = sum_z * exp(max_z - max). Thread (group, v) owns float4 slice v of the row for
// partitions group, group + kGroups, ...; the first kMergeLoads of them are loaded together with
// every partition's max and sum and the context length (slots past the length hold stale data
// and are loaded but never used), so the block waits on memory about once.
template <typename T, int HD>
__global__ void __launch_bounds__(kMergeThreads) decodeMergeKernel(DecodeParams p)
{
    detail::pdlWait();  // nothing before it: q, the cache and the tables come from earlier kernels
    detail::pdlLaunchDependents();
    constexpr int kVecs = HD / 4;
    constexpr int kGroups = kMergeThreads / kVecs;
    __shared__ float maxS[kMaxMergeSplits];
    __shared__ float weights[kMaxMergeSplits];
    __shared__ float scratch[32];
    __shared__ float4 part[kGroups][kVecs];

    const int seq = blockIdx.y;
    const int head = blockIdx.x;
    const int group = threadIdx.x / kVecs;
    const int v = threadIdx.x % kVecs;
    const bool worker = group < kGroups;
    const std::int64_t row0 = (static_cast<std::int64_t>(seq) * p.nQHeads + head) * p.nSplits;

    const int ctxRaw = p.contextLens[seq];
    const float4* src = reinterpret_cast<const float4*>(p.partialOut + row0 * HD) + v;
    float4 pre[kMergeLoads];
#pragma unroll
    for (int u = 0; u < kMergeLoads; ++u) {
        const int z = group + u * kGroups;
        pre[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (worker && z < p.nSplits)
            pre[u] = src[static_cast<std::int64_t>(z) * kVecs];
    }
    for (int z = threadIdx.x; z < p.nSplits; z += kMergeThreads) {
        maxS[z] = p.partialMax[row0 + z];
        weights[z] = p.partialSum[row0 + z];
    }
    const int ctx = min(max(ctxRaw, 0), p.maxContext);
    const int nUsed = min(p.nSplits, (ctx + p.partition - 1) / p.partition);

    // Each thread reads back only the slots it wrote itself until blockSum's barriers.
    float m = -INFINITY;
    for (int z = threadIdx.x; z < nUsed; z += kMergeThreads)
        m = fmaxf(m, maxS[z]);
    m = detail::blockMax(m, scratch);
    float total = 0.0f;
    for (int z = threadIdx.x; z < nUsed; z += kMergeThreads) {
        const float w = weights[z] * __expf(maxS[z] - m);
        weights[z] = w;
        total += w;
    }
    total = detail::blockSum(total, scratch);  // its barriers also publish weights[]

    if (worker) {
        float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        auto add = [&](int z, const float4& x) {
            const float w = weights[z];
            acc.x = fmaf(w, x.x, acc.x);
            acc.y = fmaf(w, x.y, acc.y);
            acc.z = fmaf(w, x.z, acc.z);
            acc.w = fmaf(w, x.w, acc.w);
        };
#pragma unroll
        for (int u = 0; u < kMergeLoads; ++u) {
            const int z = group + u * kGroups;
            if (z < nUsed)  // a skipped slot may hold NaN: never multiply it, even by 0
                add(z, pre[u]);
        }
        // Past kMergeLoads * kGroups partitions (contexts beyond 32K at head_dim 128).
        for (int z0 = group + kMergeLoads * kGroups; z0 < nUsed; z0 += kMergeLoads * kGroups) {
#pragma unroll
            for (int u = 0; u < kMergeLoads; ++u) {
                const int z = z0 + u * kGroups;
                if (z < nUsed)
                    pre[u] = src[static_cast<std::int64_t>(z) * kVecs];
            }
#pragma unroll
            for (int u = 0; u < kMergeLoads; ++u) {
                const int z = z0 + u * kGroups;
                if (z < nUsed)
                    add(z, pre[u]);
            }
        }
        part[group][v] = acc;
    }
    __syncthreads();
    if (threadIdx.x < HD) {
        const float* partF = reinterpret_cast<const float*>(&part[0][0]);
        float acc = 0.0f;
#pragma unroll
        for (int k = 0; k < kGroups; ++k)
            acc += partF[k * HD + threadIdx.x];
        T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(head) * HD;
        o[threadIdx.x] = fromFloat<T>(nUsed > 0 ? acc / total : 0.0f);
    }
}

template <typename T, int HD, int kWarps>
void launchTwoWalk(const DecodeParams& p, const dim3& grid, bool vec, cudaStream_t stream)
{
    constexpr int kThreads = kWarps * 32;
    if (p.groupSize <= kMidGroup) {
        if (vec)
            detail::launchPdl(decodeKernel<T, HD, true, kWarps, kMidGroup>, grid, kThreads, 0, stream, p);
        else
            detail::launchPdl(decodeKernel<T, HD, false, kWarps, kMidGroup>, grid, kThreads, 0, stream, p);
    } else if (p.groupSize < kGroup) {
        if (vec)
            detail::launchPdl(decodeKernel<T, HD, true, kWarps, kGroup - 1>, grid, kThreads, 0, stream, p);
        else
            detail::launchPdl(decodeKernel<T, HD, false, kWarps, kGroup - 1>, grid, kThreads, 0, stream, p);
    } else if (vec) {
        detail::launchPdl(decodeKernel<T, HD, true, kWarps, kGroup>, grid, kThreads, 0, stream, p);
    } else {
        detail::launchPdl(decodeKernel<T, HD, false, kWarps, kGroup>, grid, kThreads, 0, stream, p);
    }
}

template <typename T, int HD>
KernelStatus launch(const DecodeParams& p, int nSeqs, bool vec, bool tensorCores, cudaStream_t stream)
{
    const dim3 grid(static_cast<unsigned>(p.nSplits), static_cast<unsigned>(p.nKvHeads * p.nChunks),
                    static_cast<unsigned>(nSeqs));
    const ElemType type = std::is_same_v<T, __half> ? ElemType::F16 : ElemType::BF16;
    if (tensorCores)
        HEARTH_KERNEL_TRY(launchTensorCore(p, type, HD, grid, stream));
    else if (p.groupSize <= kSmallGroup)
        launchOnline(p, type, HD, p.nSplits == 1, vec, grid, stream);
    else if (p.nSplits == 1)
        launchTwoWalk<T, HD, kDirectWarps>(p, grid, vec, stream);
    else
        launchTwoWalk<T, HD, kSplitWarps>(p, grid, vec, stream);
    HEARTH_CUDA_CHECK_LAUNCH();
    if (p.nSplits == 1)
        return KernelStatus::success();
    detail::launchPdl(decodeMergeKernel<T, HD>, dim3(static_cast<unsigned>(p.nQHeads), static_cast<unsigned>(nSeqs)),
                      kMergeThreads, 0, stream, p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const DecodeParams& p, int headDim, int nSeqs, bool vec, bool tensorCores,
                             cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launch<T, 64>(p, nSeqs, vec, tensorCores, stream);
    case 80: return launch<T, 80>(p, nSeqs, vec, tensorCores, stream);
    case 96: return launch<T, 96>(p, nSeqs, vec, tensorCores, stream);
    default: return launch<T, 128>(p, nSeqs, vec, tensorCores, stream);
    }
}

// HEARTH_DECODE_ATTN in the environment, read once per process: "simt" or "tc" force a kernel
// family over Auto's choice, anything else leaves it.
DecodeAttentionImpl implForcedByEnvironment()
{
    static const DecodeAttentionImpl forced = [] {
        const char* v = std::getenv("HEARTH_DECODE_ATTN");
        if (v != nullptr && std::strcmp(v, "simt") == 0)
            return DecodeAttentionImpl::Simt;
        if (v != nullptr && std::strcmp(v, "tc") == 0)
            return DecodeAttentionImpl::TensorCore;
        return DecodeAttentionImpl::Auto;
    }();
    return forced;
}

// Whether the current device has the tensor-core instructions decodeTcKernel uses (sm_80+) and
// the build holds it for that device; the kernel check is asked once per device (decode runs
// once per layer and step).
KernelStatus hasTensorCoreKernel(bool* yes)
{
    constexpr int kCachedDevices = 64;
    static std::atomic<int> known[kCachedDevices] = {};  // 0 unknown, 1 no, 2 yes
    int device = 0;
    HEARTH_CUDA_CHECK(cudaGetDevice(&device));
    const bool cacheable = device >= 0 && device < kCachedDevices;
    if (cacheable && known[device].load(std::memory_order_relaxed) != 0) {
        *yes = known[device].load(std::memory_order_relaxed) == 2;
        return KernelStatus::success();
    }
    int major = 0;
    HEARTH_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    *yes = false;
    if (major >= 8)
        HEARTH_KERNEL_TRY(decodeTensorCoreCompiled(yes));
    if (cacheable)
        known[device].store(*yes ? 2 : 1, std::memory_order_relaxed);
    return KernelStatus::success();
}

std::int64_t splitsFor(std::int64_t maxContext, std::int64_t partition)
{
    return std::max<std::int64_t>(1, (maxContext + partition - 1) / partition);
}

// Query heads per block: the smallest group (most chunks per kv head, so short contexts spread
// over more SMs) whose blocks still fit one wave; all of a kv head's (up to kGroup) when even
// that does not fit. Resident blocks per SM: decodeKernel (128 registers) 4 of 128 threads, 2 of
// 256; decodeOnlineKernel (~135-160 registers) 3 and 1.
std::int64_t groupSizeFor(std::int64_t ratio, std::int64_t baseBlocks, bool direct)
{
    const std::int64_t minChunks = (ratio + kGroup - 1) / kGroup;
    std::int64_t best = (ratio + minChunks - 1) / minChunks;
    for (std::int64_t want = minChunks + 1; want <= ratio; ++want) {
        const std::int64_t groupSize = (ratio + want - 1) / want;
        const std::int64_t chunks = (ratio + groupSize - 1) / groupSize;
        const std::int64_t perSm = groupSize <= kSmallGroup ? (direct ? 1 : 3) : (direct ? 2 : 4);
        if (baseBlocks * chunks <= kWaveSms * perSm)
            best = groupSize;
    }
    return best;
}

}  // namespace
}  // namespace decode

using namespace decode;

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

KernelStatus prepareDecodeAttention()
{
    bool tensorCores = false;
    HEARTH_KERNEL_TRY(decode::hasTensorCoreKernel(&tensorCores));
    return tensorCores ? decode::prepareTensorCore() : KernelStatus::success();
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
    HEARTH_KERNEL_REQUIRE(need == 0 || detail::aligned16(a.workspace), "decode attention workspace must be 16-byte aligned");
    const std::int64_t ratio = a.nQHeads / c.nKvHeads;
    // 16-byte K/V loads (and the tensor cores' 16-byte copies) need every row start 16-byte
    // aligned (head_dim is a multiple of 8).
    const bool vec = detail::aligned16(c.kCache) && detail::aligned16(c.vCache) && c.pageStride % 8 == 0 &&
                     c.tokenStride % 8 == 0 && c.headStride % 8 == 0;
    HEARTH_KERNEL_REQUIRE(a.impl != DecodeAttentionImpl::TensorCore || vec,
                          "the tensor-core decode needs the KV cache 16-byte aligned, with strides in multiples "
                          "of 8 elements");
    DecodeAttentionImpl impl = a.impl == DecodeAttentionImpl::Auto ? implForcedByEnvironment() : a.impl;
    if (impl == DecodeAttentionImpl::Auto && ratio >= kTcMinGroup && a.nSeqs * a.maxContext >= kDecodeTensorCoreMinTokens)
        impl = DecodeAttentionImpl::TensorCore;
    bool tensorCores = false;
    if (impl == DecodeAttentionImpl::TensorCore && vec) {
        HEARTH_KERNEL_TRY(hasTensorCoreKernel(&tensorCores));
        HEARTH_KERNEL_REQUIRE(tensorCores || a.impl != DecodeAttentionImpl::TensorCore,
                              "the tensor-core decode needs compute capability 8.0 or newer and a build for CUDA "
                              "architectures 80 or newer");
    }
    // The tensor cores take up to 16 query heads of a kv head per block (one chunk up to GQA 16).
    const std::int64_t tcChunks = (ratio + kTcGroup - 1) / kTcGroup;
    const std::int64_t groupSize = tensorCores ? (ratio + tcChunks - 1) / tcChunks
                                               : groupSizeFor(ratio, a.nSeqs * c.nKvHeads * nSplits, nSplits == 1);
    const std::int64_t nChunks = (ratio + groupSize - 1) / groupSize;
    HEARTH_KERNEL_REQUIRE(c.nKvHeads * nChunks <= 65535, "too many kv heads for one decode launch");

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
    p.ratio = static_cast<int>(ratio);
    p.groupSize = static_cast<int>(groupSize);
    p.nChunks = static_cast<int>(nChunks);
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
    const int nSeqs = static_cast<int>(a.nSeqs);
    const cudaStream_t s = detail::toStream(stream);
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, static_cast<int>(c.headDim), nSeqs, vec, tensorCores, s);
    return dispatchHeadDim<__nv_bfloat16>(p, static_cast<int>(c.headDim), nSeqs, vec, tensorCores, s);
}

}  // namespace hearth::kernels
