// hearth-test-labels: model
// Greedy tokens picked by the backend (SequenceStep::argmaxOnly, issue #5), against references
// that do not come from that path: greedyToken against the Sampler's own greedy sample() and a
// hand-written argmax / double-precision log-softmax on rows with ties, NaN and infinities; the
// CPU backend's ids against the argmax of the same plan's logits run without the flag (mixed
// batches keep every other sequence's rows bit for bit); and the scheduler, which must set the
// flag exactly for greedy requests with nothing else reading the logits, generating golden.json's
// greedy continuations (Hugging Face transformers) and still giving logprobs to those that ask.
#include <QtTest>

#include <bit>
#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <random>

#include "engine/cpu/cpu_backend.h"
#include "engine/model_weights.h"
#include "engine/request_handle.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "support/reference_models.h"
#include "support/scheduler_driver.h"
#include "tokenizer/tokenizer.h"

using namespace hearth;
using namespace hearth::test;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int kGreedyTokens = 24;

// The lowest id among the largest values, NaN below everything, +inf as the largest float.
std::int32_t referenceArgmax(const float* row, std::int64_t n)
{
    const auto key = [](float x) { return x != x ? -kInf : std::min(x, std::numeric_limits<float>::max()); };
    std::int64_t best = 0;
    for (std::int64_t i = 1; i < n; ++i)
        if (key(row[i]) > key(row[best]))
            best = i;
    return static_cast<std::int32_t>(best);
}

double referenceLogprob(const float* row, std::int64_t n, std::int32_t id)
{
    double m = -INFINITY;
    for (std::int64_t i = 0; i < n; ++i)
        m = std::max(m, static_cast<double>(row[i]));
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
        sum += std::exp(static_cast<double>(row[i]) - m);
    return static_cast<double>(row[id]) - (m + std::log(sum));
}

bool sameBits(float a, float b) { return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b); }

// One sequence of the scripted CPU-backend run.
struct Script {
    std::vector<std::int32_t> prompt;
    LogitsRows prefillRows = LogitsRows::Last;
    bool argmaxOnly = false;  // in the flagged run; decode steps alternate it on odd sequences
};

// What the recording backend saw of one sequence in one step.
struct Seen {
    std::size_t step = 0;
    LogitsRows logits = LogitsRows::None;
    bool argmaxOnly = false;
};

struct SeenLog {
    std::mutex mutex;
    std::vector<Seen> seen;
    std::size_t steps = 0;
};

// Each sequence's flags, recorded before the CPU backend runs the step.
std::unique_ptr<Backend> recording(std::unique_ptr<Backend> inner, std::shared_ptr<SeenLog> log)
{
    return std::make_unique<ObservingBackend>(std::move(inner), [log = std::move(log)](const BatchPlan& plan) {
        std::lock_guard lock(log->mutex);
        for (const SequenceStep& s : plan.sequences)
            log->seen.push_back({log->steps, s.logits, s.argmaxOnly});
        ++log->steps;
    });
}

struct LoggedRun {
    std::vector<TokenEvent> tokens;
    std::optional<FinishedEvent> finished;
    std::optional<Error> failed;
};

LoggedRun collectEvents(RequestHandle& handle)
{
    LoggedRun run;
    for (;;) {
        std::optional<GenerationEvent> event = handle.nextEvent(std::chrono::seconds(120));
        if (!event)
            return run;
        if (auto* token = std::get_if<TokenEvent>(&*event)) {
            run.tokens.push_back(std::move(*token));
        } else if (auto* finished = std::get_if<FinishedEvent>(&*event)) {
            run.finished = std::move(*finished);
            return run;
        } else {
            run.failed = std::get<FailedEvent>(*event).error;
            return run;
        }
    }
}

std::vector<TokenId> idsOf(const LoggedRun& run)
{
    std::vector<TokenId> ids;
    for (const TokenEvent& e : run.tokens)
        ids.push_back(e.token);
    return ids;
}

}  // namespace

class TestArgmaxOnly : public QObject {
    Q_OBJECT

    std::string m_dir;
    std::map<std::string, std::vector<GoldenGreedy>> m_golden;
    std::map<std::string, std::shared_ptr<const ModelWeights>> m_weights;
    std::shared_ptr<const Tokenizer> m_tokenizer;

