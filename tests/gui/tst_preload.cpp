// hearth-test-labels: model
// Start-up preload: the model that last loaded (on the real engine, ref-qwen2-d64) is saved in
// the store and loads again by itself when the next window opens, with the status bar going to
// Ready; a last model that is gone is reported in the status bar without loading anything; a
// broken one fails in the background and is reported, never a crash or a modal dialog.
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "engine_controller.h"
#include "fake_engine.h"
#include "main_window.h"
#include "store/conversation_store.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

LibraryScanOptions noLibrary()
{
    LibraryScanOptions options;
    options.includeHfCache = false;
    return options;
}

// Writes the last-model setting straight into the store, as an earlier run would have.
void saveLastModel(const QString& storePath, const QString& modelPath)
{
    auto store = ConversationStore::open(storePath.toStdString());
    QVERIFY(store);
    QVERIFY((*store)->setSetting(MainWindow::kLastModelSetting, modelPath.toStdString()));
}

bool noModalDialog()
{
    return QApplication::activeModalWidget() == nullptr;
}

}  // namespace

class TestPreload : public QObject {
    Q_OBJECT

private slots:
    void lastModelLoadsOnNextLaunch()
    {
        const std::string refDir = test::referenceModelsDir();
        if (refDir.empty()) QSKIP("reference models could not be generated");
        const QString modelPath = QString::fromStdString(refDir) + QStringLiteral("/ref-qwen2-d64");
        QTemporaryDir dir;
        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        {
            MainWindow first(noLibrary(), nullptr, {}, storePath);
            first.show();
            QSignalSpy preloaded(&first, &MainWindow::preloadStarted);
            first.startBackgroundWork();
            QCOMPARE(preloaded.count(), 0);  // nothing used before
            QSignalSpy ready(first.engineController(), &EngineController::ready);
            first.loadModel(modelPath);
            QVERIFY(ready.wait(60000));
        }
        {
            auto store = ConversationStore::open(storePath.toStdString());
            QVERIFY(store);
            auto saved = (*store)->setting(MainWindow::kLastModelSetting);
            QVERIFY(saved && saved.value());
            QCOMPARE(QString::fromStdString(*saved.value()), modelPath);
        }
        MainWindow second(noLibrary(), nullptr, {}, storePath);
        second.show();
        QSignalSpy preloaded(&second, &MainWindow::preloadStarted);
        QSignalSpy ready(second.engineController(), &EngineController::ready);
        second.startBackgroundWork();
        QCOMPARE(preloaded.count(), 1);
        QCOMPARE(preloaded.at(0).at(0).toString(), modelPath);
        QVERIFY(ready.count() == 1 || ready.wait(60000));
        QCOMPARE(second.engineController()->modelPath(), modelPath);
        QTRY_VERIFY(second.findChild<QLabel*>(QStringLiteral("loadLabel"))->text().startsWith(QStringLiteral("Ready")));
    }

    void missingLastModelIsReported()
    {
        QTemporaryDir dir;
        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        const QString gone = dir.filePath(QStringLiteral("deleted-model"));
        saveLastModel(storePath, gone);
        auto engine = std::make_shared<test::FakeEngine>(true);
        MainWindow window(noLibrary(), nullptr, engine, storePath);
        window.show();
        QSignalSpy skipped(&window, &MainWindow::preloadSkipped);
        QSignalSpy preloaded(&window, &MainWindow::preloadStarted);
        window.startBackgroundWork();
        QCOMPARE(skipped.count(), 1);
        QCOMPARE(preloaded.count(), 0);
        QCOMPARE(engine->state().kind, EngineStateKind::Empty);  // nothing was asked to load
        const QString label = window.findChild<QLabel*>(QStringLiteral("loadLabel"))->text();
        QVERIFY2(label.contains(gone), qPrintable(label));
        QVERIFY(noModalDialog());
    }

    void brokenLastModelFailsInTheBackground()
    {
        QTemporaryDir dir;
        const QString modelDir = dir.filePath(QStringLiteral("broken-model"));
        QVERIFY(QDir().mkpath(modelDir));
        QFile config(modelDir + QStringLiteral("/config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": ");
        config.close();
        QFile weights(modelDir + QStringLiteral("/model.safetensors"));
        QVERIFY(weights.open(QIODevice::WriteOnly));
        weights.write("not a safetensors file");
        weights.close();

        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        saveLastModel(storePath, modelDir);
        MainWindow window(noLibrary(), nullptr, {}, storePath);
        window.show();
        QSignalSpy failed(window.engineController(), &EngineController::loadFailed);
        QSignalSpy preloaded(&window, &MainWindow::preloadStarted);
        window.startBackgroundWork();
        QCOMPARE(preloaded.count(), 1);
        QVERIFY(failed.count() == 1 || failed.wait(30000));
        QVERIFY(!window.engineController()->isReady());
        const QString label = window.findChild<QLabel*>(QStringLiteral("loadLabel"))->text();
        QVERIFY2(label.startsWith(QStringLiteral("Load failed")), qPrintable(label));
        QVERIFY(noModalDialog());
    }
};

QTEST_MAIN(TestPreload)
#include "tst_preload.moc"
