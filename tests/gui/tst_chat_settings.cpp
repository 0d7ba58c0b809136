// The conversation settings dialog: presets fill the sampling fields with the values they are
// documented to have, editing a field by hand turns the preset into "Custom", the choice and the
// values persist in the store (and reach the engine's request), and absurd or unreadable values
// are named under the form and refused instead of saved.
#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QtTest>

#include "chat_fixture.h"
#include "chat_view.h"
#include "conversation_settings_dialog.h"
#include "sampling_presets.h"

using hearth::test::ChatFixture;
using hearth::test::ModalResponder;
using namespace hearth;
using namespace hearth::gui;

namespace {

QLineEdit* field(const QWidget* dialog, const char* name)
{
    return dialog->findChild<QLineEdit*>(QString::fromLatin1(name));
}

QString text(const QWidget* dialog, const char* name) { return field(dialog, name)->text(); }

// Picks the preset shown as `label` the way a keyboard user does (arrow keys on the box).
void pickWithKeys(QComboBox* box, const QString& label)
{
    const int target = box->findText(label);
    QVERIFY2(target >= 0, qPrintable(label));
    while (box->currentIndex() < target) QTest::keyClick(box, Qt::Key_Down);
    while (box->currentIndex() > target) QTest::keyClick(box, Qt::Key_Up);
}

QStringList values(std::initializer_list<const char*> texts)
{
    QStringList out;
    for (const char* text : texts) out << QString::fromLatin1(text);
    return out;
}

QPushButton* okButton(const QWidget* dialog)
{
    return dialog->findChild<QDialogButtonBox*>()->button(QDialogButtonBox::Ok);
}

}  // namespace

class TestChatSettings : public QObject {
    Q_OBJECT

private slots:
    void presetsFillTheirDocumentedValues_data()
    {
        QTest::addColumn<QString>("label");
        QTest::addColumn<QStringList>("values");  // temperature, top-p, top-k, min-p, repetition penalty
        QTest::newRow("Balanced") << QStringLiteral("Balanced")
                                  << values({"0.7", "0.8", "20", "", "1.05"});
        QTest::newRow("Precise") << QStringLiteral("Precise") << values({"0.2", "0.9", "", "", ""});
        QTest::newRow("Creative") << QStringLiteral("Creative") << values({"1", "0.95", "", "0.05", ""});
        QTest::newRow("Deterministic") << QStringLiteral("Deterministic") << values({"0", "", "", "", ""});
    }
    void presetsFillTheirDocumentedValues()
    {
        QFETCH(QString, label);
        QFETCH(QStringList, values);
        ConversationInfo info;
        info.sampling.topK = 99;       // replaced (or cleared) by the preset
        info.sampling.maxTokens = 256;  // kept: not part of a preset
        info.sampling.seed = 7;
        ConversationSettingsDialog dialog(info);
        dialog.show();
        auto* box = dialog.findChild<QComboBox*>(QStringLiteral("samplingPreset"));
        QCOMPARE(box->currentText(), QStringLiteral("Custom"));
        pickWithKeys(box, label);
        QCOMPARE(text(&dialog, "temperature"), values[0]);
        QCOMPARE(text(&dialog, "topP"), values[1]);
        QCOMPARE(text(&dialog, "topK"), values[2]);
        QCOMPARE(text(&dialog, "minP"), values[3]);
        QCOMPARE(text(&dialog, "repetitionPenalty"), values[4]);
        QCOMPARE(text(&dialog, "maxTokens"), QStringLiteral("256"));
        QCOMPARE(text(&dialog, "seed"), QStringLiteral("7"));
        QCOMPARE(box->currentText(), label);
        QVERIFY(dialog.problems().isEmpty());
        QCOMPARE(QString::fromStdString(dialog.edited().sampling.presetName), label.toLower());
    }

