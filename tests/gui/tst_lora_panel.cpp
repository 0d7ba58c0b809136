// hearth-test-labels: model
// The LoRA panel on the real engine (CPU, ref-qwen2-d64): attaching ref-qwen2-d64-lora lists it
// and offers it for the conversation; the choice and scale land in the store; a corrupt adapter,
// a folder without adapter_config.json and an adapter for another base model are refused with a
// reason; detach removes it. With a fake engine, the chosen adapter and scale go into the request.
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "chat_controller.h"
#include "engine_controller.h"
#include "fake_engine.h"
#include "lora_panel.h"
#include "store/conversation_store.h"
#include "support/reference_models.h"

using namespace hearth;
using namespace hearth::gui;

namespace {

// A fake engine that accepts any adapter, so the request plumbing can be checked without weights.
class AdapterFakeEngine : public test::FakeEngine {
public:
    Status attachAdapter(const std::string&, const std::string&) override { return {}; }
};

QString refModel(const char* name)
{
    const std::string dir = test::referenceModelsDir();
    return dir.empty() ? QString() : QString::fromStdString(dir) + QLatin1Char('/') + QLatin1String(name);
}

bool loadAndWait(EngineController& controller, const QString& path)
{
    QSignalSpy ready(&controller, &EngineController::ready);
    controller.load(path);
    return ready.count() == 1 || ready.wait(60000);
}

std::string rawSetting(ConversationStore& store, const std::string& key)
{
    auto value = store.setting(key);
    return value && value.value() ? *value.value() : std::string("<unset>");
}

}  // namespace

class TestLoraPanel : public QObject {
    Q_OBJECT

private slots:
    void attachChooseDetachOnTheRealEngine()
    {
        const QString base = refModel("ref-qwen2-d64");
        if (base.isEmpty()) QSKIP("reference models could not be generated");
        QTemporaryDir dir;
        auto store = ConversationStore::open(dir.filePath(QStringLiteral("chat.sqlite3")).toStdString());
        QVERIFY(store);
        auto conversation = (*store)->createConversation({});
        QVERIFY(conversation);

        EngineController controller;
        QVERIFY(loadAndWait(controller, base));
        LoraPanel panel(&controller);
        panel.setStore(store->get());
        panel.setConversation(*conversation);
        QCOMPARE(panel.adapterChoice()->count(), 1);  // the base model only

        QSignalSpy attached(&controller, &EngineController::adapterAttached);
        QSignalSpy failed(&controller, &EngineController::adapterFailed);
        panel.attachFolder(refModel("ref-qwen2-d64-lora"));
        QVERIFY(attached.wait(30000));
        QCOMPARE(attached.at(0).at(0).toString(), QStringLiteral("ref-qwen2-d64-lora"));
        QCOMPARE(panel.list()->count(), 1);
        QCOMPARE(panel.adapterChoice()->count(), 2);

        panel.adapterChoice()->setCurrentIndex(1);
        panel.scale()->setValue(0.5);
        const std::string prefix = "conversation/" + std::to_string(*conversation);
        QCOMPARE(rawSetting(**store, prefix + "/adapter"), std::string("ref-qwen2-d64-lora"));
        QCOMPARE(std::stod(rawSetting(**store, prefix + "/adapter_scale")), 0.5);

        // A corrupt adapter: a valid config with weights that are not safetensors.
        const QString corrupt = dir.filePath(QStringLiteral("corrupt-lora"));
        QVERIFY(QDir().mkpath(corrupt));
        QVERIFY(QFile::copy(refModel("ref-qwen2-d64-lora") + QStringLiteral("/adapter_config.json"),
                            corrupt + QStringLiteral("/adapter_config.json")));
        QFile weights(corrupt + QStringLiteral("/adapter_model.safetensors"));
        QVERIFY(weights.open(QIODevice::WriteOnly));
        weights.write("garbage, not safetensors");
        weights.close();
        panel.attachFolder(corrupt);
        QVERIFY(failed.wait(30000));
        QVERIFY2(panel.message().contains(QStringLiteral("refused")), qPrintable(panel.message()));
        QCOMPARE(panel.list()->count(), 1);

        panel.attachFolder(dir.path());  // no adapter_config.json: refused before the engine
        QVERIFY2(panel.message().contains(QStringLiteral("adapter_config.json")), qPrintable(panel.message()));

        QSignalSpy detached(&controller, &EngineController::adapterDetached);
        panel.list()->setCurrentRow(0);
        QTest::mouseClick(panel.findChild<QPushButton*>(QStringLiteral("loraDetach")), Qt::LeftButton);
        QVERIFY(detached.wait(30000));
        QCOMPARE(panel.list()->count(), 0);
        QCOMPARE(panel.adapterChoice()->count(), 1);
    }

    void adapterForAnotherBaseIsRefused()
    {
        const QString other = refModel("ref-qwen2-d128");
        if (other.isEmpty()) QSKIP("reference models could not be generated");
        EngineController controller;
        QVERIFY(loadAndWait(controller, other));
        LoraPanel panel(&controller);
        QSignalSpy failed(&controller, &EngineController::adapterFailed);
        panel.attachFolder(refModel("ref-qwen2-d64-lora"));
        QVERIFY(failed.wait(30000));
        QCOMPARE(panel.list()->count(), 0);
        QVERIFY2(panel.message().contains(QStringLiteral("refused")), qPrintable(panel.message()));
    }

    void chosenAdapterGoesIntoTheRequest()
    {
        QTemporaryDir dir;
        auto store = ConversationStore::open(dir.filePath(QStringLiteral("chat.sqlite3")).toStdString());
        QVERIFY(store);
        auto engine = std::make_shared<AdapterFakeEngine>();
        test::FakeScript script;
        script.tokens = {"ok"};
        engine->setScript(script);
        EngineController controller(engine);
        QVERIFY(loadAndWait(controller, QStringLiteral("/models/fake")));
        ChatController chat(&controller, store->get());
        chat.setPromptBuilder([](const std::vector<Message>& m) -> Result<std::vector<TokenId>> {
            return std::vector<TokenId>(m.size(), 1);
        });
        LoraPanel panel(&controller);
        panel.setStore(store->get());
        QSignalSpy attached(&controller, &EngineController::adapterAttached);
        const QString adapterDir = dir.filePath(QStringLiteral("style-lora"));
        QVERIFY(QDir().mkpath(adapterDir));
        QFile config(adapterDir + QStringLiteral("/adapter_config.json"));
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.close();
        panel.attachFolder(adapterDir);
        QVERIFY(attached.wait(5000));

        QSignalSpy finished(&chat, &ChatController::replyFinished);
        chat.send(QStringLiteral("first"));  // no conversation chosen yet: base model
        QVERIFY(finished.wait(5000));
        panel.setConversation(chat.currentConversation());
        panel.adapterChoice()->setCurrentIndex(panel.adapterChoice()->findData(QStringLiteral("style-lora")));
        panel.scale()->setValue(0.75);
        chat.send(QStringLiteral("second"));
        QVERIFY(finished.wait(5000));

        const std::vector<GenerateRequest> sent = engine->submitted();
        QCOMPARE(sent.size(), std::size_t(2));
        QCOMPARE(sent[0].adapter, std::string());
        QCOMPARE(sent[1].adapter, std::string("style-lora"));
        QCOMPARE(sent[1].adapterScale, 0.75f);
    }
};

QTEST_MAIN(TestLoraPanel)
#include "tst_lora_panel.moc"
