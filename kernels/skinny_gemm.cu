// Skinny GEMM on the tensor cores: Y[m, n] = alpha * X[m, k] W[n, k]^T + beta * Y for m <= 64,
// where the weights dominate the traffic and must stream from memory once at full bandwidth.
// Shapes: WMMA 16x16x16 with the weights as the A operand (16 output features x 16 k, row-major
// from W) and X^T as the B operand (the col-major view of 16 token rows of X), fp32 accumulators.
// Grid: one block per F output features (F = 16, 32, 64 or 128: the tile), 256 threads = 8 warps
// arranged as FG feature groups x KG = 8 / FG k groups. Each warp owns FW = F / (16 FG) feature
// tiles (1 at F = 16, else 2) times MT = ceil(m / 16) token tiles of accumulators (at most 64
// registers) and a 128 / KG slice of every 128-wide k chunk.
// Pipeline: the block copies k chunks of W [F rows][128] and X [m rows][128] with 16-byte
// cp.async into a ring of S shared-memory stages (3 to 12, as many as ~112 KB holds, or ~220 KB
// when the grid has no more blocks than SMs, so that each block has an SM to itself) and keeps S-1
// chunks in flight while the warps multiply the oldest: with F = 16 and m <= 16 that is 11 x 4 KB
// of weights per block (11 weight and 11 X copies of 16 bytes in flight per thread), ~10 MB over
// the 224 blocks of a 3584-row matrix, about twice HBM's bandwidth-latency product (~5 MB at
// 4.8 TB/s and ~1 us loaded latency); the larger m and F keep 16..144 KB per block. Weights go
// with an L2 evict-first policy (read once per step); X comes from L2 again for each block (m/F
// of the weight bytes).
// k past its end is zero-filled; W rows past n and X rows past m are never copied (they only
// reach accumulator rows/columns that are not stored).
// End: the KG partial tiles of each feature tile go through shared memory (fp32, over the
// pipeline stages) and are summed in k-group order, so results are bit-identical run to run; then
// alpha, beta * Y (read only when beta != 0) and one rounding to the output type.
// Bounds: HBM (weights once) as long as shared memory keeps up: it moves 2 + MT*16/F + MT/FW bytes
// per weight byte (cp.async writes and WMMA reads), which the host's tile choice keeps near or under
// ~6 (what 128 B/clk/SM allows at 4.8 TB/s over 132 SMs).
#include <mma.h>

#include <algorithm>
#include <atomic>
#include <limits>

#include "cp_async.cuh"
#include "cuda_check.cuh"
#include "skinny_gemm.h"

