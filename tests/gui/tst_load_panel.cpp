// The load panel against a scripted engine: it shows the stage (translated name), bytes of total,
// rate, ETA, elapsed and the files while loading, never goes backwards, shows how long the load
// took and where the time went when ready, says "cancelled" after Cancel, and offers Retry after
// a failure.
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QtTest>

#include "engine_controller.h"
#include "fake_engine.h"
#include "load_panel.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

LoadProgress reading(std::uint64_t doneMiB)
{
    LoadProgress p;
    p.stage = kLoadStageReading;
    p.bytesDone = doneMiB * kMiB;
    p.bytesTotal = 100 * kMiB;
    p.rateBytesPerS = 10.0 * kMiB;
    p.etaS = 7.5;
    p.elapsedS = 2.5;
    p.file = "model-00002-of-00002.safetensors";
    p.files = {{"model-00001-of-00002.safetensors", 20 * kMiB, 20 * kMiB},
               {"model-00002-of-00002.safetensors", doneMiB * kMiB - 20 * kMiB, 80 * kMiB}};
    return p;
}

QString text(const QWidget& w, const char* name)
{
    auto* label = w.findChild<QLabel*>(QLatin1String(name));
    return label ? label->text() : QStringLiteral("<no %1>").arg(QLatin1String(name));
}

// Waits for the controller's next poll to carry the fake engine's new state to the panel.
bool nextPoll(EngineController& controller)
{
    QSignalSpy progress(&controller, &EngineController::loadProgress);
    return progress.wait(2000);
}

}  // namespace

class TestLoadPanel : public QObject {
    Q_OBJECT

private slots:
    void showsProgressWhileLoading()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        QVERIFY(!panel.isVisible() || panel.phase() == LoadPanel::Phase::Idle);
        controller.load(QStringLiteral("/models/fake-model"));
        engine->setLoadProgress(reading(60));
        QVERIFY(nextPoll(controller));

