// Library actions on a temp folder: Delete asks first (naming the folder and its size), removes
// only the model's own folder or its hub cache repo and the row goes; it refuses a model that is
// the library folder itself, one reached through a link from outside, and the loaded model;
// Reveal hands the folder's URL to the window; the first-run panel shows only when nothing at all
// was found.
#include <QApplication>
#include <QDir>
#include <QFile>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <functional>
#include <memory>

#include "library_model.h"
#include "library_panel.h"
#include "support/library_tree.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

// What a confirmation box showed, and whether one showed at all.
struct Answer {
    QString text;
    bool seen = false;
    bool stop = false;  // set when the test is past the point where a box could open
};

// Answers the next confirmation box by clicking `button` ("Delete" or "Cancel"). Keeps looking
// (every 10 ms) until a box opens or the test sets stop.
std::shared_ptr<Answer> answerNextBox(const QString& button)
{
    auto answer = std::make_shared<Answer>();
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [button, answer, poll] {
        if (answer->stop) {
            *poll = nullptr;  // ends the self-reference
            return;
        }
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) {
            QTimer::singleShot(10, [poll] { if (*poll) (*poll)(); });
            return;
        }
        answer->seen = true;
        answer->stop = true;
        answer->text = box->text();
        for (QAbstractButton* b : box->buttons())
            if (b->text() == button) b->click();
    };
    QTimer::singleShot(0, [poll] { if (*poll) (*poll)(); });
    return answer;
}

int rowOf(const LibraryModel* model, const QString& path)
{
    return model->rowOf(path);
}

std::uint64_t folderBytes(const QString& dir)
{
    std::uint64_t total = 0;
    for (const QFileInfo& f : QDir(dir).entryInfoList(QDir::Files | QDir::Hidden)) total += static_cast<std::uint64_t>(f.size());
    return total;
}

}  // namespace

class TestLibraryActions : public QObject {
    Q_OBJECT