namespace hearth::kernels {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kChunkK = 128;                  // k elements per pipeline stage
constexpr int kLdS = kChunkK + 8;             // stage row stride in elements (+8 staggers banks)
constexpr int kStageBudgetBytes = 112 * 1024;      // the ring's size target: two blocks per SM
constexpr int kDeepStageBudgetBytes = 220 * 1024;  // one block per SM (grids of at most one per SM)
constexpr int kChunksPerRow = kChunkK / 8;    // 16-byte copies per stage row

// Shared-memory layout of one instantiation: MT token tiles, FG feature groups of FW tiles, and
// a ring sized for two blocks per SM or (Deep) for one.
template <int MT, int FG, int FW, bool Deep>
struct Config {
    static constexpr int kKGroups = kWarps / FG;
    static constexpr int kFeatures = FG * FW * 16;
    static constexpr int kKPerWarp = kChunkK / kKGroups;
    static constexpr int kRowsPadded = MT * 16;  // X rows a stage holds (rows past m not copied)
    static constexpr int kStageElems = (kFeatures + kRowsPadded) * kLdS;
    static constexpr int kStages = std::clamp((Deep ? kDeepStageBudgetBytes : kStageBudgetBytes) / (kStageElems * 2), 3, 12);
    static constexpr int kLdR = kFeatures + 4;   // fp32 reduction row stride (WMMA: multiple of 4)
    static constexpr int kPipeBytes = kStages * kStageElems * 2;
    static constexpr int kRedBytes = kKGroups * kRowsPadded * kLdR * 4;
    static constexpr int kSmemBytes = std::max(kPipeBytes, kRedBytes);
    // Two blocks per SM where shared memory allows and the accumulators (FW * MT * 8 registers)
    // leave room under the 128 registers that implies; ptxas spills otherwise.
    static constexpr int kMinBlocks = kSmemBytes <= 113 * 1024 && FW * MT <= 4 && !Deep ? 2 : 1;
    static_assert(kWarps % FG == 0 && kKPerWarp % 16 == 0, "whole WMMA k steps per warp");
    static_assert((kStageElems * 2) % 128 == 0 && (kFeatures * kLdS * 2) % 128 == 0, "WMMA tiles 32-byte aligned");
    static_assert(((kFeatures + kRowsPadded) * kChunksPerRow) % kThreads == 0, "whole copy rounds per stage");
};

struct SkinnyParams {
    const void* x;  // [m, ldx]
    const void* w;  // [n, ldw]
    void* y;        // [m, ldy]
    int m, n, k;
    std::int64_t ldx, ldw, ldy;
    float alpha, beta;
};

using detail::commitAsync;
using detail::copy16Async;
using detail::waitAsync;

#if defined(HEARTH_CUDASIM)
// cudasim (tests/cudasim): the same copies, without the inline PTX (no cache policy).
__device__ __forceinline__ std::uint64_t evictFirstPolicy() { return 0; }
__device__ __forceinline__ void copy16Streaming(void* dst, const void* src, bool valid, std::uint64_t)
{
    copy16Async(dst, src, valid);
}
#else
// An L2 policy that evicts these lines first: each weight is read once per step, so it should
// not push the activations (and the next layer's X) out of L2.
__device__ __forceinline__ std::uint64_t evictFirstPolicy()
{
    std::uint64_t policy;
    asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
    return policy;
}
// copy16Async with the evict-first policy, for the weights.
__device__ __forceinline__ void copy16Streaming(void* dst, const void* src, bool valid, std::uint64_t policy)
{
    const auto s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    const int srcBytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2, %3;\n" ::"r"(s), "l"(src), "r"(srcBytes),
                 "l"(policy)
                 : "memory");
}
#endif

