// The CUDA backend's device load path (engine/cuda/cuda_load.h) on the reference models:
// - the weights the pipeline streams into the device (pinned staging, async copies, conversion on
//   the GPU) equal, byte for byte, what the host upload (CudaBackend::create from host weights)
//   puts there, in fp16 and bf16, for every tensor of the shared layout and the RoPE table;
// - a backend loaded this way gives golden.json's top-1 (where the reference margin exceeds 0.05)
//   and log-probabilities within 0.05 at every prompt position;
// - a load cancelled as soon as it starts gives every byte of device memory back;
// - the device conversion equals the host upload's (load/half_convert.h) bit for bit on edge
//   values: rounding ties, saturation at 65504, infinities, NaN payloads, subnormals, an odd
//   count starting off a 16-byte boundary;
// - with GEMM tuning on, the first load times the model's shapes and writes the plan cache, the
//   next one takes every plan from it (a corrupt cache is ignored and rewritten), and the tuned
//   backend still gives the golden outputs.
// Skipped (QSKIP, exit 0) without a CUDA device.
#include <QDir>
#include <QTemporaryDir>
#include <QTest>

#include <cuda_runtime.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_load.h"
#include "engine/cuda/cuda_load_ops.h"
#include "engine/cuda/gemm_plan_cache.h"
#include "engine/device_layout.h"
#include "engine/model_weights.h"
#include "kernels.h"
#include "load/half_convert.h"
#include "load/load_plan.h"
#include "model/reference_models.h"
#include "util/mapped_file.h"

using namespace hearth;

namespace {

// 0.05 in fp16 (issue #5); bf16 is held to 0.1, since transformers itself is up to 0.077 off its
// fp32 goldens in bf16 on these models (tests/reference/measure_dtype_deviation.py; as in
// tst_cuda_backend).
double logprobTolerance(bool bf16) { return bf16 ? 0.1 : 0.05; }
// Top-1 checked where golden decides it by more than this (as tst_cuda_backend's topMargin: in bf16
// transformers itself flips top-1 at golden margins just above 0.05).
double topMargin(bool bf16) { return bf16 ? logprobTolerance(true) : 0.05; }

std::string fixturesDir()
{
    const char* env = std::getenv("HEARTH_TEST_FIXTURES_DIR");
    return env && *env ? std::string(env) : std::string(HEARTH_FIXTURES_DIR);
}

CudaBackendOptions cudaOptions(bool bf16)
{
    CudaBackendOptions o;
    o.kvBudgetBytes = 64ull << 20;
    o.compute = bf16 ? CudaComputeType::BF16 : CudaComputeType::F16;
    o.workspaceTokens = 64;
    o.logitsRows = 4;
    return o;
}

// GEMM tuning off unless a test is about it: its plans persist in the cache folder, and on
// cudasim its timings are meaningless.
EngineOptions engineOptions(bool bf16, bool tuneGemms = false)
{
    EngineOptions o;
    o.backend = BackendChoice::Cuda;
    o.kvBudgetBytes = 64ull << 20;
    o.weightDtype = bf16 ? WeightDType::BF16 : WeightDType::F16;
    o.tuneGemms = tuneGemms;
    return o;
}

// The layout's pieces and RoPE table, downloaded from `storage`.
std::vector<std::uint8_t> download(const void* storage, std::uint64_t bytes)
{
    std::vector<std::uint8_t> out(bytes);
    if (cudaMemcpy(out.data(), storage, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
        out.clear();
    return out;
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

Result<CudaLoadResult> loadByDevice(const std::string& dir, bool bf16, const std::atomic<bool>* cancel = nullptr,
                                    std::function<void(const LoadProgress&)> onProgress = {}, bool tuneGemms = false)
{
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(dir));
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(dir));
    CudaLoadRequest r;
    r.config = config;
    r.plan = &plan;
    r.options = engineOptions(bf16, tuneGemms);
    r.pipe.chunkBytes = 4096;  // many chunks even for the small reference models
    r.pipe.nReaders = 3;
    r.pipe.nBuffers = 3;
    r.pipe.cancel = cancel;
    r.pipe.onProgress = std::move(onProgress);
    return loadOnCudaDevice(r);
}


// Bit patterns that exercise every branch of the host conversions: zeros, ties to even, the fp16
// saturation edge (65504, 65519.99, 65520), infinities, NaNs with payloads, subnormals.
std::vector<std::uint32_t> edgeFloatBits()
{
    std::vector<std::uint32_t> v = {0x00000000u, 0x80000000u, 0x3f800000u, 0xbf800000u, 0x3f801000u, 0x3f803000u,
                                    0x3f808000u, 0x3f818000u, 0x477fe000u, 0x477fefffu, 0x477ff000u, 0xc77ff000u,
                                    0x47c35000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u,
                                    0x7f812345u, 0x7fbfe000u, 0x38800000u, 0x387fffffu, 0x33000000u, 0x33000001u,
                                    0x33800000u, 0x00000001u, 0x007fffffu, 0x80012345u};
    for (std::uint32_t i = 0; i < 997; ++i)  // and a spread of ordinary values
        v.push_back(0x30000000u + i * 0x0012345u);
    return v;
}

// Converts `src` (elements of `from`) to `to` with CudaLoadOps, starting one element past a
// 16-byte boundary of the device buffer, and returns the 16-bit results.
std::vector<std::uint16_t> convertOnDevice(cuda::CudaLoadOps& ops, const std::vector<std::uint8_t>& src, DType from, DType to)
{
    const std::size_t inSize = dtypeSize(from);
    const std::size_t n = src.size() / inSize;
    std::vector<std::uint16_t> out;
    auto pinned = ops.allocPinned(src.size());
    auto in = ops.allocDevice(src.size() + 16);
    auto dst = ops.allocDevice(n * 2 + 16);
    if (pinned && in && dst) {
        std::memcpy(*pinned, src.data(), src.size());
        auto* inAt = static_cast<std::uint8_t*>(*in) + inSize;
        auto* outAt = static_cast<std::uint8_t*>(*dst) + 2;
        if (ops.copyToDevice(inAt, *pinned, src.size(), 0) && ops.convert(outAt, to, inAt, from, n, 0) &&
            ops.recordBufferDone(0) && ops.waitBufferDone(0)) {
            out.resize(n);
            if (cudaMemcpy(out.data(), outAt, n * 2, cudaMemcpyDeviceToHost) != cudaSuccess)
                out.clear();
        }
    }
    if (pinned)
        ops.freePinned(*pinned);
    if (in)
        ops.freeDevice(*in);
    if (dst)
        ops.freeDevice(*dst);
    return out;
}

}  // namespace

class TestCudaLoad : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    std::string m_dir;
    nlohmann::json m_golden;

