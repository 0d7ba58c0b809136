#include "tokenizer/post_processor.h"

#include <nlohmann/json.hpp>

#include "tokenizer/json_access.h"

namespace hearth::tok {

namespace {

Result<TokenId> idOfPair(const nlohmann::json& spec, const char* key, const std::string& what)
{
    auto it = spec.find(key);
    if (it == spec.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
        return makeError(ErrorCode::Corrupt, what + ": '" + key + "' must be [token, id]");
    return static_cast<TokenId>((*it)[1].get<long long>());
}

}  // namespace

void PostProcessor::apply(std::vector<TokenId>& ids) const
{
    ids.insert(ids.begin(), m_prefix.begin(), m_prefix.end());
    ids.insert(ids.end(), m_suffix.begin(), m_suffix.end());
}

Result<PostProcessor> PostProcessor::fromJson(const nlohmann::json& spec, int depth)
{
    PostProcessor p;
    if (spec.is_null()) return p;
    if (depth > 16) return makeError(ErrorCode::Corrupt, "post_processor: Sequence nested too deeply");
    HEARTH_TRY_ASSIGN(std::string type, requireString(spec, "type", "post_processor"));
    if (type == "ByteLevel") return p;  // only adjusts offsets
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        HEARTH_TRY_ASSIGN(TokenId cls, idOfPair(spec, "cls", type));
        HEARTH_TRY_ASSIGN(TokenId sep, idOfPair(spec, "sep", type));
        p.m_prefix = {cls};
        p.m_suffix = {sep};
        return p;
    }
    if (type == "TemplateProcessing") {
        const nlohmann::json* single = findArray(spec, "single");
        const nlohmann::json* specials = findObject(spec, "special_tokens");
        if (!single) return makeError(ErrorCode::Corrupt, "TemplateProcessing: 'single' is missing");
        bool seenSequence = false;
        for (const auto& item : *single) {
            if (const nlohmann::json* seq = findObject(item, "Sequence")) {
                (void)seq;
                seenSequence = true;
                continue;
            }
            const nlohmann::json* special = findObject(item, "SpecialToken");
            if (!special) return makeError(ErrorCode::Corrupt, "TemplateProcessing: an item is neither Sequence nor SpecialToken");
            HEARTH_TRY_ASSIGN(std::string name, requireString(*special, "id", "TemplateProcessing SpecialToken"));
            const nlohmann::json* entry = specials ? findObject(*specials, name.c_str()) : nullptr;
            const nlohmann::json* entryIds = entry ? findArray(*entry, "ids") : nullptr;
            if (!entryIds) return makeError(ErrorCode::Corrupt, "TemplateProcessing: special token '" + name + "' has no ids");
            for (const auto& id : *entryIds) {
                if (!id.is_number_integer()) return makeError(ErrorCode::Corrupt, "TemplateProcessing: an id of '" + name + "' is not an integer");
                (seenSequence ? p.m_suffix : p.m_prefix).push_back(static_cast<TokenId>(id.get<long long>()));
            }
        }
        return p;
    }
    if (type == "Sequence") {
        const nlohmann::json* list = findArray(spec, "processors");
        if (!list) return makeError(ErrorCode::Corrupt, "post_processor Sequence has no 'processors' list");
        for (const auto& item : *list) {
            HEARTH_TRY_ASSIGN(PostProcessor step, fromJson(item, depth + 1));
            p.m_prefix.insert(p.m_prefix.begin(), step.m_prefix.begin(), step.m_prefix.end());
            p.m_suffix.insert(p.m_suffix.end(), step.m_suffix.begin(), step.m_suffix.end());
        }
        return p;
    }
    return makeError(ErrorCode::Unsupported, "post_processor type '" + type + "' is not supported");
}

}  // namespace hearth::tok
