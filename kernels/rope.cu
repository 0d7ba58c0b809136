// RoPE, in place on q and k.
// Shapes: grid (token, group of 4 heads), 128 threads; each block builds the token's cos/sin
// table ([headDim/2] pairs, from the fp32 angle position * invFreq[i] with full-precision
// sincosf) in shared memory and applies it to its 4 q/k heads (several blocks per token, so a
// decode step's single token is not one long walk on one SM). Each element is read and written once: memory-bound
// (q+k are ~1/4 of a layer's activations), and at decode sizes launch-bound.
#include "cuda_check.cuh"
#include "rope.h"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;

constexpr int kMaxHalf = 256;
constexpr int kHeadsPerBlock = 4;  // blocks per token = heads / 4: a decode token spreads over SMs

template <typename T>
__global__ void ropeKernel(T* q, T* k, const std::int32_t* positions, const float* invFreq, float scale,
                           int nQHeads, int nKHeads, int headDim, std::int64_t qStride, std::int64_t kStride)
{
    __shared__ float cosT[kMaxHalf];
    __shared__ float sinT[kMaxHalf];
    const std::int64_t token = blockIdx.x;
    const int half = headDim / 2;
    const auto pos = static_cast<float>(positions[token]);
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        const float angle = invFreq[i] * pos;  // fp32 product, as transformers' inv_freq @ position_ids
        float s, c;
        sincosf(angle, &s, &c);
        cosT[i] = c * scale;
        sinT[i] = s * scale;
    }
    __syncthreads();
    const int head0 = blockIdx.y * kHeadsPerBlock;
    const int nHeads = min(kHeadsPerBlock, nQHeads + nKHeads - head0);
    const int nPairs = nHeads * half;
    for (int idx = threadIdx.x; idx < nPairs; idx += blockDim.x) {
        const int head = head0 + idx / half;
        const int i = idx % half;
        T* v = head < nQHeads ? q + token * qStride + static_cast<std::int64_t>(head) * headDim
                              : k + token * kStride + static_cast<std::int64_t>(head - nQHeads) * headDim;
        const float x1 = toFloat(v[i]);
        const float x2 = toFloat(v[i + half]);
        v[i] = fromFloat<T>(x1 * cosT[i] - x2 * sinT[i]);
        v[i + half] = fromFloat<T>(x2 * cosT[i] + x1 * sinT[i]);
    }
}

template <typename T>
KernelStatus launch(const RopeArgs& a, StreamHandle stream)
{
    const std::int64_t qStride = a.qStride ? a.qStride : a.nQHeads * a.headDim;
    const std::int64_t kStride = a.kStride ? a.kStride : a.nKHeads * a.headDim;
    const std::int64_t nHeads = a.nQHeads + (a.k ? a.nKHeads : 0);
    if (nHeads == 0)
        return KernelStatus::success();
    const dim3 grid(static_cast<unsigned>(a.nTokens), static_cast<unsigned>((nHeads + kHeadsPerBlock - 1) / kHeadsPerBlock));
    ropeKernel<T><<<grid, 128, 0, detail::toStream(stream)>>>(
        static_cast<T*>(a.q), static_cast<T*>(a.k), a.positions, a.invFreq, a.attentionScale,
        static_cast<int>(a.nQHeads), static_cast<int>(a.k ? a.nKHeads : 0), static_cast<int>(a.headDim), qStride, kStride);
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
    if (a.nTokens == 0)
        return KernelStatus::success();
    return a.type == ElemType::F16 ? launch<__half>(a, stream) : launch<__nv_bfloat16>(a, stream);
}

}  // namespace hearth::kernels
