// RoPE, in place on q and k, optionally also writing the rotated k and the v of each token into
// the paged KV cache (writeKv's work, one launch fewer per decode layer).
// Shapes: grid (token, group of 4 heads; the v heads after q's and k's when writing the cache),
// 128 threads; each block builds the token's cos/sin
// table ([headDim/2] pairs, from the fp32 angle position * invFreq[i] with full-precision
// sincosf) in shared memory and applies it to its 4 q/k heads (several blocks per token, so a
// decode step's single token is not one long walk on one SM). Each element is read and written once: memory-bound
// (q+k are ~1/4 of a layer's activations), and at decode sizes launch-bound.
#include "cuda_check.cuh"
#include "launch.cuh"
#include "rope.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kMaxHalf = 256;
constexpr int kHeadsPerBlock = 4;  // blocks per token = heads / 4: a decode token spreads over SMs

struct RopeParams {
    void* q;
    void* k;
    const void* v;
    const std::int32_t* positions;
    const float* invFreq;
    float scale;
    int nQHeads, nKHeads, nVHeads, headDim;  // nVHeads: 0 unless the cache is written
    std::int64_t qStride, kStride, vStride;
    const std::int32_t* slotMapping;
    void* kCache;
    void* vCache;
    std::int64_t pageStride, tokenStride, headStride, pageTokens;
};

// Heads [0, nQ) are q's, [nQ, nQ + nK) k's, then (writing the cache) nV heads of v to copy.
template <typename T>
__global__ void ropeKernel(RopeParams p)
{
    __shared__ float cosT[kMaxHalf];
    __shared__ float sinT[kMaxHalf];
    detail::pdlWait();
    detail::pdlLaunchDependents();
    const std::int64_t token = blockIdx.x;
    const int half = p.headDim / 2;
    const auto pos = static_cast<float>(p.positions[token]);
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const float angle = p.invFreq[i] * pos;  // fp32 product, as transformers' inv_freq @ position_ids
        float s, c;
        sincosf(angle, &s, &c);
        cosT[i] = c * p.scale;
        sinT[i] = s * p.scale;
    }
    __syncthreads();
    // The token's slot in the cache (when writing it): element (head, d) at cacheRow + head * headStride + d.
    std::int64_t cacheRow = -1;
    if (p.nVHeads > 0) {
        const std::int64_t slot = p.slotMapping[token];
        if (slot >= 0)
            cacheRow = (slot / p.pageTokens) * p.pageStride + (slot % p.pageTokens) * p.tokenStride;
    }
    const int head0 = blockIdx.y * kHeadsPerBlock;
    const int nHeads = min(kHeadsPerBlock, p.nQHeads + p.nKHeads + p.nVHeads - head0);
    const int nPairs = nHeads * half;
    for (int idx = threadIdx.x; idx < nPairs; idx += blockDim.x) {
        const int head = head0 + idx / half;
        const int i = idx % half;
        if (head >= p.nQHeads + p.nKHeads) {  // v: copied into the cache as it is
            const int vh = head - p.nQHeads - p.nKHeads;
            if (cacheRow >= 0) {
                const T* src = static_cast<const T*>(p.v) + token * p.vStride + static_cast<std::int64_t>(vh) * p.headDim;
                T* dst = static_cast<T*>(p.vCache) + cacheRow + vh * p.headStride;
                dst[i] = src[i];
                dst[i + half] = src[i + half];
            }
            continue;
        }
        const bool isK = head >= p.nQHeads;
        const int h = isK ? head - p.nQHeads : head;
        T* x = isK ? static_cast<T*>(p.k) + token * p.kStride + static_cast<std::int64_t>(h) * p.headDim
                   : static_cast<T*>(p.q) + token * p.qStride + static_cast<std::int64_t>(h) * p.headDim;
        const float x1 = toFloat(x[i]);
        const float x2 = toFloat(x[i + half]);
        const T r1 = fromFloat<T>(x1 * cosT[i] - x2 * sinT[i]);
        const T r2 = fromFloat<T>(x2 * cosT[i] + x1 * sinT[i]);
        x[i] = r1;
        x[i + half] = r2;
        if (isK && cacheRow >= 0) {
            T* dst = static_cast<T*>(p.kCache) + cacheRow + h * p.headStride;
            dst[i] = r1;
            dst[i + half] = r2;
        }
    }
}

