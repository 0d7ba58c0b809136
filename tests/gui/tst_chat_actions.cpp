// The message actions in the chat view, driven with mouse clicks and key presses on the real
// widgets over a scripted fake engine and a real store: edit and resend (a new alternative and
// reply, the old branch kept and reachable with ‹ ›), switching regenerated replies, copy to the
// clipboard, delete with its confirmation, the waiting mark on a message typed before the model
// is ready, and export/import from the conversation list.
#include <QClipboard>
#include <QElapsedTimer>
#include <QFile>
#include <QGuiApplication>
#include <QInputDialog>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalSpy>
#include <QTextBrowser>
#include <QToolButton>
#include <QtTest>

#include "chat_fixture.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "message_widget.h"

using hearth::test::ChatFixture;
using hearth::test::MessageBoxResponder;
using hearth::test::replyScript;
using namespace hearth;
using namespace hearth::gui;

namespace {

template <typename T = QPushButton>
T* button(const MessageWidget* widget, const char* name)
{
    T* found = widget->findChild<T*>(QString::fromLatin1(name));
    if (!found) qWarning("no %s in the message", name);
    return found;
}

QString alternativeLabel(const MessageWidget* widget)
{
    const auto* label = widget->findChild<QLabel*>(QStringLiteral("alternativeIndex"));
    // isHidden: new widgets in a shown view become visible only on the next event loop turn.
    return label && !label->isHidden() ? label->text() : QString();
}

QString headerState(const MessageWidget* widget)
{
    return widget->findChild<QLabel*>(QStringLiteral("messageHeader"))->property("messageState").toString();
}

// Sends `text` through the input box and waits for the reply to finish.
bool sendAndWait(ChatView& view, ChatController& chat, const QString& text)
{
    QSignalSpy finished(&chat, &ChatController::replyFinished);
    QTest::keyClicks(view.input(), text);
    QTest::keyClick(view.input(), Qt::Key_Return);
    return finished.wait(5000);
}

}  // namespace

