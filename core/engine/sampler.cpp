// The sampler: HF generate()'s logits processors and warpers on one row of logits, then a
// seeded draw. Every step is O(vocab) (expected, for the top-k and top-p selections); nothing
// sorts the whole vocabulary.
#include "engine/sampler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

namespace hearth {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::string formatFloat(float value) {
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, res.ptr);
}

Error badParam(const std::string& what) { return makeError(ErrorCode::InvalidArgument, what); }

// splitmix64's output function: a bijective mix, used to step the generator and to spread seeds.
std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Bias and penalties on the model's logits in the order HF generate() and vLLM agree on:
// logit_bias (HF SequenceBiasLogitsProcessor, vLLM's logit bias processor), HF's
// RepetitionPenaltyLogitsProcessor over prompt and output, then OpenAI's frequency and presence
// penalties over the generated tokens (vLLM's apply_penalties), and afterwards
// NaN -> -inf and +inf -> the largest float, so that later comparisons form a total order.
void applyPenalties(const SamplingParams& p, const TokenCounts& counts, std::span<float> logits) {
    const auto n = static_cast<std::int64_t>(logits.size());
    auto inRange = [n](std::int32_t id) { return id >= 0 && id < n; };
    for (const auto& [id, bias] : p.logitBias) {
        if (inRange(id)) logits[static_cast<std::size_t>(id)] += bias;
    }
    if (p.repetitionPenalty != 1.0f) {
        for (const auto& [id, c] : counts.seen) {
            if (!inRange(id) || c <= 0) continue;
            float& x = logits[static_cast<std::size_t>(id)];
            x = x < 0.0f ? x * p.repetitionPenalty : x / p.repetitionPenalty;
        }
    }
    if (p.presencePenalty != 0.0f || p.frequencyPenalty != 0.0f) {
        for (const auto& [id, c] : counts.generated) {
            if (!inRange(id) || c <= 0) continue;
            float& x = logits[static_cast<std::size_t>(id)];
            x -= p.frequencyPenalty * static_cast<float>(c);
            x -= p.presencePenalty;
        }
    }
    for (float& x : logits) {
        if (std::isnan(x)) x = -kInf;
        else if (x == kInf) x = std::numeric_limits<float>::max();
    }
}

// Lowest id among the largest values.
std::size_t argmax(std::span<const float> values) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < values.size(); ++i) {
        if (values[i] > values[best]) best = i;
    }
    return best;
}

// The last token top-p keeps: the lowest-ranked one whose higher-ranked tokens weigh less than
// `massNeeded` (weights exp(logit)). A quickselect that splits by mass instead of by count:
// expected O(n), where sorting the ranking would be O(n log n) on every token.
template <typename Higher>
std::int32_t topPBoundary(std::span<const float> logits, std::vector<std::int32_t>& ids, double massNeeded,
                          const Higher& higher) {
    auto weight = [&](std::int32_t id) { return std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)])); };
    auto at = [&](std::size_t i) { return ids.begin() + static_cast<std::ptrdiff_t>(i); };
    // Invariant: ids[0, lo) are kept and weigh `above` < massNeeded, so ids' best in [lo, hi) is kept.
    std::size_t lo = 0;
    std::size_t hi = ids.size();
    double above = 0.0;
    for (int round = 0;; ++round) {
        if (hi - lo <= 32 || round > 64) {  // small, or splitting badly: finish by sorting
            std::sort(at(lo), at(hi), higher);
            std::int32_t last = ids[lo];
            for (std::size_t i = lo; i < hi && (i == lo || above < massNeeded); ++i) {
                last = ids[i];
                above += weight(ids[i]);
            }
            return last;
        }
        std::int32_t a = ids[lo], b = ids[lo + (hi - lo) / 2], c = ids[hi - 1];
        if (higher(b, a)) std::swap(a, b);
        if (higher(c, b)) std::swap(b, c);
        if (higher(b, a)) std::swap(a, b);
        const std::int32_t pivot = b;  // median of three
        const auto split = std::partition(at(lo), at(hi), [&](std::int32_t id) { return higher(id, pivot); });
        double higherMass = 0.0;
        for (auto it = at(lo); it != split; ++it) higherMass += weight(*it);
        const auto s = static_cast<std::size_t>(split - ids.begin());
        if (above + higherMass >= massNeeded) {
            hi = s;  // the pivot is out; the boundary is among the higher ones (s > lo by the invariant)
            continue;
        }
        above += higherMass + weight(pivot);  // everything higher and the pivot stay
        if (above >= massNeeded) return pivot;
        std::iter_swap(split, std::find(split, at(hi), pivot));
        lo = s + 1;
        if (lo == hi) return pivot;
    }
}

