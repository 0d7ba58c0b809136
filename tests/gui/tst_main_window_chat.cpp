// The whole window with a scripted fake engine: a message typed while the model loads is shown
// as waiting, the status bar shows the load progress, and once ready the reply streams into the
// chat and the conversation appears in the list. HEARTH_SCREENSHOT_HOLD_MS keeps the window up
// at the end (for a screenshot under Xvfb).
#include <QLabel>
#include <QListWidget>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "chat_controller.h"
#include "chat_view.h"
#include "conversation_list.h"
#include "engine_controller.h"
#include "fake_engine.h"
#include "main_window.h"
#include "message_widget.h"

using namespace hearth;
using namespace hearth::gui;

class TestMainWindowChat : public QObject {
    Q_OBJECT

private slots:
    void typeWhileLoadingThenReply()
    {
        QTemporaryDir dir;
        auto engine = std::make_shared<hearth::test::FakeEngine>(false);
        hearth::test::FakeScript script;
        script.tokens = {"Here is a **small** example:\n\n", "```python\n", "print(\"hello\")\n", "```\n\n",
                         "It prints *hello*."};
        script.delay = std::chrono::microseconds(3000);
        script.stats = {.promptTokens = 24, .cachedPromptTokens = 0, .timeToFirstTokenMs = 85.0, .decodeTokensPerS = 41.7};
        engine->setScript(script);

        LibraryScanOptions options;
        options.includeHfCache = false;
        MainWindow window(options, nullptr, engine, dir.filePath(QStringLiteral("chat.sqlite3")));
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QSignalSpy chatReady(&window, &MainWindow::chatReady);
        window.startBackgroundWork();
        QCOMPARE(chatReady.count(), 1);
        ChatController* chat = window.chatController();
        chat->setPromptBuilder([](const std::vector<Message>& messages) -> Result<std::vector<TokenId>> {
            return std::vector<TokenId>(messages.size(), 1);
        });

        window.loadModel(QStringLiteral("/models/fake-model"));
        auto* loadLabel = window.findChild<QLabel*>(QStringLiteral("loadLabel"));
        QVERIFY2(loadLabel->text().contains(QStringLiteral("reading")), qPrintable(loadLabel->text()));

        ChatView* view = window.chatView();
        QTest::keyClicks(view->input(), QStringLiteral("Show me a Python hello world"));
        QTest::keyClick(view->input(), Qt::Key_Return);
        QCOMPARE(view->messageWidgets().size(), 1);
        auto* header = view->messageWidgets()[0]->findChild<QLabel*>(QStringLiteral("messageHeader"));
        QCOMPARE(header->property("messageState").toString(), QStringLiteral("waiting"));
        QCOMPARE(window.conversationList()->list()->count(), 1);

        QSignalSpy finished(chat, &ChatController::replyFinished);
        engine->becomeReady();
        QVERIFY(finished.wait(5000));
        QTRY_COMPARE(view->messageWidgets().size(), 2);
        QVERIFY(view->messageWidgets()[1]->text().endsWith(QStringLiteral("It prints *hello*.")));
        QTRY_VERIFY(loadLabel->text().startsWith(QStringLiteral("Ready")));

        if (const int holdMs = qEnvironmentVariableIntValue("HEARTH_SCREENSHOT_HOLD_MS"); holdMs > 0) QTest::qWait(holdMs);
    }
};

QTEST_MAIN(TestMainWindowChat)
#include "tst_main_window_chat.moc"
