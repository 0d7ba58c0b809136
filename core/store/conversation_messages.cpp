// ConversationStore: the message tree (add, alternatives, branches, delete) and streaming replies.
//
// Streaming writes are coalesced: appendDelta() keeps new text in memory and appends it to the
// row (content = content || delta) once flushIntervalMs has passed since the last write or
// flushChars are pending. A kill therefore loses at most the text that arrived during the last
// interval before it; flush() lets a caller with a timer bound that when a stream stalls.
#include "store/conversation_store.h"

#include <algorithm>

#include "store/sqlite_db.h"
#include "store/store_json.h"
#include "store/store_rows.h"

namespace hearth {

using store_detail::Statement;
using store_detail::Transaction;

namespace {

Error noMessage(const std::string& path, MessageId id)
{
    return makeError(ErrorCode::NotFound, path + ": message " + std::to_string(id) + " does not exist");
}

Error notStreaming(const std::string& path, MessageId id)
{
    return makeError(ErrorCode::InvalidArgument,
                     path + ": message " + std::to_string(id) + " is not a reply that is streaming in this session");
}

// Descendants of ?1 including itself (messages form a tree through parent_id).
constexpr const char* kSubtreeCte =
    "WITH RECURSIVE subtree(id) AS (SELECT ?1 UNION ALL "
    "SELECT m.id FROM messages m JOIN subtree t ON m.parent_id = t.id) ";

}  // namespace

Result<std::vector<Message>> ConversationStore::allMessages(ConversationId id)
{
    HEARTH_TRY_ASSIGN(const ConversationInfo info, conversationInfo(id));
    const std::string sql = std::string("SELECT ") + store_detail::kMessageColumns +
                            " FROM messages m WHERE m.conversation_id = ?1 ORDER BY m.id";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "reading messages"));
    stmt.bind(1, info.id);
    std::vector<Message> out;
    for (;;) {
        HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
        if (!hasRow)
            break;
        HEARTH_TRY_ASSIGN(Message m, store_detail::readMessage(stmt, path()));
        out.push_back(std::move(m));
    }
    for (Message& m : out) {
        if (const auto it = m_pending.find(m.id); it != m_pending.end()) {
            m.content += it->second.content;
            m.reasoningContent += it->second.reasoning;
        }
    }
    return out;
}

Result<Conversation> ConversationStore::conversation(ConversationId id)
{
    Conversation c;
    HEARTH_TRY_ASSIGN(c.info, conversationInfo(id));
    if (!c.info.activeLeafId)
        return c;
    // Walk from the active leaf to the root, then show root first.
    const std::string sql = std::string("WITH RECURSIVE path(id, depth) AS (SELECT ?1, 0 UNION ALL "
                                        "SELECT m.parent_id, p.depth + 1 FROM messages m JOIN path p ON m.id = p.id "
                                        "WHERE m.parent_id IS NOT NULL) SELECT ") +
                            store_detail::kMessageColumns +
                            " FROM path JOIN messages m ON m.id = path.id ORDER BY path.depth DESC";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "reading the active branch"));
    stmt.bind(1, *c.info.activeLeafId);
    for (;;) {
        HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
        if (!hasRow)
            break;
        HEARTH_TRY_ASSIGN(Message m, store_detail::readMessage(stmt, path()));
        if (const auto it = m_pending.find(m.id); it != m_pending.end()) {
            m.content += it->second.content;
            m.reasoningContent += it->second.reasoning;
        }
        c.messages.push_back(std::move(m));
    }
    return c;
}

Result<Message> ConversationStore::message(MessageId id)
{
    const std::string sql = std::string("SELECT ") + store_detail::kMessageColumns + " FROM messages m WHERE m.id = ?1";
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "reading a message"));
    stmt.bind(1, id);
    HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
    if (!hasRow)
        return noMessage(path(), id);
    HEARTH_TRY_ASSIGN(Message m, store_detail::readMessage(stmt, path()));
    if (const auto it = m_pending.find(id); it != m_pending.end()) {
        m.content += it->second.content;
        m.reasoningContent += it->second.reasoning;
    }
    return m;
}

