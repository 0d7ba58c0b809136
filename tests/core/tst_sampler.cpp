// The sampler against independent references: transformers' own logits processors and warpers
// (tests/fixtures/sampler/goldens.json, written by tests/reference/make_sampler_goldens.py) for
// the processed distribution and its kept set, an independent Python splitmix64 draw for the
// seeded token sequences, hand-computed penalties, empirical frequencies of many draws, and
// log-probabilities recomputed here in double precision.
#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "engine/sampler.h"
#include "util/mapped_file.h"

using namespace hearth;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

nlohmann::json loadGoldens()
{
    auto text = readTextFile(std::string(HEARTH_FIXTURES_DIR) + "/sampler/goldens.json");
    if (!text)
        return {};
    return nlohmann::json::parse(*text, nullptr, false);
}

SamplingParams paramsFromJson(const nlohmann::json& c)
{
    SamplingParams p;
    const nlohmann::json& j = c["params"];
    p.temperature = j.value("temperature", 1.0f);
    p.topK = j.value("top_k", 0);
    p.topP = j.value("top_p", 1.0f);
    p.minP = j.value("min_p", 0.0f);
    p.repetitionPenalty = j.value("repetition_penalty", 1.0f);
    p.presencePenalty = j.value("presence_penalty", 0.0f);
    p.frequencyPenalty = j.value("frequency_penalty", 0.0f);
    for (const auto& [id, bias] : c["logit_bias"].items())
        p.logitBias[std::stoi(id)] = bias.get<float>();
    return p;
}

TokenCounts countsFromJson(const nlohmann::json& c)
{
    TokenCounts counts;
    for (std::int32_t t : c["prompt"].get<std::vector<std::int32_t>>())
        ++counts.seen[t];
    for (std::int32_t t : c["generated"].get<std::vector<std::int32_t>>()) {
        ++counts.seen[t];
        ++counts.generated[t];
    }
    return counts;
}

// A sampler in the state the golden case describes: prompt observed, output already generated.
Sampler samplerFor(const nlohmann::json& c, std::uint64_t seed)
{
    SamplingParams p = paramsFromJson(c);
    p.seed = seed;
    Sampler s(p, c["vocab"].get<std::int64_t>());
    const auto prompt = c["prompt"].get<std::vector<std::int32_t>>();
    s.observePrompt(prompt);
    for (std::int32_t t : c["generated"].get<std::vector<std::int32_t>>())
        s.observeGenerated(t);
    return s;
}

std::vector<double> softmax(const std::vector<float>& logits)
{
    double maxLogit = -kInf;
    for (float x : logits)
        maxLogit = std::max(maxLogit, static_cast<double>(x));
    std::vector<double> p(logits.size(), 0.0);
    double total = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
        p[i] = logits[i] == -kInf ? 0.0 : std::exp(logits[i] - maxLogit);
        total += p[i];
    }
    for (double& x : p)
        x /= total;
    return p;
}

std::vector<double> logSoftmax(const std::vector<float>& logits)
{
    double maxLogit = -kInf;
    for (float x : logits)
        maxLogit = std::max(maxLogit, static_cast<double>(x));
    double total = 0.0;
    for (float x : logits)
        total += std::exp(x - maxLogit);
    std::vector<double> out(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i)
        out[i] = logits[i] - maxLogit - std::log(total);
    return out;
}

std::vector<float> randomRow(std::size_t n, std::uint32_t seed, float scale = 3.0f)
{
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> row(n);
    for (float& x : row)
        x = dist(gen);
    return row;
}

