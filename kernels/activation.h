// SiLU-and-multiply for the MLP: the fused gate/up projection writes [gate | up] per token row.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

// out[t, i] = silu(gateUp[t, i]) * gateUp[t, inter + i], fp32 math.
// gateUp: [nTokens, 2 * inter]; out: [nTokens, inter]; F16 or BF16.
KernelStatus siluAndMul(const void* gateUp, void* out, std::int64_t nTokens, std::int64_t inter, ElemType type,
                        StreamHandle stream);

}  // namespace hearth::kernels
