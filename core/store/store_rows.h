// Row <-> struct conversion and small SQL helpers shared by the ConversationStore sources.
// Private to core/store.
#pragma once

#include <string>

#include "store/conversation_store.h"
#include "store/sqlite_db.h"

namespace hearth::store_detail {

// SELECT lists matching readConversation / readMessage; messages are aliased `m` and the
// last two columns count the message's alternatives (same parent) older than it and in all.
inline constexpr const char* kConversationColumns =
    "c.id, c.title, c.created_at_ms, c.updated_at_ms, c.model_path, c.system_prompt, c.sampling_json, "
    "c.pinned, c.archived, c.active_leaf_id";
inline constexpr const char* kMessageColumns =
    "m.id, m.conversation_id, m.parent_id, m.role, m.content, m.reasoning_content, m.tool_calls_json, "
    "m.tool_call_id, m.state, m.error_message, m.stats_json, m.created_at_ms, "
    "(SELECT count(*) FROM messages s WHERE s.conversation_id = m.conversation_id "
    "   AND s.parent_id IS m.parent_id AND s.id < m.id), "
    "(SELECT count(*) FROM messages s WHERE s.conversation_id = m.conversation_id "
    "   AND s.parent_id IS m.parent_id)";

Result<ConversationInfo> readConversation(const Statement& row, const std::string& path);
Result<Message> readMessage(const Statement& row, const std::string& path);

// BEGIN IMMEDIATE now; rolls back on destruction unless commit() succeeded.
class Transaction {
public:
    explicit Transaction(SqliteDb& db) : m_db(db) {}
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    Status begin();
    Status commit();

private:
    SqliteDb& m_db;
    bool m_open = false;
};

// `text` as a LIKE pattern matching it anywhere, with %, _ and \ escaped (use ESCAPE '\').
std::string likeContainsPattern(std::string_view text);
// `text` as one FTS5 phrase ("..." with inner quotes doubled).
std::string ftsPhrase(std::string_view text);
// Number of Unicode code points (UTF-8 lead bytes) in `text`.
std::size_t codePointCount(std::string_view text);

}  // namespace hearth::store_detail
