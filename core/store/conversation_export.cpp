#include "store/conversation_export.h"

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "store/store_json.h"

namespace hearth {

using nlohmann::json;

namespace {

Error invalid(const std::string& where, const std::string& what)
{
    return makeError(ErrorCode::InvalidArgument, where + ": " + what);
}

// Reads an optional field of the expected JSON type into `out`; absent or null keeps `out`.
template <typename T>
Status readField(const json& object, const char* key, T& out, const std::string& where)
{
    const auto it = object.find(key);
    if (it == object.end() || it->is_null())
        return Status::ok();
    bool ok = false;
    if constexpr (std::is_same_v<T, std::string>)
        ok = it->is_string();
    else if constexpr (std::is_same_v<T, bool>)
        ok = it->is_boolean();
    else
        ok = it->is_number_integer();
    if (!ok)
        return invalid(where + "." + key, "has the wrong type");
    out = it->get<T>();
    return Status::ok();
}

json messageToJson(const Message& m, const std::map<MessageId, std::int64_t>& exportIds)
{
    json out = json::object();
    out["id"] = exportIds.at(m.id);
    out["parent"] = m.parentId ? json(exportIds.at(*m.parentId)) : json(nullptr);
    out["role"] = messageRoleName(m.role);
    out["content"] = m.content;
    out["reasoning_content"] = m.reasoningContent;
    out["tool_calls"] = m.toolCallsJson.empty() ? json(nullptr) : json::parse(m.toolCallsJson, nullptr, false);
    out["tool_call_id"] = m.toolCallId;
    out["state"] = messageStateName(m.state);
    out["error"] = m.errorMessage;
    out["stats"] = store_detail::statsToJson(m.stats);
    out["created_at_ms"] = m.createdAtMs;
    return out;
}

Result<ConversationStore::ImportedMessage> messageFromJson(const json& in, const std::string& where,
                                                           const std::map<std::int64_t, std::size_t>& seenIds)
{
    if (!in.is_object())
        return invalid(where, "must be an object");
    ConversationStore::ImportedMessage out;
    std::string role;
    std::string state = "complete";
    HEARTH_TRY_STATUS(readField(in, "role", role, where));
    HEARTH_TRY_STATUS(readField(in, "state", state, where));
    const auto parsedRole = parseMessageRole(role);
    if (!parsedRole)
        return invalid(where + ".role", "must be one of system, user, assistant, tool");
    const auto parsedState = parseMessageState(state);
    if (!parsedState)
        return invalid(where + ".state", "must be one of complete, streaming, waiting, error, cancelled, interrupted");
    out.message.role = *parsedRole;
    out.message.state = *parsedState;
    HEARTH_TRY_STATUS(readField(in, "content", out.message.content, where));
    HEARTH_TRY_STATUS(readField(in, "reasoning_content", out.message.reasoningContent, where));
    HEARTH_TRY_STATUS(readField(in, "tool_call_id", out.message.toolCallId, where));
    HEARTH_TRY_STATUS(readField(in, "error", out.errorMessage, where));
    HEARTH_TRY_STATUS(readField(in, "created_at_ms", out.createdAtMs, where));
    if (const auto it = in.find("tool_calls"); it != in.end() && !it->is_null()) {
        if (!it->is_array())
            return invalid(where + ".tool_calls", "must be an array");
        out.message.toolCallsJson = it->dump();
    }
    if (const auto it = in.find("stats"); it != in.end() && !it->is_null()) {
        auto stats = store_detail::statsFromJson(*it, where + ".stats");
        if (!stats)
            return invalid(where + ".stats", stats.error().message);
        out.message.stats = stats.value();
    }
    if (const auto it = in.find("parent"); it != in.end() && !it->is_null()) {
        if (!it->is_number_integer())
            return invalid(where + ".parent", "must be an integer id or null");
        const auto parent = seenIds.find(it->get<std::int64_t>());
        if (parent == seenIds.end())
            return invalid(where + ".parent", "must name a message listed before this one");
        out.parentIndex = parent->second;
    }
    return out;
}

// Tracks fenced code blocks (``` or ~~~, CommonMark rules simplified) line by line, so an
// export can close a block a cut-off reply left open instead of swallowing the next turns.
std::string openFenceAtEnd(std::string_view text)
{
    std::string open;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos)
            end = text.size();
        std::string_view line = text.substr(start, end - start);
        std::size_t indent = 0;
        while (indent < line.size() && indent < 4 && line[indent] == ' ')
            ++indent;
        if (indent < 4 && indent < line.size() && (line[indent] == '`' || line[indent] == '~')) {
            const char fenceChar = line[indent];
            std::size_t run = 0;
            while (indent + run < line.size() && line[indent + run] == fenceChar)
                ++run;
            const std::string_view rest = line.substr(indent + run);
            if (run >= 3) {
                if (open.empty())
                    open.assign(run, fenceChar);
                else if (fenceChar == open[0] && run >= open.size() &&
                         rest.find_first_not_of(" \t\r") == std::string_view::npos)
                    open.clear();
            }
        }
        start = end + 1;
    }
    return open;
}

