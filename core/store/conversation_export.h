// A conversation as a file: versioned JSON that carries every message on every branch with the
// conversation's settings (format in docs/STORAGE.md) and imports back as a new conversation,
// and Markdown for reading and sharing (the active branch only).
#pragma once

#include <string>
#include <string_view>

#include "store/conversation_store.h"

namespace hearth {

inline constexpr const char* kConversationExportFormat = "hearth.conversation";
inline constexpr int kConversationExportVersion = 1;

// The whole conversation tree as pretty-printed JSON.
Result<std::string> exportConversationJson(ConversationStore& store, ConversationId id);
// Validates `json` and adds it as a new conversation; `sourceName` names the file in errors.
Result<ConversationId> importConversationJson(ConversationStore& store, std::string_view json,
                                              const std::string& sourceName);
// Title, model, system prompt and each turn of the active branch under a role heading; message
// text is kept verbatim (a code block left open by a cut-off reply is closed).
Result<std::string> exportConversationMarkdown(ConversationStore& store, ConversationId id);

}  // namespace hearth
