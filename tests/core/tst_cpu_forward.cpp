// hearth-test-labels: model
// The CPU backend against Hugging Face transformers (tests/fixtures/reference-models/golden.json,
// made by hf_reference.py on the same synthetic weights): for both reference models and the LoRA
// adapter (applied unmerged, and merged into the weights), every prompt position's top-10
// log-probabilities within 2e-3, the top-1 id wherever the reference margin exceeds 1e-3, and the
// 24-token greedy continuation identical; each prompt as one prefill and token by token through
// the paged KV cache. A mixed batch of two sequences (prefill chunks + decode tokens, one with
// the adapter) must give the rows the single runs give. Broken models and adapters must fail with
// errors that name the tensor.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "engine/cpu/cpu_backend.h"
#include "engine/lora.h"
#include "engine/model_weights.h"
#include "engine/score.h"
#include "model/reference_models.h"
#include "model/safetensors.h"
#include "support/reference_models.h"
#include "support/tiny_model.h"
#include "util/mapped_file.h"

using namespace hearth;
using namespace hearth::test;

namespace {

constexpr int kGreedyTokens = 24;

struct PromptRun {
    std::vector<std::vector<float>> logits;  // [nPositions][vocab]
    std::vector<std::int32_t> greedy;
};

// Drives Backend::forward directly (not scoreSequence) so every position's full row is kept.
Result<PromptRun> runPrompt(Backend& backend, const std::vector<std::int32_t>& ids, bool tokenByToken,
                            const LoraAdapter* adapter)
{
    BlockTable table;
    HEARTH_TRY_STATUS(backend.kvPool().reserve(table, static_cast<std::int64_t>(ids.size()) + kGreedyTokens));
    const std::int64_t vocab = backend.config().vocabSize;
    PromptRun run;
    const auto step = [&](std::vector<std::int32_t> tokens, std::int32_t first, LogitsRows rows) -> Status {
        SequenceStep s;
        s.positions.resize(tokens.size());
        std::iota(s.positions.begin(), s.positions.end(), first);
        s.tokenIds = std::move(tokens);
        s.blockTable = &table;
        s.adapter = adapter;
        s.logits = rows;
        BatchPlan plan;
        plan.sequences.push_back(s);
        HEARTH_TRY_ASSIGN(ForwardResult out, backend.forward(plan));
        for (std::int64_t r = 0; r < out.firstRow.back(); ++r)
            run.logits.emplace_back(out.logits.begin() + r * vocab, out.logits.begin() + (r + 1) * vocab);
        return Status::ok();
    };
    Status s;
    if (tokenByToken) {
        for (std::size_t i = 0; i < ids.size() && s.isOk(); ++i)
            s = step({ids[i]}, static_cast<std::int32_t>(i), LogitsRows::All);
    } else {
        s = step(ids, 0, LogitsRows::All);
    }
    const std::size_t nPrompt = run.logits.size();
    for (int g = 0; g < kGreedyTokens && s.isOk(); ++g) {
        run.greedy.push_back(argmax(run.logits.back().data(), vocab));
        if (g + 1 < kGreedyTokens)
            s = step({run.greedy.back()}, static_cast<std::int32_t>(ids.size()) + g, LogitsRows::Last);
    }
    backend.kvPool().release(table);
    if (!s)
        return s.error();
    run.logits.resize(nPrompt);
    return run;
}

double logSumExp(const std::vector<float>& row)
{
    double m = -INFINITY;
    for (float v : row)
        m = std::max(m, static_cast<double>(v));
    double sum = 0.0;
    for (float v : row)
        sum += std::exp(static_cast<double>(v) - m);
    return m + std::log(sum);
}


}  // namespace

class TestCpuForward : public QObject {
    Q_OBJECT

private:
    std::string m_dir;
    nlohmann::json m_golden;
    std::map<std::string, std::shared_ptr<const ModelWeights>> m_weights;
    std::shared_ptr<const LoraAdapter> m_lora;
    QTemporaryDir m_tmp;

private slots:
    void initTestCase()
    {
        m_dir = test::referenceModelsDir();
        QVERIFY2(!m_dir.empty(), "reference models could not be generated");
        auto text = readTextFile(std::string(HEARTH_FIXTURES_DIR) + "/reference-models/golden.json");
        QVERIFY(text.isOk());
        m_golden = nlohmann::json::parse(*text, nullptr, false);
        QVERIFY(m_golden.is_object());
        for (const char* name : {kReferenceModelD64, kReferenceModelD128}) {
            auto w = ModelWeights::load(m_dir + "/" + name);
            QVERIFY2(w.isOk(), w.isOk() ? "" : w.error().toString().c_str());
            m_weights[name] = *w;
        }
        auto lora = LoraAdapter::load(m_dir + "/" + kReferenceLoraD64, m_weights[kReferenceModelD64]->config());
        QVERIFY2(lora.isOk(), lora.isOk() ? "" : lora.error().toString().c_str());
        m_lora = *lora;
        QCOMPARE(m_lora->scale(), 2.0f);  // alpha 32 / r 16
        auto merged = mergeLora(*m_weights[kReferenceModelD64], *m_lora);
        QVERIFY2(merged.isOk(), merged.isOk() ? "" : merged.error().toString().c_str());
        m_weights["merged"] = *merged;
        QVERIFY(m_tmp.isValid());
    }