    void editingAKnobMakesItCustom()
    {
        ConversationSettingsDialog dialog(ConversationInfo{});
        dialog.show();
        auto* box = dialog.findChild<QComboBox*>(QStringLiteral("samplingPreset"));
        pickWithKeys(box, QStringLiteral("Balanced"));
        // Length and seed are not part of a preset.
        QTest::keyClicks(field(&dialog, "maxTokens"), QStringLiteral("512"));
        QCOMPARE(box->currentText(), QStringLiteral("Balanced"));
        QTest::keyClick(field(&dialog, "temperature"), Qt::Key_Backspace);  // 0.7 -> 0.
        QCOMPARE(box->currentText(), QStringLiteral("Custom"));
        const SamplingSettings edited = dialog.edited().sampling;
        QCOMPARE(edited.presetName, std::string("custom"));
        QCOMPARE(edited.temperature, std::optional<double>(0.0));
        QCOMPARE(edited.topK, std::optional<std::int64_t>(20));
        QCOMPARE(edited.maxTokens, std::optional<std::int64_t>(512));
    }

    void untouchedDialogGivesBackTheSameSettings()
    {
        ConversationInfo info;
        info.systemPrompt = "old";
        info.sampling.temperature = 0.3;
        info.sampling.topK = 40;
        ConversationSettingsDialog dialog(info);
        QCOMPARE(dialog.edited().sampling, info.sampling);
        QCOMPARE(dialog.presetKey(), QStringLiteral("custom"));
        // A stored preset whose values still match is shown as that preset.
        info.sampling = applySamplingPreset(*findSamplingPreset(QStringLiteral("precise")), {});
        ConversationSettingsDialog precise(info);
        QCOMPARE(precise.presetKey(), QStringLiteral("precise"));
        QCOMPARE(precise.edited().sampling, info.sampling);
    }

