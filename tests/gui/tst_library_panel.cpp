// The library panel lists what the core scan finds, broken models with their reason, and
// judges fit against the free memory it is given.
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include "library_model.h"
#include "library_panel.h"
#include "support/library_tree.h"

using namespace hearth;

class TestLibraryPanel : public QObject {
    Q_OBJECT

private slots:
    void init()
    {
        // Folders added through the panel persist in the settings; each test starts without them.
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void listsModelsAndBrokenOnes()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string root = dir.path().toStdString();
        QVERIFY(test::writeTinyFolderModel(root + "/good").isOk());
        test::TinyFolderOptions unknown;
        unknown.architecture = "FooForCausalLM";
        unknown.modelType = "foo";
        QVERIFY(test::writeTinyFolderModel(root + "/strange", unknown).isOk());

        LibraryScanOptions options;
        options.folders = {root};
        options.includeHfCache = false;
        gui::LibraryPanel panel(options);
        QSignalSpy done(&panel, &gui::LibraryPanel::scanFinished);
        panel.rescan();
        QVERIFY(done.wait(30000));
        QCOMPARE(done.takeFirst().at(0).toInt(), 2);

        gui::LibraryModel* model = panel.model();
        QCOMPARE(model->rowCount(), 2);
        int goodRow = -1, badRow = -1;
        for (int r = 0; r < 2; ++r)
            (model->entryAt(r)->ok ? goodRow : badRow) = r;
        QVERIFY(goodRow >= 0 && badRow >= 0);
        QCOMPARE(model->index(goodRow, gui::LibraryModel::Name).data().toString(), QStringLiteral("good"));
        QCOMPARE(model->index(goodRow, gui::LibraryModel::Architecture).data().toString(), QStringLiteral("Qwen2ForCausalLM"));
        QCOMPARE(model->index(goodRow, gui::LibraryModel::Context).data().toString(), QStringLiteral("128"));
        QCOMPARE(model->index(goodRow, gui::LibraryModel::Tokenizer).data().toString(), QStringLiteral("yes"));
        const QString reason = model->index(badRow, gui::LibraryModel::Architecture).data().toString();
        QVERIFY2(reason.startsWith(QStringLiteral("broken:")) && reason.contains(QStringLiteral("FooForCausalLM")),
                 qPrintable(reason));
        QVERIFY(model->index(badRow, gui::LibraryModel::Name).data(Qt::ToolTipRole).toString().contains(
            QStringLiteral("FooForCausalLM")));

        // The tiny model needs the fixed 512 MiB allowance plus a few KiB: fits in 1 GiB,
        // tight in 540 MiB (about 95%), does not fit in 256 MiB.
        const QModelIndex fit = model->index(goodRow, gui::LibraryModel::Fit);
        panel.setFreeMemory(1ull << 30, QStringLiteral("GPU"));
        QCOMPARE(fit.data().toString(), QStringLiteral("fits"));
        panel.setFreeMemory(540ull << 20, QStringLiteral("GPU"));
        QCOMPARE(fit.data().toString(), QStringLiteral("tight"));
        panel.setFreeMemory(256ull << 20, QStringLiteral("GPU"));
        QCOMPARE(fit.data().toString(), QStringLiteral("does not fit"));
        QCOMPARE(model->headerData(gui::LibraryModel::Fit, Qt::Horizontal).toString(), QStringLiteral("Fits in GPU"));
    }

    void addedFolderIsScanned()
    {
        QTemporaryDir empty, extra;
        QVERIFY(empty.isValid() && extra.isValid());
        QVERIFY(test::writeTinyGguf(extra.path().toStdString() + "/tiny.gguf").isOk());
        LibraryScanOptions options;
        options.folders = {empty.path().toStdString()};
        options.includeHfCache = false;
        gui::LibraryPanel panel(options);
        QSignalSpy done(&panel, &gui::LibraryPanel::scanFinished);
        panel.rescan();
        QVERIFY(done.wait(30000));
        QCOMPARE(panel.model()->rowCount(), 0);
        QVERIFY(panel.findChild<QLabel*>(QStringLiteral("libraryStatus"))->text().contains(QStringLiteral("No models")));

        panel.addFolder(extra.path());
        QVERIFY(done.wait(30000));
        QCOMPARE(panel.model()->rowCount(), 1);
        QCOMPARE(panel.model()->entryAt(0)->format, std::string("gguf"));
    }
};

QTEST_MAIN(TestLibraryPanel)
#include "tst_library_panel.moc"
