// hearth-test-labels: model
// The scheduler's step plans, seen through a backend that records every BatchPlan before the CPU
// backend runs it on the reference model: prompts that arrive together are prefilled in the same
// step within the prefill budget, oldest first; running decodes are in every step; a long prompt
// holds a short one back only for its own budget share; and the greedy tokens equal golden.json
// (Hugging Face transformers) and each request run alone, also with a KV pool too small for all.
#include <QtTest>

#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/cpu/cpu_backend.h"
#include "engine/model_weights.h"
#include "engine/request_handle.h"
#include "engine/scheduler.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "support/reference_models.h"
#include "support/scheduler_driver.h"
#include "tokenizer/tokenizer.h"

using namespace hearth;
using namespace hearth::test;

namespace {

// One sequence's share of a recorded step.
struct PlannedSequence {
    const BlockTable* table = nullptr;  // stable for a sequence's life: identifies it across steps
    std::vector<TokenId> tokens;
    std::int32_t firstPosition = 0;
    LogitsRows logits = LogitsRows::None;
};
using PlannedStep = std::vector<PlannedSequence>;

struct StepLog {
    std::mutex mutex;
    std::vector<PlannedStep> steps;
    // Called on the scheduler thread before step k runs (k counts from 0), to make arrivals
    // land at a known step.
    std::function<void(std::size_t k)> beforeStep;
};

// The plan of each step, recorded before the CPU backend runs it.
std::unique_ptr<Backend> recording(std::unique_ptr<Backend> inner, std::shared_ptr<StepLog> log)
{
    return std::make_unique<ObservingBackend>(std::move(inner), [log = std::move(log)](const BatchPlan& plan) {
        if (log->beforeStep)
            log->beforeStep(log->steps.size());
        PlannedStep step;
        for (const SequenceStep& s : plan.sequences)
            step.push_back({s.blockTable, s.tokenIds, s.positions.empty() ? -1 : s.positions.front(), s.logits});
        std::lock_guard lock(log->mutex);
        log->steps.push_back(std::move(step));
    });
}

constexpr std::uint64_t kPageBytes = 2 * 2 * 16 * 2 * 64 * 4;  // ref-qwen2-d64: layers*(K,V)*tokens*kvHeads*headDim*fp32

struct Setup {
    std::int32_t budget = 512;
    std::int32_t maxBatch = 16;
    std::uint64_t kvBytes = 64ull << 20;
};

// Prompts with distinct first tokens (so a recorded chunk names its request) and no shared prefix.
std::vector<std::vector<TokenId>> makePrompts(const std::vector<int>& lengths, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<TokenId> token(3, 250);
    std::vector<std::vector<TokenId>> prompts;
    for (std::size_t i = 0; i < lengths.size(); ++i) {
        std::vector<TokenId> p{static_cast<TokenId>(300 + i)};
        while (static_cast<int>(p.size()) < lengths[i])
            p.push_back(token(rng));
        prompts.push_back(std::move(p));
    }
    return prompts;
}

// Which request each recorded sequence is: its position-0 chunk starts with its prompt.
std::map<const BlockTable*, std::size_t> owners(const std::vector<PlannedStep>& steps, const std::vector<std::vector<TokenId>>& prompts)
{
    std::map<const BlockTable*, std::size_t> out;
    for (const PlannedStep& step : steps)
        for (const PlannedSequence& s : step)
            if (s.firstPosition == 0)
                for (std::size_t r = 0; r < prompts.size(); ++r)
                    if (prompts[r].front() == s.tokens.front())
                        out[s.table] = r;
    return out;
}

}  // namespace

class TestScheduler : public QObject {
    Q_OBJECT

    std::shared_ptr<const ModelWeights> m_weights;
    std::shared_ptr<const Tokenizer> m_tokenizer;
    std::map<std::vector<TokenId>, std::vector<TokenId>> m_solo;  // prompt -> greedy tokens run alone