    // golden.json's top-1 (where the margin allows) and log-probabilities at every position.
    void checkGolden(Backend& backend, const std::string& model, bool bf16)
    {
        const std::int64_t vocab = backend.config().vocabSize;
        const nlohmann::json& prompts = m_golden[model];
        QVERIFY(prompts.is_array() && !prompts.empty());
        for (std::size_t p = 0; p < prompts.size(); ++p) {
            const auto ids = prompts[p]["ids"].get<std::vector<std::int32_t>>();
            BlockTable table;
            QVERIFY(backend.kvPool().reserve(table, static_cast<std::int64_t>(ids.size())).isOk());
            SequenceStep s;
            s.tokenIds = ids;
            s.positions.resize(ids.size());
            std::iota(s.positions.begin(), s.positions.end(), 0);
            s.blockTable = &table;
            s.logits = LogitsRows::All;
            BatchPlan plan;
            plan.sequences.push_back(s);
            auto out = backend.forward(plan);
            backend.kvPool().release(table);
            QVERIFY2(out.isOk(), out.isOk() ? "" : out.error().toString().c_str());
            for (std::size_t i = 0; i < ids.size(); ++i) {
                const auto topIds = prompts[p]["top_ids"][i].get<std::vector<std::int32_t>>();
                const auto topLp = prompts[p]["top_logprobs"][i].get<std::vector<double>>();
                const std::vector<double> lp = logSoftmax(out->logits.data() + static_cast<std::int64_t>(i) * vocab, vocab);
                for (std::size_t k = 0; k < topIds.size(); ++k) {
                    const double diff = std::fabs(lp[static_cast<std::size_t>(topIds[k])] - topLp[k]);
                    QVERIFY2(diff <= logprobTolerance(bf16), ("prompt " + std::to_string(p) + " position " + std::to_string(i) +
                                                         " token " + std::to_string(topIds[k]) + ": off by " +
                                                         std::to_string(diff)).c_str());
                }
                if (topLp.size() >= 2 && topLp[0] - topLp[1] > topMargin(bf16)) {
                    const auto best = std::max_element(lp.begin(), lp.end()) - lp.begin();
                    QCOMPARE(static_cast<std::int32_t>(best), topIds[0]);
                }
            }
        }
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
        qInfo("device: %s", q.devices.front().name.c_str());
    }

