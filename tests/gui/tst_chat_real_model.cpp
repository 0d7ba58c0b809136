// hearth-test-labels: model
// The chat on the real Engine (CPU backend) and the synthetic reference model: load through the
// EngineController, render the prompt with the model's own template and tokenizer, and see the
// reply in the view and in the store.
#include <QSignalSpy>
#include <QTemporaryDir>
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
    }
};

QTEST_MAIN(TestChatRealModel)
#include "tst_chat_real_model.moc"
