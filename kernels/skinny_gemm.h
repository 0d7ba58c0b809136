// A tensor-core GEMM for skinny token counts (decode with 1..64 sequences): Y = alpha * X W^T +
// beta * Y with the weights W [n, k] streamed from memory exactly once, so that it runs near the
// weight-read floor where cuBLAS's general tiles reach about half of it. A candidate next to
// GemmContext::gemm (same GemmArgs): the caller times both on the card and keeps the faster.
#pragma once

#include <cstdint>

#include "gemm.h"
#include "kernel_status.h"

namespace hearth::kernels {

// Largest m (token rows) one skinnyGemm call takes.
inline constexpr std::int64_t kSkinnyGemmMaxRows = 64;

// Y[m, n] = alpha * X[m, k] W[n, k]^T + beta * Y (args as for GemmContext::gemm), fp32
// accumulation on the tensor cores, one rounding to the output type, for 1 <= m <=
// kSkinnyGemmMaxRows (m == 0 or n == 0: success, nothing launched). Requires x and w 16-byte
// aligned, k and ldx, ldw multiples of 8, outType == inType (fp16 or bf16); y needs only element
// alignment and any ldy >= n. beta == 0 never reads y. Deterministic (no atomics: the same inputs
// give the same bits), no allocation or host synchronisation, so it can be captured in a graph.
// Refused (an error, nothing launched) where the kernels were not built for sm_80 or newer.
// `tileFeatures` forces the output features per block (16, 32, 64 or 128; 0 = chosen from m, n
// and the device's SM count): for tests and for an autotuner that wants to time the variants.
KernelStatus skinnyGemm(const GemmArgs& args, StreamHandle stream, int tileFeatures = 0);

// Whether skinnyGemm takes these arguments (the conditions above), without launching anything.
bool skinnyGemmSupports(const GemmArgs& args);

}  // namespace hearth::kernels
