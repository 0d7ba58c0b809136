// decodeTcKernel of the decode attention (see paged_attention_decode.cu for the split, the merge
// and the dispatch): Q K^T and P V on the tensor cores, WMMA 16x16x16 with fp16/bf16 operands and
// fp32 accumulators, so long contexts are bound by reading K and V rather than by the CUDA-core
// unpacking and FMAs of decodeKernel (~256 per token and query head).
// Grid (partition, kvHead x query-head chunk, sequence), 128 threads (4 warps). A block takes one
// kv head, up to 16 of its query heads (one WMMA tile of rows, zero-padded: GQA 7 fills 7 of 16)
// and one partition of the context (the same partitions and workspace as decodeKernel, so the
// merge kernel and decodeAttentionWorkspaceBytes serve both). Warp w takes the partition's
// 16-token tiles w, w + 4, ...:
//   K, V     16-byte cp.async copies of the tile's rows (row offsets from the block table, loaded
//            once per block into shared memory) into the warp's own two-stage ring; tokens past
//            the context are zero-filled, never read. Tile i + 1 is in flight while tile i is used.
//   S        = Q K^T: 16 heads x 16 tokens in one fp32 fragment (Q staged once per block),
//            stored to shared memory.
//   softmax  lanes 2r and 2r+1 own head r: running max and sum in fp32 (log2 domain), P rounded
//            to the cache type, the rescale factor of each head to shared memory.
//   O        16 heads x headDim in fp32 fragments (registers): *= rescale, += P V.
// At the end each warp stages O with its max and sum in shared memory (O over its own ring), and
// the block combines the four warps and writes the partition's (out, max, sum) like decodeKernel.
// Shared memory: Q 16 x (headDim + 8), per warp 2 stages of K and V tiles 16 x (headDim + 8) plus
// S, P and the rescale factors, the row offsets: 84,992 bytes at head_dim 128, 67,584 at 96,
// 58,880 at 80, 50,176 at 64.
// Registers (nvcc for sm_90, --resource-usage), no spills: bf16 128 (head_dim 128 and 96) and 96
// (80, 64); fp16 136 (128), 100 (96), 118 (80), 92 (64). On an H100 (228 KB shared memory and 64K
// registers per SM) shared memory sets the occupancy: 2 blocks (8 warps) per SM at head_dim 128,
// 3 at 96 and 80, 4 at 64 (registers would allow 3-5).
// Traffic: K/V of the partition once per (kv head, chunk of 16 query heads), q once per block.
#include <mma.h>

#include <atomic>

#include "cp_async.cuh"
#include "launch.cuh"
#include "paged_attention_decode.cuh"
#include "wmma_rows.cuh"

