// SiLU(gate) * up.
// Shapes: gateUp [nTokens, 2*inter] -> out [nTokens, inter]; a grid-stride loop over output
// element pairs (4-byte accesses) when inter is even, single elements otherwise. Reads 4 bytes
// and writes 2 per output element: memory-bound.
#include "activation.h"
#include "cuda_check.cuh"
#include "launch.cuh"

namespace hearth::kernels {
namespace {

using detail::fromFloat;
using detail::silu;
using detail::toFloat;

template <typename T, bool Pairs>
__global__ void siluAndMulKernel(const T* gateUp, T* out, std::int64_t nTokens, std::int64_t inter)
{
    detail::pdlWait();
    detail::pdlLaunchDependents();
    const std::int64_t perRow = Pairs ? inter / 2 : inter;
    const std::int64_t total = nTokens * perRow;
    const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
    for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
        const std::int64_t t = idx / perRow;
        const std::int64_t j = idx % perRow;
        const T* row = gateUp + t * 2 * inter;
        if (Pairs) {
            const float2 g = detail::loadPair(row + 2 * j);
            const float2 u = detail::loadPair(row + inter + 2 * j);
            detail::storePair(out + t * inter + 2 * j, silu(g.x) * u.x, silu(g.y) * u.y);
        } else {
            out[t * inter + j] = fromFloat<T>(silu(toFloat(row[j])) * toFloat(row[inter + j]));
        }
    }
}

template <typename T>
KernelStatus launch(const void* gateUp, void* out, std::int64_t nTokens, std::int64_t inter, StreamHandle stream)
{
    const bool pairs = inter % 2 == 0 && (reinterpret_cast<std::uintptr_t>(gateUp) & 3u) == 0 &&
                       (reinterpret_cast<std::uintptr_t>(out) & 3u) == 0;
    const std::int64_t work = nTokens * (pairs ? inter / 2 : inter);
    const std::int64_t blocks = (work + 255) / 256;
    const auto grid = static_cast<unsigned>(blocks < 65536 ? blocks : 65536);
    if (pairs)
        detail::launchPdl(siluAndMulKernel<T, true>, grid, 256, 0, detail::toStream(stream), static_cast<const T*>(gateUp),
                          static_cast<T*>(out), nTokens, inter);
    else
        detail::launchPdl(siluAndMulKernel<T, false>, grid, 256, 0, detail::toStream(stream), static_cast<const T*>(gateUp),
                          static_cast<T*>(out), nTokens, inter);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace

KernelStatus siluAndMul(const void* gateUp, void* out, std::int64_t nTokens, std::int64_t inter, ElemType type,
                        StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(type == ElemType::F16 || type == ElemType::BF16, "SiLU-and-mul takes fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(nTokens >= 0 && inter >= 0, "SiLU-and-mul shape must not be negative");
    if (nTokens == 0 || inter == 0)
        return KernelStatus::success();
    return type == ElemType::F16 ? launch<__half>(gateUp, out, nTokens, inter, stream)
                                 : launch<__nv_bfloat16>(gateUp, out, nTokens, inter, stream);
}

}  // namespace hearth::kernels
