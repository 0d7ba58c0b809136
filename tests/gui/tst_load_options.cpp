// Load options: the dialog's estimate follows the context length and dtype and equals core's
// estimateMemory computed here from the config and the hand-counted weight bytes; the verdict
// follows the free memory; the chosen options reach the EngineOptions of the engine that loads
// (remade when they change, kept when the Local API holds it); the choice is remembered and the
// library's Memory column uses it.
#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "app_settings.h"
#include "engine_controller.h"
#include "fake_engine.h"
#include "library_model.h"
#include "library_panel.h"
#include "load_options_dialog.h"
#include "main_window.h"
#include "model/model_config.h"
#include "support/library_tree.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

constexpr std::int64_t kLongContext = 32768;

// The tiny folder model with a long context (max positions only; the weights are unchanged).
QString writeLongContextModel(const QString& dir)
{
    if (!test::writeTinyFolderModel(dir.toStdString()).isOk()) return {};
    QFile config(dir + QStringLiteral("/config.json"));
    if (!config.open(QIODevice::ReadOnly)) return {};
    QByteArray json = config.readAll();
    config.close();
    json.replace("\"max_position_embeddings\": 128", "\"max_position_embeddings\": 32768");
    if (!config.open(QIODevice::WriteOnly | QIODevice::Truncate)) return {};
    config.write(json);
    return dir;
}

// Records the options of every engine it makes; the engines are fakes that are ready at once.
struct RecordingFactory {
    std::shared_ptr<std::vector<EngineOptions>> made = std::make_shared<std::vector<EngineOptions>>();
    EngineFactory factory()
    {
        return [made = made](const EngineOptions& options) -> Result<std::unique_ptr<Engine>> {
            made->push_back(options);
            return std::unique_ptr<Engine>(std::make_unique<test::FakeEngine>(true));
        };
    }
};

QString label(const QWidget& w, const char* name)
{
    auto* l = w.findChild<QLabel*>(QLatin1String(name));
    return l ? l->text() : QString();
}

}  // namespace

class TestLoadOptions : public QObject {
    Q_OBJECT

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void estimateFollowsTheChoice()
    {
        QTemporaryDir dir;
        const QString modelDir = writeLongContextModel(dir.filePath(QStringLiteral("m")));
        QVERIFY(!modelDir.isEmpty());
        auto entry = readModelEntry(modelDir.toStdString());
        QVERIFY(entry && entry->ok);
        QCOMPARE(entry->contextLength, kLongContext);
        auto config = loadModelConfig(modelDir.toStdString());
        QVERIFY(config);

        LoadOptionsDialog dialog(*entry, 2ull << 30, QStringLiteral("GPU 0 (Test)"));
        auto* context = dialog.findChild<QSpinBox*>(QStringLiteral("contextLength"));
        QCOMPARE(context->maximum(), int(kLongContext));
        for (int ctx : {int(kLongContext), 1000, 200000}) {
            context->setValue(ctx);
            const std::int64_t expectedCtx = std::min<std::int64_t>(ctx, kLongContext);
            const MemoryEstimate expected = estimateMemory(*config, test::kTinyFolderWeightBytes, expectedCtx);
            QCOMPARE(dialog.estimate().totalBytes, expected.totalBytes);
            QCOMPARE(dialog.estimate().kvCacheBytes, test::kTinyFolderKvBytesPerToken * std::uint64_t(expectedCtx));
            QCOMPARE(label(dialog, "estTotal"), QString::fromStdString(formatBytes(expected.totalBytes)));
            QVERIFY(label(dialog, "estKvCache").startsWith(QString::fromStdString(formatBytes(expected.kvCacheBytes))));
            QCOMPARE(label(dialog, "estWeights"), QString::fromStdString(formatBytes(test::kTinyFolderWeightBytes)));
            QVERIFY(label(dialog, "fitVerdict").startsWith(QStringLiteral("Fits in GPU 0 (Test)")));
        }
        // bf16 checkpoint converted to fp16: two bytes a parameter, the same as stored.
        auto* dtype = dialog.findChild<QComboBox*>(QStringLiteral("dtype"));
        dtype->setCurrentIndex(dtype->findData(QStringLiteral("fp16")));
        QCOMPARE(dialog.options().weightDtype, WeightDType::F16);
        QCOMPARE(dialog.estimate().weightsBytes, test::kTinyFolderParams * 2);
    }

    void verdictFollowsFreeMemory()
    {
        QTemporaryDir dir;
        const QString modelDir = writeLongContextModel(dir.filePath(QStringLiteral("m")));
        auto entry = readModelEntry(modelDir.toStdString());
        QVERIFY(entry && entry->ok);
        // About 513 MiB needed at 32768 tokens: tight in 540 MiB, not in 256 MiB.
        LoadOptionsDialog tight(*entry, 540ull << 20, QStringLiteral("GPU 0"));
        tight.findChild<QSpinBox*>(QStringLiteral("contextLength"))->setValue(int(kLongContext));
        QVERIFY2(label(tight, "fitVerdict").startsWith(QStringLiteral("Tight")), qPrintable(label(tight, "fitVerdict")));
        LoadOptionsDialog small(*entry, 256ull << 20, QStringLiteral("GPU 0"));
        QVERIFY(label(small, "fitVerdict").startsWith(QStringLiteral("Does not fit")));
        LoadOptionsDialog unknown(*entry, 0, QStringLiteral("GPU 0"));
        QVERIFY(label(unknown, "fitVerdict").contains(QStringLiteral("unknown")));
    }