namespace hearth::kernels::decode {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kTcWarps = 4;
constexpr int kTcThreads = kTcWarps * 32;
constexpr int kTile = 16;    // tokens per warp step: one WMMA tile
constexpr int kStages = 2;   // the warp's ring of K/V tiles
constexpr int kSLd = 20;     // fp32 score row stride (a multiple of 4 for WMMA; +4 staggers banks)
constexpr int kPLd = 24;     // P row stride in elements (a multiple of 8 for WMMA)
constexpr int kChunk = 8;    // elements per 16-byte copy
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
static_assert(kTcGroup == 16, "a block's query heads are one WMMA tile of rows");

constexpr int alignUp128(int bytes) { return (bytes + 127) / 128 * 128; }

// Byte offsets into the dynamic shared memory; every region starts on a 128-byte boundary (WMMA
// pointers must be 32-byte aligned).
template <int HD>
struct TcLayout {
    static constexpr int kLd = HD + 8;   // Q/K/V row stride in elements (+8 staggers banks)
    static constexpr int kOLd = HD + 4;  // fp32 output staging row stride
    static constexpr int kTileBytes = kTile * kLd * 2;
    static constexpr int kRingBytes = kStages * 2 * kTileBytes;  // per warp: K and V per stage
    static constexpr int kQ = 0;
    static constexpr int kRing = alignUp128(kQ + kTcGroup * kLd * 2);
    static constexpr int kS = alignUp128(kRing + kTcWarps * kRingBytes);
    static constexpr int kP = alignUp128(kS + kTcWarps * kTcGroup * kSLd * 4);
    static constexpr int kCorr = alignUp128(kP + kTcWarps * kTcGroup * kPLd * 2);
    static constexpr int kMax = alignUp128(kCorr + kTcWarps * kTcGroup * 4);
    static constexpr int kSum = kMax + kTcWarps * kTcGroup * 4;
    static constexpr int kRowOff = alignUp128(kSum + kTcWarps * kTcGroup * 4);
    static constexpr int kBytes = kRowOff + kMaxPartition * 8;
    static_assert(kTileBytes % 128 == 0 && kRingBytes % 128 == 0, "tiles aligned");
    static_assert(kTcGroup * kOLd * 4 <= kRingBytes, "a warp's output staging fits over its ring");
};

using detail::commitAsync;
using detail::copy16Async;
using detail::waitAsync;

template <typename T, int HD>
__global__ void __launch_bounds__(kTcThreads) decodeTcKernel(DecodeParams p)
{
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(HEARTH_CUDASIM)  // bf16 WMMA and cp.async; the host never launches it below
    detail::pdlWait();  // nothing before it: q, the cache and the tables come from earlier kernels
    detail::pdlLaunchDependents();
    using L = TcLayout<HD>;
    constexpr int kLd = L::kLd;
    constexpr int kChunksPerRow = HD / kChunk;
    constexpr int kDFrags = HD / 16;
    using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    using AFrag = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
    using KFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;  // K^T from K rows
    using VFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major>;

    extern __shared__ __align__(128) unsigned char smem[];
    T* qS = reinterpret_cast<T*>(smem + L::kQ);                             // [16 heads][kLd]
    auto* rowOff = reinterpret_cast<std::int64_t*>(smem + L::kRowOff);      // [partition]
    float* maxS = reinterpret_cast<float*>(smem + L::kMax);                 // [warp][16 heads], log2 domain
    float* sumS = reinterpret_cast<float*>(smem + L::kSum);                 // [warp][16 heads]

    const Place at = placeOf<HD>(p);
    const int lane = at.lane, warp = at.warp, g = at.g;

    // The loads a block starts with, none waiting for another (as decodeKernel's prologue): the
    // length, the partition's row offsets up to maxContext, q of the group (zeros past g) in
    // 4-byte pairs (q rows need only be 4-byte aligned).
    const int ctxRaw = p.contextLens[at.seq];
    {
        const std::int32_t* table = p.blockTables + at.seq * p.maxPagesPerSeq;
        const int end = min(at.start + p.partition, p.maxContext);
        for (int t = threadIdx.x; t < end - at.start; t += kTcThreads) {
            const int pos = at.start + t;
            rowOff[t] = static_cast<std::int64_t>(table[pos / p.pageTokens]) * p.pageStride +
                        static_cast<std::int64_t>(pos % p.pageTokens) * p.tokenStride;
        }
        const T* q = static_cast<const T*>(p.q) + at.seq * p.qStride + static_cast<std::int64_t>(at.h0) * HD;
        for (int idx = threadIdx.x; idx < kTcGroup * HD / 2; idx += kTcThreads) {
            const int r = idx / (HD / 2);
            const int c = 2 * (idx % (HD / 2));
            unsigned pair = 0;
            if (r < g)
                pair = *reinterpret_cast<const unsigned*>(q + r * HD + c);
            *reinterpret_cast<unsigned*>(qS + r * kLd + c) = pair;
        }
    }
    __syncthreads();  // rowOff, qS
    const int ctx = min(max(ctxRaw, 0), p.maxContext);
    const int n = min(p.partition, ctx - at.start);
    if (n <= 0) {
        writeEmptyPartition<T, HD, kTcThreads>(p, at.seq, at.h0, g);
        return;
    }

    const int nTiles = (n + kTile - 1) / kTile;
    const int nMine = warp < nTiles ? (nTiles - warp + kTcWarps - 1) / kTcWarps : 0;  // tiles warp, warp + 4, ...
    const T* kHead = static_cast<const T*>(p.kCache) + at.kvHead * p.headStride;
    const T* vHead = static_cast<const T*>(p.vCache) + at.kvHead * p.headStride;
    unsigned char* ring = smem + L::kRing + warp * L::kRingBytes;
    float* sW = reinterpret_cast<float*>(smem + L::kS) + warp * kTcGroup * kSLd;  // [16 heads][kSLd]
    T* pW = reinterpret_cast<T*>(smem + L::kP) + warp * kTcGroup * kPLd;          // [16 heads][kPLd]
    float* corrW = reinterpret_cast<float*>(smem + L::kCorr) + warp * kTcGroup;

    // Tile i of this warp (partition tile warp + 4i) into ring stage i % kStages: K then V.
    const auto issueTile = [&](int i) {
        T* kT = reinterpret_cast<T*>(ring + (i % kStages) * 2 * L::kTileBytes);
        T* vT = kT + kTile * kLd;
        const int t0 = (warp + kTcWarps * i) * kTile;
        for (int idx = lane; idx < kTile * kChunksPerRow; idx += 32) {
            const int j = idx / kChunksPerRow;
            const int c = idx % kChunksPerRow;
            const bool valid = t0 + j < n;
            const std::int64_t off = valid ? rowOff[t0 + j] + c * kChunk : 0;
            copy16Async(kT + j * kLd + c * kChunk, kHead + off, valid);
            copy16Async(vT + j * kLd + c * kChunk, vHead + off, valid);
        }
    };
    if (nMine > 0)
        issueTile(0);
    commitAsync();

    // Each accumulator element's row (query head) within the 16.
    int rowOf[AccFrag::num_elements];
    detail::accumulatorRows<AccFrag>(sW, kSLd, lane, rowOf);

    AccFrag oF[kDFrags];
#pragma unroll
    for (int d = 0; d < kDFrags; ++d)
        wmma::fill_fragment(oF[d], 0.0f);
    const int myRow = lane >> 1;  // softmax: lanes 2r and 2r+1 own head r, tokens 2j and 2j + 1
    const int half = lane & 1;
    const float scaleLog2 = p.scale * kLog2e;
    float mRow = -INFINITY;  // running max of the scaled scores (log2 domain)
    float lRow = 0.0f;       // running sum of exp2(score - mRow)

    for (int i = 0; i < nMine; ++i) {
        if (i + 1 < nMine)
            issueTile(i + 1);
        commitAsync();  // possibly empty: the group count stays the same every iteration
        waitAsync<1>();  // tile i has landed (tile i + 1 may still be in flight) ...
        __syncwarp();    // ... for every lane's copies
        const T* kT = reinterpret_cast<const T*>(ring + (i % kStages) * 2 * L::kTileBytes);
        const T* vT = kT + kTile * kLd;
        const int t0 = (warp + kTcWarps * i) * kTile;

        {  // S = Q K^T: 16 heads x 16 tokens
            AccFrag sF;
            wmma::fill_fragment(sF, 0.0f);
#pragma unroll
            for (int k = 0; k < kDFrags; ++k) {
                AFrag qF;
                KFrag kF;
                wmma::load_matrix_sync(qF, qS + k * 16, kLd);
                wmma::load_matrix_sync(kF, kT + k * 16, kLd);
                wmma::mma_sync(sF, qF, kF, sF);
            }
            wmma::store_matrix_sync(sW, sF, kSLd, wmma::mem_row_major);
        }
        __syncwarp();

        {  // online softmax of the warp's 16 heads over this tile
            const float* sRow = sW + myRow * kSLd;
            float e[kTile / 2];
            float tileMax = -INFINITY;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j) {
                const int c = 2 * j + half;
                e[j] = t0 + c < n ? sRow[c] * scaleLog2 : -INFINITY;
                tileMax = fmaxf(tileMax, e[j]);
            }
            tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
            const float mNew = fmaxf(mRow, tileMax);  // finite: a tile holds at least one token
            float sum = 0.0f;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j) {
                e[j] = exp2f(e[j] - mNew);  // 0 past the context
                sum += e[j];
            }
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            const float corr = exp2f(mRow - mNew);  // 0 on the first tile (O and l are still 0)
            lRow = lRow * corr + sum;
            mRow = mNew;
            T* pRow = pW + myRow * kPLd;
#pragma unroll
            for (int j = 0; j < kTile / 2; ++j)
                pRow[2 * j + half] = fromFloat<T>(e[j]);
            if (half == 0)
                corrW[myRow] = corr;
        }
        __syncwarp();  // P and the rescale factors are visible to the warp

#pragma unroll
        for (int k = 0; k < AccFrag::num_elements; ++k) {
            const float corr = corrW[rowOf[k]];
#pragma unroll
            for (int d = 0; d < kDFrags; ++d)
                oF[d].x[k] *= corr;
        }
        {  // O += P V
            AFrag pF;
            wmma::load_matrix_sync(pF, pW, kPLd);
#pragma unroll
            for (int d = 0; d < kDFrags; ++d) {
                VFrag vF;
                wmma::load_matrix_sync(vF, vT + d * 16, kLd);
                wmma::mma_sync(oF[d], pF, vF, oF[d]);
            }
        }
        __syncwarp();  // every lane is done with this stage, S and P before they are overwritten
    }

    waitAsync<0>();  // nothing may still land in the ring, which the output staging reuses
    __syncwarp();
    float* oW = reinterpret_cast<float*>(ring);  // [16 heads][kOLd]
