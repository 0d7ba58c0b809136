// The chat's keyboard shortcuts in the whole window (a scripted fake engine, the real widgets):
// Ctrl+Enter sends from wherever the focus is, Enter still sends from the input, Esc stops a
// running reply, and Ctrl+N starts a new chat whose first message makes a new conversation.
#include <QListWidget>
#include <QPushButton>
#include <QShortcut>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QtTest>

#include "chat_fixture.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "main_window.h"
#include "message_widget.h"

using hearth::test::FakeEngine;
using hearth::test::replyScript;
using namespace hearth;
using namespace hearth::gui;

namespace {

struct Window {
    QTemporaryDir dir;
    std::shared_ptr<FakeEngine> engine = std::make_shared<FakeEngine>(true);
    std::unique_ptr<MainWindow> window;

    bool open()
    {
        engine->setScript(replyScript({"Sure", "."}));
        LibraryScanOptions options;
        options.includeHfCache = false;
        window = std::make_unique<MainWindow>(options, nullptr, engine, dir.filePath(QStringLiteral("chat.sqlite3")));
        window->show();
        window->activateWindow();
        if (!QTest::qWaitForWindowActive(window.get())) return false;
        QSignalSpy chatReady(window.get(), &MainWindow::chatReady);
        window->startBackgroundWork();
        if (chatReady.isEmpty() && !chatReady.wait(5000)) return false;
        window->chatController()->setPromptBuilder(hearth::test::countingPromptBuilder());
        QSignalSpy ready(window->engineController(), &EngineController::ready);
        window->loadModel(QStringLiteral("/models/fake-model"));
        return window->engineController()->isReady() || ready.wait(5000);
    }
    ChatView* view() const { return window->chatView(); }
    ChatController* chat() const { return window->chatController(); }
};

}  // namespace

class TestChatShortcuts : public QObject {
    Q_OBJECT

private slots:
    void ctrlEnterSendsFromAnywhere()
    {
        Window w;
        QVERIFY(w.open());
        QSignalSpy finished(w.chat(), &ChatController::replyFinished);
        QTest::keyClicks(w.view()->input(), QStringLiteral("first"));
        QTest::keyClick(w.view()->input(), Qt::Key_Return, Qt::ControlModifier);
        QVERIFY(finished.wait(5000));
        QTRY_COMPARE(w.view()->messageWidgets().size(), 2);
        QVERIFY(w.view()->input()->toPlainText().isEmpty());

        // Typed, then the focus moves to a message: Ctrl+Enter still sends the input's text.
        QTest::keyClicks(w.view()->input(), QStringLiteral("second"));
        auto* body = w.view()->messageWidgets().at(1)->findChild<QTextBrowser*>(QStringLiteral("messageBody"));
        body->setFocus();
        QTRY_VERIFY(body->hasFocus());
        QTest::keyClick(body, Qt::Key_Return, Qt::ControlModifier);
        QVERIFY(finished.wait(5000));
        QTRY_COMPARE(w.view()->messageWidgets().size(), 4);
        QCOMPARE(w.view()->messageWidgets().at(2)->text(), QStringLiteral("second"));
        QCOMPARE(w.engine->submitted().size(), std::size_t(2));  // each sent once, not twice

        // Plain Enter in the input still sends.
        QTest::keyClicks(w.view()->input(), QStringLiteral("third"));
        QTest::keyClick(w.view()->input(), Qt::Key_Return);
        QVERIFY(finished.wait(5000));
        QCOMPARE(w.engine->submitted().size(), std::size_t(3));
        QVERIFY(w.view()->findChild<QPushButton*>(QStringLiteral("sendButton"))->toolTip().contains(QStringLiteral("Ctrl+Enter")));
    }

    void escapeStopsTheRunningReply()
    {
        Window w;
        QVERIFY(w.open());
        w.engine->setScript(replyScript(std::vector<std::string>(100000, "x")));
        QSignalSpy deltas(w.chat(), &ChatController::replyDelta);
        QSignalSpy finished(w.chat(), &ChatController::replyFinished);
        QTest::keyClicks(w.view()->input(), QStringLiteral("go on forever"));
        QTest::keyClick(w.view()->input(), Qt::Key_Return);
        QVERIFY(deltas.wait(5000));
        QVERIFY(w.chat()->isGenerating());
        QVERIFY(w.view()->findChild<QShortcut*>(QStringLiteral("stopShortcut"))->isEnabled());
        auto* stop = w.view()->findChild<QPushButton*>(QStringLiteral("stopButton"));
        QVERIFY(stop->isEnabled());
        QVERIFY(stop->toolTip().contains(QStringLiteral("Esc")));

        // From the conversation list, not the chat: the shortcut is window-wide.
        QListWidget* list = w.window->conversationList()->list();
        list->setFocus();
        QTRY_VERIFY(list->hasFocus());
        QTest::keyClick(list, Qt::Key_Escape);
        QVERIFY(finished.wait(2000));
        QVERIFY(!w.chat()->isGenerating());
        auto reply = w.chat()->store()->message(finished.first().at(0).value<MessageId>());
        QCOMPARE(reply->state, MessageState::Cancelled);
        QVERIFY(!reply->content.empty());
        QVERIFY(reply->content.size() < 100000);
        QTRY_VERIFY(!stop->isEnabled());
        // Idle, Esc is left to popups and editors.
        QVERIFY(!w.view()->findChild<QShortcut*>(QStringLiteral("stopShortcut"))->isEnabled());
    }

    void ctrlNStartsANewChat()
    {
        Window w;
        QVERIFY(w.open());
        QSignalSpy finished(w.chat(), &ChatController::replyFinished);
        QTest::keyClicks(w.view()->input(), QStringLiteral("old topic"));
        QTest::keyClick(w.view()->input(), Qt::Key_Return);
        QVERIFY(finished.wait(5000));
        const auto first = w.chat()->currentConversation();
        QVERIFY(first);
        QTRY_COMPARE(w.view()->messageWidgets().size(), 2);

        QTest::keyClick(w.view()->input(), Qt::Key_N, Qt::ControlModifier);
        QVERIFY(!w.chat()->currentConversation());
        QTRY_COMPARE(w.view()->messageWidgets().size(), 0);
        QVERIFY(!w.window->conversationList()->selected());
        QTRY_VERIFY(w.view()->input()->hasFocus());

        QTest::keyClicks(w.view()->input(), QStringLiteral("new topic"));
        QTest::keyClick(w.view()->input(), Qt::Key_Return);
        QVERIFY(finished.wait(5000));
        const auto second = w.chat()->currentConversation();
        QVERIFY(second && *second != *first);
        QCOMPARE(w.window->conversationList()->list()->count(), 2);
        QCOMPARE(w.chat()->store()->conversation(*first)->messages.size(), std::size_t(2));
        QCOMPARE(w.chat()->store()->conversation(*second)->messages.at(0).content, std::string("new topic"));
        QVERIFY(w.window->findChild<QPushButton*>(QStringLiteral("newConversation"))->toolTip().contains(QStringLiteral("Ctrl+N")));
    }
};

QTEST_MAIN(TestChatShortcuts)
#include "tst_chat_shortcuts.moc"