void appendBlock(std::string& out, std::string_view text)
{
    out += text;
    if (!text.empty() && text.back() != '\n')
        out += '\n';
    const std::string fence = openFenceAtEnd(text);
    if (!fence.empty())
        out += fence + "\n";
    out += '\n';
}

std::string utcDate(std::int64_t epochMs)
{
    const std::time_t seconds = static_cast<std::time_t>(epochMs / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

const char* roleHeading(MessageRole role)
{
    switch (role) {
    case MessageRole::System: return "System";
    case MessageRole::User: return "User";
    case MessageRole::Assistant: return "Assistant";
    case MessageRole::Tool: return "Tool";
    }
    return "User";
}

std::string stateNote(const Message& m)
{
    switch (m.state) {
    case MessageState::Complete: return {};
    case MessageState::Streaming: return "_(still being written)_";
    case MessageState::Waiting: return "_(waiting to be sent)_";
    case MessageState::Error: return "_(error: " + m.errorMessage + ")_";
    case MessageState::Cancelled: return "_(stopped)_";
    case MessageState::Interrupted: return "_(cut off: Hearth closed while this reply was written)_";
    }
    return {};
}

}  // namespace

Result<std::string> exportConversationJson(ConversationStore& store, ConversationId id)
{
    HEARTH_TRY_ASSIGN(const ConversationInfo info, store.conversationInfo(id));
    HEARTH_TRY_ASSIGN(const std::vector<Message> messages, store.allMessages(id));
    // Export ids are 1..n in creation order, so files do not leak database ids and parents
    // always come before their children.
    std::map<MessageId, std::int64_t> exportIds;
    for (const Message& m : messages)
        exportIds.emplace(m.id, static_cast<std::int64_t>(exportIds.size()) + 1);

    json doc = json::object();
    doc["format"] = kConversationExportFormat;
    doc["version"] = kConversationExportVersion;
    json conv = json::object();
    conv["title"] = info.title;
    conv["created_at_ms"] = info.createdAtMs;
    conv["updated_at_ms"] = info.updatedAtMs;
    conv["model_path"] = info.modelPath;
    conv["system_prompt"] = info.systemPrompt;
    conv["sampling"] = store_detail::samplingToJson(info.sampling);
    conv["pinned"] = info.pinned;
    conv["archived"] = info.archived;
    doc["conversation"] = conv;
    json list = json::array();
    for (const Message& m : messages)
        list.push_back(messageToJson(m, exportIds));
    doc["messages"] = list;
    doc["active_message"] = info.activeLeafId ? json(exportIds.at(*info.activeLeafId)) : json(nullptr);
    return doc.dump(2) + "\n";
}

Result<ConversationId> importConversationJson(ConversationStore& store, std::string_view text,
                                              const std::string& sourceName)
{
    const json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded())
        return invalid(sourceName, "not valid JSON");
    if (!doc.is_object() || doc.value("format", json()) != kConversationExportFormat)
        return invalid(sourceName, std::string("not a Hearth conversation export (\"format\" must be \"") +
                                       kConversationExportFormat + "\")");
    const json version = doc.value("version", json());
    if (!version.is_number_integer() || version.get<std::int64_t>() < 1)
        return invalid(sourceName, "\"version\" must be a positive integer");
    if (version.get<std::int64_t>() > kConversationExportVersion)
        return makeError(ErrorCode::Unsupported, sourceName + ": export format version " + version.dump() +
                                                     " comes from a newer Hearth; this build reads up to version " +
                                                     std::to_string(kConversationExportVersion));
    const auto convIt = doc.find("conversation");
    if (convIt == doc.end() || !convIt->is_object())
        return invalid(sourceName, "\"conversation\" must be an object");
    const std::string where = sourceName + ": conversation";
    ConversationInfo info;
    HEARTH_TRY_STATUS(readField(*convIt, "title", info.title, where));
    HEARTH_TRY_STATUS(readField(*convIt, "created_at_ms", info.createdAtMs, where));
    HEARTH_TRY_STATUS(readField(*convIt, "updated_at_ms", info.updatedAtMs, where));
    HEARTH_TRY_STATUS(readField(*convIt, "model_path", info.modelPath, where));
    HEARTH_TRY_STATUS(readField(*convIt, "system_prompt", info.systemPrompt, where));
    HEARTH_TRY_STATUS(readField(*convIt, "pinned", info.pinned, where));
    HEARTH_TRY_STATUS(readField(*convIt, "archived", info.archived, where));
    if (const auto it = convIt->find("sampling"); it != convIt->end() && !it->is_null()) {
        auto sampling = store_detail::samplingFromJson(*it, where + ".sampling");
        if (!sampling)
            return invalid(where + ".sampling", sampling.error().message);
        info.sampling = sampling.value();
    }

    const auto listIt = doc.find("messages");
    if (listIt == doc.end() || !listIt->is_array())
        return invalid(sourceName, "\"messages\" must be an array");
    std::vector<ConversationStore::ImportedMessage> messages;
    std::map<std::int64_t, std::size_t> seenIds;
    for (std::size_t i = 0; i < listIt->size(); ++i) {
        const json& m = (*listIt)[i];
        const std::string mWhere = sourceName + ": messages[" + std::to_string(i) + "]";
        const auto idIt = m.is_object() ? m.find("id") : m.end();
        if (!m.is_object() || idIt == m.end() || !idIt->is_number_integer())
            return invalid(mWhere, "must be an object with an integer \"id\"");
        HEARTH_TRY_ASSIGN(ConversationStore::ImportedMessage imported, messageFromJson(m, mWhere, seenIds));
        if (!seenIds.emplace(idIt->get<std::int64_t>(), i).second)
            return invalid(mWhere + ".id", "repeats an earlier message's id");
        messages.push_back(std::move(imported));
    }
    std::optional<std::size_t> activeIndex;
    if (const auto it = doc.find("active_message"); it != doc.end() && !it->is_null()) {
        const auto found = it->is_number_integer() ? seenIds.find(it->get<std::int64_t>()) : seenIds.end();
        if (found == seenIds.end())
            return invalid(sourceName + ": active_message", "must be the id of a listed message or null");
        activeIndex = found->second;
    }
    return store.importConversation(info, messages, activeIndex);
}

