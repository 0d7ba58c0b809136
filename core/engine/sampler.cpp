// The sampler: HF generate()'s logits processors and warpers on one row of logits, then a
// seeded draw. Every step is O(vocab); nothing sorts the whole vocabulary.
#include "engine/sampler.h"

#include <algorithm>
#include <bit>
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

// NaN ranks below everything and +inf becomes the largest float, so that comparisons form a
// total order and max-shifting never computes inf - inf.
float sanitized(float x) {
    const float y = x == x ? x : -kInf;
    return y < std::numeric_limits<float>::max() ? y : std::numeric_limits<float>::max();
}

// exp(x) for x <= 0 in plain float arithmetic, so that loops over the vocabulary vectorize
// (std::exp is one library call per element, the largest cost of a step otherwise): Cody-Waite
// reduction by ln 2 and Cephes' expf polynomial, about 1 ulp from exp. exp(0) is exactly 1;
// below -87 (subnormal results) and for -inf the answer is 0.
// The selects go through integer masks: written as float ternaries, GCC keeps them as branches
// and the loops stay scalar.
float expNonPositive(float x) {
    const std::int32_t keep = -static_cast<std::int32_t>(x >= -87.0f);  // all ones, or zero for tiny/-inf/NaN
    x = std::bit_cast<float>((std::bit_cast<std::int32_t>(x) & keep) | (std::bit_cast<std::int32_t>(-87.0f) & ~keep));
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x / ln 2)
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float poly = 1.9875691500e-4f;
    poly = poly * r + 1.3981999507e-3f;
    poly = poly * r + 8.3334519073e-3f;
    poly = poly * r + 4.1665795894e-2f;
    poly = poly * r + 1.6666665459e-1f;
    poly = poly * r + 5.0000001201e-1f;
    poly = poly * (r * r) + r + 1.0f;
    const float scale = std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);  // 2^n, n in [-126, 0]
    return std::bit_cast<float>(std::bit_cast<std::int32_t>(poly * scale) & keep);
}

// Sum in double with four interleaved accumulators: a fixed order (the same result everywhere)
// without one long chain of dependent additions.
template <typename Get>
double sumInFixedOrder(std::size_t n, const Get& get) {
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (std::size_t j = 0; j < 4; ++j) acc[j] += get(i + j);
    }
    for (; i < n; ++i) acc[0] += get(i);
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

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
    for (float& x : logits) x = sanitized(x);
}

// The largest value, NaN counting as -inf; -inf when there is none. The reduction runs on
// integer keys that order like the floats, which vectorizes (a float max reduction does not,
// for NaN and signed-zero rules).
float maxSanitized(std::span<const float> values) {
    auto key = [](std::int32_t bits) { return bits ^ ((bits >> 31) & 0x7fffffff); };  // its own inverse
    std::int32_t best = key(std::bit_cast<std::int32_t>(-kInf));
    for (float x : values) best = std::max(best, key(std::bit_cast<std::int32_t>(sanitized(x))));
    return std::bit_cast<float>(key(best));
}

// Sum of exp(x - shift) over `values` (shift >= every value), NaN counting as -inf; `exps`
// is scratch of the same size.
double sumExpBelow(std::span<const float> values, float shift, std::vector<float>& exps) {
    exps.resize(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) exps[i] = expNonPositive(sanitized(values[i]) - shift);
    return sumInFixedOrder(exps.size(), [&](std::size_t i) { return static_cast<double>(exps[i]); });
}

// Lowest id among the largest values.
std::size_t argmax(std::span<const float> values) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < values.size(); ++i) {
        if (values[i] > values[best]) best = i;
    }
    return best;
}

// Buckets of shifted logits s <= 0, 1/32 wide: bucket j holds s in (-(j+1)/32, -j/32], the last
// one everything lower. A lower bucket means strictly higher logits, so top-k and top-p can find
// the bucket their boundary lies in from per-bucket counts or mass in one pass, and order only
// the few ids inside it: O(vocab) per token with predictable branches, where a sort or a
// quickselect over 150k ids costs milliseconds of mispredictions.
constexpr int kBucketsPerUnit = 32;
constexpr std::size_t kBuckets = 48 * kBucketsPerUnit + 1;

std::size_t bucketOf(float shifted) {
    const float b = -shifted * kBucketsPerUnit;  // exact: a power of two
    return b < static_cast<float>(kBuckets - 1) ? static_cast<std::size_t>(b) : kBuckets - 1;
}

// The ids of `order` in bucket `b`, into `out`.
void collectBucket(std::span<const float> logits, const std::vector<std::int32_t>& order, std::size_t b,
                   std::vector<std::int32_t>& out) {
    out.clear();
    for (std::int32_t id : order) {
        if (bucketOf(logits[static_cast<std::size_t>(id)]) == b) out.push_back(id);
    }
}