// Temperature, top-k, top-p and min-p on penalized, sanitized `logits`. Leaves the kept ids in
// `order` in id order, so that the draw walks them the same way on every run and standard
// library, and their logits shifted and scaled: (x - max) / temperature.
// Logits of ids not in `order` are left unspecified.
void selectCandidates(const SamplingParams& p, std::span<float> logits, std::vector<std::int32_t>& order,
                      std::vector<std::int32_t>& spare) {
    order.clear();
    if (logits.empty()) return;
    const std::size_t best = argmax(logits);
    const float maxLogit = logits[best];
    if (p.isGreedy() || maxLogit == -kInf) {
        // Nothing finite to sample from either: fall back to the argmax, token 0 if all are -inf.
        logits[best] = 0.0f;
        order.push_back(static_cast<std::int32_t>(best));
        return;
    }
    // Shifting by the max first is softmax-invariant and keeps tiny temperatures from overflowing.
    for (std::size_t i = 0; i < logits.size(); ++i) {
        float& x = logits[i];
        if (x == -kInf) continue;
        x = (x - maxLogit) / p.temperature;
        if (x != -kInf) order.push_back(static_cast<std::int32_t>(i));
    }
    // Higher logit first, lower id first among equals (as greedy): a strict total order, so every
    // selection below has one answer whatever the standard library's algorithms do.
    auto higher = [&logits](std::int32_t a, std::int32_t b) {
        const float la = logits[static_cast<std::size_t>(a)];
        const float lb = logits[static_cast<std::size_t>(b)];
        return la > lb || (la == lb && a < b);
    };

    // HF TopKLogitsWarper: drop everything below the k-th largest value (ties with it stay).
    if (p.topK > 0 && static_cast<std::size_t>(p.topK) < order.size()) {
        spare.assign(order.begin(), order.end());
        const auto kth = spare.begin() + (p.topK - 1);
        std::nth_element(spare.begin(), kth, spare.end(), higher);
        const float threshold = logits[static_cast<std::size_t>(*kth)];
        std::erase_if(order, [&](std::int32_t id) { return logits[static_cast<std::size_t>(id)] < threshold; });
    }

    // HF TopPLogitsWarper: keep the shortest run of the ranking whose probability mass reaches
    // top_p, i.e. each token whose mass strictly above it is below top_p (HF: whose ascending
    // cumulative sum exceeds 1 - top_p); the top token always stays. Ties at the boundary are
    // unspecified in HF (torch.sort is not stable); here the lower id ranks first, as everywhere.
    if (p.topP < 1.0f && order.size() > 1) {
        double total = 0.0;
        for (std::int32_t id : order) total += std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)]));
        spare.assign(order.begin(), order.end());
        const std::int32_t last = topPBoundary(logits, spare, static_cast<double>(p.topP) * total, higher);
        std::erase_if(order, [&](std::int32_t id) { return id != last && !higher(id, last); });
    }

    // HF MinPLogitsWarper: drop tokens whose probability is below min_p times the top one's.
    // The top token's shifted logit is 0, so the ratio is exp(logit).
    if (p.minP > 0.0f) {
        const double minRatio = p.minP;
        std::erase_if(order, [&](std::int32_t id) {
            return std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)])) < minRatio;
        });
    }
}

