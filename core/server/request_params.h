// The request fields /v1/chat/completions and /v1/completions share, read and range-checked
// into an engine GenerateRequest. Unknown fields are ignored (strict rejection breaks Open WebUI);
// known fields with a wrong type or range give a 400 naming the field in `param`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampler.h"
#include "server/openai_errors.h"

namespace hearth::server {

struct CommonParams {
    std::string model;
    bool stream = false;
    bool includeUsage = false;           // stream_options.include_usage (ignored unless streaming)
    SamplingParams sampling;
    std::vector<std::string> stop;
    std::optional<std::string> lora;     // explicit adapter ("lora" or "adapter" field)
    std::optional<float> loraScale;
};

// The body as a JSON object (whatever Content-Type says); 400 for malformed JSON or a non-object.
std::optional<ApiError> parseBodyObject(const std::string& text, nlohmann::ordered_json& out);
std::optional<ApiError> parseCommonParams(const nlohmann::ordered_json& body, CommonParams& out);

// Typed readers for optional fields: absent or null leaves `out` untouched.
std::optional<ApiError> readBool(const nlohmann::ordered_json& body, const char* key, bool& out);
std::optional<ApiError> readInt(const nlohmann::ordered_json& body, const char* key, std::int64_t lo, std::int64_t hi,
                                std::optional<std::int64_t>& out);
std::optional<ApiError> readNumber(const nlohmann::ordered_json& body, const char* key, double lo, double hi,
                                   std::optional<double>& out);
// max_tokens-style limits: an integer >= 1 or null.
std::optional<ApiError> readMaxTokens(const nlohmann::ordered_json& body, const char* key,
                                      std::optional<std::int32_t>& out);
// OpenAI's wording for type errors: "Invalid type for 'x': expected a number, but got a string instead."
ApiError typeError(const std::string& key, const char* expected, const nlohmann::ordered_json& got);

}  // namespace hearth::server
