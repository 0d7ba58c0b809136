// Paged attention for prefill on the tensor cores, flash-attention 2 on mma.sync (m16n8k16,
// fp16/bf16 operands, fp32 accumulators; kernels/mma_sync.cuh): causal, GQA, head_dim 64, 80, 96
// and 128 (all multiples of 16, so every k-loop and n-loop is whole: no padding).
// Shapes: grid (row tile x kv head, sequence), 256 threads (8 warps). A block owns 128 query
// rows, a row being one (query token, query head) of a kv head's GQA group, token-major (row =
// token * ratio + head in group), so each K/V tile is read once for the whole group; warp w owns
// block rows 16w..16w+15. Row tiles with the most context run first.
//   Q        16-byte cp.async copies into shared memory once; A fragments by ldmatrix per step.
//   K, V     64-position tiles, 16-byte cp.async copies from their pages (block table per
//            position), double-buffered: tile t+1 is in flight while tile t is computed;
//            positions past the block's last causal position are zero-filled, not read.
// Each tile is consumed in two steps of 32 keys (an S of 16 x 64 would not leave O, S and the
// fragments room in 128 registers without spills at every head_dim):
//   S        = Q K^T, 16 x 32 per warp in registers (4 n-tiles of m16n8k16 accumulators; K
//            fragments by ldmatrix, K rows being the "col" B operand as stored).
//   softmax  in registers, fp32, log2 domain: a lane holds 2 rows x 8 keys; the row max is
//            reduced over the lane quad (__shfl_xor_sync 1, 2), the row sum stays per lane until
//            the end. The causal mask runs only on steps that reach past the warp's first row.
//   O        16 x headDim per warp in fp32 registers: *= rescale, += P V, with P the S
//            accumulators packed to the input type in place (the accumulator layout of two
//            adjacent n-tiles is the A layout for k = 16) and V fragments by ldmatrix .trans.
// A warp skips the steps wholly in its rows' future (the block's other warps may need them). At
// the end each row is divided by its sum and written as the input type straight from registers;
// rows past the sequence are never written.
// Shared memory (rows padded by 16 bytes so ldmatrix's 8 rows hit 8 different bank groups):
// Q 128 x (headDim + 8) + 2 x (K, V) 64 x (headDim + 8) elements: head_dim 128: 104,448 bytes,
// 96: 79,872, 80: 67,584, 64: 55,296.
// Registers (nvcc 13.0, sm_90, --resource-usage; __launch_bounds__(256, 2) caps them at 128):
// head_dim 128: 128, 96: 128, 80: 123, 64: 113, no spills, no stack. Occupancy on an H100
// (64K registers, 228 KB shared per SM): 2 blocks = 16 warps per SM at every head_dim (registers
// bound it; shared memory alone would allow 2 at 128 and 96, 3 at 80, 4 at 64).
// Traffic: K/V of the visible context once per (128-row tile, kv head) (L2 absorbs the
// repeats), q and out once. Work: 4 * rows * visible context * headDim flops on the tensor
// cores, plus one ex2 per score. Shared-memory reads per warp and 32-key step at head_dim 128:
// 40 ldmatrix.x4 (20 KB) for 64 mma, 12.8 flops per byte, which bounds an H100 SXM (128 B/clk
// per SM, 132 SMs near 1.75 GHz) near 380 TFLOP/s before anything else does.
#include "mma_sync.cuh"
#include "paged_attention_prefill_tc.cuh"