    std::unique_ptr<LibraryPanel> scanned(const LibraryScanOptions& options)
    {
        auto panel = std::make_unique<LibraryPanel>(options);
        QSignalSpy done(panel.get(), &LibraryPanel::scanFinished);
        panel->rescan();
        if (!done.wait(30000)) return nullptr;
        return panel;
    }

private slots:
    void init()
    {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void deleteAsksAndRemovesTheFolder()
    {
        QTemporaryDir dir;
        const QString root = dir.path();
        QVERIFY(test::writeTinyFolderModel(root.toStdString() + "/org/good").isOk());
        QVERIFY(test::writeTinyFolderModel(root.toStdString() + "/keep").isOk());
        LibraryScanOptions options;
        options.folders = {root.toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        QCOMPARE(panel->model()->rowCount(), 2);
        const QString good = root + QStringLiteral("/org/good");
        const int row = rowOf(panel->model(), good);
        QVERIFY(row >= 0);
        const std::uint64_t bytes = folderBytes(good);

        // Cancel keeps everything.
        auto cancel = answerNextBox(QStringLiteral("Cancel"));
        QVERIFY(!panel->deleteModelAt(row));
        QVERIFY(cancel->seen);
        QVERIFY(QFileInfo::exists(good));

        QSignalSpy deleted(panel.get(), &LibraryPanel::modelDeleted);
        QSignalSpy rescanned(panel.get(), &LibraryPanel::scanFinished);
        auto confirm = answerNextBox(QStringLiteral("Delete"));
        QVERIFY(panel->deleteModelAt(row));
        QVERIFY(confirm->seen);
        const QString text = confirm->text;
        QVERIFY2(text.contains(good), qPrintable(text));
        QVERIFY2(text.contains(QString::fromStdString(formatBytes(bytes))), qPrintable(text));
        QCOMPARE(deleted.count(), 1);
        QVERIFY(!QFileInfo::exists(good));
        QVERIFY(QFileInfo::exists(root + QStringLiteral("/org")));  // never the parent
        QVERIFY(QFileInfo::exists(root + QStringLiteral("/keep/config.json")));
        QVERIFY(rescanned.wait(30000));
        QCOMPARE(panel->model()->rowCount(), 1);
        QCOMPARE(rowOf(panel->model(), good), -1);
    }

    void refusesTheLibraryFolderItself()
    {
        QTemporaryDir dir;
        // Model files straight in the library folder: the model's folder is the library folder.
        QVERIFY(test::writeTinyFolderModel(dir.path().toStdString()).isOk());
        LibraryScanOptions options;
        options.folders = {dir.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        QCOMPARE(panel->model()->rowCount(), 1);
        QSignalSpy refused(panel.get(), &LibraryPanel::deleteRefused);
        auto answer = answerNextBox(QStringLiteral("Cancel"));
        QVERIFY(!panel->deleteModelAt(0));
        answer->stop = true;
        QVERIFY2(!answer->seen, "a refused deletion must not ask");
        QCOMPARE(refused.count(), 1);
        QVERIFY(QFileInfo::exists(dir.path() + QStringLiteral("/config.json")));
        QVERIFY(QFileInfo::exists(dir.path() + QStringLiteral("/model.safetensors")));
    }

    void refusesAFolderLinkedFromOutside()
    {
        QTemporaryDir library, outside;
        QVERIFY(test::writeTinyFolderModel(outside.path().toStdString() + "/real").isOk());
        QVERIFY(QFile::link(outside.path() + QStringLiteral("/real"), library.path() + QStringLiteral("/linked")));
        LibraryScanOptions options;
        options.folders = {library.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        if (panel->model()->rowCount() == 0) QSKIP("the scan does not follow folder links");
        QSignalSpy refused(panel.get(), &LibraryPanel::deleteRefused);
        auto answer = answerNextBox(QStringLiteral("Cancel"));
        QVERIFY(!panel->deleteModelAt(0));
        answer->stop = true;
        QVERIFY(!answer->seen);
        QCOMPARE(refused.count(), 1);
        QVERIFY(QFileInfo::exists(outside.path() + QStringLiteral("/real/model.safetensors")));
    }

    void refusesTheLoadedModel()
    {
        QTemporaryDir dir;
        QVERIFY(test::writeTinyFolderModel(dir.path().toStdString() + "/m").isOk());
        LibraryScanOptions options;
        options.folders = {dir.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        panel->setLoadedModelPath(dir.path() + QStringLiteral("/m"));
        QSignalSpy refused(panel.get(), &LibraryPanel::deleteRefused);
        QVERIFY(!panel->deleteModelAt(0));
        QCOMPARE(refused.count(), 1);
        QVERIFY(refused.first().at(0).toString().contains(QStringLiteral("unload")));
        QVERIFY(QFileInfo::exists(dir.path() + QStringLiteral("/m/config.json")));
    }

    void deletesTheHubCacheRepo()
    {
        QTemporaryDir hub;
        const QString repo = hub.path() + QStringLiteral("/models--acme--tiny");
        QVERIFY(test::writeTinyFolderModel(repo.toStdString() + "/snapshots/0123abcd").isOk());
        QVERIFY(QDir().mkpath(repo + QStringLiteral("/refs")));
        QVERIFY(test::writeTextFile(repo.toStdString() + "/refs/main", "0123abcd").isOk());
        QVERIFY(test::writeTinyFolderModel(hub.path().toStdString() + "/models--acme--other/snapshots/feed").isOk());
        LibraryScanOptions options;
        options.includeHfCache = true;
        options.hfCacheDir = hub.path().toStdString();
        auto panel = scanned(options);
        QVERIFY(panel);
        QCOMPARE(panel->model()->rowCount(), 2);
        int row = -1;
        for (int r = 0; r < 2; ++r)
            if (panel->model()->entryAt(r)->displayName == "acme/tiny") row = r;
        QVERIFY(row >= 0);
        QCOMPARE(panel->model()->entryAt(row)->sourceKind, ModelSourceKind::HfCache);
        auto confirm = answerNextBox(QStringLiteral("Delete"));
        QVERIFY(panel->deleteModelAt(row));
        QVERIFY2(confirm->text.contains(repo) && confirm->text.contains(QStringLiteral("revision")), qPrintable(confirm->text));
        QVERIFY(!QFileInfo::exists(repo));
        QVERIFY(QFileInfo::exists(hub.path()));
        QVERIFY(QFileInfo::exists(hub.path() + QStringLiteral("/models--acme--other/snapshots/feed/config.json")));
    }

    void revealEmitsTheFolder()
    {
        QTemporaryDir dir;
        QVERIFY(test::writeTinyFolderModel(dir.path().toStdString() + "/m").isOk());
        QVERIFY(test::writeTinyGguf(dir.path().toStdString() + "/loose/tiny.gguf").isOk());
        LibraryScanOptions options;
        options.folders = {dir.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        QSignalSpy reveal(panel.get(), &LibraryPanel::revealRequested);
        panel->revealAt(rowOf(panel->model(), dir.path() + QStringLiteral("/m")));
        QCOMPARE(reveal.count(), 1);
        QCOMPARE(reveal.takeFirst().at(0).toUrl(), QUrl::fromLocalFile(dir.path() + QStringLiteral("/m")));
        // A GGUF file: its folder.
        panel->revealAt(rowOf(panel->model(), dir.path() + QStringLiteral("/loose/tiny.gguf")));
        QCOMPARE(reveal.count(), 1);
        QCOMPARE(reveal.takeFirst().at(0).toUrl(), QUrl::fromLocalFile(dir.path() + QStringLiteral("/loose")));
        // Through the button, on the selected row.
        QVERIFY(panel->selectPath(dir.path() + QStringLiteral("/m")));
        QTest::mouseClick(panel->findChild<QPushButton*>(QStringLiteral("revealModel")), Qt::LeftButton);
        QCOMPARE(reveal.count(), 1);
    }

    void loadButtonsFollowTheSelection()
    {
        QTemporaryDir dir;
        QVERIFY(test::writeTinyFolderModel(dir.path().toStdString() + "/good").isOk());
        test::TinyFolderOptions unknown;
        unknown.architecture = "FooForCausalLM";
        unknown.modelType = "foo";
        QVERIFY(test::writeTinyFolderModel(dir.path().toStdString() + "/strange", unknown).isOk());
        LibraryScanOptions options;
        options.folders = {dir.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        QVERIFY(!panel->isShowingFirstRun());  // a broken model is still a model
        auto* load = panel->findChild<QPushButton*>(QStringLiteral("loadModel"));
        QSignalSpy loads(panel.get(), &LibraryPanel::loadRequested);
        QVERIFY(panel->selectPath(dir.path() + QStringLiteral("/strange")));
        QVERIFY(!load->isEnabled());
        QVERIFY(panel->selectPath(dir.path() + QStringLiteral("/good")));
        QVERIFY(load->isEnabled());
        QTest::mouseClick(load, Qt::LeftButton);
        QCOMPARE(loads.count(), 1);
        QCOMPARE(loads.first().at(0).toString(), dir.path() + QStringLiteral("/good"));
        auto* unload = panel->findChild<QPushButton*>(QStringLiteral("unloadModel"));
        QVERIFY(!unload->isEnabled());
        panel->setLoadedModelPath(dir.path() + QStringLiteral("/good"));
        QVERIFY(unload->isEnabled());
        QSignalSpy unloads(panel.get(), &LibraryPanel::unloadRequested);
        QTest::mouseClick(unload, Qt::LeftButton);
        QCOMPARE(unloads.count(), 1);
    }

    void emptyLibraryShowsTheFirstRunPanel()
    {
        QTemporaryDir dir;
        LibraryScanOptions options;
        options.folders = {dir.path().toStdString()};
        options.includeHfCache = false;
        auto panel = scanned(options);
        QVERIFY(panel);
        QVERIFY(panel->isShowingFirstRun());
        QVERIFY(panel->findChild<QPushButton*>(QStringLiteral("createDemoModel")));
        QVERIFY(panel->findChild<QPushButton*>(QStringLiteral("firstRunAddFolder")));
        // No dead Download button.
        for (QPushButton* b : panel->findChildren<QPushButton*>())
            QVERIFY2(!b->text().contains(QStringLiteral("Download")), qPrintable(b->text()));
    }
};

QTEST_MAIN(TestLibraryActions)
#include "tst_library_actions.moc"
