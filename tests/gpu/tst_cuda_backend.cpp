// hearth-test-labels: model
// The CUDA backend end to end on the public reference models, in fp16 and in bf16:
// - against Hugging Face transformers (tests/fixtures/reference-models/golden.json): at every
//   prompt position the top-10 log-probabilities within 0.05 and the top-1 id wherever the
//   reference margin between top-1 and top-2 exceeds 0.05; with and without the LoRA adapter
//   (applied unmerged); each prompt as one prefill and token by token;
// - the 16-token greedy continuation: golden's continuation is fed back through decode steps
//   (teacher forcing) and at every step the top-1 must be golden's token wherever the fp32 CPU
//   backend (which matches transformers to ~1e-4) decides it by more than 0.05, with log-probs
//   within 0.05 of the CPU's. A free-running exact 16-token comparison is not asked for: on these
//   models every continuation passes steps decided by less than 0.03 (some by 1e-4), where any
//   half-precision rounding may pick the other token; the free-running agreement is logged;
// - against the CPU backend (the fp32 reference) on the same BatchPlans: prefill chunks that end
//   inside a page, decode steps, two sequences in one step, one of them with the adapter;
// - batch invariance: a sequence's rows alone equal its rows in a mixed prefill/decode batch
//   (within the same tolerance: small batches use the GEMV kernel, larger ones cuBLAS);
// - a malformed plan is the CPU backend's InvalidArgument and changes nothing; a model that
//   cannot fit is OutOfMemory saying what was needed and what was free;
// - the engine with --backend cuda loads a reference model and generates golden's tokens up to
//   the first step the fp32 reference leaves undecided (margin < 0.05);
// - CUDA graphs (decode_script.h): decode steps replayed from captured graphs match the fp32 CPU
//   backend (as above) and the eager CUDA path (HEARTH_CUDA_GRAPHS=0, a backend of its own) at
//   batch 1, 3, 5 and 17 (buckets 1, 4, 8, 24), with contexts crossing a context bucket,
//   sequences finishing mid-batch, new inputs at every step and after the buffers a graph points
//   at grew; every such step must have launched a graph, with the expected number of captures and
//   no fallback, and steps with LoRA or prefill rows never do;
// - greedy ids picked on the device (SequenceStep::argmaxOnly), eagerly and through graphs, with
//   every row or every other one flagged: the CPU backend's top-1 where it is decided by more than
//   0.05, the other rows' logits as above.
// Skipped (QSKIP, exit 0) without a CUDA device. The reference models are generated into a
// temporary folder from the tokenizer fixture; HEARTH_TEST_FIXTURES_DIR overrides the fixture
// folder compiled in (the GPU machine runs the tests from another checkout path).
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <numeric>

#include "engine/cpu/cpu_backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/engine.h"
#include "engine/lora.h"
#include "engine/model_weights.h"
#include "engine/score.h"
#include "kernels.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "util/mapped_file.h"

#include "decode_script.h"

using namespace hearth;

namespace {

constexpr int kGreedyTokens = 16;
constexpr double kMargin = 0.05;

// Log-probabilities within 0.05 of the reference in fp16 (issue #5). bf16 keeps 8 bits of
// mantissa, not 11: transformers itself, run in bf16 on these models, is up to 0.066 (d64) and
// 0.077 (d128) off its fp32 goldens (tests/reference/measure_dtype_deviation.py), so bf16 runs are
// held to 0.1, and to the same against the CPU backend (which rounds at other points).
double logprobTolerance(bool bf16) { return bf16 ? 0.1 : 0.05; }
// Top-1 must equal the reference's where the reference decides it by more than this: 0.05 in fp16
// (issue #5), the bf16 tolerance in bf16, where each log-prob may be that far off; transformers'
// own bf16 run of the LoRA model flips its top-1 at golden margins of 0.0505 and 0.0567
// (measure_dtype_deviation.py), so a 0.05 margin would fail the reference implementation too.
double topMargin(bool bf16) { return bf16 ? logprobTolerance(true) : kMargin; }

std::string fixturesDir()
{
    const char* env = std::getenv("HEARTH_TEST_FIXTURES_DIR");
    return env && *env ? std::string(env) : std::string(HEARTH_FIXTURES_DIR);
}

std::vector<double> logSoftmax(const float* row, std::int64_t n)
{
    double m = -INFINITY;
    for (std::int64_t i = 0; i < n; ++i)
        m = std::max(m, static_cast<double>(row[i]));
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i)
        sum += std::exp(static_cast<double>(row[i]) - m);
    const double lse = m + std::log(sum);
    std::vector<double> out(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = static_cast<double>(row[i]) - lse;
    return out;
}

// Indices of the `k` largest values, largest first (ties by lower index).
std::vector<std::int32_t> topK(const std::vector<double>& v, std::size_t k)
{
    std::vector<std::int32_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), [&](std::int32_t a, std::int32_t b) {
        return v[static_cast<std::size_t>(a)] > v[static_cast<std::size_t>(b)] ||
               (v[static_cast<std::size_t>(a)] == v[static_cast<std::size_t>(b)] && a < b);
    });
    idx.resize(k);
    return idx;
}

