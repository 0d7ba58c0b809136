// The chat against a scripted fake engine and a real SQLite store in a temporary folder: a
// message sent while loading waits and is sent when ready, the reply is persisted with its stats
// (checked by reopening the file), regenerate adds an alternative, and the view shows it all.
#include <QElapsedTimer>
#include <QPlainTextEdit>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "conversation_settings_dialog.h"
#include "engine_controller.h"
#include "fake_engine.h"
#include "message_widget.h"

using hearth::test::FakeEngine;
using hearth::test::FakeScript;
using namespace hearth;
using namespace hearth::gui;

namespace {

FakeScript helloScript()
{
    FakeScript script;
    script.tokens = {"Hello", ", ", "**world**", "!\n\n", "```cpp\n", "int x = 1;\n", "```\n"};
    script.delay = std::chrono::microseconds(2000);
    script.stats.promptTokens = 17;
    script.stats.cachedPromptTokens = 5;
    script.stats.timeToFirstTokenMs = 12.5;
    script.stats.decodeTokensPerS = 321.0;
    return script;
}

const char* kHelloText = "Hello, **world**!\n\n```cpp\nint x = 1;\n```\n";

// Prompt ids: one id per message, so the test can see what history went in.
ChatController::PromptBuilder countingBuilder()
{
    return [](const std::vector<Message>& messages) -> Result<std::vector<TokenId>> {
        std::vector<TokenId> ids;
        for (std::size_t i = 0; i < messages.size(); ++i) ids.push_back(static_cast<TokenId>(i));
        return ids;
    };
}

struct Fixture {
    QTemporaryDir dir;
    std::string dbPath;
    std::shared_ptr<FakeEngine> engine;
    std::unique_ptr<ConversationStore> store;
    std::unique_ptr<EngineController> engineController;
    std::unique_ptr<ChatController> chat;

    explicit Fixture(bool readyAtOnce)
    {
        dbPath = dir.filePath(QStringLiteral("chat.sqlite3")).toStdString();
        engine = std::make_shared<FakeEngine>(readyAtOnce);
        engine->setScript(helloScript());
        store = std::move(ConversationStore::open(dbPath)).value();
        engineController = std::make_unique<EngineController>(engine);
        chat = std::make_unique<ChatController>(engineController.get(), store.get());
        chat->setPromptBuilder(countingBuilder());
        engineController->load(QStringLiteral("fake-model"));
    }
    ~Fixture()
    {
        chat.reset();
        engineController.reset();
    }
};

}  // namespace

class TestChatController : public QObject {
    Q_OBJECT

private slots:
    void replyIsPersistedWithStats()
    {
        Fixture f(true);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("Say hello"));
        QVERIFY(finished.wait(5000));
        const ConversationId conversation = *f.chat->currentConversation();
        const MessageId reply = finished.first().at(0).value<MessageId>();
        f.chat.reset();
        f.engineController.reset();
        f.store.reset();