    // Submits `requests` together to one scheduler over the CPU backend and collects every event.
    std::vector<LoggedRun> runTogether(const std::vector<GenerateRequest>& requests, const std::shared_ptr<SeenLog>& log)
    {
        auto cpu = CpuBackend::create(m_weights.at(kReferenceModelD64), {64ull << 20, 2, 16});
        if (!cpu)
            return {};
        SchedulerOptions options;
        options.maxBatchSequences = 16;
        options.maxQueuedRequests = 64;
        options.prefillChunkTokens = 64;
        options.contextLength = 1024;
        Scheduler scheduler(recording(std::move(*cpu), log), m_tokenizer, options);
        const std::vector<std::unique_ptr<ChannelRequestHandle>> handles = adoptTogether(scheduler, requests);
        std::vector<LoggedRun> runs;
        for (auto& h : handles)
            runs.push_back(collectEvents(*h));
        return runs;
    }

private slots:
    void initTestCase()
    {
        m_dir = referenceModelsDir();
        QVERIFY2(!m_dir.empty(), "reference models could not be generated");
        m_golden = readGoldenGreedy();
        QCOMPARE(m_golden[kReferenceModelD64].size(), std::size_t(4));
        QCOMPARE(m_golden[kReferenceModelD128].size(), std::size_t(4));
        for (const char* name : {kReferenceModelD64, kReferenceModelD128}) {
            auto w = ModelWeights::load(m_dir + "/" + name);
            QVERIFY2(w.isOk(), w.isOk() ? "" : w.error().toString().c_str());
            m_weights[name] = *w;
        }
        auto tokenizer = loadTokenizer(m_dir + "/" + kReferenceModelD64);
        QVERIFY2(tokenizer.isOk(), tokenizer.isOk() ? "" : tokenizer.error().toString().c_str());
        m_tokenizer = std::shared_ptr<const Tokenizer>(std::move(*tokenizer));
    }

    void greedyTokenIsSamplersGreedy_data()
    {
        QTest::addColumn<QList<float>>("row");
        QTest::addColumn<int>("expected");
        QTest::newRow("plain") << QList<float>{0.5f, -1.0f, 3.0f, 2.5f} << 2;
        QTest::newRow("tie: lowest id") << QList<float>{1.0f, 7.0f, -2.0f, 7.0f, 7.0f} << 1;
        QTest::newRow("NaN first ranks lowest") << QList<float>{kNaN, -5.0f, -6.0f} << 1;
        QTest::newRow("NaN among") << QList<float>{1.0f, kNaN, 2.0f, kNaN} << 2;
        QTest::newRow("+inf ties the largest float") << QList<float>{std::numeric_limits<float>::max(), kInf, 1.0f} << 0;
        QTest::newRow("+inf twice") << QList<float>{1.0f, kInf, kInf} << 1;
        QTest::newRow("-inf but one") << QList<float>{-kInf, -kInf, -30.0f, -kInf} << 2;
        QTest::newRow("all -inf") << QList<float>{-kInf, -kInf, -kInf} << 0;
        QTest::newRow("all NaN") << QList<float>{kNaN, kNaN} << 0;
        QTest::newRow("single") << QList<float>{-3.0f} << 0;
        std::mt19937 rng(11);
        std::normal_distribution<float> normal(0.0f, 4.0f);
        QList<float> wide;
        for (int i = 0; i < 5000; ++i)
            wide.push_back(normal(rng));
        wide[4321] = 40.0f;
        QTest::newRow("5000 random, one peak") << wide << 4321;
    }

