#include "chat_controller.h"

#include <algorithm>
#include <utility>

#include "conversation_adapter.h"

#include "chat/chat_template.h"
#include "chat/model_chat_template.h"

namespace hearth::gui {

ChatController::ChatController(EngineController* engine, ConversationStore* store, QObject* parent)
    : QObject(parent), m_engine(engine), m_store(store)
{
    m_promptBuilder = [this](const std::vector<Message>& messages) { return defaultPrompt(messages); };
    connect(m_engine, &EngineController::delta, this,
            [this](quint64 genId, const QString& text, int) { onDelta(genId, text); });
    connect(m_engine, &EngineController::generationFinished, this, &ChatController::onFinished);
    connect(m_engine, &EngineController::ready, this, &ChatController::sendWaiting);
    m_flushTimer.setInterval(250);
    connect(&m_flushTimer, &QTimer::timeout, this, [this] { report(m_store->flush()); });
}

void ChatController::setCurrentConversation(std::optional<ConversationId> id)
{
    m_current = id;
}

void ChatController::send(const QString& text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty()) return;
    if (!m_current) {
        NewConversation fresh;
        fresh.title = trimmed.left(48).toStdString();
        fresh.modelPath = m_engine->modelPath().toStdString();
        auto created = m_store->createConversation(fresh);
        if (!created) return report(created.status());
        m_current = *created;
        emit conversationCreated(*created);
    }
    const bool ready = m_engine->isReady() && !isGenerating() && m_waiting.empty();
    NewMessage message{.role = MessageRole::User,
                       .content = trimmed.toStdString(),
                       .state = ready ? MessageState::Complete : MessageState::Waiting};
    auto added = m_store->addMessage(*m_current, message);
    if (!added) return report(added.status());
    emit conversationChanged(*m_current);
    if (ready) {
        startReply(*m_current, std::nullopt);
    } else {
        m_waiting.emplace_back(*m_current, *added);
    }
}

void ChatController::sendWaiting()
{
    if (m_waiting.empty() || isGenerating() || !m_engine->isReady()) return;
    // The oldest waiting conversation gets one reply to all its waiting messages; the others
    // follow as each reply finishes.
    const ConversationId id = m_waiting.front().first;
    std::erase_if(m_waiting, [&](const std::pair<ConversationId, MessageId>& waiting) {
        if (waiting.first != id) return false;
        report(m_store->setMessageState(waiting.second, MessageState::Complete));
        return true;
    });
    emit conversationChanged(id);
    startReply(id, std::nullopt);
}

void ChatController::regenerate(MessageId reply)
{
    if (isGenerating() || !m_engine->isReady() || !m_current) return;
    startReply(*m_current, reply);
}

void ChatController::editAndResend(MessageId message, const QString& text)
{
    const QString trimmed = text.trimmed();
    if (trimmed.isEmpty() || isGenerating()) return;
    auto old = m_store->message(message);
    if (!old) return report(old.status());
    if (old->role != MessageRole::User) return;
    const bool ready = m_engine->isReady() && m_waiting.empty();
    NewMessage edited{.role = MessageRole::User,
                      .content = trimmed.toStdString(),
                      .state = ready ? MessageState::Complete : MessageState::Waiting};
    auto added = m_store->addAlternative(message, edited);
    if (!added) return report(added.status());
    emit conversationChanged(old->conversationId);
    if (ready) {
        startReply(old->conversationId, std::nullopt);
    } else {
        m_waiting.emplace_back(old->conversationId, *added);
    }
}

std::vector<MessageId> ChatController::alternatives(MessageId message) const
{
    auto self = m_store->message(message);
    if (!self) return {};
    auto all = m_store->allMessages(self->conversationId);
    if (!all) return {};
    // allMessages is oldest first, the order siblingIndex counts in.
    std::vector<MessageId> out;
    for (const Message& m : *all)
        if (m.parentId == self->parentId) out.push_back(m.id);
    return out;
}

void ChatController::switchAlternative(MessageId message, int step)
{
    // The streaming reply would vanish from view mid-stream; the buttons are disabled meanwhile.
    if (isGenerating()) return;
    const std::vector<MessageId> siblings = alternatives(message);
    const auto at = std::find(siblings.begin(), siblings.end(), message);
    if (at == siblings.end()) return;
    const auto index = (at - siblings.begin()) + step;
    if (index < 0 || index >= static_cast<std::ptrdiff_t>(siblings.size())) return;
    const MessageId target = siblings[static_cast<std::size_t>(index)];
    report(m_store->selectBranch(target));
    if (auto chosen = m_store->message(target)) emit conversationChanged(chosen->conversationId);
}

void ChatController::stop()
{
    if (m_genId) m_engine->stop(m_genId);
}

void ChatController::deleteMessage(MessageId id)
{
    // Deleting the streaming reply, or a message it follows, ends the stream first; what is
    // still in flight is dropped instead of written to rows that no longer exist.
    if (isGenerating()) {
        for (std::optional<MessageId> at = m_reply; at;) {
            if (*at == id) {
                m_replyDeleted = true;
                stop();
                break;
            }
            auto m = m_store->message(*at);
            at = m ? m->parentId : std::nullopt;
        }
    }
    auto doomed = m_store->message(id);
    if (!doomed) return report(doomed.status());
    report(m_store->deleteMessage(id));
    std::erase_if(m_waiting, [this](const std::pair<ConversationId, MessageId>& waiting) {
        return !m_store->message(waiting.second);
    });
    emit conversationChanged(doomed->conversationId);
}