Result<MessageId> ConversationStore::insertMessage(ConversationId id, std::optional<MessageId> parent,
                                                   const NewMessage& message)
{
    HEARTH_TRY_STATUS(store_detail::checkToolCallsJson(message.toolCallsJson, path() + ": new message"));
    Transaction tx(*m_db);
    HEARTH_TRY_STATUS(tx.begin());
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "INSERT INTO messages (conversation_id, parent_id, role, content, "
                                         "reasoning_content, tool_calls_json, tool_call_id, state, stats_json, "
                                         "created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                                         "adding a message"));
    const std::int64_t now = wallNowMs();
    stmt.bind(1, id).bind(2, parent).bind(3, messageRoleName(message.role)).bind(4, message.content);
    stmt.bind(5, message.reasoningContent).bind(6, message.toolCallsJson).bind(7, message.toolCallId);
    stmt.bind(8, messageStateName(message.state)).bind(9, store_detail::statsToJson(message.stats).dump());
    stmt.bind(10, now);
    HEARTH_TRY_STATUS(stmt.run());
    const MessageId newId = m_db->lastInsertId();
    HEARTH_TRY_ASSIGN(Statement leaf,
                      Statement::prepare(*m_db,
                                         "UPDATE conversations SET active_leaf_id = ?1, updated_at_ms = ?2 WHERE id = ?3",
                                         "moving the active branch"));
    leaf.bind(1, newId).bind(2, now).bind(3, id);
    HEARTH_TRY_STATUS(leaf.run());
    HEARTH_TRY_STATUS(tx.commit());
    return newId;
}

Result<MessageId> ConversationStore::addMessage(ConversationId id, const NewMessage& message)
{
    if (message.state == MessageState::Streaming)
        return makeError(ErrorCode::InvalidArgument, path() + ": use beginReply() to start a streaming reply");
    HEARTH_TRY_ASSIGN(const ConversationInfo info, conversationInfo(id));
    return insertMessage(id, info.activeLeafId, message);
}

Result<MessageId> ConversationStore::addAlternative(MessageId sibling, const NewMessage& message)
{
    if (message.state == MessageState::Streaming)
        return makeError(ErrorCode::InvalidArgument, path() + ": use beginAlternativeReply() to regenerate");
    HEARTH_TRY_ASSIGN(const Message old, this->message(sibling));
    return insertMessage(old.conversationId, old.parentId, message);
}

Result<MessageId> ConversationStore::beginReply(ConversationId id)
{
    HEARTH_TRY_ASSIGN(const ConversationInfo info, conversationInfo(id));
    NewMessage reply;
    reply.role = MessageRole::Assistant;
    reply.state = MessageState::Streaming;
    HEARTH_TRY_ASSIGN(const MessageId replyId, insertMessage(id, info.activeLeafId, reply));
    m_pending[replyId] = PendingReply{id, {}, {}, steadyNowMs()};
    return replyId;
}

Result<MessageId> ConversationStore::beginAlternativeReply(MessageId previousReply)
{
    HEARTH_TRY_ASSIGN(const Message old, message(previousReply));
    if (old.role != MessageRole::Assistant)
        return makeError(ErrorCode::InvalidArgument,
                         path() + ": message " + std::to_string(previousReply) + " is not an assistant reply");
    NewMessage reply;
    reply.role = MessageRole::Assistant;
    reply.state = MessageState::Streaming;
    HEARTH_TRY_ASSIGN(const MessageId replyId, insertMessage(old.conversationId, old.parentId, reply));
    m_pending[replyId] = PendingReply{old.conversationId, {}, {}, steadyNowMs()};
    return replyId;
}

