// Finding a model's chat template (moved here from the render-chat command so the server uses
// exactly the same choice).
#include "chat/model_chat_template.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "model/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/mapped_file.h"

namespace hearth {

namespace {

namespace fs = std::filesystem;

bool isGguf(const std::string& path) { return fs::path(path).extension() == ".gguf"; }

// The folder whose tokenizer_config.json belongs to MODEL ("" for a GGUF).
std::string configFolder(const std::string& model)
{
    std::error_code ec;
    if (fs::is_directory(model, ec)) return model;
    if (isGguf(model)) return {};
    std::string parent = fs::path(model).parent_path().string();
    return parent.empty() ? "." : parent;
}

nlohmann::ordered_json readConfig(const std::string& folder)
{
    std::error_code ec;
    fs::path path = fs::path(folder) / "tokenizer_config.json";
    if (folder.empty() || !fs::is_regular_file(path, ec)) return nlohmann::ordered_json();
    auto text = readTextFile(path.string(), 16u << 20);
    if (!text) return nlohmann::ordered_json();
    nlohmann::ordered_json config = nlohmann::ordered_json::parse(*text, nullptr, false);
    return config.is_discarded() ? nlohmann::ordered_json() : config;
}

// tokenizer_config.json's "bos_token": "text" or {"content": "text"}; null and absent give nothing.
std::optional<std::string> configToken(const nlohmann::ordered_json& config, const char* key)
{
    if (!config.is_object()) return std::nullopt;
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
    return std::nullopt;
}

}  // namespace

Result<ModelChatTemplate> findModelChatTemplate(const std::string& model, const std::string& overridePath,
                                                bool withTools, const Tokenizer* tokenizer)
{
    ModelChatTemplate choice;
    std::error_code ec;
    if (isGguf(model)) {
        HEARTH_TRY_ASSIGN(GgufHeader header, readGgufHeader(model));
        if (const GgufValue* t = header.find("tokenizer.chat_template"); t && t->asString()) {
            choice.source = *t->asString();
            choice.name = model + " (tokenizer.chat_template)";
        }
        if (tokenizer) {
            if (auto bos = tokenizer->specialTokens().bos) choice.bos = tokenizer->tokenToPiece(*bos);
            if (auto eos = tokenizer->specialTokens().eos) choice.eos = tokenizer->tokenToPiece(*eos);
        }
    } else {
        std::string folder = configFolder(model);
        nlohmann::ordered_json config = readConfig(folder);
        choice.bos = configToken(config, "bos_token");
        choice.eos = configToken(config, "eos_token");
        if (config.is_object()) {
            auto fromConfig = templateFromTokenizerConfig(config, withTools);
            if (fromConfig) {
                choice.source = *fromConfig;
                choice.name = folder + "/tokenizer_config.json";
            }
        }
        fs::path jinja = fs::path(folder) / "chat_template.jinja";
        if (choice.source.empty() && fs::is_regular_file(jinja, ec)) {
            HEARTH_TRY_ASSIGN(choice.source, readTextFile(jinja.string(), ChatTemplate::kMaxSourceBytes));
            choice.name = jinja.string();
        }
    }
    if (!overridePath.empty()) {
        HEARTH_TRY_ASSIGN(choice.source, readTextFile(overridePath, ChatTemplate::kMaxSourceBytes));
        choice.name = overridePath;
    }
    if (choice.source.empty()) {
        choice.source = ChatTemplate::chatmlFallbackSource();
        choice.name = "ChatML fallback";
    }
    return choice;
}

}  // namespace hearth
