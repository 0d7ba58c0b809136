// Private to the decode attention kernels (paged_attention_decode*.cu): their launch parameters,
// tuning constants and the device helpers both attention kernels share.
#pragma once

#include <cstdint>
#include <cstring>

#include "cuda_check.cuh"
#include "paged_attention.h"

namespace hearth::kernels::decode {

using detail::fromFloat;
using detail::toFloat;

constexpr int kSplitWarps = 4;   // blocks of a split launch: 4 resident per SM fill one wave at 32K
constexpr int kDirectWarps = 8;  // one-partition launches have few blocks: twice the tokens per step
constexpr int kGroup = 8;         // most query heads per block
constexpr int kSmallGroup = 2;    // groups up to this size take decodeOnlineKernel
constexpr int kMidGroup = 4;      // up to this size decodeKernel<..., 4>, then <..., 7>, <..., 8>
constexpr int kSteps = 8;         // tokens per half-warp per step (loads in flight, kept packed)
constexpr int kMaxPartition = static_cast<int>(kDecodePartitionTokens);
constexpr int kMinPartition = 64;
constexpr std::int64_t kTargetPartitions = 64;  // over the batch; times nKvHeads blocks
// Query-head chunks per kv head fill at most one wave of this many SMs (an H200's; fixed rather
// than queried so every device, cudasim included, runs the same kernels for the same shapes).
constexpr std::int64_t kWaveSms = 132;
constexpr int kMergeThreads = 512;
constexpr int kMergeLoads = 8;         // partitions per merge thread whose loads are issued at once
constexpr int kMaxMergeSplits = 4096;  // partitions one merge block weighs in shared memory
constexpr int kTcGroup = 16;           // most query heads per tensor-core block (one WMMA tile)
constexpr int kTcMinGroup = 4;         // Auto takes the tensor cores from this GQA group size on

struct DecodeParams {
    const void* q;
    void* out;
    std::int64_t qStride, outStride;
    const std::int32_t* blockTables;
    std::int64_t maxPagesPerSeq;
    const std::int32_t* contextLens;
    int nQHeads, nKvHeads, ratio, groupSize, nChunks, nSplits, partition, maxContext;
    float scale;
    const void* kCache;
    const void* vCache;
    std::int64_t pageStride, tokenStride, headStride;
    int pageTokens;
    float* partialOut;  // [nSeqs, nQHeads, nSplits, headDim]
    float* partialMax;  // [nSeqs, nQHeads, nSplits]
    float* partialSum;
};
// Eight elements of a q row as fp32 (4-byte loads: q rows need only be 4-byte aligned).
template <typename T>
__device__ __forceinline__ void loadQ8(const T* p, float (&out)[8])
{
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = detail::loadPair(p + 2 * i);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// Eight elements of a K/V row, still packed (4 registers instead of 8 while the load is in
// flight, so twice the tokens fit): one 16-byte load, or four 4-byte ones.
template <bool Vec, typename T>
__device__ __forceinline__ uint4 loadRaw8(const T* p)
{
    if (Vec)
        return *reinterpret_cast<const uint4*>(p);
    const auto* w = reinterpret_cast<const unsigned*>(p);
    return make_uint4(w[0], w[1], w[2], w[3]);
}

template <typename T>
__device__ __forceinline__ void unpack8(const uint4& raw, float (&out)[8])
{
    using P = typename detail::Pair<T>::Type;
    const unsigned w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        P pair;
        static_assert(sizeof(pair) == 4, "a pair of 16-bit elements");
        memcpy(&pair, &w[i], 4);
        const float2 f = detail::pairToFloat2(pair);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// Where a block and its thread stand: the grid is (partition, kvHead x query-head chunk,
// sequence); a block takes g query heads from h0 on; each half-warp (16 lanes) takes a token, lane
// `sub` 8 elements of its row (lanes past head_dim / 8 are inactive).
struct Place {
    int seq, kvHead, split, h0, g, lane, warp, sub, half, start;
    bool active;
};

template <int HD>
__device__ __forceinline__ Place placeOf(const DecodeParams& p)
{
    Place at;
    at.seq = blockIdx.z;
    at.kvHead = blockIdx.y / p.nChunks;
    const int chunk = blockIdx.y % p.nChunks;
    at.split = blockIdx.x;
    at.h0 = at.kvHead * p.ratio + chunk * p.groupSize;
    at.g = min(p.groupSize, p.ratio - chunk * p.groupSize);
    at.lane = threadIdx.x & 31;
    at.warp = threadIdx.x >> 5;
    at.sub = at.lane & 15;
    at.half = at.lane >> 4;
    at.active = at.sub < HD / 8;
    at.start = at.split * p.partition;
    return at;
}

// q . k over one half-warp: each lane's 8 products, then a shuffle tree over its 16 lanes.
__device__ __forceinline__ float halfWarpDot(const float (&k)[8], const float (&q)[8])
{
    float d = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i)
        d = fmaf(k[i], q[i], d);
#pragma unroll
    for (int o = 8; o > 0; o >>= 1)
        d += __shfl_xor_sync(0xffffffffu, d, o);
    return d;
}

// Row r, element d of the block's result: the output itself for a single-partition launch, else
// the partition's normalised partial with its max and sum (written once per row) for the merge.
template <typename T, int HD>
__device__ __forceinline__ void storeResult(const DecodeParams& p, const Place& at, int r, int d, float value,
                                            float rowMax, float rowSum)
{
    if (p.nSplits == 1) {
        T* o = static_cast<T*>(p.out) + at.seq * p.outStride + static_cast<std::int64_t>(at.h0 + r) * HD;
        o[d] = fromFloat<T>(value);
        return;
    }
    const std::int64_t row = (static_cast<std::int64_t>(at.seq) * p.nQHeads + at.h0 + r) * p.nSplits + at.split;
    p.partialOut[row * HD + d] = value;
    if (d == 0) {
        p.partialMax[row] = rowMax;
        p.partialSum[row] = rowSum;
    }
}

// The loads a block starts with, issued together, none waiting for another: the context
// length (returned), the row offsets of the partition's tokens from the block table (up to
// maxContext, which the launcher checked the table addresses, so the length is not needed to
// bound them) and the group's q rows, 8 elements per lane. The caller syncs before using rowOff.
template <typename T, int HD, int KG, int kThreads>
__device__ __forceinline__ int loadPrologue(const DecodeParams& p, int seq, int start, int h0, int g, int sub,
                                            bool active, std::int64_t* rowOff, float (&qr)[KG][8])
{
    const int ctxRaw = p.contextLens[seq];
    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;
    const int end = min(start + p.partition, p.maxContext);
    for (int t = threadIdx.x; t < end - start; t += kThreads) {
        const int pos = start + t;
        rowOff[t] = static_cast<std::int64_t>(table[pos / p.pageTokens]) * p.pageStride +
                    static_cast<std::int64_t>(pos % p.pageTokens) * p.tokenStride;
    }
    const T* q = static_cast<const T*>(p.q) + seq * p.qStride + static_cast<std::int64_t>(h0) * HD + sub * 8;
#pragma unroll
    for (int r = 0; r < KG; ++r) {
#pragma unroll
        for (int i = 0; i < 8; ++i)
            qr[r][i] = 0.0f;
        if (r < g && active)
            loadQ8(q + r * HD, qr[r]);
    }
    return ctxRaw;
}

// A partition with no token to attend to: a single-partition launch writes the group's zeros
// (an empty context); a split one leaves it to the merge, which skips partitions past the context.
template <typename T, int HD, int kThreads>
__device__ __forceinline__ void writeEmptyPartition(const DecodeParams& p, int seq, int h0, int g)
{
    if (p.nSplits != 1)
        return;
    T* o = static_cast<T*>(p.out) + seq * p.outStride + static_cast<std::int64_t>(h0) * HD;
    for (int idx = threadIdx.x; idx < g * HD; idx += kThreads)
        o[idx] = fromFloat<T>(0.0f);
}

// The start every decode block shares: the prologue's loads, the barrier that publishes rowOff,
// the context clamped to maxContext (a longer length would index past the block table, which the
// launcher checked maxContext fits) and q scaled. Returns the partition's token count; at <= 0
// there is nothing to attend to, the empty result is written and the caller returns.
template <typename T, int HD, int KG, int kThreads>
__device__ __forceinline__ int beginPartition(const DecodeParams& p, const Place& at, std::int64_t* rowOff,
                                              float (&qr)[KG][8])
{
    const int ctxRaw = loadPrologue<T, HD, KG, kThreads>(p, at.seq, at.start, at.h0, at.g, at.sub, at.active, rowOff, qr);
    __syncthreads();  // rowOff
    const int ctx = min(max(ctxRaw, 0), p.maxContext);
    const int n = min(p.partition, ctx - at.start);
    if (n <= 0) {
        writeEmptyPartition<T, HD, kThreads>(p, at.seq, at.h0, at.g);
        return n;
    }
#pragma unroll
    for (int r = 0; r < KG; ++r)
#pragma unroll
        for (int i = 0; i < 8; ++i)
            qr[r][i] *= p.scale;
    return n;
}

// Launches decodeOnlineKernel (paged_attention_decode_online.cu) for a group of at most
// kSmallGroup query heads per block.
void launchOnline(const DecodeParams& p, ElemType type, int headDim, bool direct, bool vec, const dim3& grid,
                  cudaStream_t stream);

// Launches decodeTcKernel (paged_attention_decode_tc.cu) for chunks of at most kTcGroup query
// heads; needs 16-byte aligned K/V rows and strides in multiples of 8 elements.
KernelStatus launchTensorCore(const DecodeParams& p, ElemType type, int headDim, const dim3& grid, cudaStream_t stream);
// Whether the build holds decodeTcKernel for the current device's architecture (sm_80+).
KernelStatus decodeTensorCoreCompiled(bool* yes);
// Raises decodeTcKernel's shared-memory limit on the current device for every instantiation, so
// no launch inside a graph capture has to.
KernelStatus prepareTensorCore();

}  // namespace hearth::kernels::decode