    void matchesTransformers_data()
    {
        QTest::addColumn<QString>("weights");
        QTest::addColumn<QString>("golden");
        QTest::addColumn<bool>("unmergedLora");
        QTest::addColumn<bool>("tokenByToken");
        const QString lora = QStringLiteral("ref-qwen2-d64+ref-qwen2-d64-lora");
        for (bool tbt : {false, true}) {
            const std::string mode = tbt ? " token by token" : " prefill";
            QTest::newRow(("d64" + mode).c_str()) << QStringLiteral("ref-qwen2-d64") << QStringLiteral("ref-qwen2-d64") << false << tbt;
            QTest::newRow(("d128" + mode).c_str()) << QStringLiteral("ref-qwen2-d128") << QStringLiteral("ref-qwen2-d128") << false << tbt;
            QTest::newRow(("lora unmerged" + mode).c_str()) << QStringLiteral("ref-qwen2-d64") << lora << true << tbt;
            QTest::newRow(("lora merged" + mode).c_str()) << QStringLiteral("merged") << lora << false << tbt;
        }
    }

    void matchesTransformers()
    {
        QFETCH(QString, weights);
        QFETCH(QString, golden);
        QFETCH(bool, unmergedLora);
        QFETCH(bool, tokenByToken);
        auto backend = CpuBackend::create(m_weights.at(weights.toStdString()), {64ull << 20, 0, 16});
        QVERIFY(backend.isOk());
        const nlohmann::json& prompts = m_golden[golden.toStdString()];
        QCOMPARE(prompts.size(), std::size_t(4));
        double worst = 0.0;
        for (std::size_t p = 0; p < prompts.size(); ++p) {
            const auto ids = prompts[p]["ids"].get<std::vector<std::int32_t>>();
            auto run = runPrompt(**backend, ids, tokenByToken, unmergedLora ? m_lora.get() : nullptr);
            QVERIFY2(run.isOk(), run.isOk() ? "" : run.error().toString().c_str());
            QCOMPARE(run->logits.size(), ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                const auto topIds = prompts[p]["top_ids"][i].get<std::vector<std::int32_t>>();
                const auto topLp = prompts[p]["top_logprobs"][i].get<std::vector<double>>();
                const std::vector<float>& row = run->logits[i];
                const double lse = logSumExp(row);
                for (std::size_t k = 0; k < topIds.size(); ++k) {
                    const double lp = row[static_cast<std::size_t>(topIds[k])] - lse;
                    worst = std::max(worst, std::abs(lp - topLp[k]));
                    if (std::abs(lp - topLp[k]) > 2e-3)
                        QFAIL(qPrintable(QStringLiteral("prompt %1 position %2 id %3: log-prob %4, transformers %5")
                                             .arg(p).arg(i).arg(topIds[k]).arg(lp, 0, 'f', 6).arg(topLp[k], 0, 'f', 6)));
                }
                if (topLp[0] - topLp[1] > 1e-3)
                    QCOMPARE(argmax(row.data(), static_cast<std::int64_t>(row.size())), topIds[0]);
            }
            QCOMPARE(run->greedy, prompts[p]["greedy"].get<std::vector<std::int32_t>>());
        }
        QCOMPARE((*backend)->kvPool().nUsedPages(), 0);
        qInfo("largest log-prob difference from transformers: %.2e", worst);
    }