std::size_t lowestArgmax(const std::vector<float>& row)
{
    return static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// The warpers written the slow, obvious way (HF's definitions on a fully sorted row, ties by lower
// id), as a second reference for rows transformers was not run on: wide spreads, huge top-k.
std::vector<bool> naiveKept(std::vector<float> row, const SamplingParams& p)
{
    const std::size_t n = row.size();
    const double maxLogit = *std::max_element(row.begin(), row.end());
    std::vector<double> s(n);
    for (std::size_t i = 0; i < n; ++i)
        s[i] = (row[i] - maxLogit) / p.temperature;
    std::vector<std::size_t> ranked(n);
    std::iota(ranked.begin(), ranked.end(), 0);
    std::sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
    std::vector<bool> kept(n, true);
    if (p.topK > 0 && static_cast<std::size_t>(p.topK) < n) {
        const double kth = s[ranked[static_cast<std::size_t>(p.topK) - 1]];
        for (std::size_t i = 0; i < n; ++i)
            kept[i] = s[i] >= kth;
    }
    if (p.topP < 1.0f) {
        double total = 0.0;
        for (std::size_t i = 0; i < n; ++i)
            total += kept[i] ? std::exp(s[i]) : 0.0;
        double above = 0.0;
        for (std::size_t r = 0; r < n; ++r) {
            const std::size_t id = ranked[r];
            if (!kept[id])
                continue;
            if (r > 0 && above >= p.topP * total)
                kept[id] = false;
            above += std::exp(s[id]);
        }
    }
    if (p.minP > 0.0f) {
        for (std::size_t i = 0; i < n; ++i)
            kept[i] = kept[i] && std::exp(s[i]) >= p.minP;
    }
    return kept;
}

}  // namespace

class TestSampler : public QObject {
    Q_OBJECT

private:
    nlohmann::json m_goldens;

    void addGoldenRows(bool smallOnly)
    {
        QTest::addColumn<int>("index");
        const auto& cases = m_goldens["cases"];
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const std::int64_t vocab = cases[i]["vocab"].get<std::int64_t>();
            if (smallOnly && (vocab < 7 || vocab > 83))
                continue;
            QTest::newRow(cases[i]["name"].get<std::string>().c_str()) << static_cast<int>(i);
        }
    }

    std::vector<float> goldenLogits(const nlohmann::json& c) const
    {
        return m_goldens["logits"][std::to_string(c["vocab"].get<int>())].get<std::vector<float>>();
    }

