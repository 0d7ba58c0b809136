#include "chat/chat_template.h"

#include <ctime>
#include <new>

#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"

namespace hearth {

namespace {

std::string where(const std::string& name, const jinja::TemplateError& e)
{
    std::string s = "chat template '" + name + "'";
    if (e.line() > 0) {
        s += ", line " + std::to_string(e.line());
        if (e.column() > 0)
            s += ", column " + std::to_string(e.column());
    }
    return s;
}

std::tm systemLocalTime()
{
    const std::time_t now = std::time(nullptr);
    std::tm t{};
    localtime_r(&now, &t);
    return t;
}

const char* const kReasoningFields[] = {"reasoning_content", "thinking", "reasoning"};

}  // namespace

const char* ChatTemplate::chatmlFallbackSource()
{
    return "{%- for message in messages %}\n"
           "{{- '<|im_start|>' + message['role'] + '\\n' }}\n"
           "{%- if message['content'] is string %}{{ message['content'] }}"
           "{%- elif message['content'] is defined %}{{ message['content'] | tojson }}{%- endif %}\n"
           "{{- '<|im_end|>\\n' }}\n"
           "{%- endfor %}\n"
           "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}\n";
}

Result<ChatTemplate> ChatTemplate::parse(std::string source, std::string name)
{
    if (source.size() > kMaxSourceBytes)
        return makeError(ErrorCode::Unsupported, "chat template '" + name + "' is " + std::to_string(source.size()) +
                                                     " bytes; the limit is " + std::to_string(kMaxSourceBytes));
    ChatTemplate t;
    t.m_name = std::move(name);
    try {
        auto program = std::make_shared<jinja::Program>(jinja::parseTemplate(jinja::tokenize(source)));
        t.m_program = std::move(program);
    } catch (const jinja::TemplateError& e) {
        return makeError(ErrorCode::Corrupt, where(t.m_name, e) + ": syntax error: " + e.what());
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "chat template '" + t.m_name + "': out of memory while parsing");
    } catch (const std::exception& e) {
        return makeError(ErrorCode::Internal, "chat template '" + t.m_name + "': " + e.what());
    }
    t.m_source = std::move(source);
    t.m_clock = systemLocalTime;
    return t;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context) const
{
    if (!context.is_object())
        return makeError(ErrorCode::InvalidArgument, "chat template '" + m_name + "': the context must be a JSON object");
    try {
        auto vars = std::make_shared<jinja::Dict>();
        jinja::addGlobals(*vars);
        for (auto it = context.begin(); it != context.end(); ++it)
            vars->set(it.key(), jinja::Value::fromJson(it.value()));
        jinja::Interpreter interpreter(m_limits, m_clock ? m_clock : jinja::LocalClock(systemLocalTime));
        return interpreter.render(*m_program, vars);
    } catch (const jinja::TemplateError& e) {
        if (e.raisedByTemplate())
            return makeError(ErrorCode::InvalidArgument, where(m_name, e) + ": raise_exception: " + e.what());
        return makeError(ErrorCode::InvalidArgument, where(m_name, e) + ": " + e.what());
    } catch (const std::bad_alloc&) {
        return makeError(ErrorCode::OutOfMemory, "chat template '" + m_name + "': out of memory while rendering");
    } catch (const std::exception& e) {
        return makeError(ErrorCode::Internal, "chat template '" + m_name + "': " + e.what());
    }
}

Result<std::string> renderChat(const ChatTemplate& tmpl, const ChatRenderRequest& request)
{
    if (!request.messages.is_array())
        return makeError(ErrorCode::InvalidArgument, "chat messages must be a JSON array");
    if (request.messages.empty())
        return makeError(ErrorCode::InvalidArgument, "cannot apply a chat template to an empty conversation");
    if (!request.tools.is_null() && !request.tools.is_array())
        return makeError(ErrorCode::InvalidArgument, "chat tools must be a JSON array or null");
    if (!request.extraVariables.is_null() && !request.extraVariables.is_object())
        return makeError(ErrorCode::InvalidArgument, "extra template variables must be a JSON object");

    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (const auto& m : request.messages) {
        if (!m.is_object())
            return makeError(ErrorCode::InvalidArgument, "chat messages must be JSON objects, got " + m.dump());
        // transformers drops keys whose value is None before rendering.
        nlohmann::ordered_json cleaned = nlohmann::ordered_json::object();
        for (auto it = m.begin(); it != m.end(); ++it)
            if (!it.value().is_null())
                cleaned[it.key()] = it.value();
        // ... and copies the reasoning under the names templates read: {"thinking": r, **m, "reasoning_content": r}.
        const nlohmann::ordered_json* reasoning = nullptr;
        for (const char* field : kReasoningFields)
            if (!reasoning && cleaned.contains(field))
                reasoning = &cleaned[field];
        if (reasoning) {
            const nlohmann::ordered_json r = *reasoning;
            nlohmann::ordered_json aliased = nlohmann::ordered_json::object();
            aliased["thinking"] = r;
            for (auto it = cleaned.begin(); it != cleaned.end(); ++it)
                aliased[it.key()] = it.value();
            aliased["reasoning_content"] = r;
            cleaned = std::move(aliased);
        }
        messages.push_back(std::move(cleaned));
    }

    nlohmann::ordered_json context = nlohmann::ordered_json::object();
    if (request.bosToken)
        context["bos_token"] = *request.bosToken;
    if (request.eosToken)
        context["eos_token"] = *request.eosToken;
    if (request.extraVariables.is_object())
        for (auto it = request.extraVariables.begin(); it != request.extraVariables.end(); ++it)
            context[it.key()] = it.value();
    context["messages"] = std::move(messages);
    context["tools"] = request.tools;
    context["documents"] = nullptr;
    context["add_generation_prompt"] = request.addGenerationPrompt;
    return tmpl.render(context);
}

Result<std::string> templateFromTokenizerConfig(const nlohmann::ordered_json& config, bool withTools)
{
    if (!config.is_object() || !config.contains("chat_template") || config["chat_template"].is_null())
        return makeError(ErrorCode::NotFound, "tokenizer_config.json has no chat_template");
    const nlohmann::ordered_json& t = config["chat_template"];
    if (t.is_string())
        return t.get<std::string>();
    if (!t.is_array())
        return makeError(ErrorCode::Corrupt, "tokenizer_config.json: chat_template is neither a string nor a list");
    const std::string wanted = withTools ? "tool_use" : "default";
    const nlohmann::ordered_json* fallback = nullptr;
    for (const auto& entry : t) {
        if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") || !entry["name"].is_string() ||
            !entry["template"].is_string())
            return makeError(ErrorCode::Corrupt, "tokenizer_config.json: chat_template list entries need name and template");
        if (entry["name"] == wanted)
            return entry["template"].get<std::string>();
        if (entry["name"] == "default")
            fallback = &entry;
    }
    if (fallback)
        return (*fallback)["template"].get<std::string>();
    return makeError(ErrorCode::NotFound, "tokenizer_config.json: no '" + wanted + "' or 'default' chat template");
}

}  // namespace hearth
