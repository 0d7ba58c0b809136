// The whole window across restarts, on a scripted fake engine: a finished conversation is there
// again in a new window on the same database, and a kill mid-stream keeps the partial reply. The
// kill is simulated by copying the database files while a reply streams (what SIGKILL would leave
// on disk: the process gets no chance to flush or close); a window opened on the copy shows the
// reply as interrupted, with every character that was on screen a flush interval before the copy.
#include <QFile>
#include <QLabel>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "fake_engine.h"
#include "main_window.h"
#include "message_widget.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

LibraryScanOptions noLibrary()
{
    LibraryScanOptions options;
    options.includeHfCache = false;
    return options;
}

void useFakePrompts(MainWindow& window)
{
    window.chatController()->setPromptBuilder([](const std::vector<Message>& messages) -> Result<std::vector<TokenId>> {
        return std::vector<TokenId>(messages.size(), 1);
    });
}

// Opens the window's first conversation the way a click in the list does.
void openFirstConversation(MainWindow& window)
{
    QListWidget* list = window.conversationList()->list();
    QTRY_VERIFY(list->count() >= 1);
    list->setCurrentRow(-1);
    list->setCurrentRow(0);
}

QString headerState(MessageWidget* widget)
{
    return widget->findChild<QLabel*>(QStringLiteral("messageHeader"))->property("messageState").toString();
}

}  // namespace

class TestRestart : public QObject {
    Q_OBJECT

private slots:
    void conversationsSurviveRestartAndKill()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("chat.sqlite3"));
        const QString killedDb = dir.filePath(QStringLiteral("killed.sqlite3"));
        QString streamedBeforeCopy;
        QString fullReply;
        {
            auto engine = std::make_shared<hearth::test::FakeEngine>(true);
            hearth::test::FakeScript script;
            for (int i = 0; i < 300; ++i) script.tokens.push_back("w" + std::to_string(i) + " ");
            script.delay = std::chrono::microseconds(8000);  // about 2.4 s of streaming
            engine->setScript(script);
            MainWindow window(noLibrary(), nullptr, engine, db);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            window.startBackgroundWork();
            useFakePrompts(window);
            QSignalSpy ready(window.engineController(), &EngineController::ready);
            window.loadModel(QStringLiteral("/models/fake-model"));
            QVERIFY(ready.count() == 1 || ready.wait(5000));

            ChatView* view = window.chatView();
            QTest::keyClicks(view->input(), QStringLiteral("Count for me"));
            QTest::keyClick(view->input(), Qt::Key_Return);
            QTRY_COMPARE(view->messageWidgets().size(), 2);
            MessageWidget* reply = view->messageWidgets()[1];
            QTRY_VERIFY_WITH_TIMEOUT(reply->text().contains(QStringLiteral("w60 ")), 10000);

            // Everything on screen now must reach the disk within the store's 200 ms flush
            // interval; copy the files well after that, while the reply still streams.
            streamedBeforeCopy = reply->text();
            QTest::qWait(450);
            QVERIFY2(!reply->text().contains(QStringLiteral("w299 ")), "the reply ended before the copy");
            for (const QString& suffix : {QString(), QStringLiteral("-wal")}) {
                if (QFile::exists(db + suffix)) QVERIFY(QFile::copy(db + suffix, killedDb + suffix));
            }

            QSignalSpy finished(window.chatController(), &ChatController::replyFinished);
            QVERIFY(finished.wait(15000));
            QTRY_VERIFY(view->messageWidgets().size() == 2 &&
                        view->messageWidgets()[1]->text().endsWith(QStringLiteral("w299 ")));
            fullReply = view->messageWidgets()[1]->text();
        }

        {
            // A normal restart: the conversation and the whole reply are there.
            MainWindow window(noLibrary(), nullptr, std::make_shared<hearth::test::FakeEngine>(false), db);
            window.show();
            window.startBackgroundWork();
            openFirstConversation(window);
            ChatView* view = window.chatView();
            QTRY_COMPARE(view->messageWidgets().size(), 2);
            QCOMPARE(view->messageWidgets()[0]->text(), QStringLiteral("Count for me"));
            QCOMPARE(view->messageWidgets()[1]->text(), fullReply);
            QCOMPARE(headerState(view->messageWidgets()[1]), QStringLiteral("complete"));
        }

        {
            // After the simulated kill: the partial reply, marked interrupted.
            MainWindow window(noLibrary(), nullptr, std::make_shared<hearth::test::FakeEngine>(false), killedDb);
            window.show();
            window.startBackgroundWork();
            openFirstConversation(window);
            ChatView* view = window.chatView();
            QTRY_COMPARE(view->messageWidgets().size(), 2);
            const QString kept = view->messageWidgets()[1]->text();
            QCOMPARE(headerState(view->messageWidgets()[1]), QStringLiteral("interrupted"));
            QVERIFY2(kept.startsWith(streamedBeforeCopy), qPrintable(kept.left(200)));
            QVERIFY2(fullReply.startsWith(kept), qPrintable(kept.right(200)));
            QVERIFY(kept.size() < fullReply.size());
        }
    }
};

QTEST_MAIN(TestRestart)
#include "tst_restart.moc"
