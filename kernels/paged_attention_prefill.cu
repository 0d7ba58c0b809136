// Paged attention for prefill on the CUDA cores: flash-attention style tiling with an online
// softmax, causal, GQA, all math in fp32. The tensor-core kernels are the default: mma.sync
// (paged_attention_prefill_mma.cu), with the earlier WMMA one (paged_attention_prefill_tc.cu)
// selectable; this one stays as the fallback (pre-Ampere devices, unaligned q or cache) and as a
// further implementation the tests and a bisection can select (PrefillAttentionImpl::Fp32,
// HEARTH_PREFILL_ATTN=fp32). This file also holds the public launcher that picks between them.
// Shapes: grid (row tile, kv head, sequence), 128 threads (4 warps). A block owns 16 query rows,
// a row being one (query token, query head) of the kv head's GQA group, so K/V tiles are shared by
// the group. Per KV tile of 32 positions the block stages K and V (fp32, K rows padded against
// bank conflicts) in shared memory; each warp handles 4 rows: lane j scores key j, the warp
// updates its running max/sum, and lanes (over head_dim) accumulate P V with the probabilities
// broadcast by shuffles. Tiles stop at the block's last causal position.
// Traffic: K/V of the visible context once per (16-row tile, kv head) (L2 absorbs most repeats),
// q and out once. Bound by fp32 FMA throughput for long prompts (about 4 * rows * ctx * headDim
// flops), by the context read for short ones.
#include <cstdlib>
#include <cstring>

#include "cuda_check.cuh"
#include "paged_attention.h"
#include "paged_attention_prefill_tc.cuh"

namespace hearth::kernels {
namespace {

using detail::fromFloat;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 16;                  // query rows per block
constexpr int kRowsPerWarp = kRows / kWarps;
constexpr int kTile = 32;                  // keys per tile, one per lane

struct PrefillParams {
    const void* q;
    void* out;
    std::int64_t qStride, outStride;
    const std::int32_t* queryStart;
    const std::int32_t* contextLens;
    const std::int32_t* blockTables;
    std::int64_t maxPagesPerSeq;
    int nKvHeads, ratio;
    float scale;
    const void* kCache;
    const void* vCache;
    std::int64_t pageStride, tokenStride, headStride, pageTokens;
};

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) prefillKernel(PrefillParams p)
{
    constexpr int kPairs = HD / 2;
    constexpr int kDPerLane = (HD + 31) / 32;
    __shared__ float qS[kRows][HD];
    __shared__ float kS[kTile][HD + 1];
    __shared__ float vS[kTile][HD];

    const int seq = blockIdx.z;
    const int kvHead = blockIdx.y;
    const int qBegin = p.queryStart[seq];
    const int nQuery = p.queryStart[seq + 1] - qBegin;
    const int ctx = p.contextLens[seq];
    const int firstPos = ctx - nQuery;  // position of query 0
    const int row0 = blockIdx.x * kRows;
    const int nRowsTotal = nQuery * p.ratio;
    if (row0 >= nRowsTotal)
        return;  // the whole block: this sequence has fewer query rows than the grid allows
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;

    // Stage q (fp32) for the block's rows; rows past the sequence are zeros and never written.
    for (int idx = threadIdx.x; idx < kRows * kPairs; idx += kThreads) {
        const int r = idx / kPairs;
        const int pr = idx % kPairs;
        const int gr = row0 + r;
        float2 v = make_float2(0.0f, 0.0f);
        if (gr < nRowsTotal) {
            const int token = gr / p.ratio;
            const int head = kvHead * p.ratio + gr % p.ratio;
            const T* qr = static_cast<const T*>(p.q) + static_cast<std::int64_t>(qBegin + token) * p.qStride +
                          static_cast<std::int64_t>(head) * HD;
            v = detail::loadPair(qr + 2 * pr);
        }
        qS[r][2 * pr] = v.x;
        qS[r][2 * pr + 1] = v.y;
    }

    const int lastRow = min(row0 + kRows, nRowsTotal) - 1;
    const int maxPos = firstPos + lastRow / p.ratio;  // the block's last causal position

    float m[kRowsPerWarp];
    float l[kRowsPerWarp];
    float o[kRowsPerWarp][kDPerLane];
#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        m[rr] = -INFINITY;
        l[rr] = 0.0f;
#pragma unroll
        for (int j = 0; j < kDPerLane; ++j)
            o[rr][j] = 0.0f;
    }

    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;
    const T* kHead = static_cast<const T*>(p.kCache) + kvHead * p.headStride;
    const T* vHead = static_cast<const T*>(p.vCache) + kvHead * p.headStride;