class TestChatActions : public QObject {
    Q_OBJECT

private slots:
    void editAndResendKeepsTheOldBranch()
    {
        ChatFixture f;
        ChatView view(f.chat.get());
        view.resize(800, 600);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("What is 2+2?")));
        QTRY_COMPARE(view.messageWidgets().size(), 2);

        f.engine->setScript(replyScript({"Four", "."}));
        MessageWidget* user = view.messageWidgets().at(0);
        QTest::mouseClick(button(user, "editMessage"), Qt::LeftButton);
        QVERIFY(user->isEditing());
        auto* editor = user->findChild<MessageEditor*>(QStringLiteral("messageEditor"));
        QVERIFY(!editor->isHidden());
        QTRY_VERIFY(editor->isVisible());
        QCOMPARE(editor->toPlainText(), QStringLiteral("What is 2+2?"));
        editor->selectAll();
        QTest::keyClicks(editor, QStringLiteral("What is two plus two?"));
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        QTest::mouseClick(button(user, "saveEdit"), Qt::LeftButton);
        QVERIFY(finished.wait(5000));

        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QList<MessageWidget*> widgets = view.messageWidgets();
        QCOMPARE(widgets[0]->text(), QStringLiteral("What is two plus two?"));
        QCOMPARE(widgets[1]->text(), QStringLiteral("Four."));
        QCOMPARE(alternativeLabel(widgets[0]), QStringLiteral("2/2"));
        QVERIFY(alternativeLabel(widgets[1]).isEmpty());  // one reply to the edited question
        // The new reply saw only the edited question, not the old turn.
        const auto requests = f.engine->submitted();
        QCOMPARE(requests.size(), std::size_t(2));
        QCOMPARE(requests[1].promptIds.size(), std::size_t(1));

        // ‹ goes back to the first question and its reply, › forward again.
        QVERIFY(!button<QToolButton>(widgets[0], "nextAlternative")->isEnabled());
        QTest::mouseClick(button<QToolButton>(widgets[0], "previousAlternative"), Qt::LeftButton);
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        widgets = view.messageWidgets();
        QCOMPARE(widgets[0]->text(), QStringLiteral("What is 2+2?"));
        QCOMPARE(widgets[1]->text(), QStringLiteral("Hello there"));
        QCOMPARE(alternativeLabel(widgets[0]), QStringLiteral("1/2"));
        auto conv = f.store->conversation(*f.chat->currentConversation());
        QCOMPARE(conv->messages.back().content, std::string("Hello there"));  // the store's active branch too

        QTest::mouseClick(button<QToolButton>(widgets[0], "nextAlternative"), Qt::LeftButton);
        QTRY_COMPARE(view.messageWidgets().at(1)->text(), QStringLiteral("Four."));
    }

    void cancelEditChangesNothing()
    {
        ChatFixture f;
        ChatView view(f.chat.get());
        view.show();
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("Keep me")));
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        MessageWidget* user = view.messageWidgets().at(0);
        QTest::mouseClick(button(user, "editMessage"), Qt::LeftButton);
        auto* editor = user->findChild<MessageEditor*>(QStringLiteral("messageEditor"));
        QTest::keyClicks(editor, QStringLiteral(" changed"));
        QTest::keyClick(editor, Qt::Key_Escape);
        QVERIFY(!user->isEditing());
        QCOMPARE(user->text(), QStringLiteral("Keep me"));
        QCOMPARE(f.engine->submitted().size(), std::size_t(1));
        QCOMPARE(f.store->allMessages(*f.chat->currentConversation())->size(), std::size_t(2));
    }

    void regeneratedRepliesAreSwitchable()
    {
        ChatFixture f;
        ChatView view(f.chat.get());
        view.show();
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("Tell me a joke")));
        QTRY_COMPARE(view.messageWidgets().size(), 2);

        for (const char* second : {"Second", "Third"}) {
            f.engine->setScript(replyScript({second, " joke"}));
            QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
            QTest::mouseClick(button(view.messageWidgets().at(1), "regenerateMessage"), Qt::LeftButton);
            QVERIFY(finished.wait(5000));
            QTRY_COMPARE(view.messageWidgets().at(1)->text(), QString(QString::fromLatin1(second) + QStringLiteral(" joke")));
        }
        QCOMPARE(alternativeLabel(view.messageWidgets().at(1)), QStringLiteral("3/3"));
        QVERIFY(alternativeLabel(view.messageWidgets().at(0)).isEmpty());

        QTest::mouseClick(button<QToolButton>(view.messageWidgets().at(1), "previousAlternative"), Qt::LeftButton);
        QTRY_COMPARE(view.messageWidgets().at(1)->text(), QStringLiteral("Second joke"));
        QCOMPARE(alternativeLabel(view.messageWidgets().at(1)), QStringLiteral("2/3"));
        QTest::mouseClick(button<QToolButton>(view.messageWidgets().at(1), "previousAlternative"), Qt::LeftButton);
        QTRY_COMPARE(view.messageWidgets().at(1)->text(), QStringLiteral("Hello there"));
        QVERIFY(!button<QToolButton>(view.messageWidgets().at(1), "previousAlternative")->isEnabled());
        // The stats shown are the selected reply's own.
        const QString stats = view.messageWidgets().at(1)->findChild<QLabel*>(QStringLiteral("messageStats"))->text();
        QVERIFY2(stats.contains(QStringLiteral("4 of 11 prompt tokens cached")), qPrintable(stats));
        QVERIFY2(stats.contains(QStringLiteral("TTFT 9 ms")), qPrintable(stats));
    }

    void copyPutsTheWholeTextOnTheClipboard()
    {
        ChatFixture f;
        f.engine->setScript(replyScript({"Use this:\n\n", "```sh\n", "ls -la\n", "```\n", "Done."}));
        ChatView view(f.chat.get());
        view.show();
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("List files")));
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QClipboard* clipboard = QGuiApplication::clipboard();
        clipboard->setText(QStringLiteral("before"));
        QTest::mouseClick(button(view.messageWidgets().at(1), "copyMessage"), Qt::LeftButton);
        QCOMPARE(clipboard->text(), QStringLiteral("Use this:\n\n```sh\nls -la\n```\nDone."));
        QTest::mouseClick(button(view.messageWidgets().at(0), "copyMessage"), Qt::LeftButton);
        QCOMPARE(clipboard->text(), QStringLiteral("List files"));
        QTest::mouseClick(button(view.messageWidgets().at(1), "copyCode"), Qt::LeftButton);
        QCOMPARE(clipboard->text(), QStringLiteral("ls -la\n"));
    }

    void deleteAsksWhenLaterMessagesGoToo()
    {
        ChatFixture f;
        ChatView view(f.chat.get());
        view.show();
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("one")));
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("two")));
        QTRY_COMPARE(view.messageWidgets().size(), 4);
        const ConversationId id = *f.chat->currentConversation();

        {  // "No" keeps everything.
            MessageBoxResponder no(QMessageBox::No);
            QTest::mouseClick(button(view.messageWidgets().at(2), "deleteMessage"), Qt::LeftButton);
            QVERIFY(no.seen());
        }
        QCOMPARE(f.store->conversation(id)->messages.size(), std::size_t(4));
        {  // The last message goes without a question.
            MessageBoxResponder unexpected(QMessageBox::No);
            QTest::mouseClick(button(view.messageWidgets().at(3), "deleteMessage"), Qt::LeftButton);
            QVERIFY(!unexpected.seen());
        }
        QTRY_COMPARE(view.messageWidgets().size(), 3);
        QCOMPARE(f.store->conversation(id)->messages.size(), std::size_t(3));
        {  // "Yes" on the first message removes it and everything after it.
            MessageBoxResponder yes(QMessageBox::Yes);
            QTest::mouseClick(button(view.messageWidgets().at(0), "deleteMessage"), Qt::LeftButton);
            QVERIFY(yes.seen());
        }
        QTRY_COMPARE(view.messageWidgets().size(), 0);
        QCOMPARE(f.store->allMessages(id)->size(), std::size_t(0));
    }

    void deletingAStreamingReplyStopsIt()
    {
        ChatFixture f;
        std::vector<std::string> endless(100000, "x");
        f.engine->setScript(replyScript(endless));
        ChatView view(f.chat.get());
        view.show();
        QSignalSpy deltas(f.chat.get(), &ChatController::replyDelta);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        QSignalSpy errors(f.chat.get(), &ChatController::errorOccurred);
        QTest::keyClicks(view.input(), QStringLiteral("go"));
        QTest::keyClick(view.input(), Qt::Key_Return);
        QVERIFY(deltas.wait(5000));
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QTest::mouseClick(button(view.messageWidgets().at(1), "deleteMessage"), Qt::LeftButton);
        QVERIFY(finished.wait(2000));
        QVERIFY(!f.chat->isGenerating());
        QVERIFY2(errors.isEmpty(), errors.isEmpty() ? "" : qPrintable(errors.first().at(0).toString()));
        QCOMPARE(f.store->allMessages(*f.chat->currentConversation())->size(), std::size_t(1));
        QTRY_COMPARE(view.messageWidgets().size(), 1);
    }

    void messageTypedBeforeReadyIsMarkedWaitingThenSent()
    {
        ChatFixture f(false);
        ChatView view(f.chat.get());
        view.show();
        QTest::keyClicks(view.input(), QStringLiteral("Are you awake?"));
        QTest::keyClick(view.input(), Qt::Key_Return);
        QCOMPARE(view.messageWidgets().size(), 1);
        MessageWidget* waiting = view.messageWidgets().at(0);
        QCOMPARE(headerState(waiting), QStringLiteral("waiting"));
        QVERIFY(waiting->findChild<QLabel*>(QStringLiteral("messageHeader"))->text().contains(QStringLiteral("waiting")));
        QVERIFY(f.engine->submitted().empty());

        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.engine->becomeReady();
        QVERIFY(finished.wait(5000));
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        MessageWidget* sent = view.messageWidgets().at(0);
        QCOMPARE(headerState(sent), QStringLiteral("complete"));
        QVERIFY(!sent->findChild<QLabel*>(QStringLiteral("messageHeader"))->text().contains(QStringLiteral("waiting")));
        QCOMPARE(view.messageWidgets().at(1)->text(), QStringLiteral("Hello there"));
        QCOMPARE(f.engine->submitted().size(), std::size_t(1));
    }

    void editBeforeReadyWaitsAndIsAnsweredOnce()
    {
        ChatFixture f(false);
        ChatView view(f.chat.get());
        view.show();
        QTest::keyClicks(view.input(), QStringLiteral("typo qestion"));
        QTest::keyClick(view.input(), Qt::Key_Return);
        MessageWidget* user = view.messageWidgets().at(0);
        QTest::mouseClick(button(user, "editMessage"), Qt::LeftButton);
        auto* editor = user->findChild<MessageEditor*>(QStringLiteral("messageEditor"));
        editor->selectAll();
        QTest::keyClicks(editor, QStringLiteral("typo question"));
        QTest::keyClick(editor, Qt::Key_Return, Qt::ControlModifier);  // Ctrl+Enter saves in the editor
        QTRY_COMPARE(view.messageWidgets().size(), 1);
        QCOMPARE(view.messageWidgets().at(0)->text(), QStringLiteral("typo question"));
        QCOMPARE(headerState(view.messageWidgets().at(0)), QStringLiteral("waiting"));
        QVERIFY(view.input()->toPlainText().isEmpty());  // the chat input did not send instead
        QVERIFY(f.engine->submitted().empty());

        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.engine->becomeReady();
        QVERIFY(finished.wait(5000));
        QTest::qWait(50);
        QCOMPARE(finished.count(), 1);
        QCOMPARE(f.engine->submitted().size(), std::size_t(1));
        QCOMPARE(f.engine->submitted().at(0).promptIds.size(), std::size_t(1));  // the edited question only
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QCOMPARE(view.messageWidgets().at(0)->text(), QStringLiteral("typo question"));
        QCOMPARE(headerState(view.messageWidgets().at(0)), QStringLiteral("complete"));
        QCOMPARE(alternativeLabel(view.messageWidgets().at(0)), QStringLiteral("2/2"));
    }

    void replyStatsSayWhetherThePromptCameFromCache_data()
    {
        QTest::addColumn<qint64>("cached");
        QTest::addColumn<QString>("expected");
        QTest::newRow("some cached") << qint64(30) << QStringLiteral("30 of 40 prompt tokens cached");
        QTest::newRow("none cached") << qint64(0) << QStringLiteral("prompt 40 tokens, none cached");
    }
    void replyStatsSayWhetherThePromptCameFromCache()
    {
        QFETCH(qint64, cached);
        QFETCH(QString, expected);
        const ReplyStats stats{.promptTokens = 40, .cachedTokens = cached, .generatedTokens = 12, .ttftMs = 80.4,
                               .tokensPerS = 25.25};
        QCOMPARE(formatReplyStats(stats), QString(QStringLiteral("12 tokens · TTFT 80 ms · 25.3 tok/s · ") + expected));
    }

    void longStreamIsNotRenderedPerDelta()
    {
        Message streaming;
        streaming.id = 1;
        streaming.role = MessageRole::Assistant;
        streaming.state = MessageState::Streaming;
        // In a scroll area as in the chat view, so only what is on screen is painted.
        QScrollArea scroll;
        scroll.setWidgetResizable(true);
        auto* owned = new MessageWidget(streaming);
        scroll.setWidget(owned);
        MessageWidget& widget = *owned;
        scroll.resize(700, 400);
        scroll.show();
        const int before = widget.renderCount();
        // 20k deltas, about the size of a 20k-token reply, with a code block now and then.
        QString expected;
        QElapsedTimer appending;
        appending.start();
        for (int i = 0; i < 20000; ++i) {
            const QString delta = i % 500 == 250 ? QStringLiteral("\n\n```\nint x = 1;\n```\n\n") : QStringLiteral("word ");
            expected += delta;
            widget.appendText(delta);
        }
        const qint64 appendMs = appending.elapsed();
        QCOMPARE(widget.renderCount(), before);  // nothing is rendered inside appendText
        QVERIFY2(appendMs < 1000, qPrintable(QString::number(appendMs)));
        QElapsedTimer rendering;
        rendering.start();
        QTRY_COMPARE(widget.renderCount(), before + 1);  // one render covers all of them
        qInfo("first render of %lld characters after %lld ms", static_cast<long long>(expected.size()),
              static_cast<long long>(rendering.elapsed()));
        QCOMPARE(widget.text(), expected);
        QVERIFY(widget.findChild<QTextBrowser*>(QStringLiteral("messageBody"))->toPlainText().endsWith(QStringLiteral("word")));
        QCOMPARE(widget.findChildren<QPushButton*>(QStringLiteral("copyCode")).size(), 40);

        // Deltas arriving over time with the event loop running: renders stay far fewer.
        const int start = widget.renderCount();
        int deltas = 0;
        QElapsedTimer streamingFor;
        streamingFor.start();
        while (streamingFor.elapsed() < 1500) {
            widget.appendText(QStringLiteral("more "));
            ++deltas;
            QTest::qWait(1);
        }
        const int renders = widget.renderCount() - start;
        qInfo("%d deltas over 1.5 s, %d renders", deltas, renders);
        QVERIFY2(renders <= 1500 / 33 + 1, qPrintable(QString::number(renders)));
        QVERIFY2(renders < deltas / 2, qPrintable(QStringLiteral("%1 of %2").arg(renders).arg(deltas)));
    }

    void conversationListRenameAndDeleteThroughDialogs()
    {
        ChatFixture f;
        const ConversationId a = *f.store->createConversation({.title = "first"});
        const ConversationId b = *f.store->createConversation({.title = "second"});
        ConversationList list;
        list.setStore(f.store.get());
        list.show();
        list.select(a);

        hearth::test::ModalResponder<QInputDialog> rename([](QInputDialog* dialog) {
            QCOMPARE(dialog->textValue(), QStringLiteral("first"));
            dialog->setTextValue(QStringLiteral("renamed"));
            dialog->accept();
        });
        QTest::mouseClick(list.findChild<QPushButton*>(QStringLiteral("renameConversation")), Qt::LeftButton);
        QVERIFY(rename.seen());
        QCOMPARE(QString::fromStdString(f.store->conversationInfo(a)->title), QStringLiteral("renamed"));

        {
            MessageBoxResponder no(QMessageBox::No);
            QTest::mouseClick(list.findChild<QPushButton*>(QStringLiteral("deleteConversation")), Qt::LeftButton);
            QVERIFY(no.seen());
        }
        QVERIFY(f.store->conversationInfo(a));
        {
            MessageBoxResponder yes(QMessageBox::Yes);
            QTest::mouseClick(list.findChild<QPushButton*>(QStringLiteral("deleteConversation")), Qt::LeftButton);
            QVERIFY(yes.seen());
        }
        QVERIFY(!f.store->conversationInfo(a));
        QVERIFY(f.store->conversationInfo(b));
        QCOMPARE(list.list()->count(), 1);

        // "New chat" leaves no conversation current, so Delete cannot hit the old one.
        list.select(b);
        QSignalSpy newRequested(&list, &ConversationList::newRequested);
        QTest::mouseClick(list.findChild<QPushButton*>(QStringLiteral("newConversation")), Qt::LeftButton);
        QCOMPARE(newRequested.count(), 1);
        QVERIFY(!list.selected());
    }

    void exportAndImportFromTheList()
    {
        ChatFixture f;
        ChatView view(f.chat.get());
        QVERIFY(sendAndWait(view, *f.chat, QStringLiteral("Export me")));
        const ConversationId id = *f.chat->currentConversation();
        ConversationList list;
        list.setStore(f.store.get());
        QCOMPARE(list.list()->count(), 1);

        const QString jsonPath = f.dir.filePath(QStringLiteral("out.json"));
        const QString mdPath = f.dir.filePath(QStringLiteral("out.md"));
        QVERIFY(list.exportJson(id, jsonPath));
        QVERIFY(list.exportMarkdown(id, mdPath));
        QFile json(jsonPath);
        QVERIFY(json.open(QIODevice::ReadOnly));
        const QJsonObject root = QJsonDocument::fromJson(json.readAll()).object();
        QCOMPARE(root.value(QStringLiteral("format")).toString(), QStringLiteral("hearth.conversation"));
        QFile md(mdPath);
        QVERIFY(md.open(QIODevice::ReadOnly));
        const QString markdown = QString::fromUtf8(md.readAll());
        QVERIFY2(markdown.contains(QStringLiteral("Export me")) && markdown.contains(QStringLiteral("Hello there")),
                 qPrintable(markdown));

        QSignalSpy selected(&list, &ConversationList::conversationSelected);
        const auto imported = list.importJson(jsonPath);
        QVERIFY(imported);
        QVERIFY(*imported != id);
        QCOMPARE(list.list()->count(), 2);
        QCOMPARE(list.selected(), imported);
        QCOMPARE(selected.count(), 1);
        auto copy = f.store->conversation(*imported);
        QCOMPARE(copy->messages.size(), std::size_t(2));
        QCOMPARE(copy->messages[1].content, std::string("Hello there"));

        QSignalSpy errors(&list, &ConversationList::errorOccurred);
        QVERIFY(!list.importJson(mdPath));  // Markdown is not an import format
        QCOMPARE(errors.count(), 1);
        QVERIFY(!list.exportJson(id, f.dir.filePath(QStringLiteral("no/such/folder/x.json"))));
        QCOMPARE(errors.count(), 2);
        QCOMPARE(list.list()->count(), 2);
    }
};

QTEST_MAIN(TestChatActions)
#include "tst_chat_actions.moc"
