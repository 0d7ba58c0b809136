// Settings: every choice in the dialog lands in QSettings (in the test HOME) at once, the theme
// is applied at once, a desktop without a tray says closing quits; preload on launch honours
// "off" and the default model; the window reports its first paint once (firstShown) and has the
// menu bar with Settings (Ctrl+,) and About.
#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QPalette>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "app_settings.h"
#include "engine_controller.h"
#include "fake_engine.h"
#include "main_window.h"
#include "settings_dialog.h"
#include "store/conversation_store.h"
#include "support/library_tree.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

LibraryScanOptions noLibrary()
{
    LibraryScanOptions options;
    options.includeHfCache = false;
    return options;
}

void saveLastModel(const QString& storePath, const QString& modelPath)
{
    auto store = ConversationStore::open(storePath.toStdString());
    QVERIFY(store);
    QVERIFY((*store)->setSetting(MainWindow::kLastModelSetting, modelPath.toStdString()));
}

ModelEntry entryNamed(const std::string& name, const std::string& path)
{
    ModelEntry e;
    e.displayName = name;
    e.path = path;
    return e;
}

BackendReport oneGpu()
{
    BackendReport report;
    report.gpus.push_back(GpuInfo{0, "Test GPU", 9, 0, 80ull << 30, 70ull << 30});
    report.backend = "cuda";
    return report;
}

}  // namespace

class TestSettings : public QObject {
    Q_OBJECT

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void choicesPersist()
    {
        std::vector<ModelEntry> models = {entryNamed("alpha", "/models/alpha"), entryNamed("beta", "/models/beta")};
        models.push_back(entryNamed("broken", "/models/broken"));
        models.back().ok = false;
        SettingsDialog dialog(models, oneGpu(), {QStringLiteral("/always/here")}, true);
        QSignalSpy libraryChanged(&dialog, &SettingsDialog::libraryChanged);

        auto* defaultModel = dialog.findChild<QComboBox*>(QStringLiteral("defaultModel"));
        QCOMPARE(defaultModel->count(), 3);  // "the last used" and the two usable models
        QCOMPARE(defaultModel->currentData().toString(), QString());
        defaultModel->setCurrentIndex(defaultModel->findData(QStringLiteral("/models/beta")));
        dialog.findChild<QCheckBox*>(QStringLiteral("preloadOnLaunch"))->setChecked(false);
        dialog.findChild<QCheckBox*>(QStringLiteral("useHfCache"))->setChecked(false);
        dialog.findChild<QCheckBox*>(QStringLiteral("keepInTray"))->setChecked(true);
        auto* gpu = dialog.findChild<QComboBox*>(QStringLiteral("gpuChoice"));
        QCOMPARE(gpu->count(), 2);
        QCOMPARE(gpu->currentData().toInt(), 0);
        gpu->setCurrentIndex(gpu->findData(-1));
        auto* language = dialog.findChild<QComboBox*>(QStringLiteral("language"));
        language->setCurrentIndex(language->findData(QStringLiteral("zh_CN")));
        QVERIFY(dialog.findChild<QLabel*>(QStringLiteral("languageNote"))->text().contains(QStringLiteral("restart")));
        dialog.addFolder(QStringLiteral("/data/models-a"));
        dialog.addFolder(QStringLiteral("/data/models-b"));
        dialog.removeFolder(QStringLiteral("/data/models-a"));

        const QSettings s;
        QCOMPARE(s.value(settings::kDefaultModel).toString(), QStringLiteral("/models/beta"));
        QCOMPARE(s.value(settings::kPreloadOnLaunch).toBool(), false);
        QCOMPARE(s.value(settings::kUseHfCache).toBool(), false);
        QCOMPARE(s.value(settings::kKeepLoadedInTray).toBool(), true);
        QCOMPARE(s.value(settings::kGpuIndex).toInt(), -1);
        QCOMPARE(s.value(settings::kLanguage).toString(), QStringLiteral("zh_CN"));
        QCOMPARE(s.value(settings::kExtraFolders).toStringList(), QStringList{QStringLiteral("/data/models-b")});
        QVERIFY(libraryChanged.count() >= 3);

        // A second dialog starts from what was saved.
        SettingsDialog again(models, oneGpu(), {}, true);
        QCOMPARE(again.findChild<QComboBox*>(QStringLiteral("defaultModel"))->currentData().toString(),
                 QStringLiteral("/models/beta"));
        QVERIFY(!again.findChild<QCheckBox*>(QStringLiteral("preloadOnLaunch"))->isChecked());
        QCOMPARE(again.findChild<QComboBox*>(QStringLiteral("gpuChoice"))->currentData().toInt(), -1);
        QCOMPARE(again.findChild<QListWidget*>(QStringLiteral("folderList"))->count(), 1);
    }

    void themeAppliesAtOnce()
    {
        SettingsDialog dialog({}, BackendReport{}, {}, true);
        auto* theme = dialog.findChild<QComboBox*>(QStringLiteral("theme"));
        theme->setCurrentIndex(theme->findData(QStringLiteral("dark")));
        QCOMPARE(QSettings().value(settings::kTheme).toString(), QStringLiteral("dark"));
        QVERIFY(QApplication::palette().color(QPalette::Window).lightness() < 100);
        theme->setCurrentIndex(theme->findData(QStringLiteral("light")));
        QVERIFY(QApplication::palette().color(QPalette::Window).lightness() > 150);
    }

