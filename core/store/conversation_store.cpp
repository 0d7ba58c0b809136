// ConversationStore: opening, conversations, search, settings and import. Messages and
// streaming replies live in conversation_messages.cpp.
#include "store/conversation_store.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <utility>

#include "store/sqlite_db.h"
#include "store/store_json.h"
#include "store/store_rows.h"
#include "store/store_schema.h"
#include "util/paths.h"

namespace hearth {

using store_detail::Statement;
using store_detail::Transaction;

namespace {

constexpr std::array<std::pair<MessageRole, const char*>, 4> kRoleNames{{
    {MessageRole::System, "system"},
    {MessageRole::User, "user"},
    {MessageRole::Assistant, "assistant"},
    {MessageRole::Tool, "tool"},
}};
constexpr std::array<std::pair<MessageState, const char*>, 6> kStateNames{{
    {MessageState::Complete, "complete"},
    {MessageState::Streaming, "streaming"},
    {MessageState::Waiting, "waiting"},
    {MessageState::Error, "error"},
    {MessageState::Cancelled, "cancelled"},
    {MessageState::Interrupted, "interrupted"},
}};

Error noConversation(const std::string& path, ConversationId id)
{
    return makeError(ErrorCode::NotFound, path + ": conversation " + std::to_string(id) + " does not exist");
}

Result<std::vector<ConversationInfo>> readConversations(Statement& stmt, const std::string& path)
{
    std::vector<ConversationInfo> out;
    for (;;) {
        HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
        if (!hasRow)
            return out;
        HEARTH_TRY_ASSIGN(ConversationInfo info, store_detail::readConversation(stmt, path));
        out.push_back(std::move(info));
    }
}

}  // namespace

const char* messageRoleName(MessageRole role)
{
    for (const auto& [value, name] : kRoleNames)
        if (value == role)
            return name;
    return "user";
}

const char* messageStateName(MessageState state)
{
    for (const auto& [value, name] : kStateNames)
        if (value == state)
            return name;
    return "complete";
}

std::optional<MessageRole> parseMessageRole(std::string_view name)
{
    for (const auto& [value, text] : kRoleNames)
        if (name == text)
            return value;
    return std::nullopt;
}

std::optional<MessageState> parseMessageState(std::string_view name)
{
    for (const auto& [value, text] : kStateNames)
        if (name == text)
            return value;
    return std::nullopt;
}

ConversationStore::ConversationStore(StoreOptions options) : m_options(std::move(options)) {}

ConversationStore::~ConversationStore()
{
    // Best effort: a reply still streaming at shutdown keeps what it had; the next open marks it
    // interrupted.
    if (m_db)
        (void)flush();
}

std::string ConversationStore::defaultPath() { return dataDir() + "/conversations.sqlite3"; }

const std::string& ConversationStore::path() const { return m_db->path(); }

Result<std::unique_ptr<ConversationStore>> ConversationStore::open(const std::string& path, StoreOptions options)
{
    if (options.flushIntervalMs < 0 || options.busyTimeoutMs < 0)
        return makeError(ErrorCode::InvalidArgument, path + ": store intervals must not be negative");
    std::unique_ptr<ConversationStore> store(new ConversationStore(std::move(options)));
    HEARTH_TRY_ASSIGN(store_detail::SqliteDb db, store_detail::openConversationDatabase(
                                                     path, kSchemaVersion, store->m_options.busyTimeoutMs,
                                                     store->m_report));
    store->m_db = std::make_unique<store_detail::SqliteDb>(std::move(db));
    return store;
}

std::int64_t ConversationStore::steadyNowMs() const
{
    if (m_options.steadyClockMs)
        return m_options.steadyClockMs();
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::int64_t ConversationStore::wallNowMs()
{
    using namespace std::chrono;
    const std::int64_t now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    // Strictly increasing, so "most recently updated first" is exact even within a millisecond.
    m_lastWallMs = std::max(now, m_lastWallMs + 1);
    return m_lastWallMs;
}

Status ConversationStore::touchConversation(ConversationId id)
{
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, "UPDATE conversations SET updated_at_ms = ?1 WHERE id = ?2",
                                                          "updating the conversation time"));
    stmt.bind(1, wallNowMs()).bind(2, id);
    return stmt.run();
}