        QVERIFY(panel.isVisible());
        QCOMPARE(panel.phase(), LoadPanel::Phase::Loading);
        QCOMPARE(text(panel, "loadStage"), QStringLiteral("Stage: reading weights"));
        const QLocale locale;
        const QString bytes = text(panel, "loadBytes");
        QVERIFY2(bytes.contains(QStringLiteral("%1 of %2").arg(locale.formattedDataSize(60 * kMiB),
                                                                locale.formattedDataSize(100 * kMiB))),
                 qPrintable(bytes));
        QVERIFY2(bytes.contains(locale.formattedDataSize(10 * kMiB) + QStringLiteral("/s")), qPrintable(bytes));
        QVERIFY2(bytes.contains(QStringLiteral("about 7.5 s left")), qPrintable(bytes));
        QVERIFY2(bytes.contains(QStringLiteral("2.5 s elapsed")), qPrintable(bytes));
        const QString files = text(panel, "loadFiles");
        QVERIFY2(files.contains(QStringLiteral("1 of 2 done")) && files.contains(QStringLiteral("model-00002-of-00002.safetensors (50%)")),
                 qPrintable(files));
        auto* bar = panel.findChild<QProgressBar*>(QStringLiteral("loadBar"));
        QCOMPARE(bar->value(), 600);
        QVERIFY(panel.findChild<QPushButton*>(QStringLiteral("loadCancel"))->isVisible());
    }

    void progressNeverGoesBackwards()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        controller.load(QStringLiteral("/models/fake-model"));
        engine->setLoadProgress(reading(70));
        QVERIFY(nextPoll(controller));
        QCOMPARE(panel.shownBytesDone(), 70 * kMiB);
        // A reader thread reporting late, and a stage name from before: the view holds its place.
        LoadProgress late = reading(40);
        late.stage = kLoadStageOpening;
        engine->setLoadProgress(late);
        QVERIFY(nextPoll(controller));
        QCOMPARE(panel.shownBytesDone(), 70 * kMiB);
        QCOMPARE(panel.findChild<QProgressBar*>(QStringLiteral("loadBar"))->value(), 700);
        QCOMPARE(text(panel, "loadStage"), QStringLiteral("Stage: reading weights"));
        engine->setLoadProgress(reading(90));
        QVERIFY(nextPoll(controller));
        QCOMPARE(panel.shownBytesDone(), 90 * kMiB);
    }

    void readyShowsTimeAndBreakdown()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("/models/fake-model"));
        LoadProgress done;
        done.stage = kLoadStageReady;
        done.bytesDone = done.bytesTotal = 100 * kMiB;
        done.elapsedS = 3.2;
        done.breakdown = {{kLoadStageOpening, 40.0, false},    {kLoadStageReading, 2900.0, false},
                          {kLoadStageTokenizer, 900.0, true},  {kLoadStageTokenizer, 1600.0, false},
                          {kLoadStageWarmingUp, 300.0, true},  {kLoadStageConverting, 260.0, false}};
        engine->setLoadProgress(done);
        engine->becomeReady();
        QVERIFY(ready.wait(2000));
        QCOMPARE(panel.phase(), LoadPanel::Phase::Ready);
        QCOMPARE(text(panel, "loadTitle"), QStringLiteral("Loaded fake-model in 3.2 s"));
        const QString breakdown = text(panel, "loadBreakdown");
        QVERIFY2(breakdown.contains(QStringLiteral("opening files 40 ms")), qPrintable(breakdown));
        QVERIFY2(breakdown.contains(QStringLiteral("reading weights 2.9 s")), qPrintable(breakdown));
        QVERIFY2(breakdown.contains(QStringLiteral("warming up 300 ms (behind the transfer)")), qPrintable(breakdown));
        QVERIFY2(breakdown.contains(QStringLiteral("converting 260 ms")), qPrintable(breakdown));
        // Work that outlasted the transfer is said once, with the extra time it took.
        QVERIFY2(breakdown.contains(QStringLiteral("reading the tokenizer 900 ms (behind the transfer) · 1.6 s more after it")),
                 qPrintable(breakdown));
        QVERIFY(!panel.findChild<QPushButton*>(QStringLiteral("loadCancel"))->isVisible());
        auto* dismiss = panel.findChild<QPushButton*>(QStringLiteral("loadDismiss"));
        QVERIFY(dismiss->isVisible());
        QTest::mouseClick(dismiss, Qt::LeftButton);
        QVERIFY(!panel.isVisible());
    }

    void readyWithoutBreakdownSaysSo()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("/models/fake-model"));
        engine->setLoadProgress(LoadProgress{});
        engine->becomeReady();
        QVERIFY(ready.wait(2000));
        QVERIFY(text(panel, "loadTitle").startsWith(QStringLiteral("Loaded fake-model in ")));
        QVERIFY(text(panel, "loadBreakdown").contains(QStringLiteral("no per-stage timings")));
    }

    void cancelFromThePanel()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        QSignalSpy cancelled(&controller, &EngineController::loadCancelled);
        controller.load(QStringLiteral("/models/fake-model"));
        engine->setLoadProgress(reading(30));
        QVERIFY(nextPoll(controller));
        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("loadCancel")), Qt::LeftButton);
        QVERIFY(cancelled.wait(2000));
        QCOMPARE(engine->state().kind, EngineStateKind::Empty);
        QCOMPARE(panel.phase(), LoadPanel::Phase::Cancelled);
        QVERIFY2(text(panel, "loadTitle").contains(QStringLiteral("cancelled")), qPrintable(text(panel, "loadTitle")));
        QVERIFY(panel.isVisible());
        QVERIFY(!panel.findChild<QPushButton*>(QStringLiteral("loadCancel"))->isVisible());
    }

    void secondLoadWaitsForTheFirst()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        controller.load(QStringLiteral("/models/first"));
        QSignalSpy notice(&controller, &EngineController::loadNotice);
        QSignalSpy started(&controller, &EngineController::loadStarted);
        controller.load(QStringLiteral("/models/second"));
        QCOMPARE(notice.count(), 1);
        QCOMPARE(started.count(), 0);
        QCOMPARE(controller.modelPath(), QStringLiteral("/models/first"));
        QCOMPARE(panel.phase(), LoadPanel::Phase::Loading);
    }

    void unloadDuringLoadEndsIt()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        controller.load(QStringLiteral("/models/fake-model"));
        QSignalSpy unloaded(&controller, &EngineController::unloaded);
        controller.unload();
        QCOMPARE(unloaded.count(), 1);
        QCOMPARE(engine->state().kind, EngineStateKind::Empty);
        QCOMPARE(panel.phase(), LoadPanel::Phase::Cancelled);
        QVERIFY(!controller.isLoading());
    }

    void failureShowsReasonAndRetries()
    {
        auto engine = std::make_shared<test::FakeEngine>(false);
        EngineController controller(engine);
        LoadPanel panel(&controller);
        panel.show();
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        controller.load(QStringLiteral("/models/fake-model"), LoadOptions{WeightDType::F16, 2048, BackendChoice::Cpu});
        engine->fail("model.safetensors: truncated at byte 4096");
        QVERIFY(failed.wait(2000));
        QCOMPARE(panel.phase(), LoadPanel::Phase::Failed);
        QVERIFY(text(panel, "loadStage").contains(QStringLiteral("truncated at byte 4096")));
        auto* retry = panel.findChild<QPushButton*>(QStringLiteral("loadRetry"));
        QVERIFY(retry->isVisible());
        QSignalSpy started(&controller, &EngineController::loadStarted);
        QTest::mouseClick(retry, Qt::LeftButton);
        QCOMPARE(started.count(), 1);
        QCOMPARE(engine->state().kind, EngineStateKind::Loading);
        QCOMPARE(panel.phase(), LoadPanel::Phase::Loading);
        QCOMPARE(controller.loadOptions().contextLength, std::int64_t(2048));  // the same options again
    }
};

QTEST_MAIN(TestLoadPanel)
#include "tst_load_panel.moc"
