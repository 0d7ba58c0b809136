// Paged attention for prefill on the tensor cores with WMMA 16x16x16 (fp16 or bf16 operands, fp32
// accumulators), online softmax in fp32, causal, GQA. The mma.sync kernel
// (paged_attention_prefill_mma.cu) replaced it as the default: this one keeps S in shared memory
// between Q K^T and the softmax, which held it near 38 TFLOP/s on an H200. It stays selectable
// (PrefillAttentionImpl::Wmma, HEARTH_PREFILL_ATTN=wmma) as a second tensor-core implementation
// for the tests and for timing old against new.
// Shapes: grid (row tile x kv head, sequence), 128 threads (4 warps). A block owns 64 query rows,
// a row being one (query token, query head) of a kv head's GQA group, token-major (row =
// token * ratio + head in group), so each K/V tile is read once for the whole group; warp w owns
// block rows 16w..16w+15. Per tile of 64 context positions:
//   K, V     16-byte cp.async copies from their pages (block table per position) into shared
//            memory; positions past the block's last causal position are zero-filled, not read.
//   S        = Q K^T, per warp 16 x 64 in fp32 fragments, stored to shared memory.
//   softmax  a lane pair per row: causal mask, running max and sum in fp32 registers (log2
//            domain), P rounded to the input type written over the warp's own S rows, the row's
//            rescale factor to shared memory.
//   O        16 x headDim per warp in fp32 accumulator fragments (registers): *= rescale, += P V.
// WMMA keeps the element-to-row mapping of a fragment opaque, so the kernel loads a matrix of row
// indices into an accumulator fragment once and reads each element's row back from it (fragments
// of one type share the mapping). K(t+1) is copied while softmax(t) and P V(t) run, V(t+1) while
// Q K^T(t+1) runs (cp.async groups). At the end O is staged in shared memory (over K/V), divided
// by the row sum and written as the input type; rows past the sequence are never written.
// Tiles stop at the block's last causal position; row tiles with the most context run first so
// the short ones fill in behind them.
// Shared memory: Q, K, V (64 x (headDim + 8) elements each) + S (64 x 68 fp32) + 64 floats:
// 69,888 bytes at head_dim 128 (3 blocks per SM on an H100), 45,312 at 64.
// Traffic: K/V of the visible context once per (64-row tile, kv head); q and out once.
#include <mma.h>

#include "paged_attention_prefill_tc.cuh"
#include "wmma_rows.cuh"

