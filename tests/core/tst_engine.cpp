// hearth-test-labels: model
// The Engine facade on the CPU backend, against references that do not come from the engine:
// greedy continuations equal golden.json's (Hugging Face transformers) for both reference models
// and the LoRA adapter; concurrent greedy requests of different lengths joining at different
// steps (some with the adapter, prefill chunked) give exactly their solo outputs; a second
// conversation turn reuses cached prefix pages and still gives the cold-cache output; load
// progress ends with every weight byte read; cancelLoad never leaves a Ready model; requests
// submitted while loading complete; bad requests and adapters fail clearly without disturbing
// a request running beside them; stop ids, stop strings, eos, cancel and handle destruction end
// requests with the right reason and give every KV page back.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "engine/backend_probe.h"
#include "engine/engine.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "support/reference_models.h"
#include "util/mapped_file.h"

using namespace hearth;
using namespace hearth::test;

namespace {

constexpr int kGreedyTokens = 24;
const char* const kLora = "lora";


// Safetensors tensor bytes computed from the file itself: size - 8 - header length.
std::uint64_t tensorBytesOf(const std::string& file)
{
    std::ifstream in(file, std::ios::binary);
    std::uint64_t headerLen = 0;
    in.read(reinterpret_cast<char*>(&headerLen), 8);
    return std::filesystem::file_size(file) - 8 - headerLen;
}

bool waitForIdle(Engine& engine)
{
    for (int i = 0; i < 500; ++i) {
        const EngineStats s = engine.stats();
        if (s.running == 0 && s.queued == 0 && s.kvPagesUsed == 0)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace

class TestEngine : public QObject {
    Q_OBJECT

    std::string m_dir;
    std::map<std::string, std::vector<GoldenGreedy>> m_golden;
    std::unique_ptr<Engine> m_d64;   // with the adapter attached as "lora"
    std::unique_ptr<Engine> m_d128;
    std::vector<CollectedRun> m_solo;  // batchInvariance's references

    std::string model(const char* name) const { return m_dir + "/" + name; }

private slots:
    void initTestCase()
    {
        m_dir = referenceModelsDir();
        QVERIFY2(!m_dir.empty(), "reference models could not be generated");
        m_golden = readGoldenGreedy();
        QCOMPARE(m_golden.size(), std::size_t(3));
        auto d64 = loadedEngine(model(kReferenceModelD64));
        QVERIFY2(d64.isOk(), d64.isOk() ? "" : d64.error().toString().c_str());
        m_d64 = std::move(*d64);
        const Status attached = m_d64->attachAdapter(kLora, model(kReferenceLoraD64));
        QVERIFY2(attached.isOk(), attached.isOk() ? "" : attached.error().toString().c_str());
        auto d128 = loadedEngine(model(kReferenceModelD128));
        QVERIFY2(d128.isOk(), d128.isOk() ? "" : d128.error().toString().c_str());
        m_d128 = std::move(*d128);
    }

    void greedyMatchesGolden_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<int>("prompt");
        for (const char* key : {"ref-qwen2-d64", "ref-qwen2-d128", "ref-qwen2-d64+ref-qwen2-d64-lora"})
            for (int p = 0; p < 4; ++p)
                QTest::newRow((std::string(key) + " #" + std::to_string(p)).c_str()) << QString::fromLatin1(key) << p;
    }

    void greedyMatchesGolden()
    {
        QFETCH(QString, key);
        QFETCH(int, prompt);
        const GoldenGreedy& g = m_golden.at(key.toStdString()).at(static_cast<std::size_t>(prompt));
        const bool lora = key.contains(QLatin1Char('+'));
        Engine& engine = key == QLatin1String("ref-qwen2-d128") ? *m_d128 : *m_d64;
        const CollectedRun run = runRequest(engine, greedyRequest(g.ids, kGreedyTokens, lora ? kLora : ""));
        QVERIFY2(run.finished, describe(run).c_str());
        QCOMPARE(run.finished->reason, FinishReason::Length);
        QCOMPARE(run.tokens, g.greedy);
        QCOMPARE(run.finished->stats.promptTokens, static_cast<std::int32_t>(g.ids.size()));
        QCOMPARE(run.finished->stats.generatedTokens, kGreedyTokens);
        QVERIFY(run.finished->stats.timeToFirstTokenMs > 0.0);
        QVERIFY(run.finished->stats.decodeTokensPerS > 0.0);
        const auto tokenizer = engine.tokenizer();
        QCOMPARE(run.text, tokenizer->decode(g.greedy, true));
    }

    void batchInvariance_data()
    {
        QTest::addColumn<bool>("warmCache");
        QTest::newRow("fresh engine") << false;
        QTest::newRow("after the solo runs") << true;
    }

    // Ten greedy requests, lengths 1..178 (so prefill is chunked by 16), three with the adapter,
    // submitted in three waves while earlier ones are decoding.
    void batchInvariance()
    {
        QFETCH(bool, warmCache);
        std::vector<GenerateRequest> requests;
        std::mt19937 rng(3);
        const auto& golden = m_golden.at(kReferenceModelD64);
        for (int i = 0; i < 10; ++i) {
            std::vector<TokenId> ids = golden[static_cast<std::size_t>(i % 4)].ids;
            const int extra = i == 0 ? 0 : static_cast<int>(rng() % 76) - 17;
            if (extra < 0)
                ids.resize(std::max<std::size_t>(1, ids.size() - std::min<std::size_t>(ids.size(), static_cast<std::size_t>(-extra))));
            for (int k = 0; k < extra; ++k)
                ids.push_back(static_cast<TokenId>(rng() % 150000));
            requests.push_back(greedyRequest(ids, 5 + static_cast<int>(rng() % 10), i % 3 == 1 ? kLora : ""));
        }
        EngineOptions options;
        options.prefillChunkTokens = 16;
        auto fresh = loadedEngine(model(kReferenceModelD64), options);
        QVERIFY(fresh.isOk());
        Engine& engine = **fresh;
        QVERIFY(engine.attachAdapter(kLora, model(kReferenceLoraD64)).isOk());

        if (m_solo.empty())  // the same requests for both rows: their solo runs are computed once
            for (const auto& r : requests)
                m_solo.push_back(runRequest(*m_d64, r));  // another engine, one request at a time
        const std::vector<CollectedRun>& solo = m_solo;
        if (warmCache)
            for (const auto& r : requests)
                QVERIFY(runRequest(engine, r).finished);

        std::vector<std::unique_ptr<RequestHandle>> handles;
        const auto submit = [&](std::size_t from, std::size_t to) {
            for (std::size_t i = from; i < to; ++i) {
                auto h = engine.submit(requests[i]);
                QVERIFY(h.isOk());
                handles.push_back(std::move(*h));
            }
        };
        std::vector<std::vector<TokenId>> firstTokens(requests.size());
        const auto readTokens = [&](std::size_t i, int n) {
            for (int k = 0; k < n; ++k) {
                auto e = handles[i]->nextEvent(std::chrono::seconds(60));
                QVERIFY(e && std::holds_alternative<TokenEvent>(*e));
                firstTokens[i].push_back(std::get<TokenEvent>(*e).token);
            }
        };
        submit(0, 4);
        readTokens(0, 3);
        submit(4, 7);
        readTokens(4, 2);
        submit(7, 10);
        for (std::size_t i = 0; i < requests.size(); ++i) {
            CollectedRun run = collect(*handles[i]);
            QVERIFY2(run.finished, describe(run).c_str());
            run.tokens.insert(run.tokens.begin(), firstTokens[i].begin(), firstTokens[i].end());
            QVERIFY2(solo[i].finished, describe(solo[i]).c_str());
            QVERIFY2(run.tokens == solo[i].tokens, ("request " + std::to_string(i)).c_str());
            QCOMPARE(static_cast<int>(run.tokens.size()), requests[i].maxTokens);
            if (warmCache)
                QVERIFY(run.finished->stats.cachedPromptTokens > 0 || requests[i].promptIds.size() <= 16);
        }
        // Request 0 is a golden prompt as it is: its solo run matches Hugging Face too.
        QCOMPARE(solo[0].tokens, std::vector<TokenId>(golden[0].greedy.begin(),
                                                      golden[0].greedy.begin() + requests[0].maxTokens));
        QVERIFY(waitForIdle(engine));
    }

    // A chat's second turn: the first turn's prompt and reply come back from the cache.
    void prefixReuse_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::newRow("base") << QString();
        QTest::newRow("adapter") << QString::fromLatin1(kLora);
    }

    void prefixReuse()
    {
        QFETCH(QString, adapter);
        auto warmEngine = loadedEngine(model(kReferenceModelD64));
        auto coldEngine = loadedEngine(model(kReferenceModelD64));
        QVERIFY(warmEngine.isOk() && coldEngine.isOk());
        Engine& warm = **warmEngine;
        Engine& cold = **coldEngine;
        QVERIFY(warm.attachAdapter(kLora, model(kReferenceLoraD64)).isOk());
        QVERIFY(cold.attachAdapter(kLora, model(kReferenceLoraD64)).isOk());
        const auto tok = warm.tokenizer();
        const std::vector<TokenId> turn1 = tok->encode(
            "<|im_start|>system\nYou are Hearth, a helpful assistant that runs on this computer. Answer briefly, "
            "cite sources when you can, and say so when you do not know.<|im_end|>\n<|im_start|>user\nWhat is "
            "a KV cache?<|im_end|>\n<|im_start|>assistant\n");
        QVERIFY(turn1.size() >= 48);
        const std::string name = adapter.toStdString();
        const CollectedRun first = runRequest(warm, greedyRequest(turn1, 12, name));
        QVERIFY(first.finished);
        QCOMPARE(first.finished->stats.cachedPromptTokens, 0);

        std::vector<TokenId> turn2 = turn1;
        turn2.insert(turn2.end(), first.tokens.begin(), first.tokens.end());
        const auto more = tok->encode("<|im_end|>\n<|im_start|>user\nAnd a page?<|im_end|>\n<|im_start|>assistant\n");
        turn2.insert(turn2.end(), more.begin(), more.end());
        const CollectedRun second = runRequest(warm, greedyRequest(turn2, 12, name));
        const CollectedRun reference = runRequest(cold, greedyRequest(turn2, 12, name));
        QVERIFY(second.finished && reference.finished);
        // Everything the first turn computed, in whole pages of 16 (its last token was never fed).
        const auto computed = static_cast<std::int32_t>(turn1.size() + first.tokens.size() - 1);
        QCOMPARE(second.finished->stats.cachedPromptTokens, computed / 16 * 16);
        QCOMPARE(reference.finished->stats.cachedPromptTokens, 0);
        QCOMPARE(second.tokens, reference.tokens);
        QVERIFY(warm.stats().promptTokensCached >= static_cast<std::uint64_t>(computed / 16 * 16));

        // The same tokens under the other model variant (adapter vs base) must not hit the cache.
        const CollectedRun other = runRequest(warm, greedyRequest(turn2, 4, name.empty() ? kLora : ""));
        QVERIFY(other.finished);
        QCOMPARE(other.finished->stats.cachedPromptTokens, 0);
        QVERIFY(waitForIdle(warm));
        QVERIFY(warm.stats().kvPagesCached > 0);
    }

    void loadProgressReachesReady()
    {
        std::mutex mutex;
        std::vector<LoadProgress> seen;
        EngineOptions options;
        options.backend = BackendChoice::Auto;
        options.loadReadChunkBytes = 8u << 20;
        options.onLoadProgress = [&](const LoadProgress& p) {
            std::lock_guard lock(mutex);
            seen.push_back(p);
        };
        auto engine = Engine::create(options);
        QVERIFY(engine.isOk());
        QCOMPARE((*engine)->state().kind, EngineStateKind::Empty);
        const std::string dir = model(kReferenceModelD64);
        QVERIFY((*engine)->load(dir).isOk());
        QCOMPARE((*engine)->state().kind, EngineStateKind::Loading);
        QVERIFY((*engine)->waitUntilLoaded().isOk());
        const EngineState state = (*engine)->state();
        QCOMPARE(state.kind, EngineStateKind::Ready);
        QCOMPARE(state.backendName, std::string("cpu"));
        QVERIFY(!state.reason.empty());  // why the CPU
        QCOMPARE(state.modelPath, dir);
        const std::uint64_t total = tensorBytesOf(dir + "/model.safetensors");
        QCOMPARE(state.progress.bytesTotal, total);
        QCOMPARE(state.progress.bytesDone, total);

        std::lock_guard lock(mutex);
        QCOMPARE(seen.front().stage, std::string("opening"));
        std::uint64_t last = 0;
        int reading = 0;
        for (const LoadProgress& p : seen) {
            if (p.stage != "reading")
                continue;
            ++reading;
            QVERIFY(p.bytesDone >= last);
            QCOMPARE(p.bytesTotal, total);
            QCOMPARE(p.file, std::string("model.safetensors"));
            last = p.bytesDone;
        }
        QVERIFY2(reading >= static_cast<int>(total / (8u << 20)), std::to_string(reading).c_str());
        QCOMPARE(last, total);
        const auto info = (*engine)->modelInfo();
        QVERIFY(info);
        QCOMPARE(info->architecture, std::string("Qwen2ForCausalLM"));
        QCOMPARE(info->vocabSize, std::int64_t(151936));
        QVERIFY(info->contextLength > 0 && info->contextLength <= 32768);
    }

    void cancelLoad()
    {
        std::unique_ptr<Engine> engine;
        EngineOptions options;
        options.backend = BackendChoice::Cpu;
        options.loadReadChunkBytes = 1u << 20;
        Engine* raw = nullptr;
        // Cancel from inside the load, once reading has started: deterministic, no timing race.
        options.onLoadProgress = [&](const LoadProgress& p) {
            if (p.stage == "reading" && p.bytesDone > 0)
                raw->cancelLoad();
        };
        auto created = Engine::create(options);
        QVERIFY(created.isOk());
        engine = std::move(*created);
        raw = engine.get();
        QVERIFY(engine->load(model(kReferenceModelD64)).isOk());
        auto waiting = engine->submit(greedyRequest({1, 2, 3}, 2));
        QVERIFY(waiting.isOk());
        const Status outcome = engine->waitUntilLoaded();
        QVERIFY(!outcome.isOk());
        QCOMPARE(outcome.error().code, ErrorCode::Cancelled);
        QCOMPARE(engine->state().kind, EngineStateKind::Empty);
        QVERIFY(engine->tokenizer() == nullptr);
        const CollectedRun run = collect(**waiting);
        QVERIFY2(run.failed && run.failed->code == ErrorCode::Cancelled, describe(run).c_str());
        auto refused = engine->submit(greedyRequest({1, 2, 3}, 2));
        QVERIFY(!refused.isOk());
        QCOMPARE(refused.error().code, ErrorCode::Unavailable);
    }

    void requestsSubmittedDuringLoadComplete()
    {
        EngineOptions options;
        options.backend = BackendChoice::Cpu;
        options.maxQueuedRequests = 3;
        auto engine = Engine::create(options);
        QVERIFY(engine.isOk());
        QVERIFY((*engine)->load(model(kReferenceModelD128)).isOk());  // Loading from here on
        const auto& golden = m_golden.at(kReferenceModelD128);
        auto a = (*engine)->submit(greedyRequest(golden[0].ids, kGreedyTokens));
        auto b = (*engine)->submit(greedyRequest(golden[1].ids, kGreedyTokens));
        auto c = (*engine)->submit(greedyRequest(golden[2].ids, kGreedyTokens));
        QVERIFY(a.isOk() && b.isOk() && c.isOk());
        auto full = (*engine)->submit(greedyRequest(golden[3].ids, kGreedyTokens));
        QVERIFY(!full.isOk());
        QCOMPARE(full.error().code, ErrorCode::Busy);
        QCOMPARE(full.error().message, std::string("engine busy: 3 requests queued"));
        auto withAdapter = (*engine)->submit(greedyRequest(golden[3].ids, 2, kLora));
        QCOMPARE(withAdapter.error().code, ErrorCode::InvalidArgument);
        (*b)->cancel();
        QVERIFY((*engine)->waitUntilLoaded().isOk());
        const CollectedRun ra = collect(**a);
        const CollectedRun rb = collect(**b);
        const CollectedRun rc = collect(**c);
        QCOMPARE(ra.tokens, golden[0].greedy);
        QCOMPARE(rc.tokens, golden[2].greedy);
        QVERIFY2(rb.finished && rb.finished->reason == FinishReason::Cancelled, describe(rb).c_str());
    }

    // prefillChunkTokens 0 means the backend's default (validated, then resolved at load);
    // a negative chunk is refused up front.
    void prefillChunkOption()
    {
        EngineOptions options;
        QCOMPARE(options.prefillChunkTokens, 0);
        QVERIFY(Engine::create(options).isOk());
        options.prefillChunkTokens = -1;
        auto refused = Engine::create(options);
        QVERIFY(!refused.isOk());
        QCOMPARE(refused.error().code, ErrorCode::InvalidArgument);
        options.prefillChunkTokens = 0;
        QCOMPARE(prefillChunkTokensFor(options, false), kCpuPrefillChunkTokens);
        QCOMPARE(prefillChunkTokensFor(options, true), kCudaPrefillChunkTokens);
        options.prefillChunkTokens = 100;
        QCOMPARE(prefillChunkTokensFor(options, true), 100);
    }

    void backendChoice()
    {
        EngineOptions options;
        options.backend = BackendChoice::Cuda;
        auto cuda = Engine::create(options);
        // Asking for CUDA where there is no usable device is refused up front, with the reason.
        if (probeBackends().gpus.empty()) {
            QVERIFY(!cuda.isOk());
            QCOMPARE(cuda.error().code, ErrorCode::Unavailable);
            QVERIFY(cuda.error().message.find("CUDA") != std::string::npos);
        } else {
            QVERIFY2(cuda.isOk(), cuda.isOk() ? "" : cuda.error().message.c_str());
        }
        auto empty = Engine::create();
        QVERIFY(empty.isOk());
        auto refused = (*empty)->submit(greedyRequest({1}, 1));
        QCOMPARE(refused.error().code, ErrorCode::Unavailable);
        QCOMPARE((*empty)->waitUntilLoaded().error().code, ErrorCode::Unavailable);
        QVERIFY((*empty)->load(m_dir + "/no-such-model").isOk());
        QVERIFY(!(*empty)->waitUntilLoaded().isOk());
        QCOMPARE((*empty)->state().kind, EngineStateKind::Failed);
        QVERIFY((*empty)->state().reason.find("no-such-model") != std::string::npos);
    }

    void badInput_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<QString>("message");
        QTest::newRow("empty prompt") << 0 << "prompt is empty";
        QTest::newRow("max tokens 0") << 1 << "max_tokens is 0";
        QTest::newRow("max tokens -5") << 2 << "max_tokens is -5";
        QTest::newRow("beyond context") << 3 << "exceed the context length";
        QTest::newRow("NaN temperature") << 4 << "temperature";
        QTest::newRow("negative temperature") << 5 << "temperature";
        QTest::newRow("top_p 0") << 6 << "top_p";
        QTest::newRow("top_p 1.5") << 7 << "top_p";
        QTest::newRow("unknown adapter") << 8 << "unknown adapter 'nope'";
        QTest::newRow("token outside vocabulary") << 9 << "outside the vocabulary";
    }

