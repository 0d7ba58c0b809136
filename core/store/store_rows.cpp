#include "store/store_rows.h"

#include "store/store_json.h"

namespace hearth::store_detail {

Result<ConversationInfo> readConversation(const Statement& row, const std::string& path)
{
    ConversationInfo info;
    info.id = row.columnInt(0);
    info.title = row.columnText(1);
    info.createdAtMs = row.columnInt(2);
    info.updatedAtMs = row.columnInt(3);
    info.modelPath = row.columnText(4);
    info.systemPrompt = row.columnText(5);
    const std::string where = path + ": conversation " + std::to_string(info.id) + " sampling settings";
    HEARTH_TRY_ASSIGN(const nlohmann::json sampling, parseJsonColumn(row.columnText(6), where));
    HEARTH_TRY_ASSIGN(info.sampling, samplingFromJson(sampling, where));
    info.pinned = row.columnInt(7) != 0;
    info.archived = row.columnInt(8) != 0;
    info.activeLeafId = row.columnOptionalInt(9);
    return info;
}

Result<Message> readMessage(const Statement& row, const std::string& path)
{
    Message m;
    m.id = row.columnInt(0);
    const std::string where = path + ": message " + std::to_string(m.id);
    m.conversationId = row.columnInt(1);
    m.parentId = row.columnOptionalInt(2);
    const auto role = parseMessageRole(row.columnText(3));
    const auto state = parseMessageState(row.columnText(8));
    if (!role || !state)
        return makeError(ErrorCode::Corrupt, where + ": unknown role or state");
    m.role = *role;
    m.content = row.columnText(4);
    m.reasoningContent = row.columnText(5);
    m.toolCallsJson = row.columnText(6);
    m.toolCallId = row.columnText(7);
    m.state = *state;
    m.errorMessage = row.columnText(9);
    HEARTH_TRY_ASSIGN(const nlohmann::json stats, parseJsonColumn(row.columnText(10), where + " stats"));
    HEARTH_TRY_ASSIGN(m.stats, statsFromJson(stats, where + " stats"));
    m.createdAtMs = row.columnInt(11);
    m.siblingIndex = static_cast<int>(row.columnInt(12));
    m.siblingCount = static_cast<int>(row.columnInt(13));
    return m;
}

Transaction::~Transaction()
{
    if (m_open)
        (void)m_db.exec("ROLLBACK", "rolling back");
}

Status Transaction::begin()
{
    HEARTH_TRY_STATUS(m_db.exec("BEGIN IMMEDIATE", "starting a transaction"));
    m_open = true;
    return Status::ok();
}

Status Transaction::commit()
{
    HEARTH_TRY_STATUS(m_db.exec("COMMIT", "committing"));
    m_open = false;
    return Status::ok();
}

std::string likeContainsPattern(std::string_view text)
{
    std::string out = "%";
    for (const char c : text) {
        if (c == '%' || c == '_' || c == '\\')
            out += '\\';
        out += c;
    }
    out += '%';
    return out;
}

std::string ftsPhrase(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::size_t codePointCount(std::string_view text)
{
    std::size_t n = 0;
    for (const char c : text) {
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80)
            ++n;
    }
    return n;
}

}  // namespace hearth::store_detail
