// Conversations, messages and app settings persisted in one SQLite file (schema and guarantees in
// docs/STORAGE.md). Messages form a tree so "edit and resend" and "regenerate" keep the
// alternatives; a conversation shows the path from the root to its active leaf. Streaming
// replies are written as they arrive, coalesced so that a crash or kill loses at most the text
// of the last flush interval (200 ms by default). Not thread-safe: use one store from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace hearth {

namespace store_detail {
class SqliteDb;
}

using ConversationId = std::int64_t;
using MessageId = std::int64_t;

enum class MessageRole { System, User, Assistant, Tool };
// Waiting: a user message queued until the model is ready. Interrupted: a reply that was
// streaming when the process died; its text up to the last flush is kept.
enum class MessageState { Complete, Streaming, Waiting, Error, Cancelled, Interrupted };

const char* messageRoleName(MessageRole role);        // "user", ...
const char* messageStateName(MessageState state);     // "complete", ...
std::optional<MessageRole> parseMessageRole(std::string_view name);
std::optional<MessageState> parseMessageState(std::string_view name);

// Per-conversation sampling; an unset field means "the engine's default".
struct SamplingSettings {
    std::optional<double> temperature;
    std::optional<double> topP;
    std::optional<std::int64_t> topK;
    std::optional<double> minP;
    std::optional<std::int64_t> maxTokens;
    std::optional<std::int64_t> seed;
    std::optional<double> repetitionPenalty;
    std::string presetName;
    bool operator==(const SamplingSettings&) const = default;
};

// What one reply cost; unset fields were not measured.
struct ReplyStats {
    std::optional<std::int64_t> promptTokens;
    std::optional<std::int64_t> cachedTokens;
    std::optional<std::int64_t> generatedTokens;
    std::optional<double> ttftMs;
    std::optional<double> tokensPerS;
    bool operator==(const ReplyStats&) const = default;
};

struct ConversationInfo {
    ConversationId id = 0;
    std::string title;
    std::int64_t createdAtMs = 0;  // Unix epoch milliseconds, UTC
    std::int64_t updatedAtMs = 0;
    std::string modelPath;
    std::string systemPrompt;
    SamplingSettings sampling;
    bool pinned = false;
    bool archived = false;
    std::optional<MessageId> activeLeafId;
};

struct Message {
    MessageId id = 0;
    ConversationId conversationId = 0;
    std::optional<MessageId> parentId;  // none: a first message
    MessageRole role = MessageRole::User;
    std::string content;
    std::string reasoningContent;
    std::string toolCallsJson;  // OpenAI-shaped JSON array, or empty
    std::string toolCallId;     // for role Tool: the call this answers
    MessageState state = MessageState::Complete;
    std::string errorMessage;
    ReplyStats stats;
    std::int64_t createdAtMs = 0;
    int siblingIndex = 0;  // this message's place among its alternatives (same parent), by age
    int siblingCount = 1;
};

struct Conversation {
    ConversationInfo info;
    std::vector<Message> messages;  // the active branch, root first
};

// A message to add; its parent is chosen by the call (the active leaf, or an existing sibling's).
struct NewMessage {
    MessageRole role = MessageRole::User;
    std::string content;
    std::string reasoningContent;
    std::string toolCallsJson;
    std::string toolCallId;
    MessageState state = MessageState::Complete;
    ReplyStats stats;
};

struct NewConversation {
    std::string title = "New chat";
    std::string modelPath;
    std::string systemPrompt;
    SamplingSettings sampling;
};

struct StoreOptions {
    int flushIntervalMs = 200;           // a streaming reply is written at most this often...
    std::size_t flushChars = 32 * 1024;  // ...or sooner once this much text is pending
    int busyTimeoutMs = 2000;
    std::function<std::int64_t()> steadyClockMs;  // for tests; default std::chrono::steady_clock
};

// What open() found and did, so the app can tell the user.
struct OpenReport {
    bool created = false;                 // the file did not exist or was empty
    int migratedFromVersion = 0;          // 0: no migration ran
    std::string corruptFileMovedTo;       // non-empty: the old file was damaged and renamed here
    std::string corruptionReason;
    int interruptedReplies = 0;           // streaming replies found after a crash
};

class ConversationStore {
public:
    static constexpr int kSchemaVersion = 2;

    // dataDir()/conversations.sqlite3
    static std::string defaultPath();
    // Opens or creates the database, migrating older schemas; a newer schema is refused with
    // the file untouched; a damaged file is renamed aside and a fresh one created (see report()).
    static Result<std::unique_ptr<ConversationStore>> open(const std::string& path, StoreOptions options = {});

    ~ConversationStore();
    ConversationStore(const ConversationStore&) = delete;
    ConversationStore& operator=(const ConversationStore&) = delete;

