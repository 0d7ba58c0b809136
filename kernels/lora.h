// LoRA applied unmerged for a batch in which every row (token) may use a different adapter, or
// none (Punica/S-LoRA's "shrink" and "expand"): y[t] += scale_i * B_i (A_i x[t]) with
// i = adapterIndex[t]. Adapters are passed as device arrays of device pointers, so attaching one
// is an upload and a table update, never a recompile or a base-weight change.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

// Largest LoRA rank the kernels take.
inline constexpr std::int64_t kLoraMaxRank = 256;

struct LoraArgs {
    const void* x = nullptr;                  // [nRows, xStride], first inDim columns
    void* y = nullptr;                        // [nRows, yStride], first outDim columns; accumulated into
    std::int64_t xStride = 0;                 // 0 means inDim
    std::int64_t yStride = 0;                 // 0 means outDim
    const std::int32_t* adapterIndex = nullptr;  // [nRows]; negative = no adapter for that row
    const void* const* a = nullptr;           // [nAdapters] device pointers, A_i [rank_i, inDim] (PEFT lora_A)
    const void* const* b = nullptr;           // [nAdapters] device pointers, B_i [outDim, rank_i] (PEFT lora_B)
    const std::int32_t* ranks = nullptr;      // [nAdapters] rank_i <= maxRank
    const float* scales = nullptr;            // [nAdapters] alpha/r (or alpha/sqrt r) times the user's scale
    std::int64_t nRows = 0;
    std::int64_t inDim = 0;
    std::int64_t outDim = 0;
    std::int64_t maxRank = 0;                 // >= every rank_i, <= kLoraMaxRank
    float* shrunk = nullptr;                  // [nRows, maxRank] fp32 scratch between the two steps
    ElemType type = ElemType::F16;            // of x, y, A and B: F16 or BF16
};

// shrunk[t, r] = sum_i x[t, i] * A[t's adapter][r, i] (0 for r >= rank and for rows without one).
KernelStatus loraShrink(const LoraArgs& args, StreamHandle stream);
// y[t, o] += scale * sum_r shrunk[t, r] * B[t's adapter][o, r]; rows without an adapter untouched.
KernelStatus loraExpand(const LoraArgs& args, StreamHandle stream);
// Both, in order on `stream`.
KernelStatus loraApply(const LoraArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