// Temperature, top-k, top-p and min-p on penalized, sanitized `logits`. Leaves the kept ids in
// `order` in id order, so that the draw walks them the same way on every run and standard
// library, their logits shifted and scaled: (x - max) / temperature, and their softmax weights
// exp(logit) in `weights` (by id; computed once, used by top-p, min-p and the draw).
// Logits and weights of ids not in `order` are left unspecified.
void selectCandidates(const SamplingParams& p, std::span<float> logits, detail::SamplerScratch& scratch) {
    std::vector<std::int32_t>& order = scratch.order;
    std::vector<std::int32_t>& spare = scratch.spare;
    std::vector<float>& weights = scratch.weights;
    std::vector<double>& buckets = scratch.buckets;
    order.clear();
    if (logits.empty()) return;
    weights.resize(logits.size());
    const std::size_t best = argmax(logits);
    const float maxLogit = logits[best];
    if (p.isGreedy() || maxLogit == -kInf) {
        // Nothing finite to sample from either: fall back to the argmax, token 0 if all are -inf.
        logits[best] = 0.0f;
        weights[best] = 1.0f;
        order.push_back(static_cast<std::int32_t>(best));
        return;
    }
    // Shifting by the max first is softmax-invariant and keeps tiny temperatures from overflowing
    // (-inf stays -inf). Then every id still finite is a candidate.
    for (float& x : logits) x = (x - maxLogit) / p.temperature;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] != -kInf) order.push_back(static_cast<std::int32_t>(i));
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
        buckets.assign(kBuckets, 0.0);
        for (std::int32_t id : order) buckets[bucketOf(logits[static_cast<std::size_t>(id)])] += 1.0;
        auto rank = static_cast<double>(p.topK);  // 1-based rank of the k-th within its bucket
        std::size_t b = 0;
        while (rank > buckets[b]) rank -= buckets[b++];
        collectBucket(logits, order, b, spare);
        const auto kth = spare.begin() + static_cast<std::ptrdiff_t>(rank) - 1;
        std::nth_element(spare.begin(), kth, spare.end(), higher);
        const float threshold = logits[static_cast<std::size_t>(*kth)];
        std::erase_if(order, [&](std::int32_t id) { return logits[static_cast<std::size_t>(id)] < threshold; });
    }

    // Over the whole row, which vectorizes; ids that are not candidates are -inf and weigh 0.
    // After a top-k only those few matter.
    if (order.size() * 8 < logits.size()) {
        for (std::int32_t id : order) weights[static_cast<std::size_t>(id)] = expNonPositive(logits[static_cast<std::size_t>(id)]);
    } else {
        for (std::size_t i = 0; i < logits.size(); ++i) weights[i] = expNonPositive(logits[i]);
    }

    // HF TopPLogitsWarper: keep the shortest run of the ranking whose probability mass reaches
    // top_p, i.e. each token whose mass strictly above it is below top_p (HF: whose ascending
    // cumulative sum exceeds 1 - top_p); the top token always stays. Ties at the boundary are
    // unspecified in HF (torch.sort is not stable); here the lower id ranks first, as everywhere.
    if (p.topP < 1.0f && order.size() > 1) {
        buckets.assign(kBuckets, 0.0);
        for (std::int32_t id : order) {
            const auto i = static_cast<std::size_t>(id);
            buckets[bucketOf(logits[i])] += weights[i];
        }
        double total = 0.0;
        for (double mass : buckets) total += mass;
        const double needed = static_cast<double>(p.topP) * total;
        // Whole buckets while they stay below the mass needed; `above` < needed keeps the
        // boundary bucket's best id, so the walk below always keeps at least one.
        double above = 0.0;
        std::size_t b = 0;
        while (b + 1 < kBuckets && above + buckets[b] < needed) above += buckets[b++];
        collectBucket(logits, order, b, spare);
        if (spare.empty()) return;  // unreachable: the partial sums above end at `total`
        std::sort(spare.begin(), spare.end(), higher);
        std::int32_t last = spare.front();
        for (std::size_t i = 0; i < spare.size() && (i == 0 || above < needed); ++i) {
            last = spare[i];
            above += weights[static_cast<std::size_t>(last)];
        }
        std::erase_if(order, [&](std::int32_t id) { return id != last && !higher(id, last); });
    }

    // HF MinPLogitsWarper: drop tokens whose probability is below min_p times the top one's.
    // The top token's shifted logit is 0, so the ratio is its weight exp(logit).
    if (p.minP > 0.0f) {
        std::erase_if(order, [&](std::int32_t id) { return weights[static_cast<std::size_t>(id)] < p.minP; });
    }
}

