// JSON forms of the per-conversation sampling settings and per-reply stats, shared by the
// database columns and the export format so the two cannot drift apart. Private to core/store.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "store/conversation_store.h"

namespace hearth::store_detail {

// Only the fields that are set appear; keys are snake_case (top_p, max_tokens, preset, ...).
nlohmann::json samplingToJson(const SamplingSettings& sampling);
// `where` names the source in errors ("conversation 3", "export.json: conversation").
Result<SamplingSettings> samplingFromJson(const nlohmann::json& json, const std::string& where);

nlohmann::json statsToJson(const ReplyStats& stats);
Result<ReplyStats> statsFromJson(const nlohmann::json& json, const std::string& where);

// Parses text stored in a JSON column; an empty string reads as an empty object.
Result<nlohmann::json> parseJsonColumn(const std::string& text, const std::string& where);

// Checks that tool calls are empty or a JSON array.
Status checkToolCallsJson(std::string_view text, const std::string& where);

}  // namespace hearth::store_detail