    std::unique_ptr<Scheduler> makeScheduler(const Setup& setup, std::shared_ptr<StepLog> log)
    {
        auto cpu = CpuBackend::create(m_weights, {setup.kvBytes, 2, 16});
        if (!cpu)
            return nullptr;
        SchedulerOptions options;
        options.maxBatchSequences = setup.maxBatch;
        options.maxQueuedRequests = 256;
        options.prefillChunkTokens = setup.budget;
        options.contextLength = 1024;
        return std::make_unique<Scheduler>(recording(std::move(*cpu), std::move(log)), m_tokenizer, options);
    }

    // Hands all requests to the scheduler in one call (so they arrive together) and collects them.
    std::vector<CollectedRun> runTogether(Scheduler& scheduler, const std::vector<GenerateRequest>& requests)
    {
        const std::vector<std::unique_ptr<ChannelRequestHandle>> handles = adoptTogether(scheduler, requests);
        std::vector<CollectedRun> runs;
        for (auto& h : handles)
            runs.push_back(collect(*h));
        return runs;
    }

    std::vector<TokenId> solo(const std::vector<TokenId>& prompt, int maxTokens)
    {
        auto it = m_solo.find(prompt);
        if (it != m_solo.end() && static_cast<int>(it->second.size()) == maxTokens)
            return it->second;
        auto scheduler = makeScheduler(Setup{}, std::make_shared<StepLog>());
        const std::vector<CollectedRun> runs = runTogether(*scheduler, {greedyRequest(prompt, maxTokens)});
        return m_solo[prompt] = runs.front().tokens;
    }

    // Invariants of every recorded step: prompt tokens within the budget, the oldest prompts
    // served first, and every request that has its first token in every step until it is done.
    void checkSteps(const std::vector<PlannedStep>& steps, const std::vector<std::vector<TokenId>>& prompts, const std::vector<int>& maxTokens,
                    std::int32_t budget)
    {
        const auto owner = owners(steps, prompts);
        QCOMPARE(owner.size(), prompts.size());
        std::vector<std::int64_t> done(prompts.size(), 0);  // prompt tokens computed so far
        std::vector<int> firstTokenStep(prompts.size(), -1);
        std::vector<int> decodeSteps(prompts.size(), 0);
        for (std::size_t k = 0; k < steps.size(); ++k) {
            std::int64_t budgeted = 0;
            std::vector<bool> inStep(prompts.size(), false);
            std::vector<std::int64_t> before = done;
            for (const PlannedSequence& s : steps[k]) {
                QVERIFY(owner.count(s.table));
                const std::size_t r = owner.at(s.table);
                const auto n = static_cast<std::int64_t>(s.tokens.size());
                const auto promptLen = static_cast<std::int64_t>(prompts[r].size());
                inStep[r] = true;
                if (s.firstPosition < promptLen) {
                    QCOMPARE(static_cast<std::int64_t>(s.firstPosition), done[r]);
                    if (promptLen - done[r] > 1)
                        budgeted += n;
                    done[r] += n;
                    QCOMPARE(s.logits, done[r] == promptLen ? LogitsRows::Last : LogitsRows::None);
                    if (done[r] == promptLen)
                        firstTokenStep[r] = static_cast<int>(k);
                } else {
                    QCOMPARE(n, std::int64_t{1});
                    ++decodeSteps[r];
                }
            }
            QVERIFY2(budgeted <= budget, qPrintable(QStringLiteral("step %1 prefills %2 tokens").arg(k).arg(budgeted)));
            // A younger prompt is prefilled only when every older one finished its prompt here.
            for (std::size_t young = 0; young < prompts.size(); ++young) {
                if (done[young] == before[young] || before[young] + 1 >= static_cast<std::int64_t>(prompts[young].size()))
                    continue;
                for (std::size_t old = 0; old < young; ++old)
                    QVERIFY2(done[old] == static_cast<std::int64_t>(prompts[old].size()),
                             qPrintable(QStringLiteral("step %1: request %2 prefilled before older %3").arg(k).arg(young).arg(old)));
            }
            for (std::size_t r = 0; r < prompts.size(); ++r) {
                const bool decoding = firstTokenStep[r] >= 0 && firstTokenStep[r] < static_cast<int>(k) &&
                                      decodeSteps[r] + (inStep[r] ? 0 : 1) < maxTokens[r];
                if (decoding)
                    QVERIFY2(inStep[r], qPrintable(QStringLiteral("step %1 leaves out decoding request %2").arg(k).arg(r)));
            }
        }
        for (std::size_t r = 0; r < prompts.size(); ++r) {
            QCOMPARE(done[r], static_cast<std::int64_t>(prompts[r].size()));
            QCOMPARE(decodeSteps[r], maxTokens[r] - 1);
        }
    }

private slots:
    void initTestCase()
    {
        const std::string dir = referenceModelsDir();
        QVERIFY(!dir.empty());
        auto weights = ModelWeights::load(dir + "/" + kReferenceModelD64);
        QVERIFY2(weights.isOk(), weights.isOk() ? "" : weights.error().toString().c_str());
        m_weights = *weights;
        auto tokenizer = loadTokenizer(dir + "/" + kReferenceModelD64);
        QVERIFY2(tokenizer.isOk(), tokenizer.isOk() ? "" : tokenizer.error().toString().c_str());
        m_tokenizer = std::shared_ptr<const Tokenizer>(std::move(*tokenizer));
    }