    // Two sequences in one forward per step (one prefilling in chunks with no adapter, one decoding
    // with the adapter) give the rows each gives alone.
    void mixedBatchEqualsSingleRuns()
    {
        auto backend = CpuBackend::create(m_weights.at(kReferenceModelD64), {64ull << 20, 2, 16});
        QVERIFY(backend.isOk());
        Backend& b = **backend;
        const auto idsA = m_golden[kReferenceModelD64][1]["ids"].get<std::vector<std::int32_t>>();  // 100 tokens
        const auto idsB = m_golden[kReferenceModelD64][2]["ids"].get<std::vector<std::int32_t>>();  // 120 tokens
        auto aloneA = runPrompt(b, idsA, false, nullptr);
        auto aloneB = runPrompt(b, idsB, false, m_lora.get());
        QVERIFY(aloneA.isOk() && aloneB.isOk());

        BlockTable ta, tb;
        QVERIFY(b.kvPool().reserve(ta, 100).isOk());
        QVERIFY(b.kvPool().reserve(tb, 120).isOk());
        std::size_t nextA = 0, nextB = 0;
        double worst = 0.0;
        bool bitExact = true;
        const std::int64_t vocab = b.config().vocabSize;
        while (nextA < idsA.size() || nextB < idsB.size()) {
            BatchPlan plan;
            std::vector<std::pair<const PromptRun*, std::size_t>> owners;  // per sequence: reference, first position
            const auto add = [&](const std::vector<std::int32_t>& ids, std::size_t& next, std::size_t chunk,
                                 const BlockTable& t, const LoraAdapter* adapter, const PromptRun& ref) {
                if (next >= ids.size())
                    return;
                const std::size_t n = std::min(chunk, ids.size() - next);
                SequenceStep s;
                s.tokenIds.assign(ids.begin() + static_cast<std::ptrdiff_t>(next), ids.begin() + static_cast<std::ptrdiff_t>(next + n));
                s.positions.resize(n);
                std::iota(s.positions.begin(), s.positions.end(), static_cast<std::int32_t>(next));
                s.blockTable = &t;
                s.adapter = adapter;
                s.logits = LogitsRows::All;
                plan.sequences.push_back(s);
                owners.push_back({&ref, next});
                next += n;
            };
            add(idsA, nextA, nextA == 0 ? 37 : 9, ta, nullptr, *aloneA);
            add(idsB, nextB, 1, tb, m_lora.get(), *aloneB);
            auto out = b.forward(plan);
            QVERIFY2(out.isOk(), out.isOk() ? "" : out.error().toString().c_str());
            for (std::size_t s = 0; s < plan.sequences.size(); ++s)
                for (std::int64_t r = out->firstRow[s]; r < out->firstRow[s + 1]; ++r) {
                    const auto& ref = owners[s].first->logits[owners[s].second + static_cast<std::size_t>(r - out->firstRow[s])];
                    for (std::int64_t v = 0; v < vocab; ++v) {
                        const float got = out->logits[static_cast<std::size_t>(r * vocab + v)];
                        worst = std::max(worst, static_cast<double>(std::abs(got - ref[static_cast<std::size_t>(v)])));
                        bitExact = bitExact && got == ref[static_cast<std::size_t>(v)];
                    }
                }
        }
        b.kvPool().release(ta);
        b.kvPool().release(tb);
        QCOMPARE(b.kvPool().nUsedPages(), 0);
        qInfo("mixed batch vs single runs: largest difference %.3g (%s)", worst, bitExact ? "bit-identical" : "not bit-identical");
        QVERIFY(worst <= 1e-5);
    }

    void badPlanIsAnError()
    {
        auto backend = CpuBackend::create(m_weights.at(kReferenceModelD128), {8ull << 20, 0, 16});
        QVERIFY(backend.isOk());
        BlockTable t;
        QVERIFY((*backend)->kvPool().reserve(t, 16).isOk());
        BatchPlan plan;
        plan.sequences.push_back({{1, 151936}, {0, 1}, &t, nullptr, 1.0f, LogitsRows::Last});
        auto out = (*backend)->forward(plan);
        QVERIFY(!out.isOk());
        QVERIFY(out.error().message.find("151936") != std::string::npos);
        plan.sequences[0] = {{1}, {16}, &t, nullptr, 1.0f, LogitsRows::Last};  // beyond the table
        QCOMPARE((*backend)->forward(plan).error().code, ErrorCode::InvalidArgument);
        (*backend)->kvPool().release(t);
    }

    void brokenModel_data()
    {
        QTest::addColumn<QString>("drop");
        QTest::addColumn<QString>("reshape");
        QTest::addColumn<QString>("message");
        QTest::newRow("missing") << QStringLiteral("model.layers.1.mlp.down_proj.weight") << QString()
                                 << QStringLiteral("model.safetensors: tensor 'model.layers.1.mlp.down_proj.weight' is missing");
        QTest::newRow("misshapen") << QString() << QStringLiteral("model.layers.1.self_attn.q_proj.weight")
                                   << QStringLiteral("model.safetensors: tensor 'model.layers.1.self_attn.q_proj.weight' has shape [8,16], expected [16,16]");
        QTest::newRow("missing bias") << QStringLiteral("model.layers.0.self_attn.k_proj.bias") << QString()
                                      << QStringLiteral("tensor 'model.layers.0.self_attn.k_proj.bias' is missing");
    }