    // Each bad request is refused at submit while a good one runs beside it, untouched.
    void badInput()
    {
        QFETCH(int, which);
        QFETCH(QString, message);
        const GoldenGreedy& g = m_golden.at(kReferenceModelD64)[1];
        auto good = m_d64->submit(greedyRequest(g.ids, kGreedyTokens));
        QVERIFY(good.isOk());
        GenerateRequest bad = greedyRequest({1, 2, 3}, 4);
        switch (which) {
        case 0: bad.promptIds.clear(); break;
        case 1: bad.maxTokens = 0; break;
        case 2: bad.maxTokens = -5; break;
        case 3: bad.maxTokens = static_cast<std::int32_t>(m_d64->modelInfo()->contextLength); break;
        case 4: bad.sampling.temperature = std::nanf(""); break;
        case 5: bad.sampling.temperature = -0.5f; break;
        case 6: bad.sampling.topP = 0.0f; break;
        case 7: bad.sampling.topP = 1.5f; break;
        case 8: bad.adapter = "nope"; break;
        case 9: bad.promptIds[1] = 151936; break;
        }
        auto refused = m_d64->submit(bad);
        QVERIFY(!refused.isOk());
        QCOMPARE(refused.error().code, ErrorCode::InvalidArgument);
        QVERIFY2(refused.error().message.find(message.toStdString()) != std::string::npos, refused.error().message.c_str());
        const CollectedRun run = collect(**good);
        QCOMPARE(run.tokens, g.greedy);
    }

