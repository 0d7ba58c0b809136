// Ties one conversation to the engine: persists the user's message at once (marked waiting while
// the model loads), renders the prompt with the model's chat template, submits it, and saves the
// reply as it streams (coalesced by the store) with its stats when it ends. Regenerate adds an
// alternative reply and edit-and-resend an alternative user message (the old branch stays and
// switchAlternative() goes back to it); the conversation's system prompt and sampling settings go
// into each request.
#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "engine_controller.h"
#include "store/conversation_store.h"

namespace hearth::gui {

class ChatController : public QObject {
    Q_OBJECT

public:
    // Turns a conversation's messages (system prompt first, the reply-to-be excluded) into prompt ids.
    using PromptBuilder = std::function<Result<std::vector<TokenId>>(const std::vector<Message>& messages)>;

    // Neither is owned; both outlive the controller.
    ChatController(EngineController* engine, ConversationStore* store, QObject* parent = nullptr);

    // Replaces the template + tokenizer prompt builder (tests with a fake engine use this).
    void setPromptBuilder(PromptBuilder builder) { m_promptBuilder = std::move(builder); }
    ConversationStore* store() const { return m_store; }

    std::optional<ConversationId> currentConversation() const { return m_current; }
    void setCurrentConversation(std::optional<ConversationId> id);
    // Sends `text` in the current conversation (creating one titled after it if none).
    void send(const QString& text);
    // Asks for another reply in place of assistant message `reply`.
    void regenerate(MessageId reply);
    // Adds `text` as an alternative to user message `message` and asks for a reply to it (queued
    // while the model loads); refused while a reply is streaming.
    void editAndResend(MessageId message, const QString& text);
    // Shows the alternative `step` places from `message` among its siblings (-1: the older one).
    void switchAlternative(MessageId message, int step);
    // The alternatives of `message` (itself included), oldest first.
    std::vector<MessageId> alternatives(MessageId message) const;
    void stop();
    void deleteMessage(MessageId id);
    bool isGenerating() const { return m_genId != 0; }

signals:
    void conversationCreated(hearth::ConversationId id);
    // The conversation's messages changed shape (added, deleted, state): views reload it.
    void conversationChanged(hearth::ConversationId id);
    void replyStarted(hearth::MessageId reply);
    void replyDelta(hearth::MessageId reply, const QString& text);
    void replyFinished(hearth::MessageId reply);
    void errorOccurred(const QString& message);

private:
    void startReply(ConversationId conversation, std::optional<MessageId> regenerateOf);
    void sendWaiting();
    Result<std::vector<TokenId>> defaultPrompt(const std::vector<Message>& messages) const;
    GenerateRequest requestFor(const ConversationInfo& info) const;
    void onDelta(quint64 genId, const QString& text);
    void onFinished(quint64 genId, const GenerationOutcome& outcome);
    void report(const Status& status);

    EngineController* m_engine;
    ConversationStore* m_store;
    PromptBuilder m_promptBuilder;
    std::optional<ConversationId> m_current;
    // User messages sent before the model was ready (or while it was busy), oldest first.
    std::vector<std::pair<ConversationId, MessageId>> m_waiting;
    quint64 m_genId = 0;               // the running generation, 0 when idle
    MessageId m_reply = 0;             // its streaming reply
    bool m_replyDeleted = false;       // the user deleted it mid-stream
    QTimer m_flushTimer;               // writes a stalled stream's pending text
};

}  // namespace hearth::gui