#pragma unroll
    for (int d = 0; d < kDFrags; ++d)
        wmma::store_matrix_sync(oW + d * 16, oF[d], L::kOLd, wmma::mem_row_major);
    if (half == 0) {  // a warp without tiles leaves max -inf, sum 0 and O 0: it weighs nothing
        maxS[warp * kTcGroup + myRow] = mRow;
        sumS[warp * kTcGroup + myRow] = lRow;
    }
    __syncthreads();

    // The warps' partial results of each head, weighed by exp2(max_w - max); n >= 1 makes the
    // overall max finite and the sum positive.
    for (int idx = threadIdx.x; idx < g * HD; idx += kTcThreads) {
        const int r = idx / HD;
        const int d = idx % HD;
        float mAll = -INFINITY;
#pragma unroll
        for (int w = 0; w < kTcWarps; ++w)
            mAll = fmaxf(mAll, maxS[w * kTcGroup + r]);
        float sum = 0.0f, o = 0.0f;
#pragma unroll
        for (int w = 0; w < kTcWarps; ++w) {
            const float mw = maxS[w * kTcGroup + r];
            const float wgt = mw == -INFINITY ? 0.0f : exp2f(mw - mAll);
            const float* oWw = reinterpret_cast<const float*>(smem + L::kRing + w * L::kRingBytes);
            sum = fmaf(wgt, sumS[w * kTcGroup + r], sum);
            o = fmaf(wgt, oWw[r * L::kOLd + d], o);
        }
        storeResult<T, HD>(p, at, r, d, o / sum, mAll * kLn2, sum);  // the merge weighs in natural log
    }
