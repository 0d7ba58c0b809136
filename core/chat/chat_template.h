// Chat templates: a sandboxed Jinja-subset engine that renders a model's chat_template the way
// Hugging Face transformers' apply_chat_template(tokenize=False) does (jinja2 with trim_blocks
// and lstrip_blocks, raise_exception, strftime_now, tojson with indent, namespace()).
//
// Which template a model uses is the caller's choice, so a per-model override is just a
// different source string: pass the user's override if set, else the model's template
// (tokenizer_config.json's chat_template, see templateFromTokenizerConfig, or a GGUF's
// tokenizer.chat_template), else chatmlFallbackSource().
//
// The sandbox: templates cannot reach files, the environment or Python objects; loops, work,
// nesting and output are bounded (RenderLimits), and every failure comes back as an Error that
// names the template and line, never as a crash or hang.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_interpreter.h"
#include "util/result.h"

namespace hearth {

namespace jinja {
struct Program;
}

class ChatTemplate {
public:
    static constexpr size_t kMaxSourceBytes = 1u << 20;

    // Parses `source`; `name` appears in error messages ("chat template 'qwen3', line 4: ...").
    static Result<ChatTemplate> parse(std::string source, std::string name = "chat_template");
    // The ChatML template used when a model ships none (Qwen style <|im_start|>role ... <|im_end|>).
    static const char* chatmlFallbackSource();

    // Renders with `context` (a JSON object) as the template's variables.
    Result<std::string> render(const nlohmann::ordered_json& context) const;

    void setLimits(const jinja::RenderLimits& limits) { m_limits = limits; }
    // Replaces the clock behind strftime_now() (tests pin the date).
    void setClock(jinja::LocalClock clock) { m_clock = std::move(clock); }

    const std::string& name() const { return m_name; }
    const std::string& source() const { return m_source; }

private:
    ChatTemplate() = default;

    std::string m_name;
    std::string m_source;
    std::shared_ptr<const jinja::Program> m_program;
    jinja::RenderLimits m_limits;
    jinja::LocalClock m_clock;
};

struct ChatRenderRequest {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();  // [{role, content, tool_calls?, ...}]
    nlohmann::ordered_json tools;                                // null, or an array of JSON schemas
    bool addGenerationPrompt = false;
    std::optional<std::string> bosToken;                 // unset: the variable is undefined, as in HF
    std::optional<std::string> eosToken;
    nlohmann::ordered_json extraVariables = nlohmann::ordered_json::object();  // e.g. enable_thinking, date_string
};

// apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False, **extra):
// drops None-valued message keys, aliases reasoning fields (reasoning_content / thinking /
// reasoning) as transformers does, and passes documents=None.
Result<std::string> renderChat(const ChatTemplate& tmpl, const ChatRenderRequest& request);

// The template text in a tokenizer_config.json: a string, or a list of {name, template} where
// "tool_use" is picked when tools are given and "default" otherwise. NotFound when absent.
Result<std::string> templateFromTokenizerConfig(const nlohmann::ordered_json& config, bool withTools);

}  // namespace hearth