    void absurdValuesAreRefused_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("negative temperature") << QStringLiteral("temperature") << QStringLiteral("-0.5") << QStringLiteral("Temperature");
        QTest::newRow("huge temperature") << QStringLiteral("temperature") << QStringLiteral("50") << QStringLiteral("Temperature");
        QTest::newRow("top-p zero") << QStringLiteral("topP") << QStringLiteral("0") << QStringLiteral("Top-p");
        QTest::newRow("top-p above one") << QStringLiteral("topP") << QStringLiteral("1.5") << QStringLiteral("Top-p");
        QTest::newRow("negative top-k") << QStringLiteral("topK") << QStringLiteral("-3") << QStringLiteral("Top-k");
        QTest::newRow("fractional top-k") << QStringLiteral("topK") << QStringLiteral("2.5") << QStringLiteral("Top-k");
        QTest::newRow("min-p one") << QStringLiteral("minP") << QStringLiteral("1") << QStringLiteral("Min-p");
        QTest::newRow("zero max tokens") << QStringLiteral("maxTokens") << QStringLiteral("0") << QStringLiteral("Max tokens");
        QTest::newRow("negative seed") << QStringLiteral("seed") << QStringLiteral("-1") << QStringLiteral("Seed");
        QTest::newRow("zero repetition penalty") << QStringLiteral("repetitionPenalty") << QStringLiteral("0") << QStringLiteral("Repetition penalty");
        QTest::newRow("not a number") << QStringLiteral("temperature") << QStringLiteral("warm") << QStringLiteral("Temperature");
        QTest::newRow("nan") << QStringLiteral("topP") << QStringLiteral("nan") << QStringLiteral("Top-p");
    }
    void absurdValuesAreRefused()
    {
        QFETCH(QString, name);
        QFETCH(QString, value);
        QFETCH(QString, mentions);
        ConversationSettingsDialog dialog(ConversationInfo{});
        dialog.show();
        auto* message = dialog.findChild<QLabel*>(QStringLiteral("validationMessage"));
        QVERIFY(!message->isVisible());
        QVERIFY(okButton(&dialog)->isEnabled());
        QTest::keyClicks(field(&dialog, name.toLatin1().constData()), value);
        QVERIFY(message->isVisible());
        QVERIFY2(message->text().contains(mentions), qPrintable(message->text()));
        QVERIFY(!okButton(&dialog)->isEnabled());
        // The bad field is the one outlined, and only it.
        for (QLineEdit* other : dialog.findChildren<QLineEdit*>())
            QCOMPARE(other->property("invalid").toBool(), other->objectName() == name);
        dialog.accept();  // as Enter in a field would
        QVERIFY(dialog.isVisible());
        QCOMPARE(dialog.result(), int(QDialog::Rejected));
        field(&dialog, name.toLatin1().constData())->clear();  // back to the default: fine again
        QVERIFY(!message->isVisible());
        QVERIFY(okButton(&dialog)->isEnabled());
        QVERIFY(!field(&dialog, name.toLatin1().constData())->property("invalid").toBool());
    }

    void presetPersistsAndReachesTheRequest()
    {
        ChatFixture f;
        NewConversation fresh;
        fresh.title = "tuned";
        const ConversationId id = *f.store->createConversation(fresh);
        f.chat->setCurrentConversation(id);
        ChatView view(f.chat.get());
        view.show();
        view.reload();
        auto* settings = view.findChild<QPushButton*>(QStringLiteral("conversationSettings"));
        QVERIFY(settings->isEnabled());

        ModalResponder<ConversationSettingsDialog> choose([](ConversationSettingsDialog* dialog) {
            pickWithKeys(dialog->findChild<QComboBox*>(QStringLiteral("samplingPreset")), QStringLiteral("Balanced"));
            QTest::keyClicks(field(dialog, "seed"), QStringLiteral("42"));
            dialog->findChild<QPlainTextEdit*>(QStringLiteral("systemPrompt"))->setPlainText(QStringLiteral("Be brief."));
            QTest::mouseClick(okButton(dialog), Qt::LeftButton);
        });
        QTest::mouseClick(settings, Qt::LeftButton);
        QVERIFY(choose.seen());

        // The store, reopened independently of the dialog.
        const std::string path = f.store->path();
        f.chat.reset();
        f.engineController.reset();
        f.store.reset();
        auto reopened = std::move(ConversationStore::open(path)).value();
        const ConversationInfo saved = *reopened->conversationInfo(id);
        QCOMPARE(saved.sampling.presetName, std::string("balanced"));
        QCOMPARE(saved.sampling.temperature, std::optional<double>(0.7));
        QCOMPARE(saved.sampling.topP, std::optional<double>(0.8));
        QCOMPARE(saved.sampling.topK, std::optional<std::int64_t>(20));
        QCOMPARE(saved.sampling.repetitionPenalty, std::optional<double>(1.05));
        QVERIFY(!saved.sampling.minP);
        QCOMPARE(saved.sampling.seed, std::optional<std::int64_t>(42));
        QCOMPARE(saved.systemPrompt, std::string("Be brief."));

        // Reopened, the dialog shows the preset again; the request carries the values.
        ConversationSettingsDialog again(saved);
        QCOMPARE(again.findChild<QComboBox*>(QStringLiteral("samplingPreset"))->currentText(), QStringLiteral("Balanced"));
        f.store = std::move(reopened);
        f.engineController = std::make_unique<EngineController>(f.engine);
        f.chat = std::make_unique<ChatController>(f.engineController.get(), f.store.get());
        f.chat->setPromptBuilder(hearth::test::countingPromptBuilder());
        f.engineController->load(QStringLiteral("fake-model"));
        f.chat->setCurrentConversation(id);
        QSignalSpy finished(f.chat.get(), &ChatController::replyFinished);
        f.chat->send(QStringLiteral("hi"));
        QVERIFY(finished.wait(5000));
        const GenerateRequest request = f.engine->submitted().at(0);
        QCOMPARE(request.sampling.temperature, 0.7f);
        QCOMPARE(request.sampling.topP, 0.8f);
        QCOMPARE(request.sampling.topK, 20);
        QCOMPARE(request.sampling.repetitionPenalty, 1.05f);
        QCOMPARE(request.sampling.seed, std::optional<std::uint64_t>(42));
        QCOMPARE(request.promptIds.size(), std::size_t(2));  // system prompt + message
    }

    void cancelledDialogSavesNothing()
    {
        ChatFixture f;
        const ConversationId id = *f.store->createConversation({.title = "keep"});
        f.chat->setCurrentConversation(id);
        ChatView view(f.chat.get());
        view.show();
        view.reload();
        ModalResponder<ConversationSettingsDialog> cancel([](ConversationSettingsDialog* dialog) {
            QTest::keyClicks(field(dialog, "temperature"), QStringLiteral("1.3"));
            dialog->reject();
        });
        QTest::mouseClick(view.findChild<QPushButton*>(QStringLiteral("conversationSettings")), Qt::LeftButton);
        QVERIFY(cancel.seen());
        QVERIFY(!f.store->conversationInfo(id)->sampling.temperature);
    }
};

QTEST_MAIN(TestChatSettings)
#include "tst_chat_settings.moc"