namespace hearth::kernels {
namespace {

using detail::commitAsync;
using detail::copy16Async;
using detail::waitAsync;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kWarpRows = 16;               // rows per warp: one m16 tile
constexpr int kRows = kWarps * kWarpRows;   // query rows per block
constexpr int kTile = 64;                   // context positions per K/V tile
constexpr int kSub = 32;                    // keys per softmax step: S 16 x 32 per warp (16 registers)
constexpr int kChunk = 8;                   // elements per 16-byte copy

// Byte offsets into the dynamic shared memory: Q, then K and V of buffer 0, then of buffer 1.
template <int HD>
struct MmaLayout {
    static constexpr int kLd = HD + 8;  // row stride in elements: +16 bytes staggers ldmatrix's rows
    static constexpr int kQ = 0;
    static constexpr int kTileBytes = kTile * kLd * 2;
    static constexpr int kKv = kQ + kRows * kLd * 2;  // K(b) at kKv + 2b tiles, V(b) one tile after
    static constexpr int kBytes = kKv + 4 * kTileBytes;
    static_assert(kKv % 128 == 0 && kTileBytes % 128 == 0, "regions on 128-byte boundaries");
};

using MmaParams = detail::PrefillTcParams;

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads, 2) prefillMmaKernel(MmaParams p)
{
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(HEARTH_CUDASIM)  // mma.sync bf16, ldmatrix, cp.async
    using L = MmaLayout<HD>;
    constexpr int kLd = L::kLd;
    constexpr int kChunksPerRow = HD / kChunk;
    constexpr int kKSteps = HD / 16;     // k-steps of Q K^T over head_dim
    constexpr int kDTiles = HD / 8;      // n-tiles of O over head_dim
    constexpr int kKeyTiles = kSub / 8;  // n-tiles of S over a step's keys

    extern __shared__ __align__(128) unsigned char smem[];
    T* qS = reinterpret_cast<T*>(smem + L::kQ);  // [128 rows][kLd]

    const int seq = blockIdx.y;
    const int kvHead = static_cast<int>(blockIdx.x) % p.nKvHeads;
    const int rowTile = p.rowTiles - 1 - static_cast<int>(blockIdx.x) / p.nKvHeads;  // most context first
    const int qBegin = p.queryStart[seq];
    const int nQuery = p.queryStart[seq + 1] - qBegin;
    const int firstPos = p.contextLens[seq] - nQuery;  // position of query 0
    const int row0 = rowTile * kRows;
    const int nRowsTotal = nQuery * p.ratio;
    if (row0 >= nRowsTotal)
        return;  // the whole block: this sequence has fewer rows than the grid allows
    const int lastRow = min(row0 + kRows, nRowsTotal) - 1;
    const int maxPos = firstPos + lastRow / p.ratio;  // the block's last causal position
    const int nTiles = maxPos < 0 ? 0 : maxPos / kTile + 1;

    const T* qBase = static_cast<const T*>(p.q);
    const T* kHead = static_cast<const T*>(p.kCache) + kvHead * p.headStride;
    const T* vHead = static_cast<const T*>(p.vCache) + kvHead * p.headStride;
    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;

    // Copy roles, fixed per thread so that nothing but the row advances in the copy loops: thread
    // i copies chunk i % kChunksPerRow of rows i / kChunksPerRow + kCopyRows * n (threads past
    // kCopyRows whole rows idle; head_dim 80 and 96 do not divide 256 threads).
    constexpr int kCopyRows = kThreads / kChunksPerRow;
    const int copyChunk = static_cast<int>(threadIdx.x) % kChunksPerRow;
    const int copyRow = static_cast<int>(threadIdx.x) / kChunksPerRow;
    const bool copier = copyRow < kCopyRows;

    // Q: rows past the sequence are zeros (their outputs are never written).
    for (int r = copier ? copyRow : kRows; r < kRows; r += kCopyRows) {
        const int gr = row0 + r;
        const bool valid = gr < nRowsTotal;
        const T* src = qBase;
        if (valid) {
            const int token = gr / p.ratio;
            const int head = kvHead * p.ratio + gr % p.ratio;
            src = qBase + static_cast<std::int64_t>(qBegin + token) * p.qStride + head * HD + copyChunk * kChunk;
        }
        copy16Async(qS + r * kLd + copyChunk * kChunk, src, valid);
    }

    // K and V of positions kv0..kv0+63 into buffer b.
    const auto loadTile = [&](int b, int kv0) {
        T* kDst = reinterpret_cast<T*>(smem + L::kKv + 2 * b * L::kTileBytes) + copyChunk * kChunk;
        T* vDst = reinterpret_cast<T*>(smem + L::kKv + (2 * b + 1) * L::kTileBytes) + copyChunk * kChunk;
        for (int j = copier ? copyRow : kTile; j < kTile; j += kCopyRows) {
            const int pos = kv0 + j;
            const bool valid = pos <= maxPos;
            std::int64_t off = 0;
            if (valid)
                off = table[pos / p.pageTokens] * p.pageStride + (pos % p.pageTokens) * p.tokenStride + copyChunk * kChunk;
            copy16Async(kDst + j * kLd, kHead + off, valid);
            copy16Async(vDst + j * kLd, vHead + off, valid);
        }
    };
    if (nTiles > 0)
        loadTile(0, 0);
    commitAsync();  // Q and tile 0

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int quadRow = lane >> 2;  // the lane's rows are quadRow and quadRow + 8 of the warp's 16
    const int quadCol = lane & 3;   // its columns of each n-tile are 2 quadCol and 2 quadCol + 1
    const int wRow0 = row0 + warp * kWarpRows;
    const int wRowLast = min(wRow0 + kWarpRows, nRowsTotal) - 1;
    // Causal positions: of the warp's first and last rows (rows ascend; a warp with no rows gets
    // -1 and skips every tile) and of the lane's two rows (-1 for rows past the sequence).
    const int warpMinPos = wRow0 < nRowsTotal ? firstPos + wRow0 / p.ratio : -1;
    const int warpMaxPos = wRow0 < nRowsTotal ? firstPos + wRowLast / p.ratio : -1;
    int rowPos[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        const int gr = wRow0 + quadRow + 8 * h;
        rowPos[h] = gr < nRowsTotal ? firstPos + gr / p.ratio : -1;
    }

    // Per-lane ldmatrix row addresses (lanes 8i..8i+7 address matrix i); K and V point into
    // buffer 0, each step adds its buffer's and its keys' byte offsets.
    //   Q (A, x4): rows 0-7 / 8-15 of the warp's 16 at k 0-7, then the same at k 8-15.
    //   K (B, x4): keys 0-7 at d 0-7 / 8-15, then keys 8-15: two n-tiles of one k-step.
    //   V (B, x4 .trans): keys 0-7 / 8-15 at d 0-7, then at d 8-15: one k-step, two n-tiles.
    const mma::SharedAddress smemBase = mma::sharedAddress(smem);
    const mma::SharedAddress qAddr =
        smemBase + L::kQ + 2 * ((warp * kWarpRows + (lane & 7) + 8 * ((lane >> 3) & 1)) * kLd + 8 * (lane >> 4));
    const mma::SharedAddress kAddr = smemBase + L::kKv + 2 * (((lane & 7) + 8 * (lane >> 4)) * kLd + 8 * ((lane >> 3) & 1));
    const mma::SharedAddress vAddr =
        smemBase + L::kKv + L::kTileBytes + 2 * (((lane & 7) + 8 * ((lane >> 3) & 1)) * kLd + 8 * (lane >> 4));

    float o[kDTiles][4];
#pragma unroll
    for (int d = 0; d < kDTiles; ++d)
#pragma unroll
        for (int i = 0; i < 4; ++i)
            o[d][i] = 0.0f;
    float mRow[2] = {-INFINITY, -INFINITY};  // running max of the scaled scores (log2 domain)
    float lRow[2] = {0.0f, 0.0f};            // this lane's part of the running sum of exp2(score - mRow)

    for (int t = 0; t < nTiles; ++t) {
        const int kv0 = t * kTile;
        waitAsync<0>();   // tile t (and Q) have landed ...
        __syncthreads();  // ... for every thread's copies, and every warp is done with tile t - 1
        if (t + 1 < nTiles)
            loadTile((t + 1) & 1, kv0 + kTile);  // into the buffer tile t - 1 used
        commitAsync();
        const int bufBytes = 2 * (t & 1) * L::kTileBytes;  // buffer t & 1's offset from buffer 0
#pragma unroll 1
        for (int sub = 0; sub < kTile / kSub; ++sub) {
            const int key0 = kv0 + sub * kSub;
            if (key0 > warpMaxPos)
                break;  // these keys (and the rest of the tile) are in the future of all the warp's rows
            const int subBytes = bufBytes + 2 * sub * kSub * kLd;

            float s[kKeyTiles][4];  // S = Q K^T for the warp's 16 rows and the step's 32 keys
#pragma unroll
            for (int n = 0; n < kKeyTiles; ++n)
#pragma unroll
                for (int i = 0; i < 4; ++i)
                    s[n][i] = 0.0f;
#pragma unroll
            for (int ks = 0; ks < kKSteps; ++ks) {
                std::uint32_t qa[4];
                mma::ldmatrix<4, false>(qa, qAddr + 32 * ks);
#pragma unroll
                for (int np = 0; np < kKeyTiles / 2; ++np) {
                    std::uint32_t kb[4];
                    mma::ldmatrix<4, false>(kb, kAddr + subBytes + 2 * (np * 16 * kLd + 16 * ks));
                    const std::uint32_t b0[2] = {kb[0], kb[1]};
                    const std::uint32_t b1[2] = {kb[2], kb[3]};
                    mma::mmaM16N8K16<T>(s[2 * np], qa, b0);
                    mma::mmaM16N8K16<T>(s[2 * np + 1], qa, b1);
                }
            }

            const bool masked = key0 + kSub - 1 > warpMinPos;  // some key is in some row's future
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                float stepMax = -INFINITY;
#pragma unroll
                for (int n = 0; n < kKeyTiles; ++n)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        float x = s[n][2 * h + e] * p.scaleLog2;
                        if (masked && key0 + 8 * n + 2 * quadCol + e > rowPos[h])
                            x = -INFINITY;
                        s[n][2 * h + e] = x;
                        stepMax = fmaxf(stepMax, x);
                    }
                stepMax = fmaxf(stepMax, __shfl_xor_sync(0xffffffffu, stepMax, 1));
                stepMax = fmaxf(stepMax, __shfl_xor_sync(0xffffffffu, stepMax, 2));
                const float mNew = fmaxf(mRow[h], stepMax);
                const float base = mNew == -INFINITY ? 0.0f : mNew;  // nothing visible yet: every p is 0
                const float corr = mma::exp2Approx(mRow[h] - base);  // 0 while mRow is -inf (O and l are 0)
                mRow[h] = mNew;
                float sum = 0.0f;
#pragma unroll
                for (int n = 0; n < kKeyTiles; ++n)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        const float pr = mma::exp2Approx(s[n][2 * h + e] - base);  // 0 for masked keys
                        s[n][2 * h + e] = pr;
                        sum += pr;
                    }
                lRow[h] = lRow[h] * corr + sum;
#pragma unroll
                for (int d = 0; d < kDTiles; ++d) {
                    o[d][2 * h] *= corr;
                    o[d][2 * h + 1] *= corr;
                }
            }

#pragma unroll
            for (int kk = 0; kk < kSub / 16; ++kk) {  // O += P V, 16 keys per k-step
                const std::uint32_t pa[4] = {mma::packPair<T>(s[2 * kk][0], s[2 * kk][1]),
                                             mma::packPair<T>(s[2 * kk][2], s[2 * kk][3]),
                                             mma::packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                             mma::packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
                for (int dp = 0; dp < kDTiles / 2; ++dp) {
                    std::uint32_t vb[4];
                    mma::ldmatrix<4, true>(vb, vAddr + subBytes + 2 * (kk * 16 * kLd + 16 * dp));
                    const std::uint32_t b0[2] = {vb[0], vb[1]};
                    const std::uint32_t b1[2] = {vb[2], vb[3]};
                    mma::mmaM16N8K16<T>(o[2 * dp], pa, b0);
                    mma::mmaM16N8K16<T>(o[2 * dp + 1], pa, b1);
                }
            }
        }
    }

    waitAsync<0>();  // no copy may land in shared memory after the block leaves (no tile: Q's are in flight)

    // The row bookkeeping again, from the parameters: cheaper than keeping it live through the loop.
    const int outBegin = p.queryStart[seq];
    const int outRows = (p.queryStart[seq + 1] - outBegin) * p.ratio;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float l = lRow[h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int gr = wRow0 + quadRow + 8 * h;
        if (gr >= outRows)
            continue;
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        const int token = gr / p.ratio;
        const int head = kvHead * p.ratio + gr % p.ratio;
        T* outRow = static_cast<T*>(p.out) + static_cast<std::int64_t>(outBegin + token) * p.outStride + head * HD;
#pragma unroll
        for (int d = 0; d < kDTiles; ++d)
            detail::storePair(outRow + 8 * d + 2 * quadCol, o[d][2 * h] * inv, o[d][2 * h + 1] * inv);
    }