private slots:
    void initTestCase()
    {
        m_goldens = loadGoldens();
        QVERIFY2(m_goldens.is_object() && m_goldens.contains("cases") && m_goldens.contains("seeded"),
                 "tests/fixtures/sampler/goldens.json is missing or malformed");
    }

    // processLogits keeps exactly the ids transformers keeps, with the same probabilities.
    void matchesTransformers_data() { addGoldenRows(false); }
    void matchesTransformers()
    {
        QFETCH(int, index);
        const nlohmann::json& c = m_goldens["cases"][static_cast<std::size_t>(index)];
        const SamplingParams params = paramsFromJson(c);
        QVERIFY2(validateSamplingParams(params, c["vocab"].get<std::int64_t>()).isOk(), "golden params must be valid");
        std::vector<float> logits = goldenLogits(c);
        processLogits(params, countsFromJson(c), logits);

        std::vector<std::int32_t> kept;
        for (std::size_t i = 0; i < logits.size(); ++i) {
            QVERIFY2(!std::isnan(logits[i]), "processed logits hold NaN");
            if (logits[i] != -kInf)
                kept.push_back(static_cast<std::int32_t>(i));
        }
        const auto expectedKept = c["kept"].get<std::vector<std::int32_t>>();
        QCOMPARE(kept, expectedKept);

        const std::vector<double> probs = softmax(logits);
        const auto expectedProbs = c["probs"].get<std::vector<double>>();
        for (std::size_t i = 0; i < kept.size(); ++i) {
            const double got = probs[static_cast<std::size_t>(kept[i])];
            if (std::abs(got - expectedProbs[i]) > 1e-6)
                QFAIL(qPrintable(QStringLiteral("p[%1] = %2, transformers %3")
                                     .arg(kept[i]).arg(got, 0, 'g', 9).arg(expectedProbs[i], 0, 'g', 9)));
        }
    }

    // The sampler's own path (its counts, its candidate lists) draws only kept ids, with the
    // frequencies transformers' distribution gives: 20k draws, each from a fresh seed.
    void drawsFollowTransformers_data() { addGoldenRows(true); }
    void drawsFollowTransformers()
    {
        QFETCH(int, index);
        const nlohmann::json& c = m_goldens["cases"][static_cast<std::size_t>(index)];
        const std::vector<float> row = goldenLogits(c);
        const auto kept = c["kept"].get<std::vector<std::int32_t>>();
        const auto probs = c["probs"].get<std::vector<double>>();
        std::vector<double> expected(row.size(), 0.0);
        for (std::size_t i = 0; i < kept.size(); ++i)
            expected[static_cast<std::size_t>(kept[i])] = probs[i];

        constexpr int kDraws = 20000;
        std::vector<int> hits(row.size(), 0);
        for (int d = 0; d < kDraws; ++d) {
            Sampler s = samplerFor(c, 1000003ULL * static_cast<std::uint64_t>(d) + 17);
            std::vector<float> logits = row;
            const SampledToken t = s.sample(logits);
            QVERIFY(t.token >= 0 && static_cast<std::size_t>(t.token) < row.size());
            if (expected[static_cast<std::size_t>(t.token)] == 0.0)
                QFAIL(qPrintable(QStringLiteral("drew %1, which transformers removes").arg(t.token)));
            ++hits[static_cast<std::size_t>(t.token)];
        }
        double maxDiff = 0.0;
        for (std::size_t i = 0; i < row.size(); ++i)
            maxDiff = std::max(maxDiff, std::abs(hits[i] / double(kDraws) - expected[i]));
        QVERIFY2(maxDiff < 0.01, qPrintable(QStringLiteral("max |frequency - p| = %1").arg(maxDiff)));
    }

    // Awkward shapes for the bucketed selections: spreads so wide that most ids fall in the
    // last bucket, one crowded bucket, top-k far beyond the candidates, top-p near 1.
    void matchesNaiveReference_data()
    {
        QTest::addColumn<int>("vocab");
        QTest::addColumn<float>("spread");
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("topK");
        QTest::addColumn<float>("topP");
        QTest::addColumn<float>("minP");
        QTest::addRow("wide top_p 0.9999") << 5125 << 40.0f << 1.0f << 0 << 0.9999f << 0.0f;
        QTest::addRow("wide top_k 3000") << 5125 << 40.0f << 1.0f << 3000 << 1.0f << 0.0f;
        QTest::addRow("wide top_k 5124") << 5125 << 40.0f << 1.0f << 5124 << 1.0f << 0.0f;
        QTest::addRow("crowded top_p 0.5") << 20000 << 0.01f << 1.0f << 0 << 0.5f << 0.0f;
        QTest::addRow("crowded top_k 777") << 20000 << 0.01f << 1.0f << 777 << 1.0f << 0.0f;
        QTest::addRow("flat top_p 0.3") << 769 << 0.0f << 1.0f << 0 << 0.3f << 0.0f;
        QTest::addRow("flat top_k 5") << 769 << 0.0f << 1.0f << 5 << 1.0f << 0.0f;
        QTest::addRow("cold k p min") << 5125 << 3.0f << 0.2f << 100 << 0.97f << 0.001f;
        QTest::addRow("hot k p min") << 5125 << 3.0f << 20.0f << 4000 << 0.6f << 0.2f;
        QTest::addRow("qwen-sized top_p 0.95") << 151936 << 2.5f << 0.7f << 0 << 0.95f << 0.0f;
        QTest::addRow("qwen-sized top_k 50") << 151936 << 2.5f << 1.0f << 50 << 1.0f << 0.0f;
    }
    void matchesNaiveReference()
    {
        QFETCH(int, vocab);
        QFETCH(float, spread);
        QFETCH(float, temperature);
        QFETCH(int, topK);
        QFETCH(float, topP);
        QFETCH(float, minP);
        SamplingParams p;
        p.temperature = temperature;
        p.topK = topK;
        p.topP = topP;
        p.minP = minP;
        for (std::uint32_t seed = 0; seed < 3; ++seed) {
            const std::vector<float> row = spread > 0.0f ? randomRow(static_cast<std::size_t>(vocab), seed, spread)
                                                         : std::vector<float>(static_cast<std::size_t>(vocab), 1.25f);
            std::vector<float> logits = row;
            processLogits(p, {}, logits);
            const std::vector<bool> expected = naiveKept(row, p);
            for (std::size_t i = 0; i < row.size(); ++i) {
                if ((logits[i] != -kInf) != expected[i])
                    QFAIL(qPrintable(QStringLiteral("id %1 (logit %2): kept %3, reference %4")
                                         .arg(i).arg(row[i]).arg(logits[i] != -kInf).arg(expected[i])));
            }
        }
    }

    // The generator and the draw are pinned by an independent Python implementation.
    void seededSequenceIsPinned_data()
    {
        QTest::addColumn<int>("index");
        for (std::size_t i = 0; i < m_goldens["seeded"].size(); ++i)
            QTest::newRow(("seed " + m_goldens["seeded"][i]["seed"].dump()).c_str()) << static_cast<int>(i);
    }
    void seededSequenceIsPinned()
    {
        QFETCH(int, index);
        const nlohmann::json& g = m_goldens["seeded"][static_cast<std::size_t>(index)];
        SamplingParams p;
        p.temperature = g["temperature"].get<float>();
        p.seed = g["seed"].get<std::uint64_t>();
        const auto row = m_goldens["logits"][g["vocab"].dump()].get<std::vector<float>>();
        Sampler s(p, static_cast<std::int64_t>(row.size()));
        QCOMPARE(s.seed(), *p.seed);
        std::vector<std::int32_t> got;
        for (std::size_t i = 0; i < g["tokens"].size(); ++i) {
            std::vector<float> logits = row;
            got.push_back(s.sample(logits).token);
        }
        QCOMPARE(got, g["tokens"].get<std::vector<std::int32_t>>());
    }

    void sameSeedSameTokens()
    {
        const std::vector<float> row = randomRow(769, 7, 1.0f);
        auto run = [&](std::optional<std::uint64_t> seed) {
            SamplingParams p;
            p.temperature = 0.9f;
            p.topP = 0.95f;
            p.topK = 200;
            p.frequencyPenalty = 0.2f;
            p.seed = seed;
            Sampler s(p, 769);
            std::vector<std::int32_t> tokens;
            for (int i = 0; i < 200; ++i) {
                std::vector<float> logits = row;
                tokens.push_back(s.sample(logits).token);
            }
            return tokens;
        };
        QCOMPARE(run(5), run(5));
        QVERIFY(run(5) != run(6));
        QVERIFY(run(0) != run(1));
        QVERIFY2(run(std::nullopt) != run(std::nullopt), "unseeded samplers repeat each other");
    }

    void greedyIsArgmax_data()
    {
        QTest::addColumn<int>("vocab");
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("topK");
        for (int vocab : {1, 7, 83, 769, 5125, 151936}) {
            QTest::addRow("t0/v%d", vocab) << vocab << 0.0f << 0;
            QTest::addRow("k1/v%d", vocab) << vocab << 1.3f << 1;
        }
    }
    void greedyIsArgmax()
    {
        QFETCH(int, vocab);
        QFETCH(float, temperature);
        QFETCH(int, topK);
        for (std::uint32_t rowSeed = 0; rowSeed < 5; ++rowSeed) {
            std::vector<float> row = randomRow(static_cast<std::size_t>(vocab), rowSeed);
            if (vocab > 3 && rowSeed == 4)
                row[3] = row[1] = *std::max_element(row.begin(), row.end()) + 1.0f;  // a tie: lowest id wins
            const std::size_t best = lowestArgmax(row);
            for (std::uint64_t seed : {1ULL, 99ULL}) {
                SamplingParams p;
                p.temperature = temperature;
                p.topK = topK;
                p.seed = seed;
                Sampler s(p, vocab);
                std::vector<float> logits = row;
                QCOMPARE(static_cast<std::size_t>(s.sample(logits).token), best);
            }
        }
    }

    // Greedy looks at the biased, penalized logits: a banned argmax yields the runner-up.
    void greedyAfterPenalties()
    {
        std::vector<float> row = {1.0f, 5.0f, 4.5f, -2.0f, 4.0f};
        SamplingParams p;
        p.temperature = 0.0f;
        p.logitBias[1] = -100.0f;
        Sampler s(p, 5);
        std::vector<float> logits = row;
        QCOMPARE(s.sample(logits).token, 2);  // 1 is banned
        logits = row;
        p.logitBias.clear();
        p.frequencyPenalty = 2.0f;  // each use of a token costs 2
        Sampler f(p, 5);
        std::vector<std::int32_t> tokens;
        for (int i = 0; i < 4; ++i) {
            logits = row;
            tokens.push_back(f.sample(logits).token);
        }
        // Token 1 (5.0) drops to 3.0 after its first use; then 4.5 wins, then 4.0, then token 1's
        // 3.0 beats the used 2.5 and 2.0.
        QCOMPARE(tokens, (std::vector<std::int32_t>{1, 2, 4, 1}));
    }

    // Bias, repetition, frequency and presence penalties against values worked out by hand.
    void penaltiesByHand()
    {
        TokenCounts counts;
        counts.seen = {{1, 1}, {2, 2}, {3, 3}, {5, 1}, {6, 1}};  // 6 is prompt-only
        counts.generated = {{2, 1}, {3, 3}, {5, 1}};
        SamplingParams p;
        p.repetitionPenalty = 2.0f;
        p.presencePenalty = 0.5f;
        p.frequencyPenalty = 0.25f;
        p.logitBias = {{4, 1.5f}, {6, -1.0f}};
        std::vector<float> logits = {10.0f, 4.0f, -1.0f, 2.0f, 3.0f, 0.5f, 1.0f, -3.0f};
        processLogits(p, counts, logits);
        const std::vector<float> expected = {
            10.0f,                         // untouched, the max: the shift is 0
            4.0f / 2.0f,                   // repetition only (seen in the prompt)
            -1.0f * 2.0f - 0.25f - 0.5f,   // negative: multiplied, then once generated
            2.0f / 2.0f - 0.75f - 0.5f,    // generated three times
            3.0f + 1.5f,                   // bias only
            0.5f / 2.0f - 0.25f - 0.5f,    // generated once
            (1.0f - 1.0f) / 2.0f,          // bias to 0, then repetition leaves 0 alone
            -3.0f,                         // untouched
        };
        QCOMPARE(logits.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            QVERIFY2(std::abs(logits[i] - (expected[i] - 10.0f)) < 1e-6f,
                     qPrintable(QStringLiteral("logit %1: %2, expected %3").arg(i).arg(logits[i]).arg(expected[i] - 10.0f)));
    }

    // The sampler counts what it sees and draws: the prompt for repetition, its output for all.
    void samplerCountsTokens()
    {
        SamplingParams p;
        p.seed = 3;
        Sampler s(p, 10);
        const std::vector<std::int32_t> prompt = {1, 1, 4};
        s.observePrompt(prompt);
        std::vector<float> logits(10, 0.0f);
        const std::int32_t t = s.sample(logits).token;
        QCOMPARE(s.counts().seen.at(1), 1 + 1);
        QCOMPARE(s.counts().generated.count(1), std::size_t(t == 1 ? 1 : 0));
        QCOMPARE(s.counts().generated.at(t), 1);
        QCOMPARE(s.counts().seen.at(t), t == 1 ? 3 : (t == 4 ? 2 : 1));
    }

    void biasBansToken()
    {
        std::vector<float> row = randomRow(83, 11, 1.0f);
        const auto banned = static_cast<std::int32_t>(lowestArgmax(row));
        SamplingParams p;
        p.seed = 8;
        p.temperature = 1.5f;
        p.logitBias[banned] = -100.0f;
        Sampler s(p, 83);
        for (int i = 0; i < 10000; ++i) {
            std::vector<float> logits = row;
            QVERIFY(s.sample(logits).token != banned);
        }
    }

    // Reported log-probabilities are the raw model's, whatever the settings; the top list is
    // sorted, ties by id, and agrees with the chosen token's.
    void logprobsAreRaw_data()
    {
        QTest::addColumn<int>("vocab");
        QTest::addColumn<int>("topN");
        QTest::addColumn<float>("temperature");
        QTest::addRow("v7 n20 greedy") << 7 << 20 << 0.0f;
        QTest::addRow("v83 n5 hot") << 83 << 5 << 2.0f;
        QTest::addRow("v5125 n20 cold") << 5125 << 20 << 0.3f;
        QTest::addRow("v5125 n0") << 5125 << 0 << 1.0f;
        QTest::addRow("v151936 n10") << 151936 << 10 << 0.8f;
    }
    void logprobsAreRaw()
    {
        QFETCH(int, vocab);
        QFETCH(int, topN);
        QFETCH(float, temperature);
        std::vector<float> row = randomRow(static_cast<std::size_t>(vocab), 21);
        if (vocab >= 7)
            row[5] = row[2] = *std::max_element(row.begin(), row.end()) + 0.5f;  // tie for first
        const std::vector<double> expected = logSoftmax(row);
        SamplingParams p;
        p.temperature = temperature;
        p.topP = 0.9f;
        p.repetitionPenalty = 1.4f;
        p.logitBias[0] = 3.0f;
        p.topLogprobs = topN;
        p.seed = 77;
        Sampler s(p, vocab);
        const std::vector<std::int32_t> prompt = {2, 3};
        s.observePrompt(prompt);
        for (int step = 0; step < 8; ++step) {
            std::vector<float> logits = row;
            const SampledToken t = s.sample(logits);
            QVERIFY(std::abs(t.logprob - expected[static_cast<std::size_t>(t.token)]) < 1e-5);
            QCOMPARE(t.top.size(), std::min<std::size_t>(static_cast<std::size_t>(topN), row.size()));
            for (std::size_t i = 0; i < t.top.size(); ++i) {
                QVERIFY(std::abs(t.top[i].logprob - expected[static_cast<std::size_t>(t.top[i].token)]) < 1e-5);
                if (i > 0) {
                    const bool ordered = t.top[i - 1].logprob > t.top[i].logprob ||
                                         (t.top[i - 1].logprob == t.top[i].logprob && t.top[i - 1].token < t.top[i].token);
                    QVERIFY2(ordered, "top logprobs are not sorted");
                }
                if (t.top[i].token == t.token)
                    QCOMPARE(t.top[i].logprob, t.logprob);
            }
            if (!t.top.empty()) {
                QCOMPARE(static_cast<std::size_t>(t.top[0].token), lowestArgmax(row));
                // Nothing outside the list beats its last entry.
                const double last = t.top.back().logprob;
                std::set<std::int32_t> listed;
                for (const auto& e : t.top)
                    listed.insert(e.token);
                for (std::size_t i = 0; i < row.size(); ++i)
                    QVERIFY(listed.count(static_cast<std::int32_t>(i)) || expected[i] <= last + 1e-6);
            }
        }
    }

    // Broken model output never crashes and never yields an id outside the vocabulary.
    void nonFiniteLogits()
    {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        for (bool greedy : {false, true}) {
            SamplingParams p;
            p.seed = 1;
            p.temperature = greedy ? 0.0f : 0.7f;
            p.topP = 0.9f;
            p.topK = 3;
            p.topLogprobs = 3;
            Sampler s(p, 6);
            std::vector<float> logits = {nan, 1.0f, kInf, nan, -kInf, 2.0f};
            QCOMPARE(s.sample(logits).token, 2);  // +inf wins
            logits = {nan, nan, nan, -kInf, nan, nan};
            const SampledToken t = s.sample(logits);
            QCOMPARE(t.token, 0);
            QVERIFY(t.logprob == -kInf);
            logits = {nan, 0.5f, nan, 0.5f, -kInf, nan};
            const std::int32_t u = s.sample(logits).token;
            QVERIFY(u == 1 || u == 3);
            std::vector<float> empty;
            QCOMPARE(s.sample(std::span<float>(empty)).token, 0);
        }
    }

    void validation_data()
    {
        QTest::addColumn<QByteArray>("field");
        QTest::addColumn<double>("value");
        QTest::addColumn<QByteArray>("message");
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const double inf = std::numeric_limits<double>::infinity();
        QTest::newRow("temperature nan") << QByteArray("temperature") << nan << QByteArray("temperature must be in [0, 100], got nan");
        QTest::newRow("temperature neg") << QByteArray("temperature") << -0.5 << QByteArray("temperature must be in [0, 100], got -0.5");
        QTest::newRow("temperature big") << QByteArray("temperature") << 101.0 << QByteArray("temperature must be in [0, 100], got 101");
        QTest::newRow("temperature inf") << QByteArray("temperature") << inf << QByteArray("temperature must be in [0, 100], got inf");
        QTest::newRow("top_p 0") << QByteArray("top_p") << 0.0 << QByteArray("top_p must be in (0, 1], got 0");
        QTest::newRow("top_p 1.5") << QByteArray("top_p") << 1.5 << QByteArray("top_p must be in (0, 1], got 1.5");
        QTest::newRow("top_p nan") << QByteArray("top_p") << nan << QByteArray("top_p must be in (0, 1], got nan");
        QTest::newRow("top_k -1") << QByteArray("top_k") << -1.0 << QByteArray("top_k must be >= 0 (0 turns it off), got -1");
        QTest::newRow("min_p 1") << QByteArray("min_p") << 1.0 << QByteArray("min_p must be in [0, 1), got 1");
        QTest::newRow("min_p -0.1") << QByteArray("min_p") << -0.1 << QByteArray("min_p must be in [0, 1), got -0.1");
        QTest::newRow("repetition 0") << QByteArray("repetition_penalty") << 0.0 << QByteArray("repetition_penalty must be a finite number > 0, got 0");
        QTest::newRow("repetition nan") << QByteArray("repetition_penalty") << nan << QByteArray("repetition_penalty must be a finite number > 0, got nan");
        QTest::newRow("repetition inf") << QByteArray("repetition_penalty") << inf << QByteArray("repetition_penalty must be a finite number > 0, got inf");
        QTest::newRow("presence 2.5") << QByteArray("presence_penalty") << 2.5 << QByteArray("presence_penalty must be in [-2, 2], got 2.5");
        QTest::newRow("presence nan") << QByteArray("presence_penalty") << nan << QByteArray("presence_penalty must be in [-2, 2], got nan");
        QTest::newRow("frequency -3") << QByteArray("frequency_penalty") << -3.0 << QByteArray("frequency_penalty must be in [-2, 2], got -3");
        QTest::newRow("bias id high") << QByteArray("bias_id") << 100.0 << QByteArray("logit_bias token 100 is outside the vocabulary [0, 100)");
        QTest::newRow("bias id neg") << QByteArray("bias_id") << -1.0 << QByteArray("logit_bias token -1 is outside the vocabulary [0, 100)");
        QTest::newRow("bias value") << QByteArray("bias_value") << 100.5 << QByteArray("logit_bias for token 7 must be in [-100, 100], got 100.5");
        QTest::newRow("bias nan") << QByteArray("bias_value") << nan << QByteArray("logit_bias for token 7 must be in [-100, 100], got nan");
        QTest::newRow("top_logprobs 21") << QByteArray("top_logprobs") << 21.0 << QByteArray("top_logprobs must be in [0, 20], got 21");
        QTest::newRow("top_logprobs -1") << QByteArray("top_logprobs") << -1.0 << QByteArray("top_logprobs must be in [0, 20], got -1");
        QTest::newRow("vocab 0") << QByteArray("vocab") << 0.0 << QByteArray("vocabulary size must be positive, got 0");
    }
    void validation()
    {
        QFETCH(QByteArray, field);
        QFETCH(double, value);
        QFETCH(QByteArray, message);
        SamplingParams p;
        std::int64_t vocab = 100;
        const auto f = static_cast<float>(value);
        if (field == "temperature") p.temperature = f;
        else if (field == "top_p") p.topP = f;
        else if (field == "top_k") p.topK = static_cast<std::int32_t>(value);
        else if (field == "min_p") p.minP = f;
        else if (field == "repetition_penalty") p.repetitionPenalty = f;
        else if (field == "presence_penalty") p.presencePenalty = f;
        else if (field == "frequency_penalty") p.frequencyPenalty = f;
        else if (field == "bias_id") p.logitBias = {{5, 1.0f}, {static_cast<std::int32_t>(value), 1.0f}, {300, 2.0f}};
        else if (field == "bias_value") p.logitBias = {{9, 1.0f}, {7, f}, {8, -100.0f}};
        else if (field == "top_logprobs") p.topLogprobs = static_cast<std::int32_t>(value);
        else if (field == "vocab") vocab = static_cast<std::int64_t>(value);
        const Status st = validateSamplingParams(p, vocab);
        QVERIFY(!st.isOk());
        QCOMPARE(st.error().code, ErrorCode::InvalidArgument);
        QCOMPARE(QByteArray::fromStdString(st.message()), message);
        QVERIFY(!Sampler::create(p, vocab).isOk());
    }

    void validParamsPass()
    {
        SamplingParams p;
        QVERIFY(validateSamplingParams(p, 1).isOk());
        p.temperature = 0.0f;
        p.topP = 1.0f;
        p.topK = 1000000;
        p.minP = 0.0f;
        p.repetitionPenalty = 0.01f;
        p.presencePenalty = -2.0f;
        p.frequencyPenalty = 2.0f;
        p.logitBias = {{0, -100.0f}, {99, 100.0f}};
        p.topLogprobs = 20;
        QVERIFY(validateSamplingParams(p, 100).isOk());
        QVERIFY(Sampler::create(p, 100).isOk());
    }

    // Out-of-range params given straight to the constructor are clamped, never undefined.
    void invalidParamsAreClamped()
    {
        SamplingParams p;
        p.temperature = std::numeric_limits<float>::quiet_NaN();
        p.topP = -1.0f;
        p.topK = -5;
        p.minP = 3.0f;
        p.repetitionPenalty = -1.0f;
        p.topLogprobs = 500;
        p.logitBias = {{-4, 1.0f}, {1000, 1.0f}, {2, std::numeric_limits<float>::quiet_NaN()}};
        p.seed = 4;
        Sampler s(p, 50);
        QCOMPARE(s.params().temperature, 1.0f);
        QCOMPARE(s.params().topK, 0);
        QVERIFY(s.params().topP > 0.0f && s.params().topP <= 1.0f);
        QVERIFY(s.params().minP <= 1.0f);
        QCOMPARE(s.params().repetitionPenalty, 1.0f);
        QCOMPARE(s.params().topLogprobs, kMaxTopLogprobs);
        QCOMPARE(s.params().logitBias.at(2), 0.0f);
        for (int i = 0; i < 50; ++i) {
            std::vector<float> logits = randomRow(50, static_cast<std::uint32_t>(i));
            const SampledToken t = s.sample(logits);
            QVERIFY(t.token >= 0 && t.token < 50);
            QCOMPARE(t.top.size(), std::size_t(20));
        }
    }
};

QTEST_APPLESS_MAIN(TestSampler)
#include "tst_sampler.moc"
