// hearth-test-labels: load, model
// The engine loading the reference models through the load pipeline with tiny chunks and
// several readers: greedy continuations equal golden.json's (Hugging Face transformers), also
// with the bf16 weights converted to fp16 while loading (d64 only; bf16 values of the reference
// weights' magnitudes are fp16 values, so the tokens must not move); the final state carries every
// byte and a breakdown of opening, reading and warming up; the last progress event is "ready".
#include <QtTest>

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

#include "engine/engine.h"
#include "model/reference_models.h"
#include "support/engine_driver.h"
#include "support/reference_models.h"
#include "util/mapped_file.h"

using namespace hearth;
using namespace hearth::test;

namespace {


}  // namespace

class TestLoadEngine : public QObject {
    Q_OBJECT

    std::string m_dir;
    std::map<std::string, std::vector<GoldenGreedy>> m_golden;

private slots:
    void initTestCase()
    {
        m_dir = referenceModelsDir();
        QVERIFY2(!m_dir.empty(), "reference models could not be generated");
        m_golden = readGoldenGreedy();
        QVERIFY(m_golden.count(kReferenceModelD64) && m_golden.count(kReferenceModelD128));
    }

    void goldenThroughPipeline_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("dtype");
        for (const char* m : {kReferenceModelD64, kReferenceModelD128})
            QTest::newRow((std::string(m) + " as stored").c_str()) << QString::fromLatin1(m) << int(WeightDType::AsStored);
        QTest::newRow("ref-qwen2-d64 to fp16") << QString::fromLatin1(kReferenceModelD64) << int(WeightDType::F16);
    }

    void goldenThroughPipeline()
    {
        QFETCH(QString, model);
        QFETCH(int, dtype);
        std::mutex mutex;
        std::vector<LoadProgress> seen;
        EngineOptions options;
        options.backend = BackendChoice::Cpu;
        options.loadReadChunkBytes = 64u << 10;  // hundreds of chunks through the ring
        options.weightDtype = static_cast<WeightDType>(dtype);
        options.onLoadProgress = [&](const LoadProgress& p) {
            std::lock_guard lock(mutex);
            seen.push_back(p);
        };
        auto engine = loadedEngine(m_dir + "/" + model.toStdString(), options);
        QVERIFY2(engine.isOk(), engine.isOk() ? "" : engine.error().toString().c_str());
        const EngineState state = (*engine)->state();
        QCOMPARE(state.kind, EngineStateKind::Ready);
        QCOMPARE(state.progress.stage, std::string(kLoadStageReady));
        QVERIFY(state.progress.bytesTotal > 0);
        QCOMPARE(state.progress.bytesDone, state.progress.bytesTotal);
        QVERIFY(state.progress.elapsedS > 0.0);
        // opening, reading, the tokenizer behind the reads (overlapped) and what it took beyond
        // them (if anything), converting (overlapped) when asked, warming up.
        std::vector<std::string> stages;
        for (const LoadStageTime& s : state.progress.breakdown) {
            if (s.stage == kLoadStageTokenizer && !s.overlapped && !stages.empty() && stages.back() == "tokenizer (overlapped)")
                continue;  // the tokenizer's time past the last byte
            stages.push_back(s.stage + (s.overlapped ? " (overlapped)" : ""));
            QVERIFY(s.ms >= 0.0);
        }
        std::vector<std::string> want = {"opening", "reading", "tokenizer (overlapped)"};
        if (options.weightDtype != WeightDType::AsStored)
            want.push_back("converting (overlapped)");
        want.push_back("warming up");
        QCOMPARE(stages, want);

        for (const GoldenGreedy& g : m_golden.at(model.toStdString())) {
            const CollectedRun run = runRequest(**engine, greedyRequest(g.ids, static_cast<int>(g.greedy.size())));
            QVERIFY2(run.finished, describe(run).c_str());
            QCOMPARE(run.tokens, g.greedy);
        }
        engine->reset();  // joins the loader: `seen` is complete
        std::lock_guard lock(mutex);
        QVERIFY(seen.size() >= 4);
        QCOMPARE(seen.front().stage, std::string(kLoadStageOpening));
        QCOMPARE(seen.back().stage, std::string(kLoadStageReady));
        std::uint64_t last = 0;
        for (const LoadProgress& p : seen) {
            QVERIFY(p.bytesDone >= last);
            last = p.bytesDone;
        }
        QCOMPARE(last, state.progress.bytesTotal);
    }
};

QTEST_APPLESS_MAIN(TestLoadEngine)
#include "tst_load_engine.moc"