#elif defined(__CUDA_ARCH__)
    (void)p;
    __trap();  // compiled below sm_80 (the host checks prefillTensorCoreCompiled): fail, never return garbage
#else
    (void)p;
#endif
}

template <typename T, int HD>
KernelStatus launch(const MmaParams& p, std::int64_t nSeqs, cudaStream_t stream)
{
    constexpr int kBytes = MmaLayout<HD>::kBytes;
    const auto kernel = prefillMmaKernel<T, HD>;
    HEARTH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes));
    const dim3 grid(static_cast<unsigned>(p.rowTiles * p.nKvHeads), static_cast<unsigned>(nSeqs));
    kernel<<<grid, kThreads, kBytes, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const MmaParams& p, std::int64_t headDim, std::int64_t nSeqs, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launch<T, 64>(p, nSeqs, stream);
    case 80: return launch<T, 80>(p, nSeqs, stream);
    case 96: return launch<T, 96>(p, nSeqs, stream);
    default: return launch<T, 128>(p, nSeqs, stream);
    }
}

}  // namespace

namespace detail {

KernelStatus prefillAttentionMma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                 cudaStream_t stream)
{
    MmaParams p{};
    HEARTH_KERNEL_TRY(makePrefillTcParams(a, qStride, outStride, kRows, &p));
    const PagedKv& c = a.cache;
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, c.headDim, a.nSeqs, stream);
    return dispatchHeadDim<__nv_bfloat16>(p, c.headDim, a.nSeqs, stream);
}

}  // namespace detail
}  // namespace hearth::kernels
