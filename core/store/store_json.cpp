#include "store/store_json.h"

namespace hearth::store_detail {

namespace {

using nlohmann::json;

template <typename T>
void putIfSet(json& out, const char* key, const std::optional<T>& value)
{
    if (value)
        out[key] = *value;
}

Error badField(const std::string& where, const char* key, const char* expected)
{
    return makeError(ErrorCode::Corrupt, where + ": '" + key + "' must be " + expected);
}

Status readDouble(const json& in, const char* key, std::optional<double>& out, const std::string& where)
{
    const auto it = in.find(key);
    if (it == in.end() || it->is_null())
        return Status::ok();
    if (!it->is_number())
        return badField(where, key, "a number");
    out = it->get<double>();
    return Status::ok();
}

Status readInt(const json& in, const char* key, std::optional<std::int64_t>& out, const std::string& where)
{
    const auto it = in.find(key);
    if (it == in.end() || it->is_null())
        return Status::ok();
    if (!it->is_number_integer())
        return badField(where, key, "an integer");
    out = it->get<std::int64_t>();
    return Status::ok();
}

}  // namespace

json samplingToJson(const SamplingSettings& s)
{
    json out = json::object();
    putIfSet(out, "temperature", s.temperature);
    putIfSet(out, "top_p", s.topP);
    putIfSet(out, "top_k", s.topK);
    putIfSet(out, "min_p", s.minP);
    putIfSet(out, "max_tokens", s.maxTokens);
    putIfSet(out, "seed", s.seed);
    putIfSet(out, "repetition_penalty", s.repetitionPenalty);
    if (!s.presetName.empty())
        out["preset"] = s.presetName;
    return out;
}

Result<SamplingSettings> samplingFromJson(const json& in, const std::string& where)
{
    if (!in.is_object())
        return makeError(ErrorCode::Corrupt, where + ": sampling settings must be a JSON object");
    SamplingSettings s;
    HEARTH_TRY_STATUS(readDouble(in, "temperature", s.temperature, where));
    HEARTH_TRY_STATUS(readDouble(in, "top_p", s.topP, where));
    HEARTH_TRY_STATUS(readInt(in, "top_k", s.topK, where));
    HEARTH_TRY_STATUS(readDouble(in, "min_p", s.minP, where));
    HEARTH_TRY_STATUS(readInt(in, "max_tokens", s.maxTokens, where));
    HEARTH_TRY_STATUS(readInt(in, "seed", s.seed, where));
    HEARTH_TRY_STATUS(readDouble(in, "repetition_penalty", s.repetitionPenalty, where));
    if (const auto it = in.find("preset"); it != in.end() && !it->is_null()) {
        if (!it->is_string())
            return badField(where, "preset", "a string");
        s.presetName = it->get<std::string>();
    }
    return s;
}

json statsToJson(const ReplyStats& s)
{
    json out = json::object();
    putIfSet(out, "prompt_tokens", s.promptTokens);
    putIfSet(out, "cached_tokens", s.cachedTokens);
    putIfSet(out, "generated_tokens", s.generatedTokens);
    putIfSet(out, "ttft_ms", s.ttftMs);
    putIfSet(out, "tokens_per_s", s.tokensPerS);
    return out;
}

Result<ReplyStats> statsFromJson(const json& in, const std::string& where)
{
    if (!in.is_object())
        return makeError(ErrorCode::Corrupt, where + ": reply stats must be a JSON object");
    ReplyStats s;
    HEARTH_TRY_STATUS(readInt(in, "prompt_tokens", s.promptTokens, where));
    HEARTH_TRY_STATUS(readInt(in, "cached_tokens", s.cachedTokens, where));
    HEARTH_TRY_STATUS(readInt(in, "generated_tokens", s.generatedTokens, where));
    HEARTH_TRY_STATUS(readDouble(in, "ttft_ms", s.ttftMs, where));
    HEARTH_TRY_STATUS(readDouble(in, "tokens_per_s", s.tokensPerS, where));
    return s;
}

Result<json> parseJsonColumn(const std::string& text, const std::string& where)
{
    if (text.empty())
        return json::object();
    json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded())
        return makeError(ErrorCode::Corrupt, where + ": stored JSON is malformed");
    return parsed;
}

Status checkToolCallsJson(std::string_view text, const std::string& where)
{
    if (text.empty())
        return Status::ok();
    const json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_array())
        return makeError(ErrorCode::InvalidArgument, where + ": tool calls must be a JSON array");
    return Status::ok();
}

}  // namespace hearth::store_detail