    void badAdapters()
    {
        // Another base model's adapter.
        const Status other = m_d128->attachAdapter("x", model(kReferenceLoraD64));
        QVERIFY(!other.isOk());
        QVERIFY2(other.message().find("another base model") != std::string::npos, other.message().c_str());
        // A corrupt copy.
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString() + "/lora";
        std::filesystem::create_directories(dir);
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
            std::filesystem::copy_file(model(kReferenceLoraD64) + "/" + f, dir + "/" + f);
        std::filesystem::resize_file(dir + "/adapter_model.safetensors", 4000);
        const Status corrupt = m_d64->attachAdapter("broken", dir);
        QVERIFY(!corrupt.isOk());
        QVERIFY2(corrupt.message().find("adapter_model.safetensors") != std::string::npos, corrupt.message().c_str());
        // Names: duplicates and detaching unknown ones.
        QCOMPARE(m_d64->attachAdapter(kLora, model(kReferenceLoraD64)).error().code, ErrorCode::InvalidArgument);
        QCOMPARE(m_d64->detachAdapter("broken").error().code, ErrorCode::NotFound);
        QCOMPARE(m_d64->modelInfo()->adapters, std::vector<std::string>{kLora});
    }

    void finishReasons_data()
    {
        QTest::addColumn<int>("which");
        QTest::newRow("stop id") << 0;
        QTest::newRow("stop string") << 1;
        QTest::newRow("eos") << 2;
        QTest::newRow("cancel") << 3;
    }

