#include "model/strict_json.h"

#include <string>
#include <unordered_set>
#include <vector>

namespace hearth {

namespace {

// nlohmann's messages quote the input near the error, and the input may be binary garbage;
// keys are valid UTF-8 (the parser checks) but may hold control characters.
std::string printable(std::string_view s, bool keepUtf8)
{
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        const bool ok = (u >= 0x20 && u < 0x7f) || (keepUtf8 && u >= 0x80);
        out += ok ? c : '?';
    }
    return out;
}

}  // namespace

Result<nlohmann::json> parseJsonRejectingDuplicates(std::string_view text)
{
    using Json = nlohmann::json;
    // One set of seen keys per open object (with the key that opened it, for the message); the
    // callback sees keys before the DOM drops the duplicates.
    struct OpenObject {
        std::string name;
        std::unordered_set<std::string> keys;
    };
    std::vector<OpenObject> openObjects;
    std::string lastKey;
    std::string duplicate;
    bool hasDuplicate = false;
    const Json::parser_callback_t onEvent = [&](int depth, Json::parse_event_t event, Json& parsed) {
        switch (event) {
        case Json::parse_event_t::object_start:
            openObjects.push_back({depth > 0 ? lastKey : std::string(), {}});
            break;
        case Json::parse_event_t::key:
            if (!parsed.is_string())
                break;
            lastKey = parsed.get_ref<const std::string&>();
            if (!openObjects.empty() && !openObjects.back().keys.insert(lastKey).second && !hasDuplicate) {
                hasDuplicate = true;
                duplicate = "duplicate key '" + printable(lastKey, true) + "'";
                if (!openObjects.back().name.empty())
                    duplicate += " inside '" + printable(openObjects.back().name, true) + "'";
            }
            break;
        case Json::parse_event_t::object_end:
            if (!openObjects.empty())
                openObjects.pop_back();
            break;
        default:
            break;
        }
        return true;
    };

    Json doc;
    try {
        doc = Json::parse(text.data(), text.data() + text.size(), onEvent, /*allow_exceptions=*/true,
                          /*ignore_comments=*/false);
    } catch (const Json::exception& e) {
        return makeError(ErrorCode::Corrupt, "not valid JSON: " + printable(e.what(), false));
    }
    if (hasDuplicate)
        return makeError(ErrorCode::Corrupt, duplicate);
    return doc;
}

}  // namespace hearth