#elif defined(__CUDA_ARCH__)
    (void)p;
    __trap();  // compiled below sm_80 (the host checks decodeTensorCoreCompiled): fail, never return garbage
#else
    (void)p;
#endif
}

template <typename T, int HD>
KernelStatus allowSharedBytes()
{
    // Once per device (prepareTensorCore does it before any graph capture; a first launch without
    // it does it then).
    constexpr int kCachedDevices = 64;
    static std::atomic<bool> done[kCachedDevices] = {};
    int device = 0;
    HEARTH_CUDA_CHECK(cudaGetDevice(&device));
    const bool cacheable = device >= 0 && device < kCachedDevices;
    if (cacheable && done[device].load(std::memory_order_acquire))
        return KernelStatus::success();
    HEARTH_CUDA_CHECK(
        cudaFuncSetAttribute(decodeTcKernel<T, HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, TcLayout<HD>::kBytes));
    if (cacheable)
        done[device].store(true, std::memory_order_release);
    return KernelStatus::success();
}

template <typename T, int HD>
KernelStatus launchTcFor(const DecodeParams& p, const dim3& grid, cudaStream_t stream)
{
    constexpr int kBytes = TcLayout<HD>::kBytes;
    const auto kernel = decodeTcKernel<T, HD>;
    HEARTH_KERNEL_TRY((allowSharedBytes<T, HD>()));
    detail::launchPdl(kernel, grid, kTcThreads, kBytes, stream, p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T>
KernelStatus launchTcTyped(const DecodeParams& p, int headDim, const dim3& grid, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launchTcFor<T, 64>(p, grid, stream);
    case 80: return launchTcFor<T, 80>(p, grid, stream);
    case 96: return launchTcFor<T, 96>(p, grid, stream);
    default: return launchTcFor<T, 128>(p, grid, stream);
    }
}

}  // namespace

KernelStatus decodeTensorCoreCompiled(bool* yes)
{
    // ptxVersion is the virtual architecture the driver picked for this device (as CUB reads it).
    cudaFuncAttributes attr{};
    HEARTH_CUDA_CHECK(cudaFuncGetAttributes(&attr, decodeTcKernel<__half, 64>));
    *yes = attr.ptxVersion >= 80;
    return KernelStatus::success();
}

KernelStatus prepareTensorCore()
{
    HEARTH_KERNEL_TRY((allowSharedBytes<__half, 64>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__half, 80>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__half, 96>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__half, 128>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__nv_bfloat16, 64>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__nv_bfloat16, 80>()));
    HEARTH_KERNEL_TRY((allowSharedBytes<__nv_bfloat16, 96>()));
    return allowSharedBytes<__nv_bfloat16, 128>();
}

KernelStatus launchTensorCore(const DecodeParams& p, ElemType type, int headDim, const dim3& grid, cudaStream_t stream)
{
    if (type == ElemType::F16)
        return launchTcTyped<__half>(p, headDim, grid, stream);
    return launchTcTyped<__nv_bfloat16>(p, headDim, grid, stream);
}

}  // namespace hearth::kernels::decode