    void withoutTrayClosingQuits()
    {
        QSettings().setValue(settings::kKeepLoadedInTray, true);
        SettingsDialog dialog({}, BackendReport{}, {}, false);
        auto* tray = dialog.findChild<QCheckBox*>(QStringLiteral("keepInTray"));
        QVERIFY(!tray->isEnabled());
        QVERIFY(!tray->isChecked());
        QVERIFY(dialog.findChild<QLabel*>(QStringLiteral("trayNote"))->text().contains(QStringLiteral("quits")));
        // No GPU: the only choice is the CPU, and the dialog says why.
        auto* gpu = dialog.findChild<QComboBox*>(QStringLiteral("gpuChoice"));
        QCOMPARE(gpu->count(), 1);
        QCOMPARE(gpu->currentData().toInt(), -1);
        QVERIFY(dialog.findChild<QLabel*>(QStringLiteral("gpuNote"))->text().contains(QStringLiteral("CPU backend")));
    }

    void preloadOffLoadsNothing()
    {
        QTemporaryDir dir;
        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        QVERIFY(test::writeTinyFolderModel(dir.filePath(QStringLiteral("last")).toStdString()).isOk());
        saveLastModel(storePath, dir.filePath(QStringLiteral("last")));
        QSettings().setValue(settings::kPreloadOnLaunch, false);
        auto engine = std::make_shared<test::FakeEngine>(true);
        MainWindow window(noLibrary(), nullptr, engine, storePath);
        window.show();
        QSignalSpy preloaded(&window, &MainWindow::preloadStarted);
        window.startBackgroundWork();
        QCOMPARE(preloaded.count(), 0);
        QCOMPARE(engine->state().kind, EngineStateKind::Empty);
        QVERIFY(window.findChild<QLabel*>(QStringLiteral("loadLabel"))->text().contains(QStringLiteral("off in Settings")));
    }

    void preloadPrefersTheDefaultModel()
    {
        QTemporaryDir dir;
        const QString storePath = dir.filePath(QStringLiteral("chat.sqlite3"));
        QVERIFY(test::writeTinyFolderModel(dir.filePath(QStringLiteral("last")).toStdString()).isOk());
        QVERIFY(test::writeTinyFolderModel(dir.filePath(QStringLiteral("default")).toStdString()).isOk());
        saveLastModel(storePath, dir.filePath(QStringLiteral("last")));
        QSettings().setValue(settings::kDefaultModel, dir.filePath(QStringLiteral("default")));
        auto engine = std::make_shared<test::FakeEngine>(true);
        MainWindow window(noLibrary(), nullptr, engine, storePath);
        window.show();
        QSignalSpy preloaded(&window, &MainWindow::preloadStarted);
        window.startBackgroundWork();
        QCOMPARE(preloaded.count(), 1);
        QCOMPARE(preloaded.first().at(0).toString(), dir.filePath(QStringLiteral("default")));
        QCOMPARE(engine->state().modelPath, dir.filePath(QStringLiteral("default")).toStdString());

        // With no default, the last used one.
        QSettings().remove(settings::kDefaultModel);
        auto engine2 = std::make_shared<test::FakeEngine>(true);
        MainWindow second(noLibrary(), nullptr, engine2, storePath);
        second.show();
        QSignalSpy preloaded2(&second, &MainWindow::preloadStarted);
        second.startBackgroundWork();
        QCOMPARE(preloaded2.count(), 1);
        // The first window loaded the default, which is now the last used model.
        QCOMPARE(preloaded2.first().at(0).toString(), dir.filePath(QStringLiteral("default")));
    }

    void firstShownOnceAndMenus()
    {
        QTemporaryDir dir;
        MainWindow window(noLibrary(), nullptr, std::make_shared<test::FakeEngine>(true),
                          dir.filePath(QStringLiteral("chat.sqlite3")));
        QSignalSpy shown(&window, &MainWindow::firstShown);
        window.show();
        QCOMPARE(shown.count(), 0);  // after the first paint, not inside show()
        QVERIFY(shown.wait(2000));
        window.hide();
        window.show();
        QTest::qWait(50);
        QCOMPARE(shown.count(), 1);

        QStringList menus;
        for (QAction* a : window.menuBar()->actions()) menus << a->text().remove(QLatin1Char('&'));
        QCOMPARE(menus, (QStringList{QStringLiteral("File"), QStringLiteral("View"), QStringLiteral("Help")}));
        auto* settingsAction = window.findChild<QAction*>(QStringLiteral("menuSettings"));
        QVERIFY(settingsAction);
        QCOMPARE(settingsAction->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_Comma));
        QVERIFY(window.findChild<QAction*>(QStringLiteral("menuAbout")));
    }

    void cpuIsSaidWithoutGpu()
    {
        QTemporaryDir dir;
        MainWindow window(noLibrary(), nullptr, std::make_shared<test::FakeEngine>(true),
                          dir.filePath(QStringLiteral("chat.sqlite3")));
        QSignalSpy probed(&window, &MainWindow::backendProbed);
        window.show();
        window.startBackgroundWork();
        QVERIFY(probed.count() == 1 || probed.wait(10000));
        if (!window.backendReport().gpus.empty()) QSKIP("this machine has a GPU");
        QVERIFY(window.findChild<QLabel*>(QStringLiteral("backendLabel"))->text().contains(QStringLiteral("CPU")));
        QVERIFY(window.findChild<QLabel*>(QStringLiteral("backendDetail"))->text().contains(QStringLiteral("CPU backend")));
    }
};

QTEST_MAIN(TestSettings)
#include "tst_settings.moc"