namespace hearth::kernels {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 64;        // query rows per block
constexpr int kWarpRows = 16;    // rows per warp: one WMMA tile high
constexpr int kTile = 64;        // context positions per K/V tile
constexpr int kSLd = kTile + 4;  // fp32 score row stride (WMMA wants a multiple of 4; +4 staggers banks)
constexpr int kPLd = kTile + 8;  // P row stride in elements (WMMA wants a multiple of 8)
constexpr int kChunk = 8;        // elements per 16-byte copy
static_assert(kWarps * kWarpRows == kRows, "each warp owns 16 rows");

// Byte offsets into the dynamic shared memory; every region starts on a 128-byte boundary (WMMA
// pointers must be 32-byte aligned).
template <int HD>
struct Layout {
    static constexpr int kLd = HD + 8;   // Q/K/V row stride in elements (+8 staggers banks)
    static constexpr int kOLd = HD + 4;  // fp32 output staging row stride
    static constexpr int kQ = 0;
    static constexpr int kK = kQ + kRows * kLd * 2;
    static constexpr int kV = kK + kTile * kLd * 2;
    static constexpr int kS = kV + kTile * kLd * 2;
    static constexpr int kScale = kS + kRows * kSLd * 4;
    static constexpr int kBytes = kScale + kRows * 4;
    static_assert(kK % 128 == 0 && kV % 128 == 0 && kS % 128 == 0 && kScale % 128 == 0, "regions aligned");
    static_assert(kRows * kOLd * 4 <= kS - kK, "the output staging fits over K and V");
    static_assert(kWarpRows * kPLd * 2 <= kWarpRows * kSLd * 4, "a warp's P fits in its S rows");
};

using TcParams = detail::PrefillTcParams;

using detail::commitAsync;
using detail::copy16Async;
using detail::waitAsync;

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) prefillTcKernel(TcParams p)
{
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(HEARTH_CUDASIM)  // bf16 WMMA and cp.async; the host never launches it below
    using L = Layout<HD>;
    constexpr int kLd = L::kLd;
    constexpr int kChunksPerRow = HD / kChunk;
    constexpr int kDFrags = HD / 16;
    constexpr int kKeyFrags = kTile / 16;
    using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    using AFrag = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
    using KFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;  // K^T from K rows
    using VFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major>;

    extern __shared__ __align__(128) unsigned char smem[];
    T* qS = reinterpret_cast<T*>(smem + L::kQ);      // [64 rows][kLd]
    T* kS = reinterpret_cast<T*>(smem + L::kK);      // [64 positions][kLd]
    T* vS = reinterpret_cast<T*>(smem + L::kV);      // [64 positions][kLd]
    float* rowScale = reinterpret_cast<float*>(smem + L::kScale);  // [64 rows]

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

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    float* sW = reinterpret_cast<float*>(smem + L::kS) + warp * kWarpRows * kSLd;  // the warp's S rows
    T* pW = reinterpret_cast<T*>(sW);                                               // its P rows, [16][kPLd]

    const T* qBase = static_cast<const T*>(p.q);
    const T* kHead = static_cast<const T*>(p.kCache) + kvHead * p.headStride;
    const T* vHead = static_cast<const T*>(p.vCache) + kvHead * p.headStride;
    const std::int32_t* table = p.blockTables + seq * p.maxPagesPerSeq;

    // Q: rows past the sequence are zeros (their outputs are never written).
    for (int idx = threadIdx.x; idx < kRows * kChunksPerRow; idx += kThreads) {
        const int r = idx / kChunksPerRow;
        const int c = idx % kChunksPerRow;
        const int gr = row0 + r;
        const bool valid = gr < nRowsTotal;
        const T* src = qBase;
        if (valid) {
            const int token = gr / p.ratio;
            const int head = kvHead * p.ratio + gr % p.ratio;
            src = qBase + static_cast<std::int64_t>(qBegin + token) * p.qStride + head * HD + c * kChunk;
        }
        copy16Async(qS + r * kLd + c * kChunk, src, valid);
    }
    commitAsync();

    // One K or V tile at positions kv0..kv0+63; consecutive threads copy one position's row.
    const auto loadTile = [&](const T* head, T* dst, int kv0) {
        for (int idx = threadIdx.x; idx < kTile * kChunksPerRow; idx += kThreads) {
            const int j = idx / kChunksPerRow;
            const int c = idx % kChunksPerRow;
            const int pos = kv0 + j;
            const bool valid = pos <= maxPos;
            const T* src = head;
            if (valid)
                src = head + table[pos / p.pageTokens] * p.pageStride + (pos % p.pageTokens) * p.tokenStride + c * kChunk;
            copy16Async(dst + j * kLd + c * kChunk, src, valid);
        }
    };
    if (nTiles > 0) {
        loadTile(kHead, kS, 0);
        commitAsync();
        loadTile(vHead, vS, 0);
        commitAsync();
    }

    // Each accumulator element's row within the warp's 16.
    int rowOf[AccFrag::num_elements];
    detail::accumulatorRows<AccFrag>(sW, kSLd, lane, rowOf);

    AccFrag oF[kDFrags];
#pragma unroll
    for (int d = 0; d < kDFrags; ++d)
        wmma::fill_fragment(oF[d], 0.0f);

    // Softmax ownership: lanes 2r and 2r+1 hold row r of the warp, keys 2j and 2j+1 of each tile.
    const int myRow = lane >> 1;
    const int half = lane & 1;
    const int myGr = row0 + warp * kWarpRows + myRow;
    const int rowPos = myGr < nRowsTotal ? firstPos + myGr / p.ratio : -1;  // -1: a padded row sees nothing
    float mRow = -INFINITY;  // running max of the scaled scores (log2 domain)
    float lRow = 0.0f;       // running sum of exp2(score - mRow)

    for (int t = 0; t < nTiles; ++t) {
        const int kv0 = t * kTile;
        waitAsync<1>();  // Q and K(t) have landed (V(t) may still be in flight) ...
        __syncthreads();  // ... for every thread's copies

        {  // S = Q K^T for the warp's 16 rows and the tile's 64 keys
            AccFrag sF[kKeyFrags];
#pragma unroll
            for (int n = 0; n < kKeyFrags; ++n)
                wmma::fill_fragment(sF[n], 0.0f);
#pragma unroll
            for (int k = 0; k < kDFrags; ++k) {
                AFrag qF;
                wmma::load_matrix_sync(qF, qS + warp * kWarpRows * kLd + k * 16, kLd);
#pragma unroll
                for (int n = 0; n < kKeyFrags; ++n) {
                    KFrag kF;
                    wmma::load_matrix_sync(kF, kS + n * 16 * kLd + k * 16, kLd);
                    wmma::mma_sync(sF[n], qF, kF, sF[n]);
                }
            }
#pragma unroll
            for (int n = 0; n < kKeyFrags; ++n)
                wmma::store_matrix_sync(sW + n * 16, sF[n], kSLd, wmma::mem_row_major);
        }
        __syncthreads();  // every warp is done with K(t); S is visible to the whole warp
        if (t + 1 < nTiles)
            loadTile(kHead, kS, kv0 + kTile);
        commitAsync();  // possibly empty: keeps the group count the same every iteration

        {  // online softmax of the warp's rows
            const float* sRow = sW + myRow * kSLd;
            float e[kTile / 2];
            float tileMax = -INFINITY;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j) {
                const int c = 2 * j + half;
                e[j] = kv0 + c <= rowPos ? sRow[c] * p.scaleLog2 : -INFINITY;
                tileMax = fmaxf(tileMax, e[j]);
            }
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            const float mNew = fmaxf(mRow, tileMax);
            const float base = mNew == -INFINITY ? 0.0f : mNew;  // nothing visible yet: every p is 0
            float sum = 0.0f;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j) {
                e[j] = exp2f(e[j] - base);  // 0 for masked keys
                sum += e[j];
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            const float corr = exp2f(mRow - base);  // 0 while mRow is -inf (O and l are still 0)
            lRow = lRow * corr + sum;
            mRow = mNew;
            __syncwarp();  // every lane has read its S row before P overwrites the warp's rows
            T* pRow = pW + myRow * kPLd;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j)
                pRow[2 * j + half] = detail::fromFloat<T>(e[j]);
            if (half == 0)
                rowScale[warp * kWarpRows + myRow] = corr;
            __syncwarp();  // P and the rescale factors are visible to the warp
        }

