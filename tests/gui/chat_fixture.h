// Shared by the chat GUI tests: a scripted fake engine, a real SQLite store in a temporary
// folder, the controllers, and helpers that answer the next modal dialog (QMessageBox or the
// settings dialog) from inside its own event loop, as a user would.
#pragma once

#include <QAbstractButton>
#include <QApplication>
#include <QDialog>
#include <QMessageBox>
#include <QTemporaryDir>
#include <QTimer>

#include <functional>
#include <memory>

#include "chat_controller.h"
#include "engine_controller.h"
#include "fake_engine.h"

namespace hearth::test {

inline FakeScript replyScript(std::vector<std::string> tokens)
{
    FakeScript script;
    script.tokens = std::move(tokens);
    script.delay = std::chrono::microseconds(1000);
    script.stats.promptTokens = 11;
    script.stats.cachedPromptTokens = 4;
    script.stats.timeToFirstTokenMs = 9.0;
    script.stats.decodeTokensPerS = 200.0;
    return script;
}

// Prompt ids: one per message, so a test can count the history that went in.
inline gui::ChatController::PromptBuilder countingPromptBuilder()
{
    return [](const std::vector<Message>& messages) -> Result<std::vector<TokenId>> {
        return std::vector<TokenId>(messages.size(), 1);
    };
}

struct ChatFixture {
    QTemporaryDir dir;
    std::shared_ptr<FakeEngine> engine;
    std::unique_ptr<ConversationStore> store;
    std::unique_ptr<gui::EngineController> engineController;
    std::unique_ptr<gui::ChatController> chat;

    explicit ChatFixture(bool readyAtOnce = true)
    {
        engine = std::make_shared<FakeEngine>(readyAtOnce);
        engine->setScript(replyScript({"Hello", " there"}));
        store = std::move(ConversationStore::open(dir.filePath(QStringLiteral("chat.sqlite3")).toStdString())).value();
        engineController = std::make_unique<gui::EngineController>(engine);
        chat = std::make_unique<gui::ChatController>(engineController.get(), store.get());
        chat->setPromptBuilder(countingPromptBuilder());
        engineController->load(QStringLiteral("fake-model"));
    }
    ~ChatFixture()
    {
        chat.reset();
        engineController.reset();
    }
};

// While it lives, answers the next modal dialog of type T with `answer` once it is shown (the
// check runs every 10 ms, also inside the dialog's own event loop); seen() tells whether one was.
template <typename T>
class ModalResponder {
public:
    explicit ModalResponder(std::function<void(T*)> answer) : m_answer(std::move(answer))
    {
        m_poll.setInterval(10);
        QObject::connect(&m_poll, &QTimer::timeout, [this] {
            auto* dialog = qobject_cast<T*>(QApplication::activeModalWidget());
            if (!dialog || !dialog->isVisible()) return;
            m_seen = true;
            m_poll.stop();
            m_answer(dialog);
        });
        m_poll.start();
    }
    bool seen() const { return m_seen; }

private:
    std::function<void(T*)> m_answer;
    QTimer m_poll;
    bool m_seen = false;
};

// Clicks `button` in the next QMessageBox.
class MessageBoxResponder : public ModalResponder<QMessageBox> {
public:
    explicit MessageBoxResponder(QMessageBox::StandardButton button)
        : ModalResponder<QMessageBox>([button](QMessageBox* box) { box->button(button)->click(); })
    {
    }
};

}  // namespace hearth::test
