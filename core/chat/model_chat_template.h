// Which chat template a model renders with, found the way transformers and llama.cpp find it:
// tokenizer_config.json's chat_template, else chat_template.jinja beside it, else a GGUF's
// tokenizer.chat_template, else ChatML. Shared by `hearth-cli render-chat` and the server.
#pragma once

#include <optional>
#include <string>

#include "util/result.h"

namespace hearth {

class Tokenizer;

struct ModelChatTemplate {
    std::string source;               // the Jinja text
    std::string name;                 // where it came from, for error messages
    std::optional<std::string> bos;   // bos_token / eos_token as the template sees them
    std::optional<std::string> eos;
};

// The template for `model` (a folder, a file inside one, or a .gguf). `overridePath`, when not
// empty, names a template file that replaces the model's own. `withTools` picks the "tool_use"
// entry of a named-template list. `tokenizer` supplies BOS/EOS text for GGUF models (may be null).
Result<ModelChatTemplate> findModelChatTemplate(const std::string& model, const std::string& overridePath,
                                                bool withTools, const Tokenizer* tokenizer);

}  // namespace hearth