    for (int kv0 = 0; kv0 <= maxPos; kv0 += kTile) {
        __syncthreads();  // the previous tile is consumed (and q is staged, on the first pass)
        for (int idx = threadIdx.x; idx < kTile * kPairs; idx += kThreads) {
            const int j = idx / kPairs;
            const int pr = idx % kPairs;
            const int pos = kv0 + j;
            float2 kv = make_float2(0.0f, 0.0f);
            float2 vv = make_float2(0.0f, 0.0f);
            if (pos <= maxPos) {
                const std::int64_t off = static_cast<std::int64_t>(table[pos / p.pageTokens]) * p.pageStride +
                                         (pos % p.pageTokens) * p.tokenStride + 2 * pr;
                kv = detail::loadPair(kHead + off);
                vv = detail::loadPair(vHead + off);
            }
            kS[j][2 * pr] = kv.x;
            kS[j][2 * pr + 1] = kv.y;
            vS[j][2 * pr] = vv.x;
            vS[j][2 * pr + 1] = vv.y;
        }
        __syncthreads();

#pragma unroll
        for (int rr = 0; rr < kRowsPerWarp; ++rr) {
            const int r = warp * kRowsPerWarp + rr;
            const int gr = row0 + r;
            if (gr >= nRowsTotal)
                continue;  // uniform across the warp
            const int pos = firstPos + gr / p.ratio;
            if (kv0 > pos)
                continue;  // every key of this tile is in this row's future
            const int key = kv0 + lane;
            float s = -INFINITY;
            if (key <= pos) {
                float d = 0.0f;
#pragma unroll 16
                for (int e = 0; e < HD; ++e)
                    d = fmaf(qS[r][e], kS[lane][e], d);
                s = d * p.scale;
            }
            const float mNew = fmaxf(m[rr], detail::warpMax(s));  // finite: key kv0 <= pos is visible
            const float prob = key <= pos ? __expf(s - mNew) : 0.0f;
            const float corr = __expf(m[rr] - mNew);  // 0 on the first tile (m = -inf)
            l[rr] = l[rr] * corr + detail::warpSum(prob);
            m[rr] = mNew;
#pragma unroll
            for (int j = 0; j < kDPerLane; ++j)
                o[rr][j] *= corr;
            for (int jj = 0; jj < kTile; ++jj) {
                const float pj = __shfl_sync(0xffffffffu, prob, jj);
#pragma unroll
                for (int j = 0; j < kDPerLane; ++j) {
                    const int d = lane + 32 * j;
                    if (d < HD)
                        o[rr][j] = fmaf(pj, vS[jj][d], o[rr][j]);
                }
            }
        }
    }

#pragma unroll
    for (int rr = 0; rr < kRowsPerWarp; ++rr) {
        const int gr = row0 + warp * kRowsPerWarp + rr;
        if (gr >= nRowsTotal)
            continue;
        const int token = gr / p.ratio;
        const int head = kvHead * p.ratio + gr % p.ratio;
        T* outRow = static_cast<T*>(p.out) + static_cast<std::int64_t>(qBegin + token) * p.outStride +
                    static_cast<std::int64_t>(head) * HD;
        const float inv = 1.0f / l[rr];
#pragma unroll
        for (int j = 0; j < kDPerLane; ++j) {
            const int d = lane + 32 * j;
            if (d < HD)
                outRow[d] = fromFloat<T>(o[rr][j] * inv);
        }
    }
}

template <typename T, int HD>
KernelStatus launch(const PrefillParams& p, const PrefillAttentionArgs& a, cudaStream_t stream)
{
    const std::int64_t rowTiles = (a.maxQueryLen * p.ratio + kRows - 1) / kRows;
    HEARTH_KERNEL_REQUIRE(rowTiles < (std::int64_t{1} << 31), "prefill too long for one launch");
    const dim3 grid(static_cast<unsigned>(rowTiles), static_cast<unsigned>(p.nKvHeads), static_cast<unsigned>(a.nSeqs));
    prefillKernel<T, HD><<<grid, kThreads, 0, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const PrefillParams& p, const PrefillAttentionArgs& a, cudaStream_t stream)
{
    switch (a.cache.headDim) {
    case 64: return launch<T, 64>(p, a, stream);
    case 80: return launch<T, 80>(p, a, stream);
    case 96: return launch<T, 96>(p, a, stream);
    default: return launch<T, 128>(p, a, stream);
    }
}

// What HEARTH_PREFILL_ATTN asks Auto for, read once per process: fp32, wmma, or nothing (Auto's
// own choice; an unknown value is ignored).
PrefillAttentionImpl environmentOverride()
{
    static const PrefillAttentionImpl forced = [] {
        const char* v = std::getenv("HEARTH_PREFILL_ATTN");
        if (v != nullptr && std::strcmp(v, "fp32") == 0)
            return PrefillAttentionImpl::Fp32;
        if (v != nullptr && std::strcmp(v, "wmma") == 0)
            return PrefillAttentionImpl::Wmma;
        return PrefillAttentionImpl::Auto;
    }();
    return forced;
}