template <typename T, int MT, int FG, int FW, bool Deep>
__global__ void __launch_bounds__(kThreads, Config<MT, FG, FW, Deep>::kMinBlocks) skinnyGemmKernel(SkinnyParams p)
{
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(HEARTH_CUDASIM)  // bf16 WMMA and cp.async
    using C = Config<MT, FG, FW, Deep>;
    constexpr int F = C::kFeatures;
    constexpr int S = C::kStages;
    constexpr int KG = C::kKGroups;
    using AFrag = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;  // W rows
    using BFrag = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;  // X^T from X rows
    using AccFrag = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

    extern __shared__ __align__(128) unsigned char smem[];
    T* stages = reinterpret_cast<T*>(smem);  // S x { W [F][kLdS], X [MT*16][kLdS] }

    const int tid = static_cast<int>(threadIdx.x);
    const int warp = tid >> 5;
    const int fg = warp / KG;  // feature group: tiles fg*FW .. fg*FW+FW-1
    const int kg = warp % KG;  // k group: columns kg*kKPerWarp.. of each chunk
    const std::int64_t n0 = static_cast<std::int64_t>(blockIdx.x) * F;
    const int nValid = static_cast<int>(std::min<std::int64_t>(F, p.n - n0));
    const T* w = static_cast<const T*>(p.w);
    const T* x = static_cast<const T*>(p.x);
    const std::uint64_t policy = evictFirstPolicy();

    // Chunk `chunk` (k from chunk*kChunkK) into stage `stage`: W rows, then X rows.
    const auto loadStage = [&](int stage, int chunk) {
        T* dst = stages + stage * C::kStageElems;
        const int k0 = chunk * kChunkK;
#pragma unroll
        for (int round = 0; round < (F + C::kRowsPadded) * kChunksPerRow / kThreads; ++round) {
            const int idx = round * kThreads + tid;
            const int row = idx / kChunksPerRow;
            const int col = (idx % kChunksPerRow) * 8;
            const bool inK = k0 + col < p.k;
            if (row < F) {
                if (row < nValid)
                    copy16Streaming(dst + row * kLdS + col, inK ? w + (n0 + row) * p.ldw + k0 + col : w, inK, policy);
            } else if (row - F < p.m) {
                copy16Async(dst + row * kLdS + col, inK ? x + (row - F) * p.ldx + k0 + col : x, inK);
            }
        }
    };

    AccFrag acc[FW][MT];
#pragma unroll
    for (int i = 0; i < FW; ++i)
#pragma unroll
        for (int t = 0; t < MT; ++t)
            wmma::fill_fragment(acc[i][t], 0.0f);

    const int nChunks = (p.k + kChunkK - 1) / kChunkK;
#pragma unroll 1  // up to 11 stages of up to 12 copy rounds each: not worth the code size
    for (int s = 0; s < S - 1; ++s) {
        if (s < nChunks)
            loadStage(s, s);
        commitAsync();  // possibly empty: keeps one group per stage for the waits below
    }
    int readStage = 0;
    int writeStage = S - 1;
    for (int c = 0; c < nChunks; ++c) {
        waitAsync<S - 2>();  // this thread's copies of chunk c have landed ...
        __syncthreads();     // ... everyone's, and every warp is done with chunk c-1's stage
        if (c + S - 1 < nChunks)
            loadStage(writeStage, c + S - 1);
        commitAsync();
        writeStage = writeStage + 1 == S ? 0 : writeStage + 1;

        const T* wS = stages + readStage * C::kStageElems;
        const T* xS = wS + F * kLdS;
#pragma unroll
        for (int ks = 0; ks < C::kKPerWarp / 16; ++ks) {
            const int col = kg * C::kKPerWarp + ks * 16;
            AFrag a[FW];
#pragma unroll
            for (int i = 0; i < FW; ++i)
                wmma::load_matrix_sync(a[i], wS + (fg * FW + i) * 16 * kLdS + col, kLdS);
#pragma unroll
            for (int t = 0; t < MT; ++t) {
                BFrag b;
                wmma::load_matrix_sync(b, xS + t * 16 * kLdS + col, kLdS);
#pragma unroll
                for (int i = 0; i < FW; ++i)
                    wmma::mma_sync(acc[i][t], a[i], b, acc[i][t]);
            }
        }
        readStage = readStage + 1 == S ? 0 : readStage + 1;
    }

    waitAsync<0>();   // only empty groups can be left, but nothing may land in the reused stages ...
    __syncthreads();  // ... nor may a warp still read them
    // Partial tiles token-major: red[kg][token][feature], so the sum below writes rows of Y.
    float* red = reinterpret_cast<float*>(smem);
#pragma unroll
    for (int i = 0; i < FW; ++i)
#pragma unroll
        for (int t = 0; t < MT; ++t)
            wmma::store_matrix_sync(red + (kg * C::kRowsPadded + t * 16) * C::kLdR + (fg * FW + i) * 16, acc[i][t], C::kLdR,
                                    wmma::mem_col_major);
    __syncthreads();

    T* y = static_cast<T*>(p.y);
    for (int idx = tid; idx < p.m * F; idx += kThreads) {
        const int t = idx / F;
        const int f = idx % F;
        if (f >= nValid)
            continue;
        float sum = 0.0f;
#pragma unroll
        for (int g = 0; g < KG; ++g)
            sum += red[(g * C::kRowsPadded + t) * C::kLdR + f];
        T* out = y + t * p.ldy + n0 + f;
        float v = p.alpha * sum;
        if (p.beta != 0.0f)
            v += p.beta * detail::toFloat(*out);
        *out = detail::fromFloat<T>(v);
    }
#elif defined(__CUDA_ARCH__)
    (void)p;
    __trap();  // compiled below sm_80: fail, never return garbage
#else
    (void)p;
#endif
}

// Host-side memos of what never changes for a device (its SM count, a kernel's preparation), so
// that a call costs a launch and not four more driver queries: an eagerly timed call of a 5 us
// GEMM must not be bound by its own host overhead. Devices past the memo are asked every time.
constexpr int kMemoDevices = 32;

KernelStatus multiprocessorCount(int device, int* nSms)
{
    static std::atomic<int> memo[kMemoDevices];  // 0: not asked yet
    const bool memoised = device >= 0 && device < kMemoDevices;
    if (memoised && (*nSms = memo[device].load(std::memory_order_relaxed)) > 0)
        return KernelStatus::success();
    int n = 0;
    HEARTH_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    *nSms = std::max(n, 1);
    if (memoised)
        memo[device].store(*nSms, std::memory_order_relaxed);
    return KernelStatus::success();
}

