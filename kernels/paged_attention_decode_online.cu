// decodeOnlineKernel of the decode attention (see paged_attention_decode.cu for the design):
// blocks of 1-2 query heads, one walk over the partition with an online softmax.
#include "launch.cuh"
#include "paged_attention_decode.cuh"

namespace hearth::kernels::decode {
namespace {

// The same attention for blocks of at most KG (small) query heads, in one walk with an online
// softmax: q and the accumulators are few registers, so each step loads its tokens' K and V
// rows together and the block waits on memory about once per step instead of once per K step
// and once per V step. Each half-warp keeps its own running max, sum and output; the block
// merges them at the end.
template <typename T, int HD, bool Vec, int kWarps, int KG>
__global__ void __launch_bounds__(kWarps * 32, 1) decodeOnlineKernel(DecodeParams p)
{
    detail::pdlWait();  // nothing before it: q, the cache and the tables come from earlier kernels
    detail::pdlLaunchDependents();
    constexpr int kThreads = kWarps * 32;
    constexpr int kHalves = 2 * kWarps;
    constexpr int kWarpStep = 2 * kSteps;
    __shared__ std::int64_t rowOff[kMaxPartition];
    __shared__ float outS[kHalves][KG][HD];
    __shared__ float maxS[kHalves][KG];
    __shared__ float sumS[kHalves][KG];

    const Place at = placeOf<HD>(p);
    const int g = at.g, warp = at.warp, sub = at.sub, half = at.half;
    const bool active = at.active;

    float qr[KG][8];
    const int n = beginPartition<T, HD, KG, kThreads>(p, at, rowOff, qr);
    if (n <= 0)
        return;

    const T* kHead = static_cast<const T*>(p.kCache) + at.kvHead * p.headStride + sub * 8;
    const T* vHead = static_cast<const T*>(p.vCache) + at.kvHead * p.headStride + sub * 8;
    float m[KG], l[KG], acc[KG][8];
#pragma unroll
    for (int r = 0; r < KG; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i)
            acc[r][i] = 0.0f;
    }
    // Warp-uniform steps, as in decodeKernel; tokens past n score -inf and weigh 0.
    for (int base = warp * kWarpStep; base < n; base += kWarps * kWarpStep) {
        const int t0 = base + half * kSteps;
        uint4 kRaw[kSteps], vRaw[kSteps];
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            const bool load = active && t0 + u < n;
            kRaw[u] = load ? loadRaw8<Vec>(kHead + rowOff[t0 + u]) : make_uint4(0u, 0u, 0u, 0u);
            vRaw[u] = load ? loadRaw8<Vec>(vHead + rowOff[t0 + u]) : make_uint4(0u, 0u, 0u, 0u);
        }
        float sc[KG][kSteps];
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            float kf[8];
            unpack8<T>(kRaw[u], kf);
#pragma unroll
            for (int r = 0; r < KG; ++r) {
                const float d = halfWarpDot(kf, qr[r]);
                sc[r][u] = t0 + u < n ? d : -INFINITY;
            }
        }
#pragma unroll
        for (int r = 0; r < KG; ++r) {
            float mNew = m[r];
#pragma unroll
            for (int u = 0; u < kSteps; ++u)
                mNew = fmaxf(mNew, sc[r][u]);
            // mNew is -inf only while this half-warp has seen no token: nothing to rescale yet.
            const float corr = mNew == -INFINITY ? 1.0f : __expf(m[r] - mNew);
            m[r] = mNew;
            l[r] *= corr;
#pragma unroll
            for (int i = 0; i < 8; ++i)
                acc[r][i] *= corr;
        }
#pragma unroll
        for (int u = 0; u < kSteps; ++u) {
            if (t0 + u < n) {
                float vf[8];
                unpack8<T>(vRaw[u], vf);
#pragma unroll
                for (int r = 0; r < KG; ++r) {
                    const float w = __expf(sc[r][u] - m[r]);
                    l[r] += w;
#pragma unroll
                    for (int i = 0; i < 8; ++i)
                        acc[r][i] = fmaf(w, vf[i], acc[r][i]);
                }
            }
        }
    }
    const int hw = warp * 2 + half;
    if (active) {
#pragma unroll
        for (int r = 0; r < KG; ++r)
#pragma unroll
            for (int i = 0; i < 8; ++i)
                outS[hw][r][sub * 8 + i] = acc[r][i];
    }
    if (sub == 0) {
#pragma unroll
        for (int r = 0; r < KG; ++r) {
            maxS[hw][r] = m[r];
            sumS[hw][r] = l[r];
        }
    }
    __syncthreads();

    // Half-warps that saw no token have max -inf and weigh 0; n >= 1 makes the overall max finite.
    for (int idx = threadIdx.x; idx < g * HD; idx += kThreads) {
        const int r = idx / HD;
        const int d = idx % HD;
        float mAll = -INFINITY;
#pragma unroll
        for (int h = 0; h < kHalves; ++h)
            mAll = fmaxf(mAll, maxS[h][r]);
        float sum = 0.0f, o = 0.0f;
#pragma unroll
        for (int h = 0; h < kHalves; ++h) {
            const float w = maxS[h][r] == -INFINITY ? 0.0f : __expf(maxS[h][r] - mAll);
            sum = fmaf(w, sumS[h][r], sum);
            o = fmaf(w, outS[h][r][d], o);
        }
        storeResult<T, HD>(p, at, r, d, o / sum, mAll, sum);
    }
}

template <typename T, int HD, int kWarps>
void launchOnlineFor(const DecodeParams& p, bool vec, const dim3& grid, cudaStream_t stream)
{
    if (vec)
        detail::launchPdl(decodeOnlineKernel<T, HD, true, kWarps, kSmallGroup>, grid, kWarps * 32, 0, stream, p);
    else
        detail::launchPdl(decodeOnlineKernel<T, HD, false, kWarps, kSmallGroup>, grid, kWarps * 32, 0, stream, p);
}

template <typename T, int kWarps>
void launchOnlineWarps(const DecodeParams& p, int headDim, bool vec, const dim3& grid, cudaStream_t stream)
{
    switch (headDim) {
    case 64: return launchOnlineFor<T, 64, kWarps>(p, vec, grid, stream);
    case 80: return launchOnlineFor<T, 80, kWarps>(p, vec, grid, stream);
    case 96: return launchOnlineFor<T, 96, kWarps>(p, vec, grid, stream);
    default: return launchOnlineFor<T, 128, kWarps>(p, vec, grid, stream);
    }
}

template <typename T>
void launchOnlineTyped(const DecodeParams& p, int headDim, bool direct, bool vec, const dim3& grid, cudaStream_t stream)
{
    if (direct)
        launchOnlineWarps<T, kDirectWarps>(p, headDim, vec, grid, stream);
    else
        launchOnlineWarps<T, kSplitWarps>(p, headDim, vec, grid, stream);
}

}  // namespace

void launchOnline(const DecodeParams& p, ElemType type, int headDim, bool direct, bool vec, const dim3& grid,
                  cudaStream_t stream)
{
    if (type == ElemType::F16)
        launchOnlineTyped<__half>(p, headDim, direct, vec, grid, stream);
    else
        launchOnlineTyped<__nv_bfloat16>(p, headDim, direct, vec, grid, stream);
}

}  // namespace hearth::kernels::decode