    // Bit for bit what Sampler::sample gives for greedy params (token and raw logprob), which is
    // what the scheduler reported before the backend picked greedy tokens itself.
    void greedyTokenIsSamplersGreedy()
    {
        QFETCH(QList<float>, row);
        QFETCH(int, expected);
        const std::vector<float> values(row.begin(), row.end());
        std::vector<float> scratch;
        const SampledToken mine = greedyToken(values, scratch);
        QCOMPARE(mine.token, expected);
        QVERIFY(mine.top.empty());

        SamplingParams greedy;
        greedy.temperature = 0.0f;
        Sampler sampler(greedy, static_cast<std::int64_t>(values.size()));
        std::vector<float> copy = values;
        const SampledToken theirs = sampler.sample(copy);
        QCOMPARE(theirs.token, mine.token);
        QVERIFY2(sameBits(theirs.logprob, mine.logprob),
                 qPrintable(QStringLiteral("logprob %1, sampler %2").arg(mine.logprob).arg(theirs.logprob)));
        const bool allFinite = std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
        const bool nothingAboveMinusInf = std::none_of(values.begin(), values.end(), [](float v) { return v > -kInf; });
        if (allFinite)
            QVERIFY(std::abs(mine.logprob - referenceLogprob(values.data(), static_cast<std::int64_t>(values.size()), mine.token)) < 1e-5);
        if (nothingAboveMinusInf)  // all -inf or NaN: nothing to normalise
            QCOMPARE(mine.logprob, -kInf);
    }

    void cpuIdsAreArgmaxOfLogits_data()
    {
        QTest::addColumn<QString>("model");
        QTest::newRow("d64") << QString::fromLatin1(kReferenceModelD64);
        QTest::newRow("d128") << QString::fromLatin1(kReferenceModelD128);
    }

    // The same script of steps (four prompts prefilled together, then decode steps) through two
    // CPU backends: without any flag, and with argmaxOnly on some sequences (a flag on an All or a
    // None step must be ignored). Flagged Last rows: no logits, the id of the plain run's row.
    // Every other row: the plain run's bits. The flagged run recycles each result.
    void cpuIdsAreArgmaxOfLogits()
    {
        QFETCH(QString, model);
        const auto& golden = m_golden.at(model.toStdString());
        auto plainBackend = CpuBackend::create(m_weights.at(model.toStdString()), {64ull << 20, 2, 16});
        auto flaggedBackend = CpuBackend::create(m_weights.at(model.toStdString()), {64ull << 20, 2, 16});
        QVERIFY(plainBackend.isOk() && flaggedBackend.isOk());
        Backend& plain = **plainBackend;
        Backend& flagged = **flaggedBackend;
        const std::int64_t vocab = plain.config().vocabSize;

        std::vector<Script> scripts(4);
        scripts[0] = {golden[0].ids, LogitsRows::Last, true};
        scripts[1] = {golden[1].ids, LogitsRows::All, true};  // ignored: All keeps its rows
        scripts[2] = {golden[2].ids, LogitsRows::Last, false};
        scripts[3] = {std::vector<std::int32_t>(golden[2].ids.begin(), golden[2].ids.begin() + 10), LogitsRows::None, true};
        std::vector<BlockTable> plainTables(scripts.size()), flaggedTables(scripts.size());
        for (std::size_t s = 0; s < scripts.size(); ++s) {
            QVERIFY(plain.kvPool().reserve(plainTables[s], 256).isOk());
            QVERIFY(flagged.kvPool().reserve(flaggedTables[s], 256).isOk());
        }
        std::vector<std::int32_t> next(scripts.size()), length(scripts.size());
        int flaggedRows = 0;
        for (int stepIndex = 0; stepIndex < 6; ++stepIndex) {
            BatchPlan plainPlan, flaggedPlan;
            for (std::size_t s = 0; s < scripts.size(); ++s) {
                SequenceStep seq;
                if (stepIndex == 0) {
                    seq.tokenIds = scripts[s].prompt;
                    seq.logits = scripts[s].prefillRows;
                } else {
                    seq.tokenIds = {next[s]};
                    seq.logits = LogitsRows::Last;
                }
                seq.positions.resize(seq.tokenIds.size());
                std::iota(seq.positions.begin(), seq.positions.end(), length[s]);
                seq.blockTable = &plainTables[s];
                plainPlan.sequences.push_back(seq);
                seq.blockTable = &flaggedTables[s];
                // Decode steps: sequence 0 always flagged, 2 never, 1 and 3 on alternate steps.
                seq.argmaxOnly = stepIndex == 0 ? scripts[s].argmaxOnly
                                                : s == 0 || (s == 1 && stepIndex % 2 == 1) || (s == 3 && stepIndex % 2 == 0);
                flaggedPlan.sequences.push_back(seq);
            }
            auto a = plain.forward(plainPlan);
            auto b = flagged.forward(flaggedPlan);
            QVERIFY2(a.isOk(), a.isOk() ? "" : a.error().toString().c_str());
            QVERIFY2(b.isOk(), b.isOk() ? "" : b.error().toString().c_str());
            QCOMPARE(a->argmax, std::vector<std::int32_t>(scripts.size(), -1));
            QCOMPARE(b->argmax.size(), scripts.size());
            QCOMPARE(b->argmaxLogprob.size(), scripts.size());
            QCOMPARE(static_cast<std::int64_t>(b->logits.size()), b->firstRow.back() * vocab);
            for (std::size_t s = 0; s < scripts.size(); ++s) {
                const SequenceStep& seq = flaggedPlan.sequences[s];
                const std::int64_t plainRows = a->firstRow[s + 1] - a->firstRow[s];
                const float* plainLast = a->logits.data() + (a->firstRow[s + 1] - 1) * vocab;
                const std::int32_t expected = plainRows > 0 ? referenceArgmax(plainLast, vocab) : -1;
                if (seq.argmaxOnly && seq.logits == LogitsRows::Last) {
                    ++flaggedRows;
                    QCOMPARE(b->firstRow[s + 1] - b->firstRow[s], std::int64_t{0});
                    QCOMPARE(b->argmax[s], expected);
                    const double lp = referenceLogprob(plainLast, vocab, expected);
                    QVERIFY2(std::abs(b->argmaxLogprob[s] - lp) < 1e-5,
                             qPrintable(QStringLiteral("logprob %1, reference %2").arg(b->argmaxLogprob[s]).arg(lp)));
                } else {
                    QCOMPARE(b->argmax[s], -1);
                    QCOMPARE(b->firstRow[s + 1] - b->firstRow[s], plainRows);
                    const auto* p = a->logits.data() + a->firstRow[s] * vocab;
                    const auto* q = b->logits.data() + b->firstRow[s] * vocab;
                    QVERIFY2(std::memcmp(p, q, static_cast<std::size_t>(plainRows * vocab) * sizeof(float)) == 0,
                             qPrintable(QStringLiteral("sequence %1's logits differ at step %2").arg(s).arg(stepIndex)));
                }
                length[s] += static_cast<std::int32_t>(seq.tokenIds.size());
                // Sequence 3's prefill (a prompt's first 10 tokens) asked for no row: it goes on with the 11th.
                        next[s] = plainRows > 0 ? expected : golden[2].ids[static_cast<std::size_t>(length[s])];
            }
            flagged.recycle(std::move(*b));
        }
        QCOMPARE(flaggedRows, 1 + 5 + 3 + 2);  // step 0: seq 0; decode steps 1-5: seq 0 always, seq 1 odd, seq 3 even
        for (std::size_t s = 0; s < scripts.size(); ++s) {
            plain.kvPool().release(plainTables[s]);
            flagged.kvPool().release(flaggedTables[s]);
        }
    }