template <typename T, int MT, int FG, int FW, bool Deep>
KernelStatus launch(const SkinnyParams& p, int device, cudaStream_t stream)
{
    using C = Config<MT, FG, FW, Deep>;
    const auto kernel = skinnyGemmKernel<T, MT, FG, FW, Deep>;
    static std::atomic<std::uint32_t> prepared{0};  // bit d: done for device d (redoing it is harmless)
    const std::uint32_t bit = device >= 0 && device < kMemoDevices ? 1u << device : 0u;
    if ((prepared.load(std::memory_order_acquire) & bit) == 0) {
        // The architecture the driver picked this kernel's code for (as prefillTensorCoreCompiled
        // reads it): below sm_80 its body is a trap, which must be a refusal instead.
        cudaFuncAttributes attr{};
        HEARTH_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
        HEARTH_KERNEL_REQUIRE(attr.ptxVersion >= 80,
                              "skinnyGemm needs the kernels built for sm_80 or newer (bf16 WMMA, cp.async)");
        if (C::kSmemBytes > 48 * 1024)
            HEARTH_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, C::kSmemBytes));
        prepared.fetch_or(bit, std::memory_order_release);
    }
    const auto grid = static_cast<unsigned>((static_cast<std::int64_t>(p.n) + C::kFeatures - 1) / C::kFeatures);
    kernel<<<grid, kThreads, C::kSmemBytes, stream>>>(p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

template <typename T, int FG, int FW, bool Deep>
KernelStatus launchTokens(const SkinnyParams& p, int device, cudaStream_t stream)
{
    switch ((p.m + 15) / 16) {
    case 1: return launch<T, 1, FG, FW, Deep>(p, device, stream);
    case 2: return launch<T, 2, FG, FW, Deep>(p, device, stream);
    case 3: return launch<T, 3, FG, FW, Deep>(p, device, stream);
    default: return launch<T, 4, FG, FW, Deep>(p, device, stream);
    }
}

template <typename T, bool Deep>
KernelStatus launchTile(const SkinnyParams& p, int tileFeatures, int device, cudaStream_t stream)
{
    switch (tileFeatures) {
    case 16: return launchTokens<T, 1, 1, Deep>(p, device, stream);
    case 32: return launchTokens<T, 1, 2, Deep>(p, device, stream);
    case 64: return launchTokens<T, 2, 2, Deep>(p, device, stream);
    default: return launchTokens<T, 4, 2, Deep>(p, device, stream);
    }
}

// A grid with no more blocks than SMs leaves each block an SM of its own: it gets the deep ring
// (up to ~220 KB, one block per SM), whose extra chunks in flight make up for the SMs without one.
template <typename T>
KernelStatus launchDepth(const SkinnyParams& p, int tileFeatures, int device, int nSms, cudaStream_t stream)
{
    const std::int64_t blocks = (static_cast<std::int64_t>(p.n) + tileFeatures - 1) / tileFeatures;
    if (blocks <= nSms)
        return launchTile<T, true>(p, tileFeatures, device, stream);
    return launchTile<T, false>(p, tileFeatures, device, stream);
}

// The tile with the lowest estimated time: 1 means the weight-read floor. Shared memory moves
// 2 + MT*16/F + MT/FW bytes per weight byte, of which an SM sustains ~6 at HBM rate; SMs with
// more blocks than the average (or none at all, when there are fewer blocks than SMs) stretch
// that. Among tiles at the floor the one loading shared memory least wins; fewer blocks than SMs
// costs a little extra (fewer loads in flight, idle SMs' L1 and shared memory unused).
int autoTileFeatures(std::int64_t m, std::int64_t n, int nSms)
{
    const double mTiles = static_cast<double>((m + 15) / 16);
    int best = 16;
    double bestCost = std::numeric_limits<double>::infinity();
    for (int f : {16, 32, 64, 128}) {
        const double fw = f == 16 ? 1.0 : 2.0;
        const double smemPerWeightByte = 2.0 + mTiles * 16.0 / f + mTiles / fw;
        const std::int64_t blocks = (n + f - 1) / f;
        const double avgPerSm = static_cast<double>(blocks) / nSms;
        const double maxPerSm = static_cast<double>((blocks + nSms - 1) / nSms);
        const double smemCost = smemPerWeightByte / 6.0 * maxPerSm / avgPerSm;
        const double cost = std::max(1.0, smemCost) + 0.05 * smemCost + (blocks < nSms ? 0.1 : 0.0);
        if (cost < bestCost) {
            bestCost = cost;
            best = f;
        }
    }
    return best;
}

bool aligned(const void* p, std::uintptr_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

KernelStatus validate(const GemmArgs& a)
{
    constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
    HEARTH_KERNEL_REQUIRE(a.inType == ElemType::F16 || a.inType == ElemType::BF16, "skinnyGemm inputs must be fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.outType == a.inType, "skinnyGemm writes the input type (fp32 output: use the cuBLAS GEMM)");
    HEARTH_KERNEL_REQUIRE(a.m >= 0 && a.m <= kSkinnyGemmMaxRows, "skinnyGemm takes 0 to 64 token rows");
    HEARTH_KERNEL_REQUIRE(a.n >= 0 && a.n <= kIntMax, "skinnyGemm n out of range");
    HEARTH_KERNEL_REQUIRE(a.k >= 8 && a.k <= kIntMax - kChunkK && a.k % 8 == 0, "skinnyGemm k must be a positive multiple of 8");
    const std::int64_t ldx = a.ldx ? a.ldx : a.k;
    const std::int64_t ldw = a.ldw ? a.ldw : a.k;
    const std::int64_t ldy = a.ldy ? a.ldy : a.n;
    HEARTH_KERNEL_REQUIRE(ldx >= a.k && ldw >= a.k && ldy >= a.n, "skinnyGemm leading dimension shorter than a row");
    HEARTH_KERNEL_REQUIRE(ldx % 8 == 0 && ldw % 8 == 0, "skinnyGemm ldx and ldw must be multiples of 8 (16-byte rows)");
    if (a.m == 0 || a.n == 0)
        return KernelStatus::success();
    HEARTH_KERNEL_REQUIRE(a.x && a.w && a.y, "skinnyGemm needs x, w and y");
    HEARTH_KERNEL_REQUIRE(aligned(a.x, 16) && aligned(a.w, 16), "skinnyGemm x and w must be 16-byte aligned");
    HEARTH_KERNEL_REQUIRE(aligned(a.y, 2), "skinnyGemm y must be 2-byte aligned");
    return KernelStatus::success();
}

}  // namespace

KernelStatus skinnyGemm(const GemmArgs& a, StreamHandle stream, int tileFeatures)
{
    HEARTH_KERNEL_TRY(validate(a));
    HEARTH_KERNEL_REQUIRE(tileFeatures == 0 || tileFeatures == 16 || tileFeatures == 32 || tileFeatures == 64 ||
                              tileFeatures == 128,
                          "skinnyGemm tile must be 0 (auto), 16, 32, 64 or 128 features");
    if (a.m == 0 || a.n == 0)
        return KernelStatus::success();
    int device = 0;
    int nSms = 0;
    HEARTH_CUDA_CHECK(cudaGetDevice(&device));
    HEARTH_KERNEL_TRY(multiprocessorCount(device, &nSms));
    if (tileFeatures == 0)
        tileFeatures = autoTileFeatures(a.m, a.n, nSms);
    SkinnyParams p{};
    p.x = a.x;
    p.w = a.w;
    p.y = a.y;
    p.m = static_cast<int>(a.m);
    p.n = static_cast<int>(a.n);
    p.k = static_cast<int>(a.k);
    p.ldx = a.ldx ? a.ldx : a.k;
    p.ldw = a.ldw ? a.ldw : a.k;
    p.ldy = a.ldy ? a.ldy : a.n;
    p.alpha = a.alpha;
    p.beta = a.beta;
    const cudaStream_t s = detail::toStream(stream);
    if (a.inType == ElemType::F16)
        return launchDepth<__half>(p, tileFeatures, device, nSms, s);
    return launchDepth<__nv_bfloat16>(p, tileFeatures, device, nSms, s);
}

bool skinnyGemmSupports(const GemmArgs& a) { return validate(a).ok; }

}  // namespace hearth::kernels
