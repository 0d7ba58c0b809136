// The CPU backend's fp32 building blocks. Weights are read as stored (F32/F16/BF16) and widened
// to fp32 a row at a time right before use, so no fp32 copy of a model ever exists. Every output
// element is computed by the same code whatever the batch: a row's result does not depend on which
// other rows share the call, which makes batched and single runs bit-identical.
#pragma once

#include <cstdint>
#include <span>

#include "engine/model_weights.h"
#include "engine/rope.h"

namespace hearth {

class ThreadPool;

namespace cpu {

float bf16ToFloat(std::uint16_t bits);
float halfToFloat(std::uint16_t bits);  // IEEE binary16, subnormals, inf and NaN included

// Widens elements [first, first + n) of `t` (flattened) into `out`.
void widen(const WeightTensor& t, std::int64_t first, std::int64_t n, float* out);

// sum a[i] * b[i] with a fixed summation order (16 lanes, then a fixed tree).
float dot(const float* a, const float* b, std::int64_t n);

// out = x / sqrt(mean(x^2) + eps) * weight, for `nRows` rows of `n` (in place allowed).
void rmsNorm(const float* x, const WeightTensor& weight, double eps, std::int64_t nRows, std::int64_t n, float* out);

// One projection of a matmulMany call: out[r, o] = dot(W[o, :], x[r, :]) (+ bias[o]).
struct MatmulJob {
    const WeightTensor* weight = nullptr;  // [outDim, inDim]
    const WeightTensor* bias = nullptr;    // [outDim] or nullptr
    float* out = nullptr;                  // [nRows, outDim]
};
// Runs projections that share the input x [nRows, inDim] as one parallel pass over all their
// output rows (the CPU's stand-in for fusing q/k/v or gate/up): each weight row is widened once
// and used for every input row, so weights are read once per call whatever nRows is.
void matmulMany(ThreadPool& pool, const float* x, std::int64_t nRows, std::span<const MatmulJob> jobs);
void matmul(ThreadPool& pool, const float* x, std::int64_t nRows, const WeightTensor& weight,
            const WeightTensor* bias, float* out);

// cos/sin tables [headDim/2] for one position: cos(pos * invFreq) * attentionScale, likewise sin.
void ropeTables(const RopeFrequencies& freqs, std::int64_t position, float* cosOut, float* sinOut);
// Rotates x [nHeads, headDim] in place, halves layout (transformers' rotate_half).
void applyRope(float* x, std::int64_t nHeads, std::int64_t headDim, const float* cosTable, const float* sinTable);

// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, std::int64_t n, float* out);

// Causal attention of one query head over positions [0, nContext) of a paged cache.
struct PagedAttentionArgs {
    const float* q = nullptr;         // [headDim], already rotated
    float* out = nullptr;             // [headDim]
    const float* kBase = nullptr;     // K of this layer and kv head in page 0, slot 0
    const float* vBase = nullptr;     // V likewise
    const std::int32_t* pages = nullptr;
    std::int64_t pageStride = 0;      // floats between consecutive pages
    std::int64_t slotStride = 0;      // floats between consecutive slots in a page
    std::int64_t pageTokens = 16;
    std::int64_t nContext = 0;
    std::int64_t headDim = 0;
    float scale = 1.0f;               // 1/sqrt(headDim)
};
// `scores` is scratch of at least nContext floats.
void pagedAttention(const PagedAttentionArgs& args, float* scores);

}  // namespace cpu
}  // namespace hearth