// Compares a row with a reference row: the log-probabilities of the reference's top 10 within
// `tolerance`, and the same top-1 where the reference is decided by more than kMargin (or, looser,
// by more than the tolerance: see topMargin).
// Empty when they agree, else what differs. `worst` collects the largest difference.
std::string compareRows(const float* got, const float* ref, std::int64_t vocab, double& worst, double tolerance)
{
    const std::vector<double> g = logSoftmax(got, vocab);
    const std::vector<double> r = logSoftmax(ref, vocab);
    const std::vector<std::int32_t> top = topK(r, 10);
    for (std::int32_t id : top) {
        const double diff = std::abs(g[static_cast<std::size_t>(id)] - r[static_cast<std::size_t>(id)]);
        worst = std::max(worst, diff);
        if (diff > tolerance)
            return "id " + std::to_string(id) + ": log-prob " + std::to_string(g[static_cast<std::size_t>(id)]) +
                   ", reference " + std::to_string(r[static_cast<std::size_t>(id)]);
    }
    const double margin = r[static_cast<std::size_t>(top[0])] - r[static_cast<std::size_t>(top[1])];
    const std::int32_t gotTop = argmax(got, vocab);
    if (margin > std::max(kMargin, tolerance) && gotTop != top[0])
        return "top-1 " + std::to_string(gotTop) + ", reference " + std::to_string(top[0]) + " (margin " +
               std::to_string(margin) + ")";
    return {};
}

// One prompt through Backend::forward: every prompt position's logits, then `continuation` fed
// back one decode step at a time (teacher forcing); `next[i]` holds the logits that predict
// continuation[i] (the last prompt row for i = 0).
struct PromptRun {
    std::vector<std::vector<float>> logits;  // [nPrompt][vocab]
    std::vector<std::vector<float>> next;    // [continuation.size()][vocab]
};

Result<PromptRun> runForced(Backend& backend, const std::vector<std::int32_t>& ids, const std::vector<std::int32_t>& continuation,
                            bool tokenByToken, const LoraAdapter* adapter)
{
    BlockTable table;
    HEARTH_TRY_STATUS(backend.kvPool().reserve(table, static_cast<std::int64_t>(ids.size() + continuation.size())));
    const std::int64_t vocab = backend.config().vocabSize;
    PromptRun run;
    const auto step = [&](std::vector<std::int32_t> tokens, std::int32_t first, LogitsRows rows,
                          std::vector<std::vector<float>>& into) -> Status {
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
            into.emplace_back(out.logits.begin() + r * vocab, out.logits.begin() + (r + 1) * vocab);
        return Status::ok();
    };
    Status s;
    if (tokenByToken) {
        for (std::size_t i = 0; i < ids.size() && s.isOk(); ++i)
            s = step({ids[i]}, static_cast<std::int32_t>(i), LogitsRows::All, run.logits);
    } else {
        s = step(ids, 0, LogitsRows::All, run.logits);
    }
    if (s.isOk() && !continuation.empty())
        run.next.push_back(run.logits.back());
    for (std::size_t g = 0; g + 1 < continuation.size() && s.isOk(); ++g)
        s = step({continuation[g]}, static_cast<std::int32_t>(ids.size() + g), LogitsRows::Last, run.next);
    backend.kvPool().release(table);
    if (!s)
        return s.error();
    return run;
}

double marginOf(const std::vector<float>& row)
{
    const std::vector<double> lp = logSoftmax(row.data(), static_cast<std::int64_t>(row.size()));
    const std::vector<std::int32_t> top = topK(lp, 2);
    return lp[static_cast<std::size_t>(top[0])] - lp[static_cast<std::size_t>(top[1])];
}

// Two sequences stepped together: A prefills in chunks of `chunkA` (first chunk `firstChunkA`),
// B decodes one token per step (with `adapterB`), both asking for every row. Rows come back per
// sequence in position order. Blocks tables are reserved in `backend`'s pool.
struct PairRun {
    std::vector<std::vector<float>> a, b;
};

Result<PairRun> runPair(Backend& backend, const std::vector<std::int32_t>& idsA, const std::vector<std::int32_t>& idsB,
                        std::size_t firstChunkA, std::size_t chunkA, const LoraAdapter* adapterB)
{
    BlockTable ta, tb;
    HEARTH_TRY_STATUS(backend.kvPool().reserve(ta, static_cast<std::int64_t>(idsA.size())));
    HEARTH_TRY_STATUS(backend.kvPool().reserve(tb, static_cast<std::int64_t>(idsB.size())));
    const std::int64_t vocab = backend.config().vocabSize;
    PairRun run;
    std::size_t nextA = 0, nextB = 0;
    Status status;
    while (status.isOk() && (nextA < idsA.size() || nextB < idsB.size())) {
        BatchPlan plan;
        std::vector<std::vector<std::vector<float>>*> owners;
        const auto add = [&](const std::vector<std::int32_t>& ids, std::size_t& next, std::size_t chunk, const BlockTable& t,
                             const LoraAdapter* adapter, std::vector<std::vector<float>>& rows) {
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
            owners.push_back(&rows);
            next += n;
        };
        // B first in the plan: the backend must still return rows in plan order.
        add(idsB, nextB, 1, tb, adapterB, run.b);
        add(idsA, nextA, nextA == 0 ? firstChunkA : chunkA, ta, nullptr, run.a);
        Result<ForwardResult> out = backend.forward(plan);
        if (!out) {
            status = out.error();
            break;
        }
        for (std::size_t s = 0; s < plan.sequences.size(); ++s)
            for (std::int64_t r = out->firstRow[s]; r < out->firstRow[s + 1]; ++r)
                owners[s]->emplace_back(out->logits.begin() + r * vocab, out->logits.begin() + (r + 1) * vocab);
    }
    backend.kvPool().release(ta);
    backend.kvPool().release(tb);
    if (!status)
        return status.error();
    return run;
}

CudaBackendOptions cudaOptions(bool bf16)
{
    CudaBackendOptions o;
    o.kvBudgetBytes = 64ull << 20;
    o.compute = bf16 ? CudaComputeType::BF16 : CudaComputeType::F16;
    o.workspaceTokens = 64;  // smaller than the longest prompt: the workspace must grow on demand
    o.logitsRows = 4;
    return o;
}

}  // namespace

