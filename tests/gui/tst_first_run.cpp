// hearth-test-labels: model
// First run: with no model anywhere the library shows the first-run panel; "Create the demo model"
// writes it in the background (busy indicator shown, the window responsive), the library lists and
// selects it, and the real engine loads it, its tokenizer round-trips text and it generates.
#include <QElapsedTimer>
#include <QFileInfo>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "demo_model.h"
#include "engine_controller.h"
#include "library_model.h"
#include "library_panel.h"

using namespace hearth;
using namespace hearth::gui;

class TestFirstRun : public QObject {
    Q_OBJECT

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void demoModelFromAnEmptyLibrary()
    {
        QTemporaryDir dir;
        const QString modelsDir = dir.filePath(QStringLiteral("models"));
        LibraryScanOptions options;
        options.folders = {modelsDir.toStdString()};
        options.includeHfCache = false;
        LibraryPanel panel(options);
        const QString demoDir = modelsDir + QLatin1Char('/') + QLatin1String(kDemoModelName);
        panel.setDemoModelDir(demoDir);
        panel.show();
        QSignalSpy scanned(&panel, &LibraryPanel::scanFinished);
        panel.rescan();
        QVERIFY(scanned.wait(30000));
        QVERIFY(panel.isShowingFirstRun());

        QSignalSpy created(&panel, &LibraryPanel::demoModelCreated);
        QSignalSpy failed(&panel, &LibraryPanel::demoModelFailed);
        // The GUI thread keeps turning while the demo is written.
        int ticks = 0;
        QTimer ticker;
        connect(&ticker, &QTimer::timeout, this, [&] { ++ticks; });
        ticker.start(10);
        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("createDemoModel")), Qt::LeftButton);
        QVERIFY(panel.findChild<QProgressBar*>(QStringLiteral("demoBusy"))->isVisible());
        QVERIFY(!panel.findChild<QPushButton*>(QStringLiteral("createDemoModel"))->isEnabled());
        QVERIFY2(created.wait(180000), failed.isEmpty() ? "timed out" : qPrintable(failed.first().at(0).toString()));
        ticker.stop();
        QVERIFY2(ticks > 5, qPrintable(QString::number(ticks)));
        QCOMPARE(created.first().at(0).toString(), demoDir);

        QVERIFY(!panel.isShowingFirstRun());
        QCOMPARE(panel.model()->rowCount(), 1);
        const ModelEntry* selected = panel.selectedEntry();
        QVERIFY(selected);
        QCOMPARE(QString::fromStdString(selected->path), demoDir);
        QVERIFY2(selected->ok, selected->error.c_str());
        QVERIFY(selected->hasTokenizer);
        QVERIFY(panel.model()->index(0, LibraryModel::Name).data().toString().contains(QStringLiteral("random weights")));
        QVERIFY(QFileInfo::exists(demoDir + QStringLiteral("/README.txt")));
        // No staging folder or second model left behind.
        QCOMPARE(QDir(modelsDir).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden),
                 QStringList{QLatin1String(kDemoModelName)});

        EngineController controller;
        LoadOptions cpu;
        cpu.backend = BackendChoice::Cpu;
        QSignalSpy ready(&controller, &EngineController::ready);
        QSignalSpy loadFailed(&controller, &EngineController::loadFailed);
        controller.load(demoDir, cpu);
        QVERIFY2(ready.wait(120000), loadFailed.isEmpty() ? "timed out" : qPrintable(loadFailed.first().at(0).toString()));
        auto tokenizer = controller.tokenizer();
        QVERIFY(tokenizer);
        const std::string text = "Hello, 世界! <|im_end|>";
        auto ids = tokenizer->encode(text);
        QVERIFY(!ids.empty());
        QCOMPARE(ids.back(), TokenId(151645));  // the special token, as in Qwen's vocabulary
        QCOMPARE(tokenizer->decode(ids), text);

        // It generates (nonsense) end to end.
        GenerateRequest request;
        request.promptIds = tokenizer->encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
        request.maxTokens = 4;
        request.ignoreEos = true;
        QSignalSpy finished(&controller, &EngineController::generationFinished);
        controller.generate(request);
        QVERIFY(finished.wait(60000));
        const auto outcome = finished.first().at(1).value<GenerationOutcome>();
        QVERIFY2(outcome.error.isEmpty(), qPrintable(outcome.error));
        QCOMPARE(outcome.stats.generatedTokens, 4);
    }
};

QTEST_MAIN(TestFirstRun)
#include "tst_first_run.moc"