SamplingParams clampParams(SamplingParams p) {
    auto clampOr = [](float v, float lo, float hi, float ifNan) { return std::isnan(v) ? ifNan : std::clamp(v, lo, hi); };
    p.temperature = clampOr(p.temperature, 0.0f, 100.0f, 1.0f);
    p.topK = std::max(p.topK, 0);
    p.topP = clampOr(p.topP, std::numeric_limits<float>::min(), 1.0f, 1.0f);
    p.minP = clampOr(p.minP, 0.0f, 1.0f, 0.0f);
    if (!(p.repetitionPenalty > 0.0f) || !std::isfinite(p.repetitionPenalty)) p.repetitionPenalty = 1.0f;
    p.presencePenalty = clampOr(p.presencePenalty, -2.0f, 2.0f, 0.0f);
    p.frequencyPenalty = clampOr(p.frequencyPenalty, -2.0f, 2.0f, 0.0f);
    for (auto& [id, bias] : p.logitBias) bias = clampOr(bias, -100.0f, 100.0f, 0.0f);
    p.topLogprobs = std::clamp(p.topLogprobs, 0, kMaxTopLogprobs);
    return p;
}

}  // namespace

Status validateSamplingParams(const SamplingParams& p, std::int64_t vocabSize) {
    if (vocabSize <= 0) return badParam("vocabulary size must be positive, got " + std::to_string(vocabSize));
    if (!(p.temperature >= 0.0f && p.temperature <= 100.0f))
        return badParam("temperature must be in [0, 100], got " + formatFloat(p.temperature));
    if (p.topK < 0) return badParam("top_k must be >= 0 (0 turns it off), got " + std::to_string(p.topK));
    if (!(p.topP > 0.0f && p.topP <= 1.0f)) return badParam("top_p must be in (0, 1], got " + formatFloat(p.topP));
    if (!(p.minP >= 0.0f && p.minP < 1.0f)) return badParam("min_p must be in [0, 1), got " + formatFloat(p.minP));
    if (!(p.repetitionPenalty > 0.0f && std::isfinite(p.repetitionPenalty)))
        return badParam("repetition_penalty must be a finite number > 0, got " + formatFloat(p.repetitionPenalty));
    if (!(p.presencePenalty >= -2.0f && p.presencePenalty <= 2.0f))
        return badParam("presence_penalty must be in [-2, 2], got " + formatFloat(p.presencePenalty));
    if (!(p.frequencyPenalty >= -2.0f && p.frequencyPenalty <= 2.0f))
        return badParam("frequency_penalty must be in [-2, 2], got " + formatFloat(p.frequencyPenalty));
    // Report the lowest offending id so the message does not depend on hash-map order.
    std::optional<std::pair<std::int32_t, float>> badId;
    std::optional<std::pair<std::int32_t, float>> badValue;
    for (const auto& [id, bias] : p.logitBias) {
        if ((id < 0 || id >= vocabSize) && (!badId || id < badId->first)) badId = {id, bias};
        if (!(bias >= -100.0f && bias <= 100.0f) && (!badValue || id < badValue->first)) badValue = {id, bias};
    }
    if (badId)
        return badParam("logit_bias token " + std::to_string(badId->first) + " is outside the vocabulary [0, " +
                        std::to_string(vocabSize) + ")");
    if (badValue)
        return badParam("logit_bias for token " + std::to_string(badValue->first) + " must be in [-100, 100], got " +
                        formatFloat(badValue->second));
    if (p.topLogprobs < 0 || p.topLogprobs > kMaxTopLogprobs)
        return badParam("top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "], got " +
                        std::to_string(p.topLogprobs));
    return Status::ok();
}

void processLogits(const SamplingParams& params, const TokenCounts& counts, std::span<float> logits) {
    const SamplingParams p = clampParams(params);
    applyPenalties(p, counts, logits);
    std::vector<std::int32_t> order;
    std::vector<std::int32_t> spare;
    selectCandidates(p, logits, order, spare);
    std::vector<float> kept(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) kept[i] = logits[static_cast<std::size_t>(order[i])];
    std::fill(logits.begin(), logits.end(), -kInf);
    for (std::size_t i = 0; i < order.size(); ++i) logits[static_cast<std::size_t>(order[i])] = kept[i];
}