    void promptsArrivingTogetherArePrefilledTogether_data()
    {
        QTest::addColumn<QList<int>>("lengths");
        QTest::addColumn<int>("budget");
        QTest::newRow("4 prompts, roomy budget") << QList<int>{12, 7, 20, 9} << 512;
        QTest::newRow("8 prompts over a 64-token budget") << QList<int>{30, 30, 30, 30, 30, 30, 30, 30} << 64;
        QTest::newRow("one prompt longer than the budget") << QList<int>{100, 5, 17} << 32;
        QTest::newRow("16 streams, 512 budget") << QList<int>(16, 40) << 512;
        QTest::newRow("budget of one token") << QList<int>{3, 4, 2} << 1;
    }

    void promptsArrivingTogetherArePrefilledTogether()
    {
        QFETCH(QList<int>, lengths);
        QFETCH(int, budget);
        constexpr int kMaxTokens = 6;
        const auto prompts = makePrompts(std::vector<int>(lengths.begin(), lengths.end()), 7 + static_cast<std::uint32_t>(budget));
        auto log = std::make_shared<StepLog>();
        auto scheduler = makeScheduler(Setup{budget, 16, 64ull << 20}, log);
        QVERIFY(scheduler);
        std::vector<GenerateRequest> requests;
        for (const auto& p : prompts)
            requests.push_back(greedyRequest(p, kMaxTokens));
        const std::vector<CollectedRun> runs = runTogether(*scheduler, requests);
        scheduler.reset();

        // The first step fills the budget with the prompts in arrival order.
        const auto owner = owners(log->steps, prompts);
        QVERIFY(!log->steps.empty());
        const PlannedStep& first = log->steps.front();
        std::int64_t left = budget;
        std::size_t nExpected = 0;
        for (std::size_t r = 0; r < prompts.size() && left > 0; ++r, ++nExpected) {
            QVERIFY2(nExpected < first.size(), qPrintable(QStringLiteral("the first step has only %1 sequences").arg(first.size())));
            const auto want = std::min<std::int64_t>(left, static_cast<std::int64_t>(prompts[r].size()));
            QCOMPARE(owner.at(first[nExpected].table), r);
            QCOMPARE(static_cast<std::int64_t>(first[nExpected].tokens.size()), want);
            left -= want;
        }
        QCOMPARE(first.size(), nExpected);
        if (prompts.size() > 1 && static_cast<int>(prompts[0].size()) < budget)
            QVERIFY2(first.size() >= 2, "prompts that fit the budget together are not prefilled together");

        checkSteps(log->steps, prompts, std::vector<int>(prompts.size(), kMaxTokens), budget);
        for (std::size_t r = 0; r < prompts.size(); ++r) {
            QVERIFY2(runs[r].finished, describe(runs[r]).c_str());
            QCOMPARE(runs[r].tokens, solo(prompts[r], kMaxTokens));
        }
    }