Result<std::string> exportConversationMarkdown(ConversationStore& store, ConversationId id)
{
    HEARTH_TRY_ASSIGN(const Conversation c, store.conversation(id));
    std::string title = c.info.title;
    for (char& ch : title)
        if (ch == '\n' || ch == '\r')
            ch = ' ';
    std::string out = "# " + title + "\n\n";
    if (!c.info.modelPath.empty())
        out += "- Model: `" + c.info.modelPath + "`\n";
    out += "- Created: " + utcDate(c.info.createdAtMs) + "\n\n";
    if (!c.info.systemPrompt.empty()) {
        out += "## System\n\n";
        appendBlock(out, c.info.systemPrompt);
    }
    for (const Message& m : c.messages) {
        out += std::string("## ") + roleHeading(m.role);
        if (!m.toolCallId.empty())
            out += " (`" + m.toolCallId + "`)";
        out += "\n\n";
        if (!m.reasoningContent.empty()) {
            out += "<details>\n<summary>Reasoning</summary>\n\n";
            appendBlock(out, m.reasoningContent);
            out += "</details>\n\n";
        }
        if (!m.content.empty())
            appendBlock(out, m.content);
        if (!m.toolCallsJson.empty()) {
            const json calls = json::parse(m.toolCallsJson, nullptr, false);
            out += "**Tool calls**\n\n```json\n" + (calls.is_discarded() ? m.toolCallsJson : calls.dump(2)) + "\n```\n\n";
        }
        if (const std::string note = stateNote(m); !note.empty())
            out += note + "\n\n";
    }
    // One trailing newline, not a blank line.
    while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n')
        out.pop_back();
    return out;
}

}  // namespace hearth