Status ConversationStore::writePending(MessageId reply, PendingReply& pending)
{
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "UPDATE messages SET content = content || ?1, "
                                         "reasoning_content = reasoning_content || ?2 WHERE id = ?3",
                                         "saving a streaming reply"));
    stmt.bind(1, pending.content).bind(2, pending.reasoning).bind(3, reply);
    // On failure (disk full, locked) the text stays pending and the next write retries it.
    HEARTH_TRY_STATUS(stmt.run());
    ++m_streamWrites;
    pending.content.clear();
    pending.reasoning.clear();
    pending.lastWriteMs = steadyNowMs();
    return Status::ok();
}

Status ConversationStore::appendDelta(MessageId reply, std::string_view contentDelta, std::string_view reasoningDelta)
{
    const auto it = m_pending.find(reply);
    if (it == m_pending.end())
        return notStreaming(path(), reply);
    PendingReply& pending = it->second;
    pending.content += contentDelta;
    pending.reasoning += reasoningDelta;
    const bool due = steadyNowMs() - pending.lastWriteMs >= m_options.flushIntervalMs;
    const bool large = pending.content.size() + pending.reasoning.size() >= m_options.flushChars;
    if (due || large)
        return writePending(reply, pending);
    return Status::ok();
}

Status ConversationStore::flush()
{
    for (auto& [id, pending] : m_pending) {
        if (!pending.content.empty() || !pending.reasoning.empty())
            HEARTH_TRY_STATUS(writePending(id, pending));
    }
    return Status::ok();
}

Status ConversationStore::endReply(MessageId reply, MessageState state, std::string_view errorMessage,
                                   const ReplyStats* stats, std::string_view toolCallsJson)
{
    const auto it = m_pending.find(reply);
    if (it == m_pending.end())
        return notStreaming(path(), reply);
    HEARTH_TRY_STATUS(store_detail::checkToolCallsJson(toolCallsJson, path() + ": message " + std::to_string(reply)));
    PendingReply& pending = it->second;
    Transaction tx(*m_db);
    HEARTH_TRY_STATUS(tx.begin());
    HEARTH_TRY_ASSIGN(Statement stmt,
                      Statement::prepare(*m_db,
                                         "UPDATE messages SET content = content || ?1, "
                                         "reasoning_content = reasoning_content || ?2, state = ?3, error_message = ?4, "
                                         "stats_json = coalesce(?5, stats_json), "
                                         "tool_calls_json = coalesce(?6, tool_calls_json) WHERE id = ?7",
                                         "finishing a reply"));
    stmt.bind(1, pending.content).bind(2, pending.reasoning).bind(3, messageStateName(state)).bind(4, errorMessage);
    if (stats)
        stmt.bind(5, store_detail::statsToJson(*stats).dump());
    else
        stmt.bindNull(5);
    if (!toolCallsJson.empty())
        stmt.bind(6, toolCallsJson);
    else
        stmt.bindNull(6);
    stmt.bind(7, reply);
    HEARTH_TRY_STATUS(stmt.run());
    HEARTH_TRY_STATUS(touchConversation(pending.conversationId));
    HEARTH_TRY_STATUS(tx.commit());
    m_pending.erase(it);
    return Status::ok();
}

Status ConversationStore::finishReply(MessageId reply, const ReplyStats& stats, std::string_view toolCallsJson)
{
    return endReply(reply, MessageState::Complete, {}, &stats, toolCallsJson);
}

Status ConversationStore::failReply(MessageId reply, MessageState state, std::string_view errorMessage)
{
    if (state != MessageState::Error && state != MessageState::Cancelled)
        return makeError(ErrorCode::InvalidArgument, path() + ": a reply can only fail as error or cancelled");
    return endReply(reply, state, errorMessage, nullptr, {});
}