    void greedyMatchesGoldenWhenPromptsArriveTogether_data()
    {
        QTest::addColumn<int>("budget");
        QTest::newRow("budget 7") << 7;
        QTest::newRow("budget 16") << 16;
        QTest::newRow("budget 512") << 512;
    }

    void greedyMatchesGoldenWhenPromptsArriveTogether()
    {
        QFETCH(int, budget);
        const auto golden = readGoldenGreedy();
        QVERIFY(golden.count(kReferenceModelD64));
        const std::vector<GoldenGreedy>& g = golden.at(kReferenceModelD64);
        QVERIFY(g.size() >= 4);
        auto log = std::make_shared<StepLog>();
        auto scheduler = makeScheduler(Setup{budget, 16, 64ull << 20}, log);
        std::vector<GenerateRequest> requests;
        for (const GoldenGreedy& p : g)
            requests.push_back(greedyRequest(p.ids, static_cast<int>(p.greedy.size())));
        const std::vector<CollectedRun> runs = runTogether(*scheduler, requests);
        for (std::size_t i = 0; i < g.size(); ++i) {
            QVERIFY2(runs[i].finished, describe(runs[i]).c_str());
            QCOMPARE(runs[i].tokens, g[i].greedy);
        }
        // More than one prompt was in flight in some step.
        std::size_t widest = 0;
        for (const PlannedStep& step : log->steps)
            widest = std::max(widest, step.size());
        QVERIFY(widest >= 2);
    }

    void longPromptHoldsShortOneBackOnlyForItsShare_data()
    {
        QTest::addColumn<bool>("longFirst");
        QTest::newRow("long prompt first") << true;
        QTest::newRow("short prompt first") << false;
    }

    void longPromptHoldsShortOneBackOnlyForItsShare()
    {
        QFETCH(bool, longFirst);
        constexpr int kBudget = 32;
        constexpr int kLong = 300;
        constexpr int kShort = 6;
        const auto prompts = makePrompts(longFirst ? std::vector<int>{kLong, kShort} : std::vector<int>{kShort, kLong}, 99);
        auto log = std::make_shared<StepLog>();
        auto scheduler = makeScheduler(Setup{kBudget, 16, 64ull << 20}, log);
        const std::vector<CollectedRun> runs = runTogether(*scheduler, {greedyRequest(prompts[0], 4), greedyRequest(prompts[1], 4)});
        scheduler.reset();
        checkSteps(log->steps, prompts, {4, 4}, kBudget);
        const auto owner = owners(log->steps, prompts);
        const std::size_t shortIndex = longFirst ? 1 : 0;
        int shortFirstTokenStep = -1;
        for (std::size_t k = 0; k < log->steps.size() && shortFirstTokenStep < 0; ++k)
            for (const PlannedSequence& s : log->steps[k])
                if (owner.at(s.table) == shortIndex && s.logits == LogitsRows::Last)
                    shortFirstTokenStep = static_cast<int>(k);
        // Behind the long prompt the short one waits for the long one's ceil(300/32) steps at most;
        // ahead of it, it is done in the first step.
        QCOMPARE(shortFirstTokenStep, longFirst ? (kLong + kBudget - 1) / kBudget - 1 : 0);
        for (std::size_t r = 0; r < prompts.size(); ++r)
            QCOMPARE(runs[r].tokens, solo(prompts[r], 4));
    }