    // Through the scheduler: the flag is set on exactly the greedy requests nothing else reads
    // the logits of, their tokens are golden.json's, and the requests that must sample from the
    // row (top logprobs, a penalty, a logit bias) still do, with the same greedy tokens where
    // their settings do not change them.
    void schedulerFlagsGreedyRequests()
    {
        const auto& golden = m_golden.at(kReferenceModelD64);
        struct Case {
            const char* name;
            std::size_t prompt;
            bool expectFlag;
            std::function<void(GenerateRequest&)> tweak;
        };
        const std::vector<Case> cases = {
            {"temperature 0", 0, true, [](GenerateRequest&) {}},
            {"top_k 1 at temperature 0.8", 1, true, [](GenerateRequest& r) { r.sampling.temperature = 0.8f; r.sampling.topK = 1; }},
            {"greedy with top logprobs", 0, false, [](GenerateRequest& r) { r.sampling.topLogprobs = 3; }},
            {"greedy with repetition penalty 1", 2, true, [](GenerateRequest& r) { r.sampling.repetitionPenalty = 1.0f; }},
            {"greedy with repetition penalty", 2, false, [](GenerateRequest& r) { r.sampling.repetitionPenalty = 1.3f; }},
            {"greedy with presence penalty", 3, false, [](GenerateRequest& r) { r.sampling.presencePenalty = 0.5f; }},
            {"greedy with frequency penalty", 3, false, [](GenerateRequest& r) { r.sampling.frequencyPenalty = 0.5f; }},
            {"greedy with a logit bias", 1, false, [](GenerateRequest& r) { r.sampling.logitBias[5] = -1.0f; }},
            {"sampled", 1, false, [](GenerateRequest& r) { r.sampling.temperature = 0.7f; r.sampling.seed = 5; }},
        };
        std::vector<GenerateRequest> requests;
        for (const Case& c : cases) {
            GenerateRequest r = greedyRequest(golden[c.prompt].ids, kGreedyTokens);
            c.tweak(r);
            requests.push_back(r);
        }
        // Each alone (so every recorded step belongs to it), then all together (one mixed batch).
        std::vector<LoggedRun> alone;
        for (std::size_t i = 0; i < cases.size(); ++i) {
            auto log = std::make_shared<SeenLog>();
            std::vector<LoggedRun> runs = runTogether({requests[i]}, log);
            QCOMPARE(runs.size(), std::size_t(1));
            QVERIFY2(runs[0].finished, cases[i].name);
            QCOMPARE(runs[0].tokens.size(), std::size_t(kGreedyTokens));
            int lastRows = 0;
            for (const Seen& s : log->seen) {
                QCOMPARE(s.argmaxOnly, cases[i].expectFlag);
                lastRows += s.logits == LogitsRows::Last;
            }
            QCOMPARE(lastRows, kGreedyTokens);
            alone.push_back(std::move(runs[0]));
        }
        QCOMPARE(idsOf(alone[0]), golden[0].greedy);
        QCOMPARE(idsOf(alone[1]), golden[1].greedy);
        QCOMPARE(idsOf(alone[2]), golden[0].greedy);  // logprobs do not change greedy tokens
        QCOMPARE(idsOf(alone[3]), golden[2].greedy);
        for (std::size_t t = 0; t < static_cast<std::size_t>(kGreedyTokens); ++t) {
            const TokenEvent& flaggedEvent = alone[0].tokens[t];
            const TokenEvent& sampledEvent = alone[2].tokens[t];
            // The backend-picked token's logprob is the one sample() reports, bit for bit on the CPU.
            QVERIFY2(sameBits(flaggedEvent.logprob, sampledEvent.logprob),
                     qPrintable(QStringLiteral("token %1: logprob %2, sampled %3").arg(t).arg(flaggedEvent.logprob).arg(sampledEvent.logprob)));
            QVERIFY(flaggedEvent.logprob <= 0.0f && flaggedEvent.logprob > -100.0f);
            QVERIFY(flaggedEvent.topLogprobs.empty());
            QCOMPARE(sampledEvent.topLogprobs.size(), std::size_t(3));
            QCOMPARE(sampledEvent.topLogprobs[0].token, sampledEvent.token);
            QVERIFY(sameBits(sampledEvent.topLogprobs[0].logprob, sampledEvent.logprob));
        }
        QVERIFY(idsOf(alone[4]) != golden[2].greedy);  // the penalty is applied (so the row was read)

        auto log = std::make_shared<SeenLog>();
        const std::vector<LoggedRun> together = runTogether(requests, log);
        QCOMPARE(together.size(), cases.size());
        for (std::size_t i = 0; i < cases.size(); ++i) {
            QVERIFY2(together[i].finished, cases[i].name);
            QVERIFY2(idsOf(together[i]) == idsOf(alone[i]), cases[i].name);
        }
        // Some step must have had flagged and unflagged rows side by side.
        std::map<std::size_t, std::pair<int, int>> rowsByStep;  // step -> (flagged, plain) Last rows
        {
            std::lock_guard lock(log->mutex);
            for (const Seen& s : log->seen)
                if (s.logits == LogitsRows::Last)
                    (s.argmaxOnly ? rowsByStep[s.step].first : rowsByStep[s.step].second) += 1;
        }
        QVERIFY(std::any_of(rowsByStep.begin(), rowsByStep.end(),
                            [](const auto& kv) { return kv.second.first > 0 && kv.second.second > 0; }));
    }
};

QTEST_APPLESS_MAIN(TestArgmaxOnly)
#include "tst_argmax_only.moc"