// Whether the current device has the tensor-core instructions the fast kernel uses (sm_80+) and
// the build holds that kernel for it.
KernelStatus hasTensorCoreKernel(bool* yes)
{
    int device = 0;
    int major = 0;
    HEARTH_CUDA_CHECK(cudaGetDevice(&device));
    HEARTH_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    *yes = false;
    if (major >= 8)
        return detail::prefillTensorCoreCompiled(yes);
    return KernelStatus::success();
}

}  // namespace

KernelStatus pagedAttentionPrefill(const PrefillAttentionArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(checkPagedKv(a.cache));
    const PagedKv& c = a.cache;
    HEARTH_KERNEL_REQUIRE(c.headDim == 64 || c.headDim == 80 || c.headDim == 96 || c.headDim == 128,
                          "prefill attention supports head_dim 64, 80, 96 and 128");
    HEARTH_KERNEL_REQUIRE(a.nQHeads >= 1 && a.nQHeads % c.nKvHeads == 0, "query heads must be a multiple of kv heads");
    HEARTH_KERNEL_REQUIRE(c.nKvHeads <= 65535 && a.nSeqs >= 0 && a.nSeqs <= 65535, "too many kv heads or sequences");
    HEARTH_KERNEL_REQUIRE(a.maxQueryLen >= 0 && a.maxQueryLen < (std::int64_t{1} << 30), "maxQueryLen out of range");
    const std::int64_t row = a.nQHeads * c.headDim;
    HEARTH_KERNEL_REQUIRE((a.qStride == 0 || a.qStride >= row) && (a.outStride == 0 || a.outStride >= row),
                          "q/out stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.qStride % 2 == 0 && a.outStride % 2 == 0, "q/out strides must be even");
    HEARTH_KERNEL_REQUIRE(a.q && a.out && a.queryStart && a.contextLens && a.blockTables,
                          "prefill attention needs q, out, query starts, lengths and tables");
    // The fp32 kernel, which Auto picks for q off a 16-byte boundary, reads q in element pairs.
    HEARTH_KERNEL_REQUIRE((reinterpret_cast<std::uintptr_t>(a.q) & 3u) == 0, "q must be 4-byte aligned");
    const std::int64_t qStride = a.qStride ? a.qStride : row;
    const std::int64_t outStride = a.outStride ? a.outStride : row;
    const bool aligned = detail::prefillTensorCoreAligned(a, qStride);
    const bool tensorCoreImpl = a.impl == PrefillAttentionImpl::TensorCore || a.impl == PrefillAttentionImpl::Wmma;
    HEARTH_KERNEL_REQUIRE(!tensorCoreImpl || aligned,
                          "the tensor-core prefill needs q and the KV cache 16-byte aligned, with strides in "
                          "multiples of 8 elements");
    if (a.nSeqs == 0 || a.maxQueryLen == 0)
        return KernelStatus::success();
    PrefillAttentionImpl impl = a.impl;
    if (impl == PrefillAttentionImpl::Auto) {
        const PrefillAttentionImpl forced = environmentOverride();
        impl = !aligned || forced == PrefillAttentionImpl::Fp32 ? PrefillAttentionImpl::Fp32
               : forced == PrefillAttentionImpl::Wmma           ? PrefillAttentionImpl::Wmma
                                                                : PrefillAttentionImpl::TensorCore;
    }
    if (impl != PrefillAttentionImpl::Fp32) {
        bool tensorCores = false;
        HEARTH_KERNEL_TRY(hasTensorCoreKernel(&tensorCores));
        HEARTH_KERNEL_REQUIRE(tensorCores || a.impl == PrefillAttentionImpl::Auto,
                              "the tensor-core prefill needs compute capability 8.0 or newer and a build for "
                              "CUDA architectures 80 or newer");
        if (tensorCores && impl == PrefillAttentionImpl::Wmma)
            return detail::prefillAttentionWmma(a, qStride, outStride, detail::toStream(stream));
        if (tensorCores)
            return detail::prefillAttentionMma(a, qStride, outStride, detail::toStream(stream));
    }
    PrefillParams p{};
    p.q = a.q;
    p.out = a.out;
    p.qStride = qStride;
    p.outStride = outStride;
    p.queryStart = a.queryStart;
    p.contextLens = a.contextLens;
    p.blockTables = a.blockTables;
    p.maxPagesPerSeq = a.maxPagesPerSeq;
    p.nKvHeads = static_cast<int>(c.nKvHeads);
    p.ratio = static_cast<int>(a.nQHeads / c.nKvHeads);
    p.scale = a.scale;
    p.kCache = c.kCache;
    p.vCache = c.vCache;
    p.pageStride = c.pageStride;
    p.tokenStride = c.tokenStride;
    p.headStride = c.headStride;
    p.pageTokens = c.pageTokens;
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, a, detail::toStream(stream));
    return dispatchHeadDim<__nv_bfloat16>(p, a, detail::toStream(stream));
}

}  // namespace hearth::kernels