    void decodesContinueWhileLongPromptsArrive()
    {
        // A short request decodes; at step 3 two long prompts arrive. They are prefilled within
        // the budget while the first request keeps decoding in every step (checkSteps).
        constexpr int kBudget = 24;
        const auto prompts = makePrompts({9, 200, 150}, 5);
        const std::vector<int> maxTokens{30, 5, 5};
        auto log = std::make_shared<StepLog>();
        auto scheduler = makeScheduler(Setup{kBudget, 16, 64ull << 20}, log);
        std::vector<std::unique_ptr<PendingRequest>> pending;
        std::vector<std::unique_ptr<ChannelRequestHandle>> handles;
        for (std::size_t r = 0; r < prompts.size(); ++r) {
            pending.push_back(std::make_unique<PendingRequest>());
            pending[r]->channel = std::make_shared<RequestChannel>(r);
            pending[r]->request = greedyRequest(prompts[r], maxTokens[r]);
            handles.push_back(std::make_unique<ChannelRequestHandle>(pending[r]->channel));
        }
        Scheduler* raw = scheduler.get();
        log->beforeStep = [&pending, raw](std::size_t k) {
            if (k == 3) {
                (void)raw->enqueue(std::move(pending[1]));
                (void)raw->enqueue(std::move(pending[2]));
            }
        };
        QVERIFY(scheduler->enqueue(std::move(pending[0])).isOk());
        std::vector<CollectedRun> runs;
        for (auto& h : handles)
            runs.push_back(collect(*h));
        scheduler.reset();

        checkSteps(log->steps, prompts, maxTokens, kBudget);
        const auto owner = owners(log->steps, prompts);
        // The long prompts took more steps to prefill than the first request had decodes left
        // before they came, and it decoded through all of them.
        std::size_t lastLongPrefill = 0;
        std::size_t lastFirst = 0;
        for (std::size_t k = 0; k < log->steps.size(); ++k)
            for (const PlannedSequence& s : log->steps[k]) {
                if (owner.at(s.table) == 0)
                    lastFirst = k;
                else if (s.tokens.size() > 1)
                    lastLongPrefill = k;
            }
        QVERIFY2(lastLongPrefill >= 3 + (200 + 150) / kBudget - 1, qPrintable(QString::number(lastLongPrefill)));
        QVERIFY2(lastFirst > lastLongPrefill, qPrintable(QStringLiteral("%1 %2").arg(lastFirst).arg(lastLongPrefill)));
        for (std::size_t r = 0; r < prompts.size(); ++r) {
            QVERIFY2(runs[r].finished, describe(runs[r]).c_str());
            QCOMPARE(runs[r].tokens, solo(prompts[r], maxTokens[r]));
        }
    }

    void tightKvPoolMatchesSoloRuns()
    {
        // 12 pages of 16 tokens for 8 requests of up to 64 tokens: admission waits for pages and
        // decodes preempt the youngest; the prompts that do fit are still prefilled together.
        const auto prompts = makePrompts({40, 33, 25, 47, 12, 38, 29, 44}, 11);
        constexpr int kMaxTokens = 16;
        auto log = std::make_shared<StepLog>();
        auto scheduler = makeScheduler(Setup{48, 8, 12 * kPageBytes}, log);
        QCOMPARE(scheduler->stats().kvPagesTotal, 12);
        std::vector<GenerateRequest> requests;
        for (const auto& p : prompts)
            requests.push_back(greedyRequest(p, kMaxTokens));
        const std::vector<CollectedRun> runs = runTogether(*scheduler, requests);
        // Stats are published after the step that sent the last events; wait for that.
        SchedulerStats stats = scheduler->stats();
        for (int i = 0; i < 500 && (stats.running > 0 || stats.queued > 0); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            stats = scheduler->stats();
        }
        QCOMPARE(stats.running, 0);
        scheduler.reset();
        for (std::size_t r = 0; r < prompts.size(); ++r) {
            QVERIFY2(runs[r].finished, describe(runs[r]).c_str());
            QCOMPARE(runs[r].tokens, solo(prompts[r], kMaxTokens));
        }
        QCOMPARE(stats.kvPagesUsed, 0);
        std::size_t widestPrefill = 0;
        for (const PlannedStep& step : log->steps) {
            std::size_t prefilling = 0;
            std::int64_t budgeted = 0;
            for (const PlannedSequence& s : step) {
                if (s.tokens.size() > 1) {
                    ++prefilling;
                    budgeted += static_cast<std::int64_t>(s.tokens.size());
                }
            }
            QVERIFY(budgeted <= 48);
            widestPrefill = std::max(widestPrefill, prefilling);
        }
        QVERIFY(widestPrefill >= 2);
    }
};

QTEST_APPLESS_MAIN(TestScheduler)
#include "tst_scheduler.moc"