    void optionsReachTheEngine()
    {
        RecordingFactory recorder;
        EngineController controller;
        controller.setEngineFactory(recorder.factory());
        QSignalSpy ready(&controller, &EngineController::ready);
        controller.load(QStringLiteral("/models/a"), LoadOptions{WeightDType::F16, 4096, BackendChoice::Cpu});
        QCOMPARE(ready.count(), 1);
        QCOMPARE(recorder.made->size(), std::size_t(1));
        QCOMPARE(recorder.made->back().weightDtype, WeightDType::F16);
        QCOMPARE(recorder.made->back().contextLength, std::int64_t(4096));
        QCOMPARE(recorder.made->back().backend, BackendChoice::Cpu);

        // Same options: the engine stays. Other options: a new engine with them.
        controller.load(QStringLiteral("/models/b"), LoadOptions{WeightDType::F16, 4096, BackendChoice::Cpu});
        QCOMPARE(recorder.made->size(), std::size_t(1));
        controller.load(QStringLiteral("/models/b"), LoadOptions{WeightDType::BF16, 1024, BackendChoice::Auto});
        QCOMPARE(recorder.made->size(), std::size_t(2));
        QCOMPARE(recorder.made->back().weightDtype, WeightDType::BF16);
        QCOMPARE(recorder.made->back().contextLength, std::int64_t(1024));
        QCOMPARE(recorder.made->back().backend, BackendChoice::Auto);

        // While someone else (the Local API) holds the engine it is not swapped under them.
        std::shared_ptr<Engine> held = controller.ensureEngine();
        QSignalSpy notice(&controller, &EngineController::loadNotice);
        controller.load(QStringLiteral("/models/c"), LoadOptions{WeightDType::AsStored, 512, BackendChoice::Auto});
        QCOMPARE(recorder.made->size(), std::size_t(2));
        QCOMPARE(notice.count(), 1);
        QCOMPARE(controller.ensureEngine(), held);
    }

    void dialogChoiceLoadsAndIsRemembered()
    {
        QTemporaryDir dir;
        const QString modelDir = writeLongContextModel(dir.filePath(QStringLiteral("models/m")));
        QVERIFY(!modelDir.isEmpty());
        LibraryScanOptions options;
        options.folders = {dir.filePath(QStringLiteral("models")).toStdString()};
        options.includeHfCache = false;
        MainWindow window(options, nullptr, {}, dir.filePath(QStringLiteral("chat.sqlite3")));
        RecordingFactory recorder;
        window.engineController()->setEngineFactory(recorder.factory());
        QSignalSpy scanned(window.libraryPanel(), &LibraryPanel::scanFinished);
        window.show();
        window.startBackgroundWork();
        QVERIFY(scanned.count() == 1 || scanned.wait(30000));

        // The dialog, answered like a user: bf16, 1000 tokens, Load.
        bool answered = false;
        QTimer::singleShot(0, this, [&] {
            auto* dialog = qobject_cast<LoadOptionsDialog*>(QApplication::activeModalWidget());
            QVERIFY(dialog);
            auto* dtype = dialog->findChild<QComboBox*>(QStringLiteral("dtype"));
            dtype->setCurrentIndex(dtype->findData(QStringLiteral("bf16")));
            dialog->findChild<QSpinBox*>(QStringLiteral("contextLength"))->setValue(1000);
            dialog->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok)->click();
            answered = true;
        });
        window.loadWithOptions(modelDir);
        QVERIFY(answered);
        QCOMPARE(recorder.made->size(), std::size_t(1));
        QCOMPARE(recorder.made->back().weightDtype, WeightDType::BF16);
        QCOMPARE(recorder.made->back().contextLength, std::int64_t(1000));
        QCOMPARE(QSettings().value(settings::kLoadDtype).toString(), QStringLiteral("bf16"));
        QCOMPARE(QSettings().value(settings::kLoadContext).toInt(), 1000);
        LibraryModel* model = window.libraryPanel()->model();
        const int row = model->rowOf(modelDir);
        QVERIFY(model->index(row, LibraryModel::Memory).data().toString().endsWith(QStringLiteral("at 1000 tokens")));

        // Plain Load uses the remembered choice; a changed one makes a new engine with it.
        QSettings().setValue(settings::kLoadContext, 2000);
        window.loadModel(modelDir);
        QCOMPARE(recorder.made->size(), std::size_t(2));
        QCOMPARE(recorder.made->back().contextLength, std::int64_t(2000));
        QCOMPARE(recorder.made->back().weightDtype, WeightDType::BF16);
        // CPU chosen in the settings forces the CPU backend.
        QSettings().setValue(settings::kGpuIndex, -1);
        window.loadModel(modelDir);
        QCOMPARE(recorder.made->back().backend, BackendChoice::Cpu);
    }
};

QTEST_MAIN(TestLoadOptions)
#include "tst_load_options.moc"