Result<ConversationId> ConversationStore::createConversation(const NewConversation& c)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "INSERT INTO conversations (title, created_at_ms, updated_at_ms, model_path, "
                                         "system_prompt, sampling_json) VALUES (?1, ?2, ?2, ?3, ?4, ?5)",
                                         "creating a conversation"));
    stmt.bind(1, c.title).bind(2, wallNowMs()).bind(3, c.modelPath).bind(4, c.systemPrompt);
    stmt.bind(5, store_detail::samplingToJson(c.sampling).dump());
    HEARTH_TRY_STATUS(stmt.run());
    return m_db->lastInsertId();
}

Status ConversationStore::renameConversation(ConversationId id, std::string_view title)
{
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, "UPDATE conversations SET title = ?1 WHERE id = ?2",
                                                          "renaming a conversation"));
    stmt.bind(1, title).bind(2, id);
    HEARTH_TRY_STATUS(stmt.run());
    if (m_db->changes() == 0)
        return noConversation(path(), id);
    return Status::ok();
}

Status ConversationStore::updateConversationSettings(const ConversationInfo& info)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "UPDATE conversations SET model_path = ?1, system_prompt = ?2, "
                                         "sampling_json = ?3, pinned = ?4, archived = ?5 WHERE id = ?6",
                                         "saving conversation settings"));
    stmt.bind(1, info.modelPath).bind(2, info.systemPrompt).bind(3, store_detail::samplingToJson(info.sampling).dump());
    stmt.bind(4, std::int64_t{info.pinned}).bind(5, std::int64_t{info.archived}).bind(6, info.id);
    HEARTH_TRY_STATUS(stmt.run());
    if (m_db->changes() == 0)
        return noConversation(path(), info.id);
    return Status::ok();
}

Status ConversationStore::deleteConversation(ConversationId id)
{
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, "DELETE FROM conversations WHERE id = ?1",
                                                          "deleting a conversation"));
    stmt.bind(1, id);
    HEARTH_TRY_STATUS(stmt.run());
    if (m_db->changes() == 0)
        return noConversation(path(), id);
    std::erase_if(m_pending, [id](const auto& entry) { return entry.second.conversationId == id; });
    return Status::ok();
}

Result<std::vector<ConversationInfo>> ConversationStore::listConversations(bool includeArchived)
{
    const std::string sql = std::string("SELECT ") + store_detail::kConversationColumns + " FROM conversations c" +
                            (includeArchived ? "" : " WHERE c.archived = 0") +
                            " ORDER BY c.updated_at_ms DESC, c.id DESC";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "listing conversations"));
    return readConversations(stmt, path());
}

Result<std::vector<ConversationInfo>> ConversationStore::searchConversations(std::string_view query)
{
    if (query.empty())
        return listConversations(true);
    // Text still pending in memory is not searchable until written; flushing keeps search honest.
    HEARTH_TRY_STATUS(flush());
    // The trigram index needs at least three characters; shorter queries scan with LIKE.
    HEARTH_TRY_ASSIGN(const std::int64_t haveFts,
                      m_db->queryInt("SELECT count(*) FROM sqlite_master WHERE name = 'messages_fts'",
                                     "checking for the search index"));
    const bool useFts = haveFts > 0 && store_detail::codePointCount(query) >= 3;
    const std::string contentMatch =
        useFts ? "c.id IN (SELECT m.conversation_id FROM messages m WHERE m.state = 'streaming' AND "
                 "m.content LIKE ?1 ESCAPE '\\' UNION SELECT m.conversation_id FROM messages m "
                 "WHERE m.id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?2))"
               : "c.id IN (SELECT m.conversation_id FROM messages m WHERE m.content LIKE ?1 ESCAPE '\\')";
    const std::string sql = std::string("SELECT ") + store_detail::kConversationColumns +
                            " FROM conversations c WHERE c.title LIKE ?1 ESCAPE '\\' OR " + contentMatch +
                            " ORDER BY c.updated_at_ms DESC, c.id DESC";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "searching conversations"));
    stmt.bind(1, store_detail::likeContainsPattern(query));
    if (useFts)
        stmt.bind(2, store_detail::ftsPhrase(query));
    return readConversations(stmt, path());
}

Result<ConversationInfo> ConversationStore::conversationInfo(ConversationId id)
{
    const std::string sql = std::string("SELECT ") + store_detail::kConversationColumns +
                            " FROM conversations c WHERE c.id = ?1";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "reading a conversation"));
    stmt.bind(1, id);
    HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
    if (!hasRow)
        return noConversation(path(), id);
    return store_detail::readConversation(stmt, path());
}

