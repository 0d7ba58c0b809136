// hearth-test-labels: model
// The chat on the real Engine (CPU backend) and the synthetic reference model: load through the
// EngineController, render the prompt with the model's own template and tokenizer, and see the
// reply in the view and in the store; then edit-and-resend and regenerate through the view's
// buttons and switch back to the first branch with ‹.
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QToolButton>
#include <QtTest>

#include "chat_controller.h"
#include "chat_view.h"
#include "engine_controller.h"
#include "message_widget.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::gui;

class TestChatRealModel : public QObject {
    Q_OBJECT

private slots:
    void replyFromReferenceModel()
    {
        const std::string models = hearth::test::referenceModelsDir();
        if (models.empty()) QSKIP("reference models could not be generated");
        EngineOptions options;
        options.backend = BackendChoice::Cpu;
        options.nThreads = 2;
        auto created = Engine::create(options);
        QVERIFY2(created, created ? "" : created.error().toString().c_str());
        std::shared_ptr<Engine> engine(std::move(created).value());

        QTemporaryDir dir;
        auto store = std::move(ConversationStore::open(dir.filePath(QStringLiteral("c.sqlite3")).toStdString())).value();
        EngineController controller(engine);
        ChatController chat(&controller, store.get());
        ChatView view(&chat);
        view.show();

        QSignalSpy ready(&controller, &EngineController::ready);
        QSignalSpy failed(&controller, &EngineController::loadFailed);
        controller.load(QString::fromStdString(models + "/ref-qwen2-d64"));
        QTRY_VERIFY_WITH_TIMEOUT(ready.count() + failed.count() > 0, 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(0).toString()));

        NewConversation fresh;
        fresh.title = "reference";
        fresh.sampling.temperature = 0.0;
        fresh.sampling.maxTokens = 8;
        chat.setCurrentConversation(*store->createConversation(fresh));
        QSignalSpy finished(&chat, &ChatController::replyFinished);
        QSignalSpy errors(&chat, &ChatController::errorOccurred);
        chat.send(QStringLiteral("Hello"));
        QVERIFY2(finished.wait(120000), errors.isEmpty() ? "no reply" : qPrintable(errors.first().at(0).toString()));
        QVERIFY2(errors.isEmpty(), errors.isEmpty() ? "" : qPrintable(errors.first().at(0).toString()));

        auto reply = store->message(finished.first().at(0).value<MessageId>());
        QVERIFY(reply);
        QCOMPARE(reply->state, MessageState::Complete);
        QVERIFY(reply->stats.generatedTokens.value_or(0) > 0);
        QVERIFY(reply->stats.promptTokens.value_or(0) > 1);
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QCOMPARE(view.messageWidgets().at(1)->text(), QString::fromStdString(reply->content));

        // Edit the question in place and send it again: a new branch with its own reply.
        const std::string firstReply = reply->content;
        MessageWidget* user = view.messageWidgets().at(0);
        QTest::mouseClick(user->findChild<QPushButton*>(QStringLiteral("editMessage")), Qt::LeftButton);
        auto* editor = user->findChild<MessageEditor*>(QStringLiteral("messageEditor"));
        editor->selectAll();
        QTest::keyClicks(editor, QStringLiteral("Tell me about the sea"));
        finished.clear();
        QTest::mouseClick(user->findChild<QPushButton*>(QStringLiteral("saveEdit")), Qt::LeftButton);
        QVERIFY2(finished.wait(120000), errors.isEmpty() ? "no reply" : qPrintable(errors.first().at(0).toString()));
        auto edited = store->message(finished.first().at(0).value<MessageId>());
        QCOMPARE(edited->state, MessageState::Complete);
        QVERIFY(edited->stats.generatedTokens.value_or(0) > 0);
        QTRY_COMPARE(view.messageWidgets().size(), 2);
        QCOMPARE(view.messageWidgets().at(0)->text(), QStringLiteral("Tell me about the sea"));
        QCOMPARE(view.messageWidgets().at(1)->text(), QString::fromStdString(edited->content));
        // The new prompt is longer than the old ("Hello" vs a five-word question).
        QVERIFY(edited->stats.promptTokens.value_or(0) > reply->stats.promptTokens.value_or(0));

        // Regenerate the new reply: a second alternative under the edited question.
        finished.clear();
        QTest::mouseClick(view.messageWidgets().at(1)->findChild<QPushButton*>(QStringLiteral("regenerateMessage")),
                          Qt::LeftButton);
        QVERIFY(finished.wait(120000));
        QTRY_COMPARE(view.messageWidgets().at(1)->findChild<QLabel*>(QStringLiteral("alternativeIndex"))->text(),
                     QStringLiteral("2/2"));

        // ‹ on the question goes back to "Hello" and the first reply, word for word.
        QTest::mouseClick(view.messageWidgets().at(0)->findChild<QToolButton*>(QStringLiteral("previousAlternative")),
                          Qt::LeftButton);
        QTRY_COMPARE(view.messageWidgets().at(0)->text(), QStringLiteral("Hello"));
        QCOMPARE(view.messageWidgets().at(1)->text(), QString::fromStdString(firstReply));
        QVERIFY(errors.isEmpty());
    }
};

QTEST_MAIN(TestChatRealModel)
#include "tst_chat_real_model.moc"