    void brokenModel()
    {
        QFETCH(QString, drop);
        QFETCH(QString, reshape);
        QFETCH(QString, message);
        const std::string dir = m_tmp.path().toStdString() + "/tiny-" + std::to_string(std::hash<std::string>{}(QTest::currentDataTag()));
        QVERIFY(writeTinyQwen2Model(dir, drop.toStdString(), reshape.toStdString()).isOk());
        auto w = ModelWeights::load(dir);
        QVERIFY(!w.isOk());
        QVERIFY2(w.error().message.find(message.toStdString()) != std::string::npos, w.error().message.c_str());
    }

    void tinyModelLoadsAndRuns()
    {
        const std::string dir = m_tmp.path().toStdString() + "/tiny-ok";
        QVERIFY(writeTinyQwen2Model(dir).isOk());
        auto w = ModelWeights::load(dir);
        QVERIFY2(w.isOk(), w.isOk() ? "" : w.error().toString().c_str());
        auto backend = CpuBackend::create(*w, {1ull << 20, 0, 16});
        QVERIFY(backend.isOk());
        ScoreOptions o;
        o.greedyTokens = 3;
        auto scored = scoreSequence(**backend, {1, 2, 3}, o);
        QVERIFY2(scored.isOk(), scored.isOk() ? "" : scored.error().toString().c_str());
        QCOMPARE(scored->positions.size(), std::size_t(3));
        QCOMPARE(scored->greedy.size(), std::size_t(3));
        QCOMPARE((*backend)->kvPool().nUsedPages(), 0);
    }

    void adapterForAnotherBase()
    {
        auto lora = LoraAdapter::load(m_dir + "/" + kReferenceLoraD64, m_weights.at(kReferenceModelD128)->config());
        QVERIFY(!lora.isOk());
        QVERIFY2(lora.error().message.find("another base model") != std::string::npos, lora.error().message.c_str());
        QVERIFY2(lora.error().message.find("adapter_model.safetensors: tensor 'base_model.model.model.layers.") != std::string::npos,
                 lora.error().message.c_str());
    }

    void corruptAdapter_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<int>("keepBytes");
        QTest::addColumn<QString>("message");
        QTest::newRow("truncated weights") << QStringLiteral("adapter_model.safetensors") << 4000 << QStringLiteral("adapter_model.safetensors");
        QTest::newRow("tiny weights") << QStringLiteral("adapter_model.safetensors") << 5 << QStringLiteral("adapter_model.safetensors");
        QTest::newRow("broken config") << QStringLiteral("adapter_config.json") << 30 << QStringLiteral("adapter_config.json");
    }

    void corruptAdapter()
    {
        QFETCH(QString, file);
        QFETCH(int, keepBytes);
        QFETCH(QString, message);
        const std::string dir = m_tmp.path().toStdString() + "/lora-" + std::to_string(std::hash<std::string>{}(QTest::currentDataTag()));
        std::filesystem::create_directories(dir);
        for (const char* f : {"adapter_config.json", "adapter_model.safetensors"})
            std::filesystem::copy_file(m_dir + "/" + kReferenceLoraD64 + "/" + f, dir + "/" + f,
                                       std::filesystem::copy_options::overwrite_existing);
        std::filesystem::resize_file(dir + "/" + file.toStdString(), static_cast<std::uintmax_t>(keepBytes));
        auto lora = LoraAdapter::load(dir, m_weights.at(kReferenceModelD64)->config());
        QVERIFY(!lora.isOk());
        QVERIFY2(lora.error().message.find(message.toStdString()) != std::string::npos, lora.error().message.c_str());
    }

    void loraSpec()
    {
        QCOMPARE(parseLoraSpec("/a/b").value(), std::make_pair(std::string("/a/b"), 1.0f));
        QCOMPARE(parseLoraSpec("/a/b:0.5").value(), std::make_pair(std::string("/a/b"), 0.5f));
        QCOMPARE(parseLoraSpec("/a:b/c").value(), std::make_pair(std::string("/a:b/c"), 1.0f));
    }
};

QTEST_APPLESS_MAIN(TestCpuForward)
#include "tst_cpu_forward.moc"
