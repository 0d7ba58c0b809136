// hearth-test-labels: model
// A few hundred short random requests against an engine with a tiny KV pool (so sequences are
// preempted and recomputed), random cancels from another thread, shared prefixes, the adapter
// on some, seeded sampling on others. Every handle must end exactly once with a reason that fits
// what happened to it; greedy ones that were not cancelled must equal their solo run on a roomy
// engine (preemption and prefix reuse corrupt nothing); and at the end every KV page is free or
// cached again.
#include <QtTest>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::test;

namespace {

struct Planned {
    GenerateRequest request;
    bool greedy = false;
    std::unique_ptr<RequestHandle> handle;
    std::atomic<bool> cancelledByUs{false};
    CollectedRun run;
};

constexpr int kRequests = 240;
constexpr std::uint64_t kPageBytes = 2 * 2 * 16 * 2 * 64 * 4;  // ref-qwen2-d64: layers*(K,V)*tokens*kvHeads*headDim*fp32

}  // namespace

class TestEngineStress : public QObject {
    Q_OBJECT

private slots:
    void randomRequestsTinyPool()
    {
        const std::string dir = referenceModelsDir();
        QVERIFY(!dir.empty());
        EngineOptions tiny;
        tiny.kvBudgetBytes = 14 * kPageBytes;  // 224 tokens for up to 8 sequences of up to ~70
        tiny.maxBatchSequences = 8;
        tiny.maxQueuedRequests = kRequests;
        tiny.prefillChunkTokens = 24;
        auto made = loadedEngine(dir + "/" + kReferenceModelD64, tiny);
        QVERIFY2(made.isOk(), made.isOk() ? "" : made.error().toString().c_str());
        Engine& engine = **made;
        QCOMPARE(engine.stats().kvPagesTotal, 14);
        QVERIFY(engine.attachAdapter("lora", dir + "/" + kReferenceLoraD64).isOk());

        std::mt19937 rng(20261125);
        const std::vector<TokenId> sharedHead = [&] {
            std::vector<TokenId> v;
            for (int i = 0; i < 40; ++i)
                v.push_back(static_cast<TokenId>(rng() % 151000));
            return v;
        }();
        std::vector<std::unique_ptr<Planned>> plan;
        for (int i = 0; i < kRequests; ++i) {
            auto p = std::make_unique<Planned>();
            GenerateRequest& r = p->request;
            const bool shared = rng() % 3 == 0;
            if (shared)
                r.promptIds.assign(sharedHead.begin(), sharedHead.begin() + 16 + static_cast<int>(rng() % 25));
            const int extra = 1 + static_cast<int>(rng() % 40);
            for (int k = 0; k < extra; ++k)
                r.promptIds.push_back(static_cast<TokenId>(rng() % 151000));
            r.maxTokens = 1 + static_cast<int>(rng() % 6);
            r.ignoreEos = true;
            if (rng() % 4 == 0)
                r.adapter = "lora";
            p->greedy = rng() % 2 == 0;
            if (p->greedy) {
                r.sampling.temperature = 0.0f;
            } else {
                r.sampling.temperature = 0.8f;
                r.sampling.topP = 0.9f;
                r.sampling.seed = rng();
            }
            plan.push_back(std::move(p));
        }

        // References for a sample of greedy requests: alone, on an engine with room to spare.
        std::map<int, std::vector<TokenId>> solo;
        {
            auto roomy = loadedEngine(dir + "/" + kReferenceModelD64);
            QVERIFY(roomy.isOk());
            QVERIFY((*roomy)->attachAdapter("lora", dir + "/" + kReferenceLoraD64).isOk());
            for (int i = 0; i < kRequests && solo.size() < 24; ++i)
                if (plan[static_cast<std::size_t>(i)]->greedy) {
                    const CollectedRun run = runRequest(**roomy, plan[static_cast<std::size_t>(i)]->request);
                    QVERIFY2(run.finished, describe(run).c_str());
                    solo[i] = run.tokens;
                }
        }

        std::mutex handlesMutex;
        std::atomic<int> submitted{0};
        // A quarter of the requests get cancelled from another thread, each a random 0-40 ms
        // after it was submitted: some while queued, some mid-prefill or mid-decode.
        std::vector<int> toCancel;
        for (int i = 0; i < kRequests; ++i)
            if (rng() % 4 == 0)
                toCancel.push_back(i);
        std::thread canceller([&] {
            std::mt19937 r(99);
            for (int i : toCancel) {
                while (submitted.load() <= i)
                    std::this_thread::sleep_for(std::chrono::microseconds(200));
                std::this_thread::sleep_for(std::chrono::microseconds(r() % 40000));
                std::lock_guard lock(handlesMutex);
                Planned& p = *plan[static_cast<std::size_t>(i)];
                p.cancelledByUs.store(true);
                p.handle->cancel();
            }
        });
        for (int i = 0; i < kRequests; ++i) {
            auto h = engine.submit(plan[static_cast<std::size_t>(i)]->request);
            QVERIFY2(h.isOk(), h.isOk() ? "" : h.error().toString().c_str());
            {
                std::lock_guard lock(handlesMutex);
                plan[static_cast<std::size_t>(i)]->handle = std::move(*h);
            }
            submitted.store(i + 1);
            if (i % 40 == 39)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let some start before more join
        }
        for (auto& p : plan)
            p->run = collect(*p->handle, std::chrono::seconds(300));
        canceller.join();

        int cancelled = 0;
        int compared = 0;
        for (int i = 0; i < kRequests; ++i) {
            const Planned& p = *plan[static_cast<std::size_t>(i)];
            const std::string where = "request " + std::to_string(i) + ": " + describe(p.run);
            QVERIFY2(p.run.finished, where.c_str());
            QVERIFY2(p.handle->done(), where.c_str());
            QVERIFY2(!p.handle->nextEvent(std::chrono::milliseconds(0)), where.c_str());  // nothing after the end
            const FinishReason reason = p.run.finished->reason;
            if (reason == FinishReason::Cancelled) {
                QVERIFY2(p.cancelledByUs.load(), where.c_str());
                QVERIFY2(static_cast<int>(p.run.tokens.size()) < p.request.maxTokens, where.c_str());
                ++cancelled;
                continue;
            }
            QCOMPARE(reason, FinishReason::Length);
            QCOMPARE(static_cast<int>(p.run.tokens.size()), p.request.maxTokens);
            QCOMPARE(p.run.finished->stats.generatedTokens, p.request.maxTokens);
            const auto it = solo.find(i);
            if (it != solo.end()) {
                QVERIFY2(p.run.tokens == it->second, where.c_str());
                ++compared;
            }
        }
        QVERIFY2(cancelled > 10, std::to_string(cancelled).c_str());
        QVERIFY2(compared >= 10, std::to_string(compared).c_str());

        EngineStats s;
        for (int i = 0; i < 200; ++i) {
            s = engine.stats();
            if (s.running == 0 && s.queued == 0 && s.kvPagesUsed == 0)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        qInfo("%d cancelled, %d compared with solo runs, %llu preemptions, %llu prompt tokens from the cache", cancelled,
              compared, static_cast<unsigned long long>(s.preemptions),
              static_cast<unsigned long long>(s.promptTokensCached));
        QCOMPARE(s.running, 0);
        QCOMPARE(s.queued, 0);
        QCOMPARE(s.kvPagesUsed, 0);  // every page free or cached: nothing leaked
        QVERIFY(s.kvPagesCached <= s.kvPagesTotal);
        QVERIFY2(s.preemptions > 0, "the pool never ran dry; make it smaller");
        QVERIFY(s.promptTokensCached > 0);
        QCOMPARE(s.requestsServed, static_cast<std::uint64_t>(kRequests));
    }
};

QTEST_APPLESS_MAIN(TestEngineStress)
#include "tst_engine_stress.moc"