    const OpenReport& report() const { return m_report; }
    const std::string& path() const;

    // Conversations.
    Result<ConversationId> createConversation(const NewConversation& conversation);
    Status renameConversation(ConversationId id, std::string_view title);
    // Updates model, system prompt, sampling, pinned and archived from `info` (not title or times).
    Status updateConversationSettings(const ConversationInfo& info);
    Status deleteConversation(ConversationId id);
    // Most recently updated first; archived ones only when asked.
    Result<std::vector<ConversationInfo>> listConversations(bool includeArchived = false);
    // Conversations whose title or any message contains `query` (case-insensitive for ASCII),
    // most recently updated first. Wildcards like % and _ are matched literally.
    Result<std::vector<ConversationInfo>> searchConversations(std::string_view query);
    Result<ConversationInfo> conversationInfo(ConversationId id);
    // The conversation with the messages of its active branch.
    Result<Conversation> conversation(ConversationId id);

    // Messages.
    // Appends under the active leaf and makes it the new leaf.
    Result<MessageId> addMessage(ConversationId id, const NewMessage& message);
    // Adds an alternative to `sibling` (same parent) and makes it the leaf: "edit and resend".
    Result<MessageId> addAlternative(MessageId sibling, const NewMessage& message);
    // Starts an empty streaming assistant reply under the active leaf.
    Result<MessageId> beginReply(ConversationId id);
    // Starts a streaming alternative to an existing reply: "regenerate".
    Result<MessageId> beginAlternativeReply(MessageId previousReply);
    // Adds text to a streaming reply; cheap, writes at most every flushIntervalMs.
    Status appendDelta(MessageId reply, std::string_view contentDelta, std::string_view reasoningDelta = {});
    // Writes every streaming reply's pending text now (call from a timer when a stream stalls).
    Status flush();
    // Writes the remaining text and marks the reply complete with its stats.
    Status finishReply(MessageId reply, const ReplyStats& stats, std::string_view toolCallsJson = {});
    // Writes the remaining text and marks the reply Error or Cancelled, keeping its text.
    Status failReply(MessageId reply, MessageState state, std::string_view errorMessage);
    // Sets the state of a message (e.g. Waiting -> Complete once a queued message is sent).
    Status setMessageState(MessageId id, MessageState state);
    // Deletes a message and everything after it on every branch; the leaf moves to the newest
    // remaining leaf under its parent (or of the conversation).
    Status deleteMessage(MessageId id);
    // Makes the newest leaf under `message` the active leaf (switch to an alternative).
    Status selectBranch(MessageId message);
    Result<Message> message(MessageId id);
    // Every message of the conversation on every branch, oldest first (export uses this).
    Result<std::vector<Message>> allMessages(ConversationId id);

    // Settings (app settings, last used model); values are opaque text.
    Status setSetting(std::string_view key, std::string_view value);
    Result<std::optional<std::string>> setting(std::string_view key);
    Status removeSetting(std::string_view key);

    // Imports a whole conversation tree in one transaction; `parentIndex` of each message
    // refers to an earlier element. Used by conversation_export.
    struct ImportedMessage {
        NewMessage message;
        std::optional<std::size_t> parentIndex;
        std::int64_t createdAtMs = 0;
        std::string errorMessage;
    };
    Result<ConversationId> importConversation(const ConversationInfo& info, const std::vector<ImportedMessage>& messages,
                                              std::optional<std::size_t> activeLeafIndex);

    // How many times a streaming reply's row was written (tests check the coalescing).
    std::int64_t streamWriteCount() const { return m_streamWrites; }

private:
    struct PendingReply {
        ConversationId conversationId = 0;
        std::string content;    // not yet written
        std::string reasoning;
        std::int64_t lastWriteMs = 0;
    };

    explicit ConversationStore(StoreOptions options);
    std::int64_t steadyNowMs() const;
    std::int64_t wallNowMs();
    Status touchConversation(ConversationId id);
    Status writePending(MessageId reply, PendingReply& pending);
    Result<MessageId> insertMessage(ConversationId id, std::optional<MessageId> parent, const NewMessage& message);
    Result<std::optional<MessageId>> newestLeafUnder(ConversationId id, std::optional<MessageId> root);
    Status endReply(MessageId reply, MessageState state, std::string_view errorMessage, const ReplyStats* stats,
                    std::string_view toolCallsJson);

    std::unique_ptr<store_detail::SqliteDb> m_db;
    StoreOptions m_options;
    OpenReport m_report;
    std::map<MessageId, PendingReply> m_pending;
    std::int64_t m_lastWallMs = 0;
    std::int64_t m_streamWrites = 0;
};

}  // namespace hearth