// One draw from the candidates `ids` (in id order) with probabilities proportional to
// `weights[id]`, from 64 random bits: a uniform double u in [0, 1) from the top 53, then the first
// id whose running sum passes u * total. Sums go by blocks of 64 ids, summed the same way for the
// total and the walk, so the walk skips whole blocks and always ends inside the total.
std::int32_t draw(const std::vector<std::int32_t>& ids, std::span<const float> weights, std::uint64_t bits) {
    constexpr std::size_t kBlock = 64;
    auto blockSum = [&](std::size_t begin) {
        const std::size_t n = std::min(kBlock, ids.size() - begin);
        return sumInFixedOrder(n, [&](std::size_t j) { return static_cast<double>(weights[static_cast<std::size_t>(ids[begin + j])]); });
    };
    double total = 0.0;
    for (std::size_t b = 0; b < ids.size(); b += kBlock) total += blockSum(b);
    const double target = static_cast<double>(bits >> 11) * 0x1.0p-53 * total;
    double cumulative = 0.0;
    std::size_t begin = 0;
    for (; begin + kBlock < ids.size(); begin += kBlock) {
        const double next = cumulative + blockSum(begin);
        if (target < next) break;
        cumulative = next;
    }
    std::int32_t chosen = ids[begin];
    for (std::size_t i = begin; i < ids.size(); ++i) {
        const float w = weights[static_cast<std::size_t>(ids[i])];
        if (w <= 0.0f) continue;
        chosen = ids[i];  // also the answer when rounding leaves the target at the very end
        cumulative += w;
        if (target < cumulative) break;
    }
    return chosen;
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
    detail::SamplerScratch scratch;
    selectCandidates(p, logits, scratch);
    const std::vector<std::int32_t>& order = scratch.order;
    std::vector<float> kept(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) kept[i] = logits[static_cast<std::size_t>(order[i])];
    std::fill(logits.begin(), logits.end(), -kInf);
    for (std::size_t i = 0; i < order.size(); ++i) logits[static_cast<std::size_t>(order[i])] = kept[i];
}

SampledToken greedyToken(std::span<const float> logits, std::vector<float>& scratch) {
    SampledToken out;
    if (logits.empty()) {
        out.logprob = -kInf;
        return out;
    }
    // sample() sanitizes the row (applyPenalties) before its argmax; comparing sanitized values
    // here picks the same id without writing to the row.
    std::size_t best = 0;
    float bestValue = sanitized(logits[0]);
    for (std::size_t i = 1; i < logits.size(); ++i) {
        const float x = sanitized(logits[i]);
        if (x > bestValue) {
            bestValue = x;
            best = i;
        }
    }
    const float rawMax = maxSanitized(logits);
    out.token = static_cast<std::int32_t>(best);
    if (rawMax == -kInf) {
        out.logprob = -kInf;
        return out;
    }
    const double logSumExp = rawMax + std::log(sumExpBelow(logits, rawMax, scratch));
    out.logprob = static_cast<float>(static_cast<double>(bestValue) - logSumExp);
    return out;
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

    // Raw log-probabilities of the model's own distribution (see the header), read before the
    // penalties touch the row; the copy keeps the chosen token's raw logit for afterwards.
    m_scratch.raw.assign(logits.begin(), logits.end());
    const float rawMax = maxSanitized(m_scratch.raw);
    const double logSumExp = rawMax == -kInf ? -static_cast<double>(kInf)
                                             : rawMax + std::log(sumExpBelow(m_scratch.raw, rawMax, m_scratch.weights));
    auto rawLogprob = [&](std::size_t id) {
        return rawMax == -kInf ? -kInf : static_cast<float>(static_cast<double>(sanitized(m_scratch.raw[id])) - logSumExp);
    };
    if (m_params.topLogprobs > 0) {
        // One pass keeping the best few in order: nearly every logit is rejected by one compare.
        const auto nTop = std::min<std::size_t>(static_cast<std::size_t>(m_params.topLogprobs), n);
        auto better = [this](std::size_t a, std::size_t b) {
            const float la = sanitized(m_scratch.raw[a]);
            const float lb = sanitized(m_scratch.raw[b]);
            return la > lb || (la == lb && a < b);
        };
        std::vector<std::size_t> best;
        best.reserve(nTop + 1);
        for (std::size_t i = 0; i < n; ++i) {
            if (best.size() == nTop && !better(i, best.back())) continue;
            best.insert(std::upper_bound(best.begin(), best.end(), i, better), i);
            if (best.size() > nTop) best.pop_back();
        }
        out.top.reserve(nTop);
        for (std::size_t id : best) out.top.push_back({static_cast<std::int32_t>(id), rawLogprob(id)});
    }

    applyPenalties(m_params, m_counts, logits);
    selectCandidates(m_params, logits, m_scratch);

    std::int32_t chosen = m_scratch.order.front();
    if (m_scratch.order.size() > 1) chosen = draw(m_scratch.order, m_scratch.weights, nextRandom());
    out.token = chosen;
    out.logprob = rawLogprob(static_cast<std::size_t>(chosen));
    count(chosen, true);
    return out;
}

}  // namespace hearth