    void sameBytesAsHostUpload_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<bool>("bf16");
        for (const char* m : {kReferenceModelD64, kReferenceModelD128})
            for (bool bf16 : {false, true})
                QTest::newRow((std::string(m) + (bf16 ? " bf16" : " fp16")).c_str()) << QString::fromLatin1(m) << bf16;
    }
    void sameBytesAsHostUpload()
    {
        QFETCH(QString, model);
        QFETCH(bool, bf16);
        const std::string dir = m_dir + "/" + model.toStdString();
        auto weights = ModelWeights::load(dir);
        QVERIFY2(weights.isOk(), weights.isOk() ? "" : weights.error().toString().c_str());
        auto host = CudaBackend::create(*weights, cudaOptions(bf16));
        QVERIFY2(host.isOk(), host.isOk() ? "" : host.error().toString().c_str());
        auto device = loadByDevice(dir, bf16);
        QVERIFY2(device.isOk(), device.isOk() ? "" : device.error().toString().c_str());
        auto* loaded = static_cast<CudaBackend*>(device->backend.get());
        QCOMPARE(loaded->weightStorageBytes(), (*host)->weightStorageBytes());
        QCOMPARE(loaded->weightDType(), bf16 ? DType::BF16 : DType::F16);
        const auto want = download((*host)->weightStorage(), (*host)->weightStorageBytes());
        const auto got = download(loaded->weightStorage(), loaded->weightStorageBytes());
        QVERIFY(!want.empty() && want.size() == got.size());
        // Only the bytes the layout places: the alignment gaps between regions are never written.
        const DeviceLayout layout = planDeviceLayout((*weights)->config());
        for (const DeviceLayout::Piece& p : layout.pieces) {
            const std::size_t n = static_cast<std::size_t>(p.nElems * DeviceLayout::kElemBytes);
            QVERIFY2(std::memcmp(got.data() + p.offset, want.data() + p.offset, n) == 0, p.name.c_str());
        }
        QVERIFY(std::memcmp(got.data() + layout.rope, want.data() + layout.rope, static_cast<std::size_t>(layout.ropeBytes)) == 0);
        qInfo("context %.1f ms, cuBLAS %.1f ms, KV %.1f ms; read %.1f ms", device->setup.contextMs, device->setup.cublasMs,
              device->setup.kvMs, device->report.readMs);
    }

    void matchesGolden_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<bool>("bf16");
        for (const char* m : {kReferenceModelD64, kReferenceModelD128})
            for (bool bf16 : {false, true})
                QTest::newRow((std::string(m) + (bf16 ? " bf16" : " fp16")).c_str()) << QString::fromLatin1(m) << bf16;
    }
    void matchesGolden()
    {
        QFETCH(QString, model);
        QFETCH(bool, bf16);
        auto device = loadByDevice(m_dir + "/" + model.toStdString(), bf16);
        QVERIFY2(device.isOk(), device.isOk() ? "" : device.error().toString().c_str());
        checkGolden(*device->backend, model.toStdString(), bf16);
    }

    void tunedGemmsAreCachedAndMatchGolden()
    {
        QTemporaryDir cache;
        QVERIFY(cache.isValid());
        // The cache folder is $XDG_CACHE_HOME/hearth: a fresh one, put back on every way out.
        struct RestoreEnv {
            QByteArray before = qgetenv("XDG_CACHE_HOME");
            ~RestoreEnv()
            {
                if (before.isNull())
                    qunsetenv("XDG_CACHE_HOME");
                else
                    qputenv("XDG_CACHE_HOME", before);
            }
        } restore;
        qputenv("XDG_CACHE_HOME", cache.path().toUtf8());
        const std::string model = kReferenceModelD128;
        const std::string dir = m_dir + "/" + model;
        const std::string plans = cache.path().toStdString() + "/hearth";
        const auto planFiles = [&] {
            return QDir(QString::fromStdString(plans)).entryList({QStringLiteral("gemm-plans-*.json")}, QDir::Files);
        };

        // "... N timed now, M from the cache)" of the backend's description.
        const auto counts = [](const std::string& text) {
            int timed = -1, cached = -1;
            const std::size_t at = text.find("; GEMM plans: ");
            const std::size_t semi = at == std::string::npos ? at : text.find("; ", at + 14);
            if (semi != std::string::npos)
                std::sscanf(text.c_str() + semi, "; %d timed now, %d from the cache", &timed, &cached);
            return std::pair{timed, cached};
        };

        auto first = loadByDevice(dir, false, nullptr, {}, true);
        QVERIFY2(first.isOk(), first.isOk() ? "" : first.error().toString().c_str());
        qInfo("%s; tuning %.0f ms", first->describe.c_str(), first->setup.gemmTuneMs);
        QVERIFY(first->setup.gemmTuneMs > 0.0);
        const auto [timed1, cached1] = counts(first->describe);
        QVERIFY2(timed1 > 0 && cached1 == 0, first->describe.c_str());
        QCOMPARE(planFiles().size(), 1);
        checkGolden(*first->backend, model, false);
        if (QTest::currentTestFailed())
            return;
        first->backend.reset();

        // Everything the first load timed comes from the cache (on a slow stand-in the tuning
        // budget may have left shapes for this load to time).
        auto second = loadByDevice(dir, false, nullptr, {}, true);
        QVERIFY2(second.isOk(), second.isOk() ? "" : second.error().toString().c_str());
        const auto [timed2, cached2] = counts(second->describe);
        QVERIFY2(cached2 >= timed1 && timed2 >= 0, second->describe.c_str());
        checkGolden(*second->backend, model, false);
        if (QTest::currentTestFailed())
            return;
        second->backend.reset();

        // A damaged cache is no cache: the load tunes again and writes a good file.
        const std::string path = plans + "/" + planFiles().front().toStdString();
        QVERIFY(writeFileAtomically(path, "{\"format\": 1, \"plans\": [{").isOk());
        auto third = loadByDevice(dir, false, nullptr, {}, true);
        QVERIFY2(third.isOk(), third.isOk() ? "" : third.error().toString().c_str());
        const auto [timed3, cached3] = counts(third->describe);
        QVERIFY2(timed3 > 0 && cached3 == 0, third->describe.c_str());
        auto text = readTextFile(path);
        QVERIFY(text.isOk());
        QVERIFY(!nlohmann::json::parse(*text, nullptr, false).is_discarded());
    }

    // The plan cache keeps what it was given and refuses files of another identity or shape.
    void planCacheRoundTripsAndRefusesBadFiles()
    {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const std::string identity = cuda::gemmPlanIdentity("Test GPU", 13000);
        QVERIFY(identity.find("Test GPU") != std::string::npos && identity.find("cuBLASLt") != std::string::npos);
        const std::string path = cuda::gemmPlanCachePath(tmp.path().toStdString() + "/sub", identity);
        kernels::GemmPlan lt;
        lt.problem = {32, 37888, 3584, kernels::ElemType::BF16, kernels::ElemType::BF16};
        lt.method = kernels::GemmMethod::CublasLt;
        lt.ltAlgo = {1, 2, 3, 4, 5, 6, 7, 0xffffffffffffffffull};
        lt.defaultUs = 120.5f;
        lt.chosenUs = 80.25f;
        lt.nCandidates = 7;
        kernels::GemmPlan skinny = lt;
        skinny.problem = {16, 3584, 18944, kernels::ElemType::BF16, kernels::ElemType::BF16};
        skinny.method = kernels::GemmMethod::Skinny;
        skinny.skinnyTile = 32;
        kernels::GemmPlan plain = lt;
        plain.problem = {8, 152064, 3584, kernels::ElemType::BF16, kernels::ElemType::F32};
        plain.method = kernels::GemmMethod::Cublas;
        kernels::GemmPlan untimed;  // never timed: not written
        untimed.problem = {512, 4608, 3584, kernels::ElemType::BF16, kernels::ElemType::BF16};
        QVERIFY(cuda::writeGemmPlans(path, identity, {lt, skinny, plain, untimed}).isOk());
        auto back = cuda::readGemmPlans(path, identity);
        QVERIFY2(back.isOk(), back.isOk() ? "" : back.error().toString().c_str());
        QCOMPARE(back->size(), std::size_t{3});
        const kernels::GemmPlan want[] = {lt, skinny, plain};
        for (std::size_t i = 0; i < 3; ++i) {
            const kernels::GemmPlan& g = (*back)[i];
            QCOMPARE(g.problem.m, want[i].problem.m);
            QCOMPARE(g.problem.n, want[i].problem.n);
            QCOMPARE(g.problem.k, want[i].problem.k);
            QCOMPARE(g.problem.inType, want[i].problem.inType);
            QCOMPARE(g.problem.outType, want[i].problem.outType);
            QCOMPARE(g.method, want[i].method);
            QCOMPARE(g.chosenUs, want[i].chosenUs);
        }
        QVERIFY((*back)[0].ltAlgo == lt.ltAlgo);
        QCOMPARE((*back)[1].skinnyTile, 32);

        QVERIFY(!cuda::readGemmPlans(path, cuda::gemmPlanIdentity("Other GPU", 13000)).isOk());
        QVERIFY(!cuda::readGemmPlans(path + ".missing", identity).isOk());
        const std::string head = "{\"format\": 1, \"identity\": " + nlohmann::json(identity).dump() + ", \"plans\": [";
        const char* bad[] = {
            "not json",
            "{\"format\": 2, \"identity\": \"x\", \"plans\": []}",
            "{\"m\": 0, \"n\": 1, \"k\": 1, \"in\": \"bf16\", \"out\": \"bf16\", \"method\": \"cublas\"}]}",
            "{\"m\": 1, \"n\": 1, \"k\": 1, \"in\": \"f64\", \"out\": \"bf16\", \"method\": \"cublas\"}]}",
            "{\"m\": 1, \"n\": 1, \"k\": 1, \"in\": \"bf16\", \"out\": \"bf16\", \"method\": \"magic\"}]}",
            "{\"m\": 1, \"n\": 1, \"k\": 1, \"in\": \"bf16\", \"out\": \"bf16\", \"method\": \"cublaslt\", \"algo\": [1, 2]}]}",
            "{\"m\": 1, \"n\": 1, \"k\": 1, \"in\": \"bf16\", \"out\": \"bf16\", \"method\": \"cublaslt\", \"algo\": [1, 2, 3, 4, 5, 6, 7, -8]}]}",
            "{\"m\": 1, \"n\": 1, \"k\": 1, \"in\": \"bf16\", \"out\": \"bf16\", \"method\": \"skinny\"}]}",
            "7]}",
        };
        for (std::size_t i = 0; i < std::size(bad); ++i) {
            const std::string text = i < 2 ? std::string(bad[i]) : head + bad[i];
            QVERIFY(writeFileAtomically(path, text).isOk());
            QVERIFY2(!cuda::readGemmPlans(path, identity).isOk(), text.c_str());
        }
    }

    void cancelGivesMemoryBack_data()
    {
        QTest::addColumn<int>("cancelAtEvent");  // the progress event that raises the flag
        QTest::newRow("at the start of the transfer") << 0;
        QTest::newRow("during the transfer") << 3;
    }
    void cancelGivesMemoryBack()
    {
        QFETCH(int, cancelAtEvent);
        const std::string dir = m_dir + "/" + kReferenceModelD128;
        auto config = loadModelConfig(dir);
        auto plan = makeLoadPlan(dir);
        QVERIFY(config.isOk() && plan.isOk());
        // Twice: the first run may load kernel modules and cuBLAS state for good (the runtime
        // loads lazily); what the second one allocates (weights, a KV pool of all free memory,
        // staging, scratch) must all come back.
        double lostMiB = 0.0;
        for (int run = 0; run < 2; ++run) {
            QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
            std::size_t freeBefore = 0, total = 0;
            QCOMPARE(cudaMemGetInfo(&freeBefore, &total), cudaSuccess);
            std::atomic<bool> cancel{false};
            int events = 0;
            CudaLoadRequest r;
            r.config = *config;
            r.plan = &*plan;
            r.options = engineOptions(true);
            r.options.kvBudgetBytes = 0;  // the KV pool takes what is free: a leak cannot hide
            r.pipe.chunkBytes = 4096;
            r.pipe.progressEveryBytes = 4096;
            r.pipe.progressIntervalS = 0.0;
            r.pipe.cancel = &cancel;
            r.pipe.onProgress = [&](const LoadProgress&) {
                if (events++ == cancelAtEvent)
                    cancel = true;
            };
            auto loaded = loadOnCudaDevice(r);
            QVERIFY(!loaded.isOk());
            QCOMPARE(loaded.error().code, ErrorCode::Cancelled);
            QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
            std::size_t freeAfter = 0;
            QCOMPARE(cudaMemGetInfo(&freeAfter, &total), cudaSuccess);
            lostMiB = (static_cast<double>(freeBefore) - static_cast<double>(freeAfter)) / (1 << 20);
            qInfo("run %d: free before %zu, after %zu (%.1f MiB not back)", run, freeBefore, freeAfter, lostMiB);
        }
        QVERIFY2(lostMiB <= 2.0, std::to_string(lostMiB).c_str());
    }

    void deviceConversionEqualsHost_data()
    {
        QTest::addColumn<int>("from");
        QTest::addColumn<int>("to");
        QTest::newRow("f32 -> f16") << static_cast<int>(DType::F32) << static_cast<int>(DType::F16);
        QTest::newRow("f32 -> bf16") << static_cast<int>(DType::F32) << static_cast<int>(DType::BF16);
        QTest::newRow("bf16 -> f16") << static_cast<int>(DType::BF16) << static_cast<int>(DType::F16);
        QTest::newRow("f16 -> bf16") << static_cast<int>(DType::F16) << static_cast<int>(DType::BF16);
    }
    void deviceConversionEqualsHost()
    {
        QFETCH(int, from);
        QFETCH(int, to);
        const auto inType = static_cast<DType>(from);
        const auto outType = static_cast<DType>(to);
        const std::vector<std::uint32_t> bits = edgeFloatBits();
        // The inputs as stored, and what the host upload makes of them.
        std::vector<std::uint8_t> src;
        std::vector<std::uint16_t> want;
        for (std::uint32_t b : bits) {
            if (inType == DType::F32) {
                const auto* p = reinterpret_cast<const std::uint8_t*>(&b);
                src.insert(src.end(), p, p + 4);
                want.push_back(outType == DType::F16 ? floatBitsToHalf(b) : floatBitsToBf16(b));
            } else {
                // 16-bit inputs: the top half (a bf16) and, for fp16, its own patterns too.
                const auto h = static_cast<std::uint16_t>(inType == DType::BF16 ? b >> 16 : floatBitsToHalf(b));
                const auto* p = reinterpret_cast<const std::uint8_t*>(&h);
                src.insert(src.end(), p, p + 2);
                want.push_back(inType == DType::BF16 ? bf16ToHalf(h) : halfToBf16(h));
            }
        }
        if (inType == DType::F16)  // fp16 NaNs with payloads, infinities and subnormals as stored
            for (std::uint16_t h : {std::uint16_t{0x7c01}, std::uint16_t{0xfe00}, std::uint16_t{0x7dff},
                                    std::uint16_t{0x7c00}, std::uint16_t{0x0001}, std::uint16_t{0x83ff}}) {
                const auto* p = reinterpret_cast<const std::uint8_t*>(&h);
                src.insert(src.end(), p, p + 2);
                want.push_back(halfToBf16(h));
            }
        if (want.size() % 2 == 0) {  // an odd count: the grid's last element on its own
            src.resize(src.size() - dtypeSize(inType));
            want.pop_back();
        }
        auto ops = cuda::CudaLoadOps::create(0);
        QVERIFY2(ops.isOk(), ops.isOk() ? "" : ops.error().toString().c_str());
        const std::vector<std::uint16_t> got = convertOnDevice(**ops, src, inType, outType);
        QCOMPARE(got.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            QVERIFY2(got[i] == want[i], ("element " + std::to_string(i) + ": device " + std::to_string(got[i]) +
                                         ", host " + std::to_string(want[i])).c_str());
    }
};

QTEST_APPLESS_MAIN(TestCudaLoad)
#include "tst_cuda_load.moc"
