// Choosing the next token on the GPU: greedy argmax, or temperature + top-k + top-p + min-p and
// one draw with a uniform random number the caller supplies per row (so the host's seeded RNG
// keeps runs repeatable and no device RNG state exists), plus raw log-probabilities (log_softmax
// of the unmodified logits) of the chosen token and the top-n. The order and meaning of the
// filters follow core's Sampler (HF generate): (x - max) / temperature, then top-k (ties with the
// k-th stay), top-p over what top-k kept (the shortest run of the ranking whose mass reaches
// top_p), then min-p (weight >= min_p times the top one's). NaN logits count as -inf, +inf as
// the largest float. Penalties and logit bias are applied to the logits before this call.
#pragma once

#include <cstdint>

#include "kernel_status.h"

namespace hearth::kernels {

// Largest top-n the kernel reports (OpenAI's top_logprobs limit).
inline constexpr int kMaxSampleTopN = 20;

struct SamplingArgs {
    const float* logits = nullptr;       // [nRows, logitsStride], first vocab columns
    std::int64_t nRows = 0;
    std::int64_t vocab = 0;
    std::int64_t logitsStride = 0;       // 0 means vocab
    const float* temperature = nullptr;  // [nRows]; 0 = greedy; nullptr = greedy for every row
    const std::int32_t* topK = nullptr;  // [nRows]; 0 = off (1 = greedy); nullptr = off
    const float* topP = nullptr;         // [nRows] in (0, 1]; 1 = off; nullptr = off
    const float* minP = nullptr;         // [nRows] in [0, 1); 0 = off; nullptr = off
    const float* uniform = nullptr;      // [nRows] in [0, 1); needed unless every row is greedy
    std::int32_t* tokens = nullptr;      // [nRows] the chosen ids
    float* logprobs = nullptr;           // [nRows] raw log-probability of the chosen id; may be nullptr
    int nTop = 0;                        // 0..kMaxSampleTopN alternatives per row
    std::int32_t* topTokens = nullptr;   // [nRows, nTop], most likely first, ties by lower id
    float* topLogprobs = nullptr;        // [nRows, nTop]
};

// The draw: the first kept id (in id order) whose running sum of weights exp((x - max) / T)
// exceeds uniform * (sum of kept weights).
KernelStatus sampleTokens(const SamplingArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