#pragma unroll
        for (int i = 0; i < AccFrag::num_elements; ++i) {
            const float corr = rowScale[warp * kWarpRows + rowOf[i]];
#pragma unroll
            for (int d = 0; d < kDFrags; ++d)
                oF[d].x[i] *= corr;
        }
        waitAsync<1>();  // V(t) has landed (K(t+1) may still be in flight) ...
        __syncthreads();  // ... for every thread's copies

#pragma unroll
        for (int k = 0; k < kKeyFrags; ++k) {  // O += P V
            AFrag pF;
            wmma::load_matrix_sync(pF, pW + k * 16, kPLd);
#pragma unroll
            for (int d = 0; d < kDFrags; ++d) {
                VFrag vF;
                wmma::load_matrix_sync(vF, vS + k * 16 * kLd + d * 16, kLd);
                wmma::mma_sync(oF[d], pF, vF, oF[d]);
            }
        }
        __syncthreads();  // every warp is done with V(t)
        if (t + 1 < nTiles)
            loadTile(vHead, vS, kv0 + kTile);
        commitAsync();
    }

    waitAsync<0>();  // nothing may still land in K/V, which the output staging reuses ...
    __syncthreads();  // ... nor may any warp still read them
    float* oW = reinterpret_cast<float*>(smem + L::kK) + warp * kWarpRows * L::kOLd;  // [16][kOLd]
#pragma unroll
    for (int d = 0; d < kDFrags; ++d)
        wmma::store_matrix_sync(oW + d * 16, oF[d], L::kOLd, wmma::mem_row_major);
    if (half == 0)
        rowScale[warp * kWarpRows + myRow] = lRow > 0.0f ? 1.0f / lRow : 0.0f;
    __syncwarp();

    for (int r = 0; r < kWarpRows; ++r) {
        const int gr = row0 + warp * kWarpRows + r;
        if (gr >= nRowsTotal)
            break;  // rows ascend: the rest are padding
        const int token = gr / p.ratio;
        const int head = kvHead * p.ratio + gr % p.ratio;
        T* outRow = static_cast<T*>(p.out) + static_cast<std::int64_t>(qBegin + token) * p.outStride + head * HD;
        const float inv = rowScale[warp * kWarpRows + r];
        const float* oRow = oW + r * L::kOLd;
        for (int pr = lane; pr < HD / 2; pr += 32)
            detail::storePair(outRow + 2 * pr, oRow[2 * pr] * inv, oRow[2 * pr + 1] * inv);
    }