    void finishReasons()
    {
        QFETCH(int, which);
        const GoldenGreedy& g = m_golden.at(kReferenceModelD64)[2];
        const auto tok = m_d64->tokenizer();
        GenerateRequest r = greedyRequest(g.ids, kGreedyTokens);
        if (which == 0) {
            r.stopIds = {g.greedy[5]};
            const auto firstAt = std::find(g.greedy.begin(), g.greedy.end(), g.greedy[5]) - g.greedy.begin();
            const CollectedRun run = runRequest(*m_d64, r);
            QVERIFY2(run.finished && run.finished->reason == FinishReason::Stop, describe(run).c_str());
            QCOMPARE(run.tokens, std::vector<TokenId>(g.greedy.begin(), g.greedy.begin() + firstAt + 1));
            QCOMPARE(run.text, tok->decode(std::vector<TokenId>(g.greedy.begin(), g.greedy.begin() + firstAt), true));
        } else if (which == 1) {
            const std::string full = tok->decode(g.greedy, true);
            const std::string tail = tok->decode(std::vector<TokenId>(g.greedy.begin() + 10, g.greedy.end()), true);
            const std::string stop = tail.substr(0, std::min<std::size_t>(tail.size(), 4));
            QVERIFY(!stop.empty());
            r.stopStrings = {stop};
            const CollectedRun run = runRequest(*m_d64, r);
            QVERIFY2(run.finished && run.finished->reason == FinishReason::Stop, describe(run).c_str());
            QCOMPARE(run.finished->matchedStop, std::optional<std::string>(stop));
            QCOMPARE(run.text, full.substr(0, full.find(stop)));
        } else if (which == 2) {
            r.ignoreEos = false;
            const TokenId eos = *tok->specialTokens().eos;
            r.sampling.logitBias[eos] = 100.0f;
            const CollectedRun run = runRequest(*m_d64, r);
            QVERIFY2(run.finished && run.finished->reason == FinishReason::Eos, describe(run).c_str());
            QCOMPARE(run.tokens, std::vector<TokenId>{eos});
            QCOMPARE(run.text, std::string());
        } else {
            r.maxTokens = 10000;
            auto h = m_d64->submit(r);
            QVERIFY(h.isOk());
            for (int i = 0; i < 2; ++i)
                QVERIFY((*h)->nextEvent(std::chrono::seconds(60)).has_value());
            std::thread([&] { (*h)->cancel(); }).join();
            const CollectedRun run = collect(**h);
            QVERIFY2(run.finished && run.finished->reason == FinishReason::Cancelled, describe(run).c_str());
            QVERIFY(run.finished->stats.generatedTokens < 10000);
            QVERIFY((*h)->done());
            // Dropping a handle mid-stream cancels it too.
            auto dropped = m_d64->submit(r);
            QVERIFY(dropped.isOk());
            QVERIFY((*dropped)->nextEvent(std::chrono::seconds(60)).has_value());
            std::unique_ptr<RequestHandle> owned = std::move(*dropped);
            owned.reset();
        }
        QVERIFY(waitForIdle(*m_d64));
    }

    void unloadEndsRequests()
    {
        auto engine = loadedEngine(model(kReferenceModelD128));
        QVERIFY(engine.isOk());
        auto h = (*engine)->submit(greedyRequest({1, 2, 3}, 10000));
        QVERIFY(h.isOk());
        QVERIFY((*h)->nextEvent(std::chrono::seconds(60)).has_value());
        (*engine)->unload();
        QCOMPARE((*engine)->state().kind, EngineStateKind::Empty);
        const CollectedRun run = collect(**h);
        QVERIFY2(run.failed && run.failed->code == ErrorCode::Unavailable, describe(run).c_str());
        QVERIFY(!(*engine)->modelInfo());
    }
};

QTEST_APPLESS_MAIN(TestEngine)
#include "tst_engine.moc"