class TestCudaBackend : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    std::string m_dir;
    nlohmann::json m_golden;
    std::map<std::string, std::shared_ptr<const ModelWeights>> m_weights;
    std::shared_ptr<const LoraAdapter> m_lora;
    // Per golden key and prompt: the fp32 CPU backend's rows predicting golden's continuation.
    std::map<std::string, std::vector<std::vector<std::vector<float>>>> m_reference;

    static std::vector<std::int32_t> continuationOf(const nlohmann::json& prompt)
    {
        auto greedy = prompt["greedy"].get<std::vector<std::int32_t>>();
        greedy.resize(kGreedyTokens);
        return greedy;
    }

    void addTypes()
    {
        QTest::addColumn<bool>("bf16");
    }

private slots:
    void initTestCase()
    {
        const kernels::DeviceQuery q = kernels::queryDevices();
        if (q.devices.empty())
            QSKIP(("no CUDA device: " + q.error).c_str());
        QVERIFY(m_tmp.isValid());
        m_dir = m_tmp.path().toStdString();
        const std::string fixtures = fixturesDir();
        const Status written = writeReferenceModels(m_dir, fixtures + "/tokenizers/qwen3");
        QVERIFY2(written.isOk(), written.isOk() ? "" : written.error().toString().c_str());
        auto text = readTextFile(fixtures + "/reference-models/golden.json");
        QVERIFY2(text.isOk(), text.isOk() ? "" : text.error().toString().c_str());
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
        for (const char* key : {kReferenceModelD64, kReferenceModelD128, "ref-qwen2-d64+ref-qwen2-d64-lora"}) {
            const bool d128 = std::string(key) == kReferenceModelD128;
            const bool withLora = std::string(key).find('+') != std::string::npos;
            auto cpu = CpuBackend::create(m_weights.at(d128 ? kReferenceModelD128 : kReferenceModelD64), {64ull << 20, 0, 16});
            QVERIFY(cpu.isOk());
            for (const auto& prompt : m_golden[key]) {
                const auto continuation = continuationOf(prompt);
                auto run = runForced(**cpu, prompt["ids"].get<std::vector<std::int32_t>>(), continuation, false,
                                     withLora ? m_lora.get() : nullptr);
                QVERIFY2(run.isOk(), run.isOk() ? "" : run.error().toString().c_str());
                for (std::size_t i = 0; i < continuation.size(); ++i)  // the reference is the reference
                    QCOMPARE(argmax(run->next[i].data(), static_cast<std::int64_t>(run->next[i].size())), continuation[i]);
                m_reference[key].push_back(std::move(run->next));
            }
        }
        qInfo("device: %s", q.devices.front().name.c_str());
    }

    void matchesTransformers_data()
    {
        QTest::addColumn<QString>("weights");
        QTest::addColumn<QString>("golden");
        QTest::addColumn<bool>("withLora");
        QTest::addColumn<bool>("tokenByToken");
        QTest::addColumn<bool>("bf16");
        const QString lora = QStringLiteral("ref-qwen2-d64+ref-qwen2-d64-lora");
        for (bool bf16 : {false, true})
            for (bool tbt : {false, true}) {
                const std::string mode = std::string(bf16 ? " bf16" : " fp16") + (tbt ? " token by token" : " prefill");
                QTest::newRow(("d64" + mode).c_str()) << QStringLiteral("ref-qwen2-d64") << QStringLiteral("ref-qwen2-d64") << false << tbt << bf16;
                QTest::newRow(("d128" + mode).c_str()) << QStringLiteral("ref-qwen2-d128") << QStringLiteral("ref-qwen2-d128") << false << tbt << bf16;
                QTest::newRow(("lora" + mode).c_str()) << QStringLiteral("ref-qwen2-d64") << lora << true << tbt << bf16;
            }
    }

    void matchesTransformers()
    {
        QFETCH(QString, weights);
        QFETCH(QString, golden);
        QFETCH(bool, withLora);
        QFETCH(bool, tokenByToken);
        QFETCH(bool, bf16);
        auto backend = CudaBackend::create(m_weights.at(weights.toStdString()), cudaOptions(bf16));
        QVERIFY2(backend.isOk(), backend.isOk() ? "" : backend.error().toString().c_str());
        const nlohmann::json& prompts = m_golden[golden.toStdString()];
        QCOMPARE(prompts.size(), std::size_t(4));
        double worst = 0.0, worstCont = 0.0;
        for (std::size_t p = 0; p < prompts.size(); ++p) {
            const auto ids = prompts[p]["ids"].get<std::vector<std::int32_t>>();
            const auto continuation = continuationOf(prompts[p]);
            auto run = runForced(**backend, ids, continuation, tokenByToken, withLora ? m_lora.get() : nullptr);
            QVERIFY2(run.isOk(), run.isOk() ? "" : run.error().toString().c_str());
            QCOMPARE(run->logits.size(), ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                const auto topIds = prompts[p]["top_ids"][i].get<std::vector<std::int32_t>>();
                const auto topLp = prompts[p]["top_logprobs"][i].get<std::vector<double>>();
                const std::vector<float>& row = run->logits[i];
                const std::vector<double> lp = logSoftmax(row.data(), static_cast<std::int64_t>(row.size()));
                for (std::size_t k = 0; k < topIds.size(); ++k) {
                    const double diff = std::abs(lp[static_cast<std::size_t>(topIds[k])] - topLp[k]);
                    worst = std::max(worst, diff);
                    if (diff > logprobTolerance(bf16))
                        QFAIL(qPrintable(QStringLiteral("prompt %1 position %2 id %3: log-prob %4, transformers %5")
                                             .arg(p).arg(i).arg(topIds[k])
                                             .arg(lp[static_cast<std::size_t>(topIds[k])], 0, 'f', 5).arg(topLp[k], 0, 'f', 5)));
                }
                if (topLp[0] - topLp[1] > topMargin(bf16))
                    QCOMPARE(argmax(row.data(), static_cast<std::int64_t>(row.size())), topIds[0]);
            }
            // The continuation, teacher-forced: golden's token wherever the fp32 reference decides it.
            const auto& reference = m_reference.at(golden.toStdString())[p];
            std::size_t freeRunning = 0;
            bool diverged = false;
            for (std::size_t i = 0; i < continuation.size(); ++i) {
                const std::vector<float>& row = run->next[i];
                const std::string why = compareRows(row.data(), reference[i].data(), static_cast<std::int64_t>(row.size()), worstCont,
                                                        logprobTolerance(bf16));
                QVERIFY2(why.empty(), ("prompt " + std::to_string(p) + " continuation step " + std::to_string(i) + " (reference margin " +
                                       std::to_string(marginOf(reference[i])) + "): " + why).c_str());
                diverged = diverged || argmax(row.data(), static_cast<std::int64_t>(row.size())) != continuation[i];
                freeRunning += diverged ? 0 : 1;
            }
            qInfo("prompt %zu: the free-running greedy continuation equals golden's for %zu of %d tokens", p, freeRunning,
                  kGreedyTokens);
        }
        QCOMPARE((*backend)->kvPool().nUsedPages(), 0);
        qInfo("%s: largest log-prob difference from transformers %.3g, from the CPU backend on the continuation %.3g",
              (*backend)->describe().c_str(), worst, worstCont);
    }

    // The same plans on the CPU backend (fp32) and on CUDA: prefill chunks of 37 then 9 tokens
    // (ending inside pages), a decoding sequence with the adapter beside them.
    void matchesCpuBackend_data() { addTypes(); QTest::newRow("fp16") << false; QTest::newRow("bf16") << true; }
    void matchesCpuBackend()
    {
        QFETCH(bool, bf16);
        const auto weights = m_weights.at(kReferenceModelD64);
        auto cpu = CpuBackend::create(weights, {64ull << 20, 2, 16});
        QVERIFY(cpu.isOk());
        auto gpu = CudaBackend::create(weights, cudaOptions(bf16));
        QVERIFY2(gpu.isOk(), gpu.isOk() ? "" : gpu.error().toString().c_str());
        const auto idsA = m_golden[kReferenceModelD64][1]["ids"].get<std::vector<std::int32_t>>();
        const auto idsB = m_golden[kReferenceModelD64][2]["ids"].get<std::vector<std::int32_t>>();
        auto ref = runPair(**cpu, idsA, idsB, 37, 9, m_lora.get());
        const std::uint64_t replays = cuda::decodeGraphCounters().replays;
        auto got = runPair(**gpu, idsA, idsB, 37, 9, m_lora.get());
        QVERIFY2(ref.isOk(), ref.isOk() ? "" : ref.error().toString().c_str());
        QVERIFY2(got.isOk(), got.isOk() ? "" : got.error().toString().c_str());
        // Every step has a prefill chunk or the adapter: none may go through a decode graph.
        QCOMPARE(cuda::decodeGraphCounters().replays, replays);
        QCOMPARE(got->a.size(), idsA.size());
        QCOMPARE(got->b.size(), idsB.size());
        const std::int64_t vocab = weights->config().vocabSize;
        double worst = 0.0;
        for (int which = 0; which < 2; ++which) {
            const auto& g = which == 0 ? got->a : got->b;
            const auto& r = which == 0 ? ref->a : ref->b;
            for (std::size_t i = 0; i < g.size(); ++i) {
                const std::string why = compareRows(g[i].data(), r[i].data(), vocab, worst, logprobTolerance(bf16));
                QVERIFY2(why.empty(), (std::string(which == 0 ? "A" : "B") + " position " + std::to_string(i) + ": " + why).c_str());
            }
        }
        QCOMPARE((*gpu)->kvPool().nUsedPages(), 0);
        qInfo("CUDA vs CPU backend: largest log-prob difference %.3g", worst);
    }

    // A sequence's rows alone and inside a batch with another sequence (mixed prefill/decode,
    // the other with the adapter) agree.
    void batchInvariance_data() { addTypes(); QTest::newRow("fp16") << false; QTest::newRow("bf16") << true; }
    void batchInvariance()
    {
        QFETCH(bool, bf16);
        const auto weights = m_weights.at(kReferenceModelD64);
        auto gpu = CudaBackend::create(weights, cudaOptions(bf16));
        QVERIFY2(gpu.isOk(), gpu.isOk() ? "" : gpu.error().toString().c_str());
        const auto idsA = m_golden[kReferenceModelD64][1]["ids"].get<std::vector<std::int32_t>>();
        const auto idsB = m_golden[kReferenceModelD64][3]["ids"].get<std::vector<std::int32_t>>();
        auto aloneA = runForced(**gpu, idsA, {}, false, nullptr);
        auto aloneB = runForced(**gpu, idsB, {}, true, m_lora.get());
        QVERIFY2(aloneA.isOk() && aloneB.isOk(), "single runs failed");
        auto both = runPair(**gpu, idsA, idsB, 21, 13, m_lora.get());
        QVERIFY2(both.isOk(), both.isOk() ? "" : both.error().toString().c_str());
        const std::int64_t vocab = weights->config().vocabSize;
        double worst = 0.0;
        for (std::size_t i = 0; i < idsA.size(); ++i) {
            const std::string why = compareRows(both->a[i].data(), aloneA->logits[i].data(), vocab, worst, logprobTolerance(bf16));
            QVERIFY2(why.empty(), ("A position " + std::to_string(i) + ": " + why).c_str());
        }
        for (std::size_t i = 0; i < idsB.size(); ++i) {
            const std::string why = compareRows(both->b[i].data(), aloneB->logits[i].data(), vocab, worst, logprobTolerance(bf16));
            QVERIFY2(why.empty(), ("B position " + std::to_string(i) + ": " + why).c_str());
        }
        qInfo("batched vs alone: largest log-prob difference %.3g", worst);
    }

    // Decode steps through CUDA graphs against the fp32 CPU backend and against the eager CUDA
    // path, each on a backend of its own so that every run's KV history is its own (a graph
    // whose KV write went wrong cannot borrow the eager run's).
    void graphReplayMatchesEager_data()
    {
        QTest::addColumn<QString>("script");
        QTest::addColumn<int>("captures");
        QTest::addColumn<bool>("bf16");
        const std::pair<const char*, int> scripts[] = {
            {"batch 1", 1}, {"batch 3, new inputs each step", 1}, {"batch 5", 1}, {"batch 17", 1},
            {"context crosses a bucket", 2}, {"5 then 4 then 2 sequences", 3}, {"17 then 16 then 9 sequences", 2},
            {"buffers grow", 2},
        };
        for (bool bf16 : {false, true})
            for (const auto& [name, captures] : scripts)
                QTest::newRow((std::string(name) + (bf16 ? " bf16" : " fp16")).c_str())
                    << QString::fromUtf8(name) << captures << bf16;
    }
    void graphReplayMatchesEager()
    {
        QFETCH(QString, script);
        QFETCH(int, captures);
        QFETCH(bool, bf16);
        std::vector<std::vector<std::int32_t>> golden;
        for (const auto& prompt : m_golden[kReferenceModelD64])
            golden.push_back(prompt["ids"].get<std::vector<std::int32_t>>());
        const decodetest::DecodeScript plan = decodetest::scriptNamed(script.toStdString(), golden);
        QVERIFY(!plan.steps.empty());
        const auto weights = m_weights.at(kReferenceModelD64);
        auto cpu = CpuBackend::create(weights, {64ull << 20, 2, 16});
        QVERIFY(cpu.isOk());
        auto eager = CudaBackend::create(weights, cudaOptions(bf16));
        QVERIFY2(eager.isOk(), eager.isOk() ? "" : eager.error().toString().c_str());
        auto graphed = CudaBackend::create(weights, cudaOptions(bf16));
        QVERIFY2(graphed.isOk(), graphed.isOk() ? "" : graphed.error().toString().c_str());
        auto ref = decodetest::runScript(**cpu, plan, false);
        QVERIFY2(ref.isOk(), ref.isOk() ? "" : ref.error().toString().c_str());
        auto plain = decodetest::runScript(**eager, plan, false);
        QVERIFY2(plain.isOk(), plain.isOk() ? "" : plain.error().toString().c_str());
        auto got = decodetest::runScript(**graphed, plan, true);
        QVERIFY2(got.isOk(), got.isOk() ? "" : got.error().toString().c_str());

        // Graphs ran at every decode step of the graph run, never with HEARTH_CUDA_GRAPHS=0.
        QCOMPARE(plain->after.replays, plain->before.replays);
        QCOMPARE(got->after.fallbacks, got->before.fallbacks);
        for (std::size_t s = 0; s < plan.steps.size(); ++s)
            QVERIFY2(got->replays[s] == 1, ("decode step " + std::to_string(s) + " made " + std::to_string(got->replays[s]) +
                                            " graph launches, not 1").c_str());
        QCOMPARE(static_cast<int>(got->after.captures - got->before.captures), captures);
        if (plan.growBefore < plan.steps.size())
            QVERIFY2(got->after.dropped > got->before.dropped, "the graphs survived the buffers they point at moving");

        // Half precision with the same rounding points: the eager path is closer than the fp32
        // reference (fp16 ulp 2^-11; cuBLAS may sum 17 and 24 rows in another order).
        const double tight = bf16 ? logprobTolerance(bf16) : 0.02;
        const std::int64_t vocab = weights->config().vocabSize;
        double worstCpu = 0.0, worstEager = 0.0;
        for (std::size_t s = 0; s < plan.steps.size(); ++s)
            for (std::size_t k = 0; k < plan.steps[s].size(); ++k) {
                const std::string where = "step " + std::to_string(s) + " sequence " + std::to_string(plan.steps[s][k]);
                const float* row = got->rows[s][k].data();
                std::string why = compareRows(row, ref->rows[s][k].data(), vocab, worstCpu, logprobTolerance(bf16));
                QVERIFY2(why.empty(), (where + " against the CPU backend: " + why).c_str());
                why = compareRows(row, plain->rows[s][k].data(), vocab, worstEager, tight);
                QVERIFY2(why.empty(), (where + " against the eager path: " + why).c_str());
            }
        QCOMPARE((*graphed)->kvPool().nUsedPages(), 0);
        QCOMPARE((*eager)->kvPool().nUsedPages(), 0);
        qInfo("graph replay: largest log-prob difference from the CPU backend %.3g, from the eager path %.3g; %llu captures",
              worstCpu, worstEager, static_cast<unsigned long long>(got->after.captures - got->before.captures));
    }

    // Programmatic dependent launch changes when kernels start, never what they compute: decode
    // scripts through graphs give the same logits, bit for bit, with it on and off (each on a
    // backend of its own, so each captures its own graphs). A kernel reading its predecessor's
    // output before griddepcontrol.wait would show here on a card; cudasim and pre-Hopper devices
    // launch plainly either way, so the test skips there.
    void programmaticLaunchChangesNoBits_data()
    {
        QTest::addColumn<QString>("script");
        QTest::addColumn<bool>("bf16");
        for (bool bf16 : {false, true})
            for (const char* name : {"batch 1", "batch 5", "5 then 4 then 2 sequences"})
                QTest::newRow((std::string(name) + (bf16 ? " bf16" : " fp16")).c_str()) << QString::fromUtf8(name) << bf16;
    }
    void programmaticLaunchChangesNoBits()
    {
        QFETCH(QString, script);
        QFETCH(bool, bf16);
        if (!kernels::programmaticLaunch())
            QSKIP("programmatic dependent launch is off on this device or build: nothing to compare");
        std::vector<std::vector<std::int32_t>> golden;
        for (const auto& prompt : m_golden[kReferenceModelD64])
            golden.push_back(prompt["ids"].get<std::vector<std::int32_t>>());
        const decodetest::DecodeScript plan = decodetest::scriptNamed(script.toStdString(), golden);
        const auto weights = m_weights.at(kReferenceModelD64);
        std::vector<std::vector<std::vector<float>>> rows[2];
        for (int pdl : {1, 0}) {
            kernels::setProgrammaticLaunch(pdl == 1);
            auto backend = CudaBackend::create(weights, cudaOptions(bf16));
            QVERIFY2(backend.isOk(), backend.isOk() ? "" : backend.error().toString().c_str());
            auto run = decodetest::runScript(**backend, plan, true);
            kernels::setProgrammaticLaunch(true);
            QVERIFY2(run.isOk(), run.isOk() ? "" : run.error().toString().c_str());
            rows[pdl] = std::move(run->rows);
        }
        QCOMPARE(rows[0].size(), rows[1].size());
        for (std::size_t s = 0; s < rows[0].size(); ++s)
            for (std::size_t k = 0; k < rows[0][s].size(); ++k)
                QVERIFY2(rows[0][s][k] == rows[1][s][k],
                         ("step " + std::to_string(s) + " row " + std::to_string(k) + " differs with PDL on").c_str());
    }

    // Greedy ids picked on the device (SequenceStep::argmaxOnly) against the fp32 CPU backend's
    // rows of the same steps run without the flag: four sequences prefilled together (eagerly),
    // then decode steps fed fixed tokens, eagerly or through graphs, with every Last row flagged
    // or every other one. A flagged row: no logits, the CPU's top-1 id wherever the CPU decides it
    // by more than kMargin, its raw log-prob within logprobTolerance(); every other row as in
    // matchesCpuBackend. Flags on All and None steps are ignored.
    void argmaxOnlyMatchesCpu_data()
    {
        // 0 eager, 1 graphs with every row flagged, 2 graphs with every other row, 3 as 2 with sequence
        // 2 asking for no logits at decode steps (a row that owns nothing between the others)
        QTest::addColumn<int>("mode");
        QTest::addColumn<bool>("bf16");
        for (bool bf16 : {false, true}) {
            const std::string type = bf16 ? " bf16" : " fp16";
            QTest::newRow(("eager, mixed" + type).c_str()) << 0 << bf16;
            QTest::newRow(("graphs, all flagged" + type).c_str()) << 1 << bf16;
            QTest::newRow(("graphs, mixed" + type).c_str()) << 2 << bf16;
            QTest::newRow(("graphs, mixed, a row without logits" + type).c_str()) << 3 << bf16;
        }
    }
    void argmaxOnlyMatchesCpu()
    {
        QFETCH(int, mode);
        QFETCH(bool, bf16);
        const auto weights = m_weights.at(kReferenceModelD64);
        auto cpu = CpuBackend::create(weights, {64ull << 20, 2, 16});
        QVERIFY(cpu.isOk());
        auto gpu = CudaBackend::create(weights, cudaOptions(bf16));
        QVERIFY2(gpu.isOk(), gpu.isOk() ? "" : gpu.error().toString().c_str());
        const std::int64_t vocab = weights->config().vocabSize;
        std::vector<std::vector<std::int32_t>> prompts;
        for (const auto& prompt : m_golden[kReferenceModelD64])
            prompts.push_back(prompt["ids"].get<std::vector<std::int32_t>>());
        QCOMPARE(prompts.size(), std::size_t(4));
        const std::size_t n = prompts.size();
        constexpr std::size_t kDecodeSteps = 6;
        decodetest::HeldTables cpuTables{(*cpu)->kvPool(), std::vector<BlockTable>(n)};
        decodetest::HeldTables gpuTables{(*gpu)->kvPool(), std::vector<BlockTable>(n)};
        std::vector<std::int32_t> length(n, 0);
        for (std::size_t i = 0; i < n; ++i) {
            const auto need = static_cast<std::int64_t>(prompts[i].size() + kDecodeSteps);
            QVERIFY(cpuTables.pool.reserve(cpuTables.tables[i], need).isOk());
            QVERIFY(gpuTables.pool.reserve(gpuTables.tables[i], need).isOk());
        }
        decodetest::GraphsSwitch graphs(false);
        int decided = 0, flaggedRows = 0;
        double worst = 0.0;
        for (std::size_t step = 0; step <= kDecodeSteps; ++step) {
            graphs.set(step > 0 && mode != 0);
            BatchPlan cpuPlan, gpuPlan;
            for (std::size_t i = 0; i < n; ++i) {
                SequenceStep seq = step == 0 ? decodetest::stepOf(prompts[i], 0, cpuTables.tables[i])
                                             : decodetest::stepOf({decodetest::scriptToken(i, step)}, length[i], cpuTables.tables[i]);
                if (step == 0 && i == 1)
                    seq.logits = LogitsRows::All;  // flagged below: must keep its rows
                if (mode == 3 && step > 0 && i == 2)
                    seq.logits = LogitsRows::None;  // flagged on even steps: owns neither rows nor an id
                cpuPlan.sequences.push_back(seq);
                seq.blockTable = &gpuTables.tables[i];
                seq.argmaxOnly = mode == 1 || (i + step) % 2 == 0 || (step == 0 && i == 1);
                gpuPlan.sequences.push_back(seq);
                length[i] += static_cast<std::int32_t>(seq.tokenIds.size());
            }
            auto want = (*cpu)->forward(cpuPlan);
            QVERIFY2(want.isOk(), want.isOk() ? "" : want.error().toString().c_str());
            const std::uint64_t replaysBefore = cuda::decodeGraphCounters().replays;
            auto got = (*gpu)->forward(gpuPlan);
            QVERIFY2(got.isOk(), got.isOk() ? "" : got.error().toString().c_str());
            QCOMPARE(cuda::decodeGraphCounters().replays - replaysBefore, std::uint64_t(step > 0 && mode != 0 ? 1 : 0));
            QCOMPARE(got->argmax.size(), n);
            QCOMPARE(got->argmaxLogprob.size(), n);
            QCOMPARE(static_cast<std::int64_t>(got->logits.size()), got->firstRow.back() * vocab);
            for (std::size_t i = 0; i < n; ++i) {
                const std::string where = "step " + std::to_string(step) + " sequence " + std::to_string(i);
                const std::int64_t cpuRows = want->firstRow[i + 1] - want->firstRow[i];
                const std::int64_t gpuRows = got->firstRow[i + 1] - got->firstRow[i];
                if (wantsArgmax(gpuPlan.sequences[i])) {
                    ++flaggedRows;
                    QVERIFY2(gpuRows == 0, (where + ": a flagged row came back as logits").c_str());
                    const float* ref = want->logits.data() + (want->firstRow[i + 1] - 1) * vocab;
                    const std::vector<double> lp = logSoftmax(ref, vocab);
                    const std::vector<std::int32_t> top = topK(lp, 2);
                    const std::int32_t id = got->argmax[i];
                    QVERIFY2(id >= 0 && id < vocab, (where + ": id " + std::to_string(id)).c_str());
                    if (lp[static_cast<std::size_t>(top[0])] - lp[static_cast<std::size_t>(top[1])] > kMargin) {
                        ++decided;
                        QVERIFY2(id == top[0], (where + ": id " + std::to_string(id) + ", CPU " + std::to_string(top[0])).c_str());
                    }
                    const double diff = std::abs(got->argmaxLogprob[i] - lp[static_cast<std::size_t>(id)]);
                    worst = std::max(worst, diff);
                    QVERIFY2(diff < logprobTolerance(bf16), (where + ": log-prob " + std::to_string(got->argmaxLogprob[i]) + ", CPU " +
                                                        std::to_string(lp[static_cast<std::size_t>(id)])).c_str());
                } else {
                    QVERIFY2(got->argmax[i] == -1, (where + ": an id nobody asked for").c_str());
                    QVERIFY2(gpuRows == cpuRows, (where + ": " + std::to_string(gpuRows) + " rows").c_str());
                    for (std::int64_t r = 0; r < cpuRows; ++r) {
                        double rowWorst = 0.0;
                        const std::string why = compareRows(got->logits.data() + (got->firstRow[i] + r) * vocab,
                                                            want->logits.data() + (want->firstRow[i] + r) * vocab, vocab, rowWorst,
                                                            logprobTolerance(bf16));
                        QVERIFY2(why.empty(), (where + " row " + std::to_string(r) + ": " + why).c_str());
                    }
                }
            }
            (*gpu)->recycle(std::move(*got));
        }
        QVERIFY(flaggedRows > 0);
        QVERIFY2(decided > 0, "no flagged row was decided by more than the margin: the test checked no id");
        qInfo("argmaxOnly: %d flagged rows, %d decided by more than %.2f; largest log-prob difference %.3g", flaggedRows,
              decided, kMargin, worst);
    }

    void badPlanIsAnError()
    {
        auto gpu = CudaBackend::create(m_weights.at(kReferenceModelD128), cudaOptions(false));
        QVERIFY2(gpu.isOk(), gpu.isOk() ? "" : gpu.error().toString().c_str());
        auto cpu = CpuBackend::create(m_weights.at(kReferenceModelD128), {8ull << 20, 1, 16});
        QVERIFY(cpu.isOk());
        for (Backend* b : {static_cast<Backend*>(gpu->get()), static_cast<Backend*>(cpu->get())}) {
            BlockTable t;
            QVERIFY(b->kvPool().reserve(t, 16).isOk());
            const std::int32_t used = b->kvPool().nUsedPages();
            BatchPlan plan;
            plan.sequences.push_back({{1, 151936}, {0, 1}, &t, nullptr, 1.0f, LogitsRows::Last});
            auto out = b->forward(plan);
            QVERIFY(!out.isOk());
            QCOMPARE(out.error().code, ErrorCode::InvalidArgument);
            QVERIFY2(out.error().message.find("151936") != std::string::npos, out.error().message.c_str());
            plan.sequences[0] = {{1}, {16}, &t, nullptr, 1.0f, LogitsRows::Last};  // beyond the table
            QCOMPARE(b->forward(plan).error().code, ErrorCode::InvalidArgument);
            QCOMPARE(b->kvPool().nUsedPages(), used);
            // Still works afterwards, and an empty plan is an empty result.
            plan.sequences[0] = {{1, 2, 3}, {0, 1, 2}, &t, nullptr, 1.0f, LogitsRows::Last};
            auto fine = b->forward(plan);
            QVERIFY2(fine.isOk(), fine.isOk() ? "" : fine.error().toString().c_str());
            QCOMPARE(fine->firstRow, (std::vector<std::int64_t>{0, 1}));
            auto empty = b->forward(BatchPlan{});
            QVERIFY(empty.isOk());
            QCOMPARE(empty->firstRow, std::vector<std::int64_t>{0});
            b->kvPool().release(t);
        }
    }

    void outOfMemorySaysHowMuch()
    {
        CudaBackendOptions o = cudaOptions(false);
        o.workspaceTokens = std::int64_t{1} << 26;  // ~400 GB of activations
        auto gpu = CudaBackend::create(m_weights.at(kReferenceModelD64), o);
        QVERIFY(!gpu.isOk());
        QCOMPARE(gpu.error().code, ErrorCode::OutOfMemory);
        QVERIFY2(gpu.error().message.find("needs") != std::string::npos && gpu.error().message.find("free") != std::string::npos,
                 gpu.error().message.c_str());
    }

    // Through the engine and its scheduler (chunked prefill, continuous batching) on --backend cuda.
    // Roomy: all eight run together. Tight: a KV pool of 9 pages (16 tokens of 1 KiB each). The
    // 20- and 100-token prompts are admitted together (2 + 7 pages, all of them); the first needs
    // a third page 12 tokens later, so the younger is preempted and recomputed, and the tokens must
    // not change for it. (The 120-token prompt, 9 pages with its 16 tokens, fits alone.)
    void engineOnCuda_data()
    {
        QTest::addColumn<qulonglong>("kvBudgetBytes");
        QTest::addColumn<bool>("mustPreempt");
        QTest::newRow("roomy KV") << qulonglong{64ull << 20} << false;
        QTest::newRow("tight KV, preempting") << qulonglong{9ull * 16 * 1024} << true;
    }
    void engineOnCuda()
    {
        QFETCH(qulonglong, kvBudgetBytes);
        QFETCH(bool, mustPreempt);
        EngineOptions options;
        options.backend = BackendChoice::Cuda;
        options.kvBudgetBytes = kvBudgetBytes;
        options.prefillChunkTokens = 32;
        options.tuneGemms = false;  // tst_cuda_load covers tuning; its plan cache would outlive this run
        const std::uint64_t replays = cuda::decodeGraphCounters().replays;
        auto engine = Engine::create(options);
        QVERIFY2(engine.isOk(), engine.isOk() ? "" : engine.error().toString().c_str());
        QVERIFY((*engine)->load(m_dir + "/" + kReferenceModelD64).isOk());
        const Status loaded = (*engine)->waitUntilLoaded();
        QVERIFY2(loaded.isOk(), loaded.isOk() ? "" : loaded.error().toString().c_str());
        QCOMPARE((*engine)->state().backendName, std::string("cuda"));
        qInfo("%s", (*engine)->state().reason.c_str());
        QVERIFY((*engine)->attachAdapter("lora", m_dir + "/" + kReferenceLoraD64).isOk());
        // Submitted together: chunked prefill and batched decode of all eight at once.
        std::vector<std::unique_ptr<RequestHandle>> handles;
        std::vector<std::pair<std::string, std::size_t>> which;
        for (const char* key : {kReferenceModelD64, "ref-qwen2-d64+ref-qwen2-d64-lora"})
            for (std::size_t p = 0; p < m_golden[key].size(); ++p) {
                auto handle = (*engine)->submit(test::greedyRequest(m_golden[key][p]["ids"].get<std::vector<std::int32_t>>(),
                                                                    kGreedyTokens,
                                                                    std::string(key) == kReferenceModelD64 ? "" : "lora"));
                QVERIFY(handle.isOk());
                handles.push_back(std::move(*handle));
                which.push_back({key, p});
            }
        for (std::size_t i = 0; i < handles.size(); ++i) {
            const test::CollectedRun run = test::collect(*handles[i]);
            QVERIFY2(run.finished, test::describe(run).c_str());
            QCOMPARE(run.tokens.size(), static_cast<std::size_t>(kGreedyTokens));
            const auto expected = continuationOf(m_golden[which[i].first][which[i].second]);
            const auto& reference = m_reference.at(which[i].first)[which[i].second];
            std::size_t same = 0;
            while (same < expected.size() && run.tokens[same] == expected[same])
                ++same;
            // Up to its first difference the context is golden's, so the fp32 reference says
            // whether that step was decided.
            if (same < expected.size())
                QVERIFY2(marginOf(reference[same]) < kMargin,
                         (which[i].first + " prompt " + std::to_string(which[i].second) + ": token " + std::to_string(same) +
                          " differs from golden where the reference margin is " + std::to_string(marginOf(reference[same])))
                             .c_str());
            qInfo("%s prompt %zu: %zu of %d tokens equal golden's", which[i].first.c_str(), which[i].second, same, kGreedyTokens);
        }
        const EngineStats stats = (*engine)->stats();
        qInfo("engine: %llu decode steps ran as CUDA graphs; %llu preemptions",
              static_cast<unsigned long long>(cuda::decodeGraphCounters().replays - replays),
              static_cast<unsigned long long>(stats.preemptions));
        if (mustPreempt)
            QVERIFY2(stats.preemptions > 0, "the tight pool never preempted: the row tests nothing more than the roomy one");
    }

    void cleanupTestCase()
    {
        const cuda::DecodeGraphCounters n = cuda::decodeGraphCounters();
        if (n.captures == 0)
            return;
        qInfo("CUDA graphs over the suite: %llu captured (%.2f MiB and %.1f ms each on average), %llu replays, "
              "%llu dropped after a buffer moved, %llu fallbacks",
              static_cast<unsigned long long>(n.captures),
              static_cast<double>(n.captureDeviceBytes) / static_cast<double>(n.captures) / (1024.0 * 1024.0),
              static_cast<double>(n.captureMicros) / static_cast<double>(n.captures) / 1000.0,
              static_cast<unsigned long long>(n.replays), static_cast<unsigned long long>(n.dropped),
              static_cast<unsigned long long>(n.fallbacks));
    }
};

QTEST_APPLESS_MAIN(TestCudaBackend)
#include "tst_cuda_backend.moc"
