// Type-checked reads from tokenizer.json objects: every accessor turns a missing or mistyped
// field into an error value naming the item, so a malformed file can never throw or crash.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/regex.h"
#include "util/result.h"

namespace hearth::tok {

inline Result<std::string> requireString(const nlohmann::json& obj, const char* key, std::string_view what)
{
    if (obj.is_object()) {
        auto it = obj.find(key);
        if (it != obj.end() && it->is_string()) return it->get<std::string>();
    }
    return makeError(ErrorCode::Corrupt, std::string(what) + ": '" + key + "' is missing or not a string");
}

inline std::string optionalString(const nlohmann::json& obj, const char* key, std::string fallback)
{
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

inline bool optionalBool(const nlohmann::json& obj, const char* key, bool fallback)
{
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

inline long long optionalInt(const nlohmann::json& obj, const char* key, long long fallback)
{
    if (!obj.is_object()) return fallback;
    auto it = obj.find(key);
    return it != obj.end() && it->is_number_integer() ? it->get<long long>() : fallback;
}

inline const nlohmann::json* findArray(const nlohmann::json& obj, const char* key)
{
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it != obj.end() && it->is_array() ? &*it : nullptr;
}

inline const nlohmann::json* findObject(const nlohmann::json& obj, const char* key)
{
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it != obj.end() && it->is_object() ? &*it : nullptr;
}

// A tokenizer.json pattern: {"String": "literal"} or {"Regex": "..."}.
inline Result<std::unique_ptr<Regex>> parsePattern(const nlohmann::json& obj, std::string_view what)
{
    const nlohmann::json* pattern = findObject(obj, "pattern");
    if (pattern) {
        auto it = pattern->find("String");
        if (it != pattern->end() && it->is_string()) return Regex::literal(it->get<std::string>());
        it = pattern->find("Regex");
        if (it != pattern->end() && it->is_string()) return Regex::compile(it->get<std::string>());
    }
    return makeError(ErrorCode::Corrupt, std::string(what) + ": 'pattern' must be {\"String\": ...} or {\"Regex\": ...}");
}

}  // namespace hearth::tok