Status ConversationStore::setSetting(std::string_view key, std::string_view value)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                                         "saving a setting"));
    stmt.bind(1, key).bind(2, value);
    return stmt.run();
}

Result<std::optional<std::string>> ConversationStore::setting(std::string_view key)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db, "SELECT value FROM settings WHERE key = ?1", "reading a setting"));
    stmt.bind(1, key);
    HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
    if (!hasRow)
        return std::optional<std::string>();
    return std::optional<std::string>(stmt.columnText(0));
}

Status ConversationStore::removeSetting(std::string_view key)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db, "DELETE FROM settings WHERE key = ?1", "removing a setting"));
    stmt.bind(1, key);
    return stmt.run();
}

Result<ConversationId> ConversationStore::importConversation(const ConversationInfo& info,
                                                             const std::vector<ImportedMessage>& messages,
                                                             std::optional<std::size_t> activeLeafIndex)
{
    const std::string where = path() + ": importing '" + info.title + "'";
    if (activeLeafIndex && *activeLeafIndex >= messages.size())
        return makeError(ErrorCode::InvalidArgument, where + ": the active message index is out of range");
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (messages[i].parentIndex && *messages[i].parentIndex >= i)
            return makeError(ErrorCode::InvalidArgument,
                             where + ": message " + std::to_string(i) + " must come after its parent");
        HEARTH_TRY_STATUS(store_detail::checkToolCallsJson(messages[i].message.toolCallsJson,
                                                           where + ": message " + std::to_string(i)));
    }

    Transaction tx(*m_db);
    HEARTH_TRY_STATUS(tx.begin());
    HEARTH_TRY_ASSIGN(Statement conv,
                      Statement::prepare(*m_db,
                                         "INSERT INTO conversations (title, created_at_ms, updated_at_ms, model_path, "
                                         "system_prompt, sampling_json, pinned, archived) "
                                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                                         "importing a conversation"));
    conv.bind(1, info.title).bind(2, info.createdAtMs).bind(3, info.updatedAtMs).bind(4, info.modelPath);
    conv.bind(5, info.systemPrompt).bind(6, store_detail::samplingToJson(info.sampling).dump());
    conv.bind(7, std::int64_t{info.pinned}).bind(8, std::int64_t{info.archived});
    HEARTH_TRY_STATUS(conv.run());
    const ConversationId id = m_db->lastInsertId();

    std::vector<MessageId> ids;
    ids.reserve(messages.size());
    for (const ImportedMessage& imported : messages) {
        const NewMessage& m = imported.message;
        HEARTH_TRY_ASSIGN(Statement stmt,
                          Statement::prepare(*m_db,
                                             "INSERT INTO messages (conversation_id, parent_id, role, content, "
                                             "reasoning_content, tool_calls_json, tool_call_id, state, error_message, "
                                             "stats_json, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                                             "?10, ?11)",
                                             "importing a message"));
        std::optional<std::int64_t> parent;
        if (imported.parentIndex)
            parent = ids[*imported.parentIndex];
        // Nothing streams into an imported reply; one caught mid-stream is marked as cut off.
        const MessageState state = m.state == MessageState::Streaming ? MessageState::Interrupted : m.state;
        stmt.bind(1, id).bind(2, parent).bind(3, messageRoleName(m.role)).bind(4, m.content);
        stmt.bind(5, m.reasoningContent).bind(6, m.toolCallsJson).bind(7, m.toolCallId);
        stmt.bind(8, messageStateName(state)).bind(9, imported.errorMessage);
        stmt.bind(10, store_detail::statsToJson(m.stats).dump()).bind(11, imported.createdAtMs);
        HEARTH_TRY_STATUS(stmt.run());
        ids.push_back(m_db->lastInsertId());
    }
    if (activeLeafIndex) {
        HEARTH_TRY_ASSIGN(Statement leaf, Statement::prepare(*m_db, "UPDATE conversations SET active_leaf_id = ?1 WHERE id = ?2",
                                                              "importing the active branch"));
        leaf.bind(1, ids[*activeLeafIndex]).bind(2, id);
        HEARTH_TRY_STATUS(leaf.run());
    }
    HEARTH_TRY_STATUS(tx.commit());
    return id;
}

}  // namespace hearth
