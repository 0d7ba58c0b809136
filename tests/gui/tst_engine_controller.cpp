// EngineController against a scripted fake engine: text arrives in batches (far fewer signals
// than tokens), stop() ends a stream within 100 ms, load progress is reported until ready, and
// the GUI thread keeps running its timers during a long stream.
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTimer>
#include <QtTest>

#include "engine_controller.h"
#include "fake_engine.h"

using hearth::test::FakeEngine;
using hearth::test::FakeScript;
using namespace hearth::gui;

namespace {

FakeScript numberedTokens(int n, std::chrono::microseconds delay)
{
    FakeScript script;
    for (int i = 0; i < n; ++i) script.tokens.push_back("t" + std::to_string(i) + " ");
    script.delay = delay;
    return script;
}

QString expectedText(const FakeScript& script)
{
    QString text;
    for (const std::string& t : script.tokens) text += QString::fromStdString(t);
    return text;
}

}  // namespace

class TestEngineController : public QObject {
    Q_OBJECT

private slots:
    void deltasAreBatched()
    {
        auto engine = std::make_shared<FakeEngine>();
        const FakeScript script = numberedTokens(2000, std::chrono::microseconds(100));
        engine->setScript(script);
        EngineController controller(engine);
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("fake-model"));
        QCOMPARE(ready.count(), 1);

        QString text;
        int nDeltas = 0;
        int nTokens = 0;
        connect(&controller, &EngineController::delta, this, [&](quint64, const QString& d, int n) {
            text += d;
            nTokens += n;
            ++nDeltas;
        });
        QSignalSpy finished(&controller, &EngineController::generationFinished);
        QElapsedTimer clock;
        clock.start();
        const quint64 genId = controller.generate(hearth::GenerateRequest{});
        QVERIFY(genId != 0);
        QVERIFY(finished.wait(20000));
        const qint64 elapsedMs = clock.elapsed();

        QCOMPARE(text, expectedText(script));
        QCOMPARE(nTokens, 2000);
        // One delta per flush interval at most (plus the final one): far fewer than tokens.
        QVERIFY2(nDeltas <= elapsedMs / EngineController::kFlushIntervalMs + 2,
                 qPrintable(QStringLiteral("%1 deltas in %2 ms").arg(nDeltas).arg(elapsedMs)));
        QVERIFY2(nDeltas < 2000 / 10, qPrintable(QString::number(nDeltas)));
        const auto outcome = finished.first().at(1).value<GenerationOutcome>();
        QCOMPARE(finished.first().at(0).toULongLong(), genId);
        QCOMPARE(outcome.reason, hearth::FinishReason::Eos);
        QCOMPARE(outcome.stats.generatedTokens, 2000);
        QCOMPARE(controller.runningCount(), 0);
    }

    void stopCancelsWithin100Ms()
    {
        auto engine = std::make_shared<FakeEngine>();
        engine->setScript(numberedTokens(100000, std::chrono::microseconds(1000)));
        EngineController controller(engine);
        controller.load(QStringLiteral("fake-model"));
        QSignalSpy deltas(&controller, &EngineController::delta);
        QSignalSpy finished(&controller, &EngineController::generationFinished);
        const quint64 genId = controller.generate(hearth::GenerateRequest{});
        QVERIFY(deltas.wait(5000));

        QElapsedTimer clock;
        clock.start();
        controller.stop(genId);
        QVERIFY(finished.wait(1000));
        QVERIFY2(clock.elapsed() < 100, qPrintable(QString::number(clock.elapsed())));
        QCOMPARE(finished.first().at(1).value<GenerationOutcome>().reason, hearth::FinishReason::Cancelled);
        QVERIFY(finished.first().at(1).value<GenerationOutcome>().stats.generatedTokens < 100000);
    }

    void guiThreadNeverBlocks()
    {
        auto engine = std::make_shared<FakeEngine>();
        engine->setScript(numberedTokens(800, std::chrono::microseconds(1000)));
        EngineController controller(engine);
        controller.load(QStringLiteral("fake-model"));

        QTimer ticker;
        ticker.setInterval(5);
        QElapsedTimer sinceTick;
        qint64 worstGapMs = 0;
        int ticks = 0;
        connect(&ticker, &QTimer::timeout, this, [&] {
            if (ticks > 0) worstGapMs = std::max(worstGapMs, sinceTick.elapsed());
            sinceTick.restart();
            ++ticks;
        });
        sinceTick.start();
        ticker.start();
        QSignalSpy finished(&controller, &EngineController::generationFinished);
        controller.generate(hearth::GenerateRequest{});
        QVERIFY(finished.wait(20000));
        ticker.stop();
        // The stream lasts about 800 ms; the timer keeps firing all along.
        QVERIFY2(ticks > 40, qPrintable(QString::number(ticks)));
        QVERIFY2(worstGapMs < 100, qPrintable(QString::number(worstGapMs)));
    }

    void loadProgressUntilReady()
    {
        auto engine = std::make_shared<FakeEngine>(false);
        EngineController controller(engine);
        QSignalSpy progress(&controller, &EngineController::loadProgress);
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("fake-model"));
        QVERIFY(controller.isLoading());
        QVERIFY(!controller.isReady());
        QVERIFY(progress.count() >= 1);
        const auto first = progress.first().at(0).value<hearth::LoadProgress>();
        QCOMPARE(first.stage, std::string("reading"));
        QCOMPARE(first.bytesDone, std::uint64_t(10));
        QCOMPARE(first.bytesTotal, std::uint64_t(100));
        engine->becomeReady();
        QVERIFY(ready.wait(2000));
        QVERIFY(controller.isReady());
        QCOMPARE(ready.first().at(0).toString(), QStringLiteral("fake"));
    }

    void cancelLoadReportsFailure()
    {
        auto engine = std::make_shared<FakeEngine>(false);
        EngineController controller(engine);
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        controller.load(QStringLiteral("fake-model"));
        controller.cancelLoad();
        QVERIFY(failed.wait(2000));
        QVERIFY(!controller.isReady());
    }
};

QTEST_MAIN(TestEngineController)
#include "tst_engine_controller.moc"
