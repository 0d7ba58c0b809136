// K/V cache write (slot mapping).
// Shapes: one 128-thread block per token; threads copy element pairs (4-byte accesses) of all
// kv heads of K and of V into the token's slot. Reads and writes 2 * nKvHeads * headDim elements
// per token once: memory-bound, and tiny next to the projections that produced k and v.
#include "cuda_check.cuh"
#include "launch.cuh"
#include "kv_write.h"

namespace hearth::kernels {
namespace {

template <typename T>
__global__ void kvWriteKernel(const T* k, const T* v, std::int64_t kStride, std::int64_t vStride,
                              const std::int32_t* slotMapping, T* kCache, T* vCache, std::int64_t pageStride,
                              std::int64_t tokenStride, std::int64_t headStride, std::int64_t pageTokens, int nKvHeads,
                              int headDim)
{
    detail::pdlWait();
    detail::pdlLaunchDependents();
    const std::int64_t t = blockIdx.x;
    const std::int64_t slot = slotMapping[t];
    if (slot < 0)
        return;
    const std::int64_t base = (slot / pageTokens) * pageStride + (slot % pageTokens) * tokenStride;
    const int half = headDim / 2;
    const int nPairs = nKvHeads * half;
    for (int idx = threadIdx.x; idx < nPairs; idx += blockDim.x) {
        const int head = idx / half;
        const int d = 2 * (idx % half);
        const std::int64_t dst = base + head * headStride + d;
        const std::int64_t src = static_cast<std::int64_t>(head) * headDim + d;
        const float2 kv = detail::loadPair(k + t * kStride + src);
        const float2 vv = detail::loadPair(v + t * vStride + src);
        detail::storePair(kCache + dst, kv.x, kv.y);
        detail::storePair(vCache + dst, vv.x, vv.y);
    }
}

template <typename T>
void launch(const KvWriteArgs& a, cudaStream_t stream)
{
    const PagedKv& c = a.cache;
    const std::int64_t kStride = a.kStride ? a.kStride : c.nKvHeads * c.headDim;
    const std::int64_t vStride = a.vStride ? a.vStride : c.nKvHeads * c.headDim;
    detail::launchPdl(kvWriteKernel<T>, static_cast<unsigned>(a.nTokens), 128, 0, stream, static_cast<const T*>(a.k),
                      static_cast<const T*>(a.v), kStride, vStride, a.slotMapping, static_cast<T*>(c.kCache),
                      static_cast<T*>(c.vCache), c.pageStride, c.tokenStride, c.headStride, c.pageTokens,
                      static_cast<int>(c.nKvHeads), static_cast<int>(c.headDim));
}

}  // namespace

KernelStatus checkPagedKv(const PagedKv& c)
{
    HEARTH_KERNEL_REQUIRE(c.type == ElemType::F16 || c.type == ElemType::BF16, "the KV cache must be fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(c.kCache && c.vCache, "the KV cache needs K and V pointers");
    HEARTH_KERNEL_REQUIRE(c.pageTokens >= 1 && c.nKvHeads >= 1 && c.headDim >= 2, "KV cache shape must be positive");
    HEARTH_KERNEL_REQUIRE(c.headDim % 2 == 0 && c.pageStride % 2 == 0 && c.tokenStride % 2 == 0 && c.headStride % 2 == 0,
                          "head_dim and KV strides must be even (the kernels move element pairs)");
    HEARTH_KERNEL_REQUIRE((reinterpret_cast<std::uintptr_t>(c.kCache) & 3u) == 0 &&
                              (reinterpret_cast<std::uintptr_t>(c.vCache) & 3u) == 0,
                          "KV cache pointers must be 4-byte aligned");
    HEARTH_KERNEL_REQUIRE(c.nKvHeads * c.headDim < (std::int64_t{1} << 30), "KV row too large");
    return KernelStatus::success();
}

KernelStatus writeKv(const KvWriteArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_TRY(checkPagedKv(a.cache));
    const std::int64_t row = a.cache.nKvHeads * a.cache.headDim;
    HEARTH_KERNEL_REQUIRE(a.nTokens >= 0 && a.nTokens < (std::int64_t{1} << 31), "token count out of range");
    HEARTH_KERNEL_REQUIRE((a.kStride == 0 || a.kStride >= row) && (a.vStride == 0 || a.vStride >= row),
                          "k/v stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.kStride % 2 == 0 && a.vStride % 2 == 0, "k/v strides must be even");
    HEARTH_KERNEL_REQUIRE((reinterpret_cast<std::uintptr_t>(a.k) & 3u) == 0 && (reinterpret_cast<std::uintptr_t>(a.v) & 3u) == 0,
                          "k and v must be 4-byte aligned");
    HEARTH_KERNEL_REQUIRE(a.k && a.v && a.slotMapping, "writeKv needs k, v and a slot mapping");
    if (a.nTokens == 0)
        return KernelStatus::success();
    if (a.cache.type == ElemType::F16)
        launch<__half>(a, detail::toStream(stream));
    else
        launch<__nv_bfloat16>(a, detail::toStream(stream));
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace hearth::kernels