Sampler::Sampler(SamplingParams params, std::int64_t vocabSize)
    : m_params(clampParams(std::move(params))), m_vocabSize(std::max<std::int64_t>(vocabSize, 0)) {
    m_seed = m_params.seed ? *m_params.seed : (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
    // Mixing the seed first means nearby seeds (0, 1, 2, ...) start far apart in the sequence.
    m_rngState = mix64(m_seed);
}

Result<Sampler> Sampler::create(SamplingParams params, std::int64_t vocabSize) {
    HEARTH_TRY_STATUS(validateSamplingParams(params, vocabSize));
    return Sampler(std::move(params), vocabSize);
}

void Sampler::observePrompt(std::span<const std::int32_t> tokens) {
    for (std::int32_t t : tokens) count(t, false);
}

void Sampler::observeGenerated(std::int32_t token) { count(token, true); }

void Sampler::count(std::int32_t token, bool generated) {
    ++m_counts.seen[token];
    if (generated) ++m_counts.generated[token];
}

// splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, passes BigCrush, identical everywhere.
std::uint64_t Sampler::nextRandom() {
    m_rngState += 0x9e3779b97f4a7c15ULL;
    return mix64(m_rngState);
}

SampledToken Sampler::sample(std::span<float> logits) {
    SampledToken out;
    if (logits.empty()) {
        out.logprob = -kInf;
        return out;
    }
    const std::size_t n = logits.size();

    // Raw log-probabilities of the model's own distribution (see the header).
    m_raw.assign(logits.begin(), logits.end());
    for (float& x : m_raw) {
        if (std::isnan(x)) x = -kInf;
        else if (x == kInf) x = std::numeric_limits<float>::max();
    }
    const float rawMax = m_raw[argmax(m_raw)];
    double logSumExp = -static_cast<double>(kInf);
    if (rawMax != -kInf) {
        double sum = 0.0;
        for (float x : m_raw) sum += std::exp(static_cast<double>(x) - rawMax);
        logSumExp = rawMax + std::log(sum);
    }
    auto rawLogprob = [&](std::size_t id) {
        return rawMax == -kInf ? -kInf : static_cast<float>(static_cast<double>(m_raw[id]) - logSumExp);
    };
    if (m_params.topLogprobs > 0) {
        const auto nTop = std::min<std::size_t>(static_cast<std::size_t>(m_params.topLogprobs), n);
        m_spare.resize(n);
        std::iota(m_spare.begin(), m_spare.end(), 0);
        std::partial_sort(m_spare.begin(), m_spare.begin() + static_cast<std::ptrdiff_t>(nTop), m_spare.end(),
                          [this](std::int32_t a, std::int32_t b) {
                              const float la = m_raw[static_cast<std::size_t>(a)];
                              const float lb = m_raw[static_cast<std::size_t>(b)];
                              return la > lb || (la == lb && a < b);
                          });
        out.top.reserve(nTop);
        for (std::size_t i = 0; i < nTop; ++i) {
            const auto id = static_cast<std::size_t>(m_spare[i]);
            out.top.push_back({static_cast<std::int32_t>(id), rawLogprob(id)});
        }
    }

    applyPenalties(m_params, m_counts, logits);
    selectCandidates(m_params, logits, m_order, m_spare);

    std::int32_t chosen = m_order.front();
    if (m_order.size() > 1) {
        double total = 0.0;
        for (std::int32_t id : m_order) total += std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)]));
        // 53 random bits -> a uniform double in [0, 1).
        const double u = static_cast<double>(nextRandom() >> 11) * 0x1.0p-53;
        const double target = u * total;
        double cumulative = 0.0;
        for (std::int32_t id : m_order) {
            const double w = std::exp(static_cast<double>(logits[static_cast<std::size_t>(id)]));
            if (w <= 0.0) continue;
            chosen = id;  // also the fallback when rounding leaves target at the very end
            cumulative += w;
            if (target < cumulative) break;
        }
    }
    out.token = chosen;
    out.logprob = rawLogprob(static_cast<std::size_t>(chosen));
    count(chosen, true);
    return out;
}

}  // namespace hearth
