// Matrix-vector products for decode: a few token rows of x against a weight matrix stored
// [out, in] row-major (a torch Linear's layout), y = x W^T (+ bias). The hot path of decoding at
// small batch, where every weight byte is read once per step.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

// Largest number of x rows one gemv call takes; larger batches go to the GEMM.
inline constexpr std::int64_t kGemvMaxRows = 8;

struct GemvArgs {
    const void* weight = nullptr;  // [outDim, inDim]
    const void* x = nullptr;       // [nRows, xStride], first inDim columns
    const void* bias = nullptr;    // [outDim] or nullptr
    void* y = nullptr;             // [nRows, yStride], first outDim columns written
    std::int64_t nRows = 1;        // 1..kGemvMaxRows
    std::int64_t outDim = 0;
    std::int64_t inDim = 0;
    std::int64_t xStride = 0;      // 0 means inDim
    std::int64_t yStride = 0;      // 0 means outDim
    ElemType type = ElemType::F16; // of weight, x, bias and y: F16 or BF16
    // The fused gate|up projection with SiLU-and-multiply in its epilogue: weight holds 2*outDim
    // rows (gate rows, then up rows, as the engine fuses them), and y[r, o] = silu(g) * u with g and
    // u each rounded to `type` first, exactly what the plain GEMV followed by siluAndMul writes,
    // without the second kernel or the round trip of the 2*outDim-wide product. No bias.
    bool siluMul = false;
    // y in fp32 instead of `type` (the vocabulary projection's logits); not with siluMul.
    bool f32Out = false;
};

// y[r, o] = sum_i x[r, i] * weight[o, i] (+ bias[o]), fp32 accumulation, rounded once to `type`
// (or kept in fp32 with f32Out; with siluMul, see GemvArgs).
KernelStatus gemv(const GemvArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