Status ConversationStore::setMessageState(MessageId id, MessageState state)
{
    if (state == MessageState::Streaming || m_pending.count(id))
        return makeError(ErrorCode::InvalidArgument,
                         path() + ": message " + std::to_string(id) +
                             ": streaming replies start with beginReply() and end with finishReply()/failReply()");
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, "UPDATE messages SET state = ?1 WHERE id = ?2",
                                                          "changing a message state"));
    stmt.bind(1, messageStateName(state)).bind(2, id);
    HEARTH_TRY_STATUS(stmt.run());
    if (m_db->changes() == 0)
        return noMessage(path(), id);
    return Status::ok();
}

Result<std::optional<MessageId>> ConversationStore::newestLeafUnder(ConversationId id, std::optional<MessageId> root)
{
    const std::string sql =
        root ? std::string(kSubtreeCte) +
                   "SELECT max(t.id) FROM subtree t WHERE NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = t.id)"
             : std::string("SELECT max(m.id) FROM messages m WHERE m.conversation_id = ?2 "
                           "AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = m.id)");
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, sql.c_str(), "finding the newest branch"));
    if (root)
        stmt.bind(1, *root);
    else
        stmt.bind(2, id);
    HEARTH_TRY_ASSIGN(const bool hasRow, stmt.step());
    if (!hasRow)
        return std::optional<MessageId>();
    return stmt.columnOptionalInt(0);
}

Status ConversationStore::deleteMessage(MessageId id)
{
    HEARTH_TRY_ASSIGN(const Message doomed, message(id));
    HEARTH_TRY_ASSIGN(const ConversationInfo info, conversationInfo(doomed.conversationId));
    Transaction tx(*m_db);
    HEARTH_TRY_STATUS(tx.begin());
    std::vector<MessageId> removed;
    {
        HEARTH_TRY_ASSIGN(Statement list, Statement::prepare(*m_db, (std::string(kSubtreeCte) + "SELECT id FROM subtree").c_str(),
                                                              "listing a branch"));
        list.bind(1, id);
        for (;;) {
            HEARTH_TRY_ASSIGN(const bool hasRow, list.step());
            if (!hasRow)
                break;
            removed.push_back(list.columnInt(0));
        }
    }
    // One statement removes the whole branch, so the parent_id references hold at its end.
    HEARTH_TRY_ASSIGN(Statement del, Statement::prepare(*m_db, (std::string(kSubtreeCte) +
                                                                 "DELETE FROM messages WHERE id IN (SELECT id FROM subtree)").c_str(),
                                                        "deleting a branch"));
    del.bind(1, id);
    HEARTH_TRY_STATUS(del.run());
    std::optional<MessageId> leaf = info.activeLeafId;
    if (leaf && std::find(removed.begin(), removed.end(), *leaf) != removed.end()) {
        HEARTH_TRY_ASSIGN(leaf, newestLeafUnder(doomed.conversationId, doomed.parentId));
    }
    HEARTH_TRY_ASSIGN(Statement update,
                      Statement::prepare(*m_db,
                                         "UPDATE conversations SET active_leaf_id = ?1, updated_at_ms = ?2 WHERE id = ?3",
                                         "moving the active branch"));
    update.bind(1, leaf).bind(2, wallNowMs()).bind(3, doomed.conversationId);
    HEARTH_TRY_STATUS(update.run());
    HEARTH_TRY_STATUS(tx.commit());
    for (const MessageId gone : removed)
        m_pending.erase(gone);
    return Status::ok();
}

Status ConversationStore::selectBranch(MessageId id)
{
    HEARTH_TRY_ASSIGN(const Message chosen, message(id));
    HEARTH_TRY_ASSIGN(const std::optional<MessageId> leaf, newestLeafUnder(chosen.conversationId, id));
    HEARTH_TRY_ASSIGN(Statement stmt, Statement::prepare(*m_db, "UPDATE conversations SET active_leaf_id = ?1 WHERE id = ?2",
                                                          "switching branches"));
    stmt.bind(1, leaf).bind(2, chosen.conversationId);
    return stmt.run();
}

}  // namespace hearth