template <typename T>
KernelStatus launch(const RopeArgs& a, StreamHandle stream)
{
    RopeParams p{};
    p.q = a.q;
    p.k = a.k;
    p.v = a.v;
    p.positions = a.positions;
    p.invFreq = a.invFreq;
    p.scale = a.attentionScale;
    p.nQHeads = static_cast<int>(a.nQHeads);
    p.nKHeads = static_cast<int>(a.k ? a.nKHeads : 0);
    p.nVHeads = static_cast<int>(a.writeCache ? a.nKHeads : 0);
    p.headDim = static_cast<int>(a.headDim);
    p.qStride = a.qStride ? a.qStride : a.nQHeads * a.headDim;
    p.kStride = a.kStride ? a.kStride : a.nKHeads * a.headDim;
    p.vStride = a.vStride ? a.vStride : a.nKHeads * a.headDim;
    if (a.writeCache) {
        p.slotMapping = a.slotMapping;
        p.kCache = a.cache.kCache;
        p.vCache = a.cache.vCache;
        p.pageStride = a.cache.pageStride;
        p.tokenStride = a.cache.tokenStride;
        p.headStride = a.cache.headStride;
        p.pageTokens = a.cache.pageTokens;
    }
    const int nHeads = p.nQHeads + p.nKHeads + p.nVHeads;
    if (nHeads == 0)
        return KernelStatus::success();
    const dim3 grid(static_cast<unsigned>(a.nTokens), static_cast<unsigned>((nHeads + kHeadsPerBlock - 1) / kHeadsPerBlock));
    detail::launchPdl(ropeKernel<T>, grid, 128, 0, detail::toStream(stream), p);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace

KernelStatus applyRope(const RopeArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.type == ElemType::F16 || a.type == ElemType::BF16, "RoPE takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.headDim > 0 && a.headDim % 2 == 0 && a.headDim / 2 <= kMaxHalf,
                          "head_dim must be even and at most 512");
    HEARTH_KERNEL_REQUIRE(a.nTokens >= 0 && a.nTokens < (std::int64_t{1} << 31), "token count out of range");
    HEARTH_KERNEL_REQUIRE(a.nQHeads >= 0 && a.nKHeads >= 0 && a.nQHeads + a.nKHeads < 4096, "head counts out of range");
    HEARTH_KERNEL_REQUIRE(a.qStride == 0 || a.qStride >= a.nQHeads * a.headDim, "q stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.kStride == 0 || a.kStride >= a.nKHeads * a.headDim, "k stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.positions && a.invFreq && (a.q || a.nQHeads == 0), "RoPE needs positions, inv_freq and q");
    if (a.writeCache) {
        HEARTH_KERNEL_TRY(checkPagedKv(a.cache));
        HEARTH_KERNEL_REQUIRE(a.k && a.v && a.slotMapping, "writing the KV cache needs k, v and a slot mapping");
        HEARTH_KERNEL_REQUIRE(a.cache.type == a.type, "the KV cache must have the type of q and k");
        HEARTH_KERNEL_REQUIRE(a.nKHeads == a.cache.nKvHeads && a.headDim == a.cache.headDim,
                              "k's heads must have the KV cache's shape");
        HEARTH_KERNEL_REQUIRE(a.vStride == 0 || a.vStride >= a.nKHeads * a.headDim, "v stride shorter than a row");
    }
    if (a.nTokens == 0)
        return KernelStatus::success();
    return a.type == ElemType::F16 ? launch<__half>(a, stream) : launch<__nv_bfloat16>(a, stream);
}

}  // namespace hearth::kernels