        // An independent look at the file: reopen it.
        auto reopened = ConversationStore::open(f.dbPath);
        QVERIFY(reopened);
        auto conv = (*reopened)->conversation(conversation);
        QVERIFY(conv);
        QCOMPARE(conv->messages.size(), std::size_t(2));
        QCOMPARE(conv->messages[0].role, MessageRole::User);
        QCOMPARE(conv->messages[0].content, std::string("Say hello"));
        QCOMPARE(conv->messages[0].state, MessageState::Complete);
        const Message& saved = conv->messages[1];
        QCOMPARE(saved.id, reply);
        QCOMPARE(saved.role, MessageRole::Assistant);
        QCOMPARE(saved.content, std::string(kHelloText));
        QCOMPARE(saved.state, MessageState::Complete);
        QCOMPARE(saved.stats.generatedTokens, std::optional<std::int64_t>(7));
        QCOMPARE(saved.stats.promptTokens, std::optional<std::int64_t>(17));
        QCOMPARE(saved.stats.cachedTokens, std::optional<std::int64_t>(5));
        QCOMPARE(saved.stats.ttftMs, std::optional<double>(12.5));
        QCOMPARE(saved.stats.tokensPerS, std::optional<double>(321.0));
        QCOMPARE(QString::fromStdString(conv->info.title), QStringLiteral("Say hello"));
    }

    void messageSentWhileLoadingWaits()
    {
        Fixture f(false);
        QVERIFY(!f.engineController->isReady());
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("Are you there?"));
        auto conv = f.store->conversation(*f.chat->currentConversation());
        QVERIFY(conv);
        QCOMPARE(conv->messages.size(), std::size_t(1));
        QCOMPARE(conv->messages[0].state, MessageState::Waiting);
        QVERIFY(f.engine->submitted().empty());

        f.engine->becomeReady();
        QVERIFY(finished.wait(5000));
        conv = f.store->conversation(*f.chat->currentConversation());
        QCOMPARE(conv->messages.size(), std::size_t(2));
        QCOMPARE(conv->messages[0].state, MessageState::Complete);
        QCOMPARE(conv->messages[1].content, std::string(kHelloText));
        QCOMPARE(f.engine->submitted().size(), std::size_t(1));
    }

    void waitingMessagesStayInTheirConversations()
    {
        Fixture f(false);
        f.chat->send(QStringLiteral("in A"));
        const ConversationId a = *f.chat->currentConversation();
        f.chat->setCurrentConversation(std::nullopt);
        f.chat->send(QStringLiteral("in B"));
        const ConversationId b = *f.chat->currentConversation();
        QVERIFY(a != b);

        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.engine->becomeReady();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 5000);
        for (ConversationId id : {a, b}) {
            auto conv = f.store->conversation(id);
            QCOMPARE(conv->messages.size(), std::size_t(2));
            QCOMPARE(conv->messages[0].state, MessageState::Complete);
            QCOMPARE(conv->messages[1].content, std::string(kHelloText));
        }
    }

    void regenerateCreatesAlternative()
    {
        Fixture f(true);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("First"));
        QVERIFY(finished.wait(5000));
        const MessageId first = finished.takeFirst().at(0).value<MessageId>();
        FakeScript other = helloScript();
        other.tokens = {"Another ", "answer"};
        f.engine->setScript(other);
        f.chat->regenerate(first);
        QVERIFY(finished.wait(5000));
        const MessageId second = finished.takeFirst().at(0).value<MessageId>();
        QVERIFY(second != first);

        auto conv = f.store->conversation(*f.chat->currentConversation());
        QCOMPARE(conv->messages.size(), std::size_t(2));
        QCOMPARE(conv->messages[1].id, second);
        QCOMPARE(conv->messages[1].content, std::string("Another answer"));
        QCOMPARE(conv->messages[1].siblingCount, 2);
        auto old = f.store->message(first);
        QVERIFY(old);
        QCOMPARE(old->content, std::string(kHelloText));
        // Both prompts held the same history: the user message only, not the old reply.
        const auto requests = f.engine->submitted();
        QCOMPARE(requests.size(), std::size_t(2));
        QCOMPARE(requests[0].promptIds, requests[1].promptIds);
        QCOMPARE(requests[1].promptIds.size(), std::size_t(1));
    }

    void stopKeepsPartialReply()
    {
        Fixture f(true);
        FakeScript longScript;
        for (int i = 0; i < 100000; ++i) longScript.tokens.push_back("x");
        longScript.delay = std::chrono::microseconds(1000);
        f.engine->setScript(longScript);
        QSignalSpy deltas(f.chat.get(), &ChatController::replyDelta);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("Go on forever"));
        QVERIFY(deltas.wait(5000));
        f.chat->stop();
        QVERIFY(finished.wait(1000));
        auto reply = f.store->message(finished.first().at(0).value<MessageId>());
        QCOMPARE(reply->state, MessageState::Cancelled);
        QVERIFY(!reply->content.empty());
        QVERIFY(!f.chat->isGenerating());
    }

    void sessionSettingsGoIntoTheRequest()
    {
        Fixture f(true);
        NewConversation fresh;
        fresh.title = "tuned";
        fresh.systemPrompt = "Be brief.";
        fresh.sampling.temperature = 0.25;
        fresh.sampling.topK = 7;
        fresh.sampling.maxTokens = 33;
        fresh.sampling.seed = 99;
        const ConversationId id = *f.store->createConversation(fresh);
        f.chat->setCurrentConversation(id);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("hi"));
        QVERIFY(finished.wait(5000));
        const auto requests = f.engine->submitted();
        QCOMPARE(requests.size(), std::size_t(1));
        QCOMPARE(requests[0].sampling.temperature, 0.25f);
        QCOMPARE(requests[0].sampling.topK, 7);
        QCOMPARE(requests[0].maxTokens, 33);
        QCOMPARE(requests[0].sampling.seed, std::optional<std::uint64_t>(99));
        QCOMPARE(requests[0].promptIds.size(), std::size_t(2));  // system prompt + user message
    }

    void settingsDialogRoundTrip()
    {
        ConversationInfo info;
        info.systemPrompt = "old";
        info.sampling.temperature = 0.7;
        info.sampling.topK = 40;
        ConversationSettingsDialog dialog(info);
        // Untouched: the same settings come back, unset ones still unset.
        QCOMPARE(dialog.edited().sampling, info.sampling);
        auto* prompt = dialog.findChild<QPlainTextEdit*>(QStringLiteral("systemPrompt"));
        prompt->setPlainText(QStringLiteral("Answer in French."));
        auto* temperature = dialog.findChild<QLineEdit*>(QStringLiteral("temperature"));
        QCOMPARE(temperature->text(), QStringLiteral("0.7"));
        temperature->clear();  // back to the default
        const ConversationInfo edited = dialog.edited();
        QCOMPARE(edited.systemPrompt, std::string("Answer in French."));
        QVERIFY(!edited.sampling.temperature);
        QCOMPARE(edited.sampling.topK, std::optional<std::int64_t>(40));
        QVERIFY(!edited.sampling.seed);
        QVERIFY(!edited.sampling.topP);
    }

    void viewShowsStreamedMarkdown()
    {
        Fixture f(false);
        ChatView view(f.chat.get());
        view.resize(700, 500);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QTest::keyClicks(view.input(), QStringLiteral("Hello there"));
        QTest::keyClick(view.input(), Qt::Key_Return, Qt::ShiftModifier);
        QTest::keyClicks(view.input(), QStringLiteral("second line"));
        QTest::keyClick(view.input(), Qt::Key_Return);
        QVERIFY(view.input()->toPlainText().isEmpty());

        QList<MessageWidget*> widgets = view.messageWidgets();
        QCOMPARE(widgets.size(), 1);
        QCOMPARE(widgets[0]->text(), QStringLiteral("Hello there\nsecond line"));
        auto* header = widgets[0]->findChild<QLabel*>(QStringLiteral("messageHeader"));
        QCOMPARE(header->property("messageState").toString(), QStringLiteral("waiting"));

        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.engine->becomeReady();
        QVERIFY(finished.wait(5000));
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        widgets = view.messageWidgets();
        QCOMPARE(widgets[1]->text(), QString::fromUtf8(kHelloText));
        auto* stats = widgets[1]->findChild<QLabel*>(QStringLiteral("messageStats"));
        QVERIFY2(stats->text().contains(QStringLiteral("7 tokens")), qPrintable(stats->text()));
        QVERIFY2(stats->text().contains(QStringLiteral("5 of 17")), qPrintable(stats->text()));
        QCOMPARE(widgets[1]->findChildren<QPushButton*>(QStringLiteral("copyCode")).size(), 1);
        QCOMPARE(MessageWidget::codeBlocks(widgets[1]->text()), QStringList{QStringLiteral("int x = 1;\n")});
    }

    void longReplyKeepsTheWindowResponsive()
    {
        Fixture f(true);
        FakeScript longScript;
        for (int i = 0; i < 3000; ++i)
            longScript.tokens.push_back(i % 40 == 39 ? "\n\n```\ncode line\n```\n\n" : "word" + std::to_string(i) + " ");
        longScript.delay = std::chrono::microseconds(300);
        f.engine->setScript(longScript);
        ChatView view(f.chat.get());
        view.resize(700, 500);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));

        QTimer ticker;
        ticker.setInterval(5);
        QElapsedTimer sinceTick;
        qint64 worstGapMs = 0;
        connect(&ticker, &QTimer::timeout, this, [&] {
            worstGapMs = std::max(worstGapMs, sinceTick.restart());
        });
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        sinceTick.start();
        ticker.start();
        f.chat->send(QStringLiteral("Write a lot"));
        QVERIFY(finished.wait(30000));
        ticker.stop();
        qInfo("worst GUI timer gap during the stream: %lld ms", static_cast<long long>(worstGapMs));
        QVERIFY2(worstGapMs < 250, qPrintable(QString::number(worstGapMs)));
        QString expected;
        for (const std::string& t : longScript.tokens) expected += QString::fromStdString(t);
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QCOMPARE(view.messageWidgets()[1]->text(), expected);
    }

    void conversationListSearchRenameDelete()
    {
        QTemporaryDir dir;
        auto store = std::move(ConversationStore::open(dir.filePath(QStringLiteral("c.sqlite3")).toStdString())).value();
        const ConversationId a = *store->createConversation({.title = "Rust lifetimes"});
        const ConversationId b = *store->createConversation({.title = "Qt layouts"});
        QVERIFY(store->addMessage(a, {.role = MessageRole::User, .content = "borrow checker question"}));
        ConversationList list;
        list.setStore(store.get());
        QCOMPARE(list.list()->count(), 2);
        auto* search = list.findChild<QLineEdit*>(QStringLiteral("conversationSearch"));
        QTest::keyClicks(search, QStringLiteral("borrow"));
        QCOMPARE(list.list()->count(), 1);
        QCOMPARE(list.list()->item(0)->text(), QStringLiteral("Rust lifetimes"));
        search->clear();

        list.select(b);
        list.renameSelected(QStringLiteral("Qt splitters"));
        QCOMPARE(QString::fromStdString(store->conversationInfo(b)->title), QStringLiteral("Qt splitters"));

        bool asked = false;
        list.setConfirm([&](const QString&) {
            asked = true;
            return false;
        });
        list.deleteSelected();
        QVERIFY(asked);
        QVERIFY(store->conversationInfo(b));
        list.setConfirm([](const QString&) { return true; });
        list.deleteSelected();
        QVERIFY(!store->conversationInfo(b));
        QCOMPARE(list.list()->count(), 1);
    }
};

QTEST_MAIN(TestChatController)
#include "tst_chat_controller.moc"
