// Element type conversion for the weight loader: F32, F16 or BF16 in, F16 or BF16 out, on the
// device behind the upload of the raw bytes. Pointers are device pointers.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

// out[i] = outType(in[i]) for n elements, round to nearest even. To fp16, finite values beyond
// +-65504 saturate to +-65504 (the host loader's rule: a bf16 or fp32 weight of 1e5 is better
// served by the largest half than by infinity); inf stays inf, NaN stays NaN. `in` must be
// aligned to its element size, `out` to 2 bytes. inType == outType is refused (copy instead).
KernelStatus convertForLoad(const void* in, ElemType inType, void* out, ElemType outType, std::int64_t n,
                            StreamHandle stream);

}  // namespace hearth::kernels
