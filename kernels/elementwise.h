// Embedding gather, fp16 <-> bf16 conversion and bias add: the small memory-bound ops around
// the projections. Pointers are device pointers; shapes in comments use [rows, cols] row-major.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

struct EmbeddingArgs {
    const std::int32_t* ids = nullptr;  // [nTokens]
    const void* table = nullptr;        // [vocab, hidden], `type`
    void* out = nullptr;                // [nTokens, hidden], `type`
    std::int64_t nTokens = 0;
    std::int64_t vocab = 0;
    std::int64_t hidden = 0;
    ElemType type = ElemType::F16;      // F16 or BF16
};
// out[t, :] = table[ids[t], :]; an id outside [0, vocab) gives a zero row (the engine checks ids
// on the host; the kernel only refuses to read out of bounds).
KernelStatus embeddingGather(const EmbeddingArgs& args, StreamHandle stream);

// out[i] = fp16(in[i]) for bf16 input, saturating: finite values beyond +-65504 become +-65504
// (bf16's range is fp32's), inf stays inf, NaN stays NaN. Round to nearest even.
KernelStatus convertBf16ToF16(const void* in, void* out, std::int64_t n, StreamHandle stream);
// out[i] = bf16(in[i]) for fp16 input (always in range; round to nearest even).
KernelStatus convertF16ToBf16(const void* in, void* out, std::int64_t n, StreamHandle stream);

// x[r, c] += bias[c] for x [nRows, rowStride] (the first nCols columns), fp32 math.
KernelStatus addBias(void* x, const void* bias, std::int64_t nRows, std::int64_t nCols, std::int64_t rowStride,
                     ElemType type, StreamHandle stream);

}  // namespace hearth::kernels