void ChatController::startReply(ConversationId id, std::optional<MessageId> regenerateOf)
{
    auto info = m_store->conversationInfo(id);
    if (!info) return report(info.status());
    auto conversation = m_store->conversation(id);
    if (!conversation) return report(conversation.status());

    // The prompt is everything before the reply: on regenerate, the branch up to its parent.
    std::vector<Message> history;
    if (!info->systemPrompt.empty()) history.push_back(Message{.role = MessageRole::System, .content = info->systemPrompt});
    for (const Message& m : conversation->messages) {
        if (regenerateOf && m.id == *regenerateOf) break;
        history.push_back(m);
    }
    auto prompt = m_promptBuilder(history);
    if (!prompt) return report(prompt.status());

    auto reply = regenerateOf ? m_store->beginAlternativeReply(*regenerateOf) : m_store->beginReply(id);
    if (!reply) return report(reply.status());
    m_reply = *reply;
    m_replyDeleted = false;
    GenerateRequest request = requestFor(*info);
    request.promptIds = std::move(*prompt);
    m_genId = m_engine->generate(std::move(request));
    m_flushTimer.start();
    emit conversationChanged(id);
    emit replyStarted(m_reply);
}

Result<std::vector<TokenId>> ChatController::defaultPrompt(const std::vector<Message>& messages) const
{
    std::shared_ptr<const Tokenizer> tokenizer = m_engine->tokenizer();
    if (!tokenizer) return makeError(ErrorCode::Unavailable, "no model is loaded");
    HEARTH_TRY_ASSIGN(auto choice, findModelChatTemplate(m_engine->modelPath().toStdString(), {}, false, tokenizer.get()));
    HEARTH_TRY_ASSIGN(auto tmpl, ChatTemplate::parse(choice.source, choice.name));
    ChatRenderRequest render;
    render.addGenerationPrompt = true;
    render.bosToken = choice.bos;
    render.eosToken = choice.eos;
    for (const Message& m : messages)
        render.messages.push_back({{"role", messageRoleName(m.role)}, {"content", m.content}});
    HEARTH_TRY_ASSIGN(auto text, renderChat(tmpl, render));
    // The template writes the special tokens itself (apply_chat_template(tokenize=True)).
    return tokenizer->encode(text, {.parseSpecial = true, .addSpecialTokens = false});
}

GenerateRequest ChatController::requestFor(const ConversationInfo& info) const
{
    GenerateRequest request;
    const SamplingSettings& s = info.sampling;
    if (s.temperature) request.sampling.temperature = static_cast<float>(*s.temperature);
    if (s.topP) request.sampling.topP = static_cast<float>(*s.topP);
    if (s.topK) request.sampling.topK = static_cast<std::int32_t>(*s.topK);
    if (s.minP) request.sampling.minP = static_cast<float>(*s.minP);
    if (s.repetitionPenalty) request.sampling.repetitionPenalty = static_cast<float>(*s.repetitionPenalty);
    if (s.seed) request.sampling.seed = static_cast<std::uint64_t>(*s.seed);
    request.maxTokens = s.maxTokens ? static_cast<std::int32_t>(*s.maxTokens) : 1024;
    // Only an adapter that is attached now: one detached since it was chosen falls back to the base model.
    const ConversationAdapter adapter = conversationAdapter(*m_store, info.id);
    if (!adapter.name.empty() && m_engine->adapters().count(QString::fromStdString(adapter.name))) {
        request.adapter = adapter.name;
        request.adapterScale = adapter.scale;
    }
    return request;
}

void ChatController::onDelta(quint64 genId, const QString& text)
{
    if (genId != m_genId || m_replyDeleted) return;
    report(m_store->appendDelta(m_reply, text.toStdString()));
    emit replyDelta(m_reply, text);
}

void ChatController::onFinished(quint64 genId, const GenerationOutcome& outcome)
{
    if (genId != m_genId) return;
    const MessageId reply = m_reply;
    m_genId = 0;
    m_reply = 0;
    m_flushTimer.stop();
    if (std::exchange(m_replyDeleted, false)) {
        // Nothing to write: the reply was deleted while it streamed.
    } else if (outcome.reason == FinishReason::Error) {
        report(m_store->failReply(reply, MessageState::Error, outcome.error.toStdString()));
        emit errorOccurred(outcome.error);
    } else if (outcome.reason == FinishReason::Cancelled) {
        report(m_store->failReply(reply, MessageState::Cancelled, "stopped"));
    } else {
        const GenerationStats& g = outcome.stats;
        ReplyStats stats{.promptTokens = g.promptTokens,
                         .cachedTokens = g.cachedPromptTokens,
                         .generatedTokens = g.generatedTokens,
                         .ttftMs = g.timeToFirstTokenMs,
                         .tokensPerS = g.decodeTokensPerS};
        report(m_store->finishReply(reply, stats));
    }
    emit replyFinished(reply);
    if (m_current) emit conversationChanged(*m_current);
    sendWaiting();
}

void ChatController::report(const Status& status)
{
    if (!status) emit errorOccurred(QString::fromStdString(status.error().toString()));
}

}  // namespace hearth::gui