#elif defined(__CUDA_ARCH__)
    (void)p;
    __trap();  // compiled below sm_80 (the host checks prefillTensorCoreCompiled): fail, never return garbage
#else
    (void)p;
#endif
}

template <typename T, int HD>
KernelStatus launch(const TcParams& p, std::int64_t nSeqs, cudaStream_t stream)
{
    constexpr int kBytes = Layout<HD>::kBytes;
    const auto kernel = prefillTcKernel<T, HD>;
    HEARTH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes));
    const dim3 grid(static_cast<unsigned>(p.rowTiles * p.nKvHeads), static_cast<unsigned>(nSeqs));
    kernel<<<grid, kThreads, kBytes, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus dispatchHeadDim(const TcParams& p, std::int64_t headDim, std::int64_t nSeqs, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launch<T, 64>(p, nSeqs, stream);
    case 80: return launch<T, 80>(p, nSeqs, stream);
    case 96: return launch<T, 96>(p, nSeqs, stream);
    default: return launch<T, 128>(p, nSeqs, stream);
    }
}

bool aligned(const void* ptr, std::uintptr_t bytes) { return (reinterpret_cast<std::uintptr_t>(ptr) % bytes) == 0; }

}  // namespace

namespace detail {

bool prefillTensorCoreAligned(const PrefillAttentionArgs& a, std::int64_t qStride)
{
    const PagedKv& c = a.cache;
    return aligned(a.q, 16) && aligned(c.kCache, 16) && aligned(c.vCache, 16) && aligned(a.out, 4) &&
           qStride % kChunk == 0 && c.pageStride % kChunk == 0 && c.tokenStride % kChunk == 0 &&
           c.headStride % kChunk == 0;
}

KernelStatus prefillTensorCoreCompiled(bool* yes)
{
    // ptxVersion is the virtual architecture the driver picked for this device (as CUB reads it).
    cudaFuncAttributes attr{};
    HEARTH_CUDA_CHECK(cudaFuncGetAttributes(&attr, prefillTcKernel<__half, 64>));
    *yes = attr.ptxVersion >= 80;
    return KernelStatus::success();
}

KernelStatus makePrefillTcParams(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                 int rowsPerBlock, PrefillTcParams* p)
{
    const PagedKv& c = a.cache;
    const std::int64_t ratio = a.nQHeads / c.nKvHeads;
    const std::int64_t rowTiles = (a.maxQueryLen * ratio + rowsPerBlock - 1) / rowsPerBlock;
    HEARTH_KERNEL_REQUIRE(a.maxQueryLen * ratio < (std::int64_t{1} << 31) && rowTiles * c.nKvHeads < (std::int64_t{1} << 31),
                          "prefill too long for one launch");
    HEARTH_KERNEL_REQUIRE(c.pageTokens < (std::int64_t{1} << 31), "page size out of range");
    *p = PrefillTcParams{};
    p->q = a.q;
    p->out = a.out;
    p->qStride = qStride;
    p->outStride = outStride;
    p->queryStart = a.queryStart;
    p->contextLens = a.contextLens;
    p->blockTables = a.blockTables;
    p->maxPagesPerSeq = a.maxPagesPerSeq;
    p->nKvHeads = static_cast<int>(c.nKvHeads);
    p->ratio = static_cast<int>(ratio);
    p->rowTiles = static_cast<int>(rowTiles);
    p->pageTokens = static_cast<int>(c.pageTokens);
    p->scaleLog2 = a.scale * 1.4426950408889634f;
    p->kCache = c.kCache;
    p->vCache = c.vCache;
    p->pageStride = c.pageStride;
    p->tokenStride = c.tokenStride;
    p->headStride = c.headStride;
    return KernelStatus::success();
}

KernelStatus prefillAttentionWmma(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                  cudaStream_t stream)
{
    TcParams p{};
    HEARTH_KERNEL_TRY(makePrefillTcParams(a, qStride, outStride, kRows, &p));
    const PagedKv& c = a.cache;
    if (c.type == ElemType::F16)
        return dispatchHeadDim<__half>(p, c.headDim, a.nSeqs, stream);
    return dispatchHeadDim<__nv_bfloat16>(p, c.headDim, a.nSeqs, stream);
}

}  // namespace detail
}  // namespace hearth::kernels
