// Turning one row of logits into the next token: greedy, temperature, top-k, top-p, min-p,
// repetition / presence / frequency penalties, logit bias, a seed that makes runs repeatable,
// and the top-n log-probabilities of the distribution the token was drawn from.
// The order of operations follows Hugging Face generate(): penalties and bias on the raw logits,
// then temperature, then top-k, top-p and min-p filtering, then the draw.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "util/result.h"

namespace hearth {

struct SamplingParams {
    float temperature = 1.0f;         // 0 = greedy
    std::int32_t topK = 0;            // 0 = off
    float topP = 1.0f;                // in (0, 1]; 1 = off
    float minP = 0.0f;                // in [0, 1); 0 = off
    float repetitionPenalty = 1.0f;   // > 0; 1 = off (HF: divide positive logits, multiply negative)
    float presencePenalty = 0.0f;     // OpenAI: subtract once per token that occurred, in [-2, 2]
    float frequencyPenalty = 0.0f;    // OpenAI: subtract count * penalty, in [-2, 2]
    std::unordered_map<std::int32_t, float> logitBias;  // added to the raw logits
    std::optional<std::uint64_t> seed;  // same seed, same tokens; none = random
    std::int32_t topLogprobs = 0;       // how many alternatives to report, 0..20

    bool isGreedy() const { return temperature == 0.0f || topK == 1; }
};

// Checks ranges (NaN, negative temperature, top_p outside (0, 1], ...) against `vocabSize`;
// the message names the parameter and says what is allowed.
Status validateSamplingParams(const SamplingParams& params, std::int64_t vocabSize);

struct TokenLogprob {
    std::int32_t token = 0;
    float logprob = 0.0f;
};

struct SampledToken {
    std::int32_t token = 0;
    float logprob = 0.0f;               // of the chosen token, under log_softmax of the processed logits
    std::vector<TokenLogprob> top;      // topLogprobs alternatives, most likely first
};

// One sampler per sequence: it owns the random state and the token counts for the penalties.
class Sampler {
public:
    Sampler(SamplingParams params, std::int64_t vocabSize);

    // Counts `tokens` for the penalties (the prompt, for repetition penalty as HF does).
    void observePrompt(std::span<const std::int32_t> tokens);
    // Picks the next token from `logits` [vocabSize] and counts it. `logits` is used as scratch.
    SampledToken sample(std::span<float> logits);

    const SamplingParams& params() const { return m_params; }

private:
    void count(std::int32_t token, bool generated);

    SamplingParams m_params;
    std::int64_t m_vocabSize = 0;
    std::uint64_t m_rngState = 0;
    std::unordered_map<std::int32_t, std::int32_t> m_promptOrGenerated;  // repetition penalty set
    std::unordered_map<std::int32_t, std::int32_t> m_generatedCounts;    // presence/frequency
    std::vector<std::int32_t> m_order;  // scratch: candidate ids
};

}  // namespace hearth
