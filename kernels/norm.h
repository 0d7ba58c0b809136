// RMSNorm, plain and fused with the residual add, over rows of a token-major activation buffer.
// Per-head norm (Qwen3's q_norm / k_norm over each head of q and k) is the same op with
// nHeads > 1: each [headDim] slice of a token row is normalised with the shared [headDim] weight.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

struct RmsNormArgs {
    const void* x = nullptr;     // [nTokens, xStride]: nHeads slices of n elements from column 0
    void* residual = nullptr;    // fused only: [nTokens, n]; residual += x, then norm(residual)
    const void* weight = nullptr;// [n]
    void* out = nullptr;         // [nTokens, outStride], same slicing as x (out == x allowed)
    std::int64_t nTokens = 0;
    std::int64_t nHeads = 1;     // slices per token row; 1 for a whole-row norm
    std::int64_t n = 0;          // elements normalised together (hidden, or headDim)
    std::int64_t xStride = 0;    // elements between tokens of x; 0 means nHeads * n
    std::int64_t outStride = 0;  // elements between tokens of out; 0 means nHeads * n
    float eps = 1e-6f;
    ElemType type = ElemType::F16;  // of x, residual, weight and out: F16 or BF16
};

// out = x / sqrt(mean(x^2) + eps) * weight per slice, fp32 math.
KernelStatus rmsNorm(const RmsNormArgs& args, StreamHandle stream);
// residual = residual + x (rounded to `type`), out = rmsNorm(residual) * weight; nHeads must be 1.
KernelStatus fusedAddRmsNorm(const RmsNormArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
