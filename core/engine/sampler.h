// Turning one row of logits into the next token: greedy, temperature, top-k, top-p, min-p,
// repetition / presence / frequency penalties, logit bias, a seed that makes runs repeatable,
// and the top-n log-probabilities of the model's distribution.
// The order of operations follows Hugging Face generate() (and vLLM, which agrees): logit bias,
// repetition penalty, frequency and presence penalties on the raw logits, then temperature,
// then top-k, top-p and min-p filtering, then one draw from the softmax of what is left.
// Reported log-probabilities are "raw" (vLLM's default logprobs mode): log_softmax of the logits
// the model produced, before penalties, bias, temperature and filtering, so they describe the
// model and match `hearth-cli score`, whatever sampling settings picked the token.
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
    std::optional<std::uint64_t> seed;  // same seed and logits, same tokens; none = random (see Sampler)
    std::int32_t topLogprobs = 0;       // how many alternatives to report, 0..20

    bool isGreedy() const { return temperature == 0.0f || topK == 1; }
};

// Largest accepted topLogprobs (OpenAI's limit).
inline constexpr std::int32_t kMaxTopLogprobs = 20;

// Checks ranges (NaN, negative temperature, top_p outside (0, 1], ...) against `vocabSize`;
// the message names the parameter as the OpenAI API spells it and says what is allowed.
Status validateSamplingParams(const SamplingParams& params, std::int64_t vocabSize);

struct TokenLogprob {
    std::int32_t token = 0;
    float logprob = 0.0f;
};

struct SampledToken {
    std::int32_t token = 0;
    float logprob = 0.0f;               // of the chosen token, raw: log_softmax of the model's logits
    std::vector<TokenLogprob> top;      // topLogprobs alternatives (raw), most likely first, ties by id
};

// What the penalties look at: every token of prompt and output (repetition penalty, as HF does)
// and the generated tokens alone with their counts (presence / frequency, as OpenAI and vLLM do).
struct TokenCounts {
    std::unordered_map<std::int32_t, std::int32_t> seen;       // prompt + generated
    std::unordered_map<std::int32_t, std::int32_t> generated;  // generated only
};

// The sampler's whole processing of one row, in place: bias, penalties, temperature, top-k,
// top-p, min-p. Kept tokens end up with logits whose softmax is the distribution the sampler
// draws from (shifted so the largest is 0, which softmax ignores); removed tokens are -inf.
// Greedy params keep only the argmax. Exposed so tests can compare with transformers' warpers.
void processLogits(const SamplingParams& params, const TokenCounts& counts, std::span<float> logits);

// What Sampler::sample returns for params that are greedy with no penalty, no logit bias and no
// top logprobs (and what it counts): the lowest id among the largest logits, NaN counting as
// -inf and +inf as the largest float, with its raw log-probability computed exactly as sample()
// does. For backends that pick greedy tokens themselves (SequenceStep::argmaxOnly); `scratch`
// is working memory kept by the caller so that a call does not allocate.
SampledToken greedyToken(std::span<const float> logits, std::vector<float>& scratch);

namespace detail {
// Working memory of one sampling step, kept by the Sampler so that a step does not allocate.
struct SamplerScratch {
    std::vector<float> raw;             // [vocab] the model's logits, for the raw logprobs
    std::vector<std::int32_t> order;    // candidate ids, in id order
    std::vector<std::int32_t> spare;    // the ids of one bucket (top-k, top-p boundary)
    std::vector<float> weights;         // [vocab] exp(processed logit), valid for candidates
    std::vector<double> buckets;        // per-bucket count (top-k) or mass (top-p)
};
}  // namespace detail

// One sampler per sequence: it owns the random state and the token counts for the penalties.
// Randomness is splitmix64 seeded with mix64(seed), one draw per non-greedy token (greedy draws
// none), and the arithmetic is plain IEEE float/double in a fixed order, so the same seed and
// logits give the same tokens on every machine and standard library. (A build that fuses
// multiply-adds, e.g. -march=native with FMA, can round the weights differently in the last bit.)
// Sampling costs O(vocab) per token: selections, never a sort of the whole vocabulary.
class Sampler {
public:
    // `params` should have passed validateSamplingParams; values outside their ranges are
    // clamped into them so that nothing undefined happens.
    Sampler(SamplingParams params, std::int64_t vocabSize);

    // Validates `params` first: the form for callers holding user input.
    static Result<Sampler> create(SamplingParams params, std::int64_t vocabSize);

    // Counts `tokens` for the penalties (the prompt, for repetition penalty as HF does).
    void observePrompt(std::span<const std::int32_t> tokens);
    // Counts a token the sequence produced without sample() (forced or replayed output).
    void observeGenerated(std::int32_t token);
    // Picks the next token from `logits` [vocabSize] and counts it. `logits` is used as scratch.
    SampledToken sample(std::span<float> logits);

    const SamplingParams& params() const { return m_params; }
    std::int64_t vocabSize() const { return m_vocabSize; }
    // The seed in use: params().seed, or the one drawn from std::random_device.
    std::uint64_t seed() const { return m_seed; }
    const TokenCounts& counts() const { return m_counts; }

private:
    void count(std::int32_t token, bool generated);
    std::uint64_t nextRandom();

    SamplingParams m_params;
    std::int64_t m_vocabSize = 0;
    std::uint64_t m_seed = 0;
    std::uint64_t m_rngState = 0;
    TokenCounts m_counts;
    detail::SamplerScratch m_scratch;
};

}  // namespace hearth
