// POST /v1/chat/completions: validate the request, render the messages with the model's chat
// template, tokenize, and hand the generation to runGeneration.
#include <httplib.h>

#include <algorithm>
#include <ctime>

#include "chat/chat_template.h"
#include "server/generation.h"
#include "server/request_params.h"
#include "server/server_context.h"

namespace hearth::server {

namespace {

using OJson = nlohmann::ordered_json;

constexpr std::int32_t kDefaultMaxTokensUnknownContext = 4096;

// A message's content for the template: a string (text parts joined as vLLM does) or null.
std::optional<ApiError> convertContent(const OJson& content, const std::string& param, OJson& out)
{
    if (content.is_null() || content.is_string()) {
        out = content;
        return std::nullopt;
    }
    if (!content.is_array()) return typeError(param, "a string or an array of content parts", content);
    std::string text;
    bool first = true;
    for (const OJson& part : content) {
        if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
            return invalidRequest("Each content part needs a string 'type'", param);
        }
        const std::string& type = part["type"].get_ref<const std::string&>();
        if (type != "text") {
            return invalidRequest("Content part type '" + type + "' is not supported: this model accepts text only", param);
        }
        if (!part.contains("text") || !part["text"].is_string()) return invalidRequest("A text part needs a string 'text'", param);
        if (!first) text += "\n";
        text += part["text"].get<std::string>();
        first = false;
    }
    out = text;
    return std::nullopt;
}

std::optional<ApiError> convertMessages(const OJson& body, OJson& out)
{
    auto it = body.find("messages");
    if (it == body.end() || it->is_null()) return invalidRequest("'messages' is required", "messages");
    if (!it->is_array()) return typeError("messages", "an array", *it);
    if (it->empty()) return invalidRequest("'messages' must not be empty", "messages");
    static const char* kRoles[] = {"system", "developer", "user", "assistant", "tool"};
    out = OJson::array();
    for (std::size_t i = 0; i < it->size(); ++i) {
        const OJson& m = (*it)[i];
        std::string param = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) return typeError(param, "an object", m);
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) return invalidRequest(param + " needs a string 'role'", param + ".role");
        std::string r = role->get<std::string>();
        if (std::find(std::begin(kRoles), std::end(kRoles), r) == std::end(kRoles)) {
            return invalidRequest("Unknown role '" + r + "' in " + param + "; use system, developer, user, assistant or tool",
                                  param + ".role");
        }
        OJson message = OJson::object();
        for (auto field = m.begin(); field != m.end(); ++field) {
            if (field.key() == "role") {
                message["role"] = r == "developer" ? "system" : r;  // templates know only system
            } else if (field.key() == "content") {
                OJson content;
                if (auto e = convertContent(*field, param + ".content", content)) return e;
                message["content"] = content;
            } else if (field.key() == "tool_calls" && field->is_array()) {
                // Templates expect arguments as an object (transformers' convention); OpenAI
                // clients send a JSON string, which vLLM also decodes before rendering.
                OJson calls = *field;
                for (OJson& call : calls) {
                    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) continue;
                    OJson& fn = call["function"];
                    if (fn.contains("arguments") && fn["arguments"].is_string()) {
                        OJson parsed = OJson::parse(fn["arguments"].get<std::string>(), nullptr, false);
                        if (!parsed.is_discarded() && parsed.is_object()) fn["arguments"] = parsed;
                    }
                }
                message["tool_calls"] = calls;
            } else {
                message[field.key()] = *field;
            }
        }
        // Clients send null content with tool calls; templates (Qwen3) test `'x' in message.content`,
        // which fails on a missing value, so an absent text is the empty string.
        if (!message.contains("content") || message["content"].is_null()) message["content"] = "";
        out.push_back(std::move(message));
    }
    return std::nullopt;
}

// Tools for the template (null when none or tool_choice is "none").
std::optional<ApiError> convertTools(const OJson& body, OJson& out)
{
    out = nullptr;
    auto it = body.find("tools");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_array()) return typeError("tools", "an array", *it);
    for (std::size_t i = 0; i < it->size(); ++i) {
        const OJson& t = (*it)[i];
        std::string param = "tools[" + std::to_string(i) + "]";
        if (!t.is_object() || !t.contains("function") || !t["function"].is_object() || !t["function"].contains("name") ||
            !t["function"]["name"].is_string()) {
            return invalidRequest(param + " must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param);
        }
        if (t.contains("type") && t["type"] != "function") return invalidRequest(param + ".type must be \"function\"", param);
    }
    if (it->empty()) return std::nullopt;  // tools: [] is valid (Open WebUI sends it)
    OJson tools = *it;
    auto choice = body.find("tool_choice");
    if (choice != body.end() && !choice->is_null()) {
        if (choice->is_string()) {
            const std::string& c = choice->get_ref<const std::string&>();
            if (c == "none") return std::nullopt;
            if (c != "auto" && c != "required") return invalidRequest("tool_choice must be none, auto, required or a function", "tool_choice");
        } else if (choice->is_object() && choice->contains("function") && (*choice)["function"].is_object() &&
                   (*choice)["function"].contains("name") && (*choice)["function"]["name"].is_string()) {
            // Offer only the named tool: the template then steers the model to it.
            std::string name = (*choice)["function"]["name"].get<std::string>();
            OJson only = OJson::array();
            for (const OJson& t : tools) {
                if (t["function"]["name"] == name) only.push_back(t);
            }
            if (only.empty()) return invalidRequest("tool_choice names '" + name + "', which is not in tools", "tool_choice");
            tools = only;
        } else {
            return typeError("tool_choice", "a string or {\"type\": \"function\", \"function\": {\"name\": ...}}", *choice);
        }
    }
    out = tools;
    return std::nullopt;
}

// Strict templates reject a system message that is not first (llama.cpp #27367 answered 500).
// Folding every system message into one leading message keeps their text and renders.
OJson mergeSystemMessages(const OJson& messages)
{
    std::string system;
    OJson rest = OJson::array();
    for (const OJson& m : messages) {
        if (m["role"] == "system") {
            if (!system.empty()) system += "\n\n";
            if (m["content"].is_string()) system += m["content"].get<std::string>();
        } else {
            rest.push_back(m);
        }
    }
    OJson out = OJson::array();
    out.push_back(OJson{{"role", "system"}, {"content", system}});
    for (const OJson& m : rest) out.push_back(m);
    return out;
}

std::size_t countSystem(const OJson& messages)
{
    return std::count_if(messages.begin(), messages.end(), [](const OJson& m) { return m["role"] == "system"; });
}

}  // namespace

void handleChatCompletions(ServerContext& ctx, const httplib::Request& request, httplib::Response& response)
{
    OJson body;
    if (auto e = parseBodyObject(request.body, body)) return writeError(response, *e);
    CommonParams common;
    if (auto e = parseCommonParams(body, common)) return writeError(response, *e);
    std::optional<std::int32_t> maxTokens;
    if (auto e = readMaxTokens(body, "max_tokens", maxTokens)) return writeError(response, *e);
    if (auto e = readMaxTokens(body, "max_completion_tokens", maxTokens)) return writeError(response, *e);
    bool logprobs = false;
    if (auto e = readBool(body, "logprobs", logprobs)) return writeError(response, *e);
    std::optional<std::int64_t> topLogprobs;
    if (auto e = readInt(body, "top_logprobs", 0, 20, topLogprobs)) return writeError(response, *e);
    if (topLogprobs && !logprobs) return writeError(response, invalidRequest("top_logprobs needs logprobs: true", "top_logprobs"));

    ChatRenderRequest render;
    if (auto e = convertMessages(body, render.messages)) return writeError(response, *e);
    if (auto e = convertTools(body, render.tools)) return writeError(response, *e);
    render.addGenerationPrompt = true;
    if (auto e = readBool(body, "add_generation_prompt", render.addGenerationPrompt)) return writeError(response, *e);
    if (auto kw = body.find("chat_template_kwargs"); kw != body.end() && !kw->is_null()) {
        if (!kw->is_object()) return writeError(response, typeError("chat_template_kwargs", "an object", *kw));
        render.extraVariables = *kw;
    }

    auto target = resolveTarget(ctx, common);
    if (!target) return writeError(response, target.error());
    if (auto e = ctx.checkReady()) return writeError(response, *e);
    auto tokenizer = ctx.engine().tokenizer();
    auto info = ctx.engine().modelInfo();
    if (!tokenizer || !info) return writeError(response, modelNotLoaded("No model is loaded"));

    bool withTools = render.tools.is_array();
    auto tmpl = ctx.chatTemplate(info->path, withTools);
    if (!tmpl) return writeError(response, internalError(tmpl.error().toString()));
    render.bosToken = tmpl->bos;
    render.eosToken = tmpl->eos;
    auto prompt = renderChat(*tmpl->tmpl, render);
    if (!prompt && countSystem(render.messages) > 0) {
        render.messages = mergeSystemMessages(render.messages);
        prompt = renderChat(*tmpl->tmpl, render);
    }
    if (!prompt) return writeError(response, invalidRequest("The chat template refused the messages: " + prompt.error().message, "messages"));

    GenerateRequest generate;
    generate.promptIds = tokenizer->encode(*prompt, {.parseSpecial = true, .addSpecialTokens = false});
    std::int64_t contextLength = info->contextLength;
    std::int64_t promptTokens = static_cast<std::int64_t>(generate.promptIds.size());
    if (contextLength > 0 && promptTokens >= contextLength) {
        return writeError(response, contextLengthExceeded(generate.promptIds.size(), contextLength));
    }
    std::int64_t room = contextLength > 0 ? contextLength - promptTokens : kDefaultMaxTokensUnknownContext;
    generate.maxTokens = static_cast<std::int32_t>(std::min<std::int64_t>(maxTokens.value_or(room), room));
    generate.sampling = common.sampling;
    generate.sampling.topLogprobs = logprobs ? static_cast<std::int32_t>(topLogprobs.value_or(0)) : 0;
    generate.stopStrings = common.stop;
    generate.adapter = target->adapter;
    generate.adapterScale = target->adapterScale;

    ReplySpec spec;
    spec.kind = ReplyKind::Chat;
    spec.id = randomId("chatcmpl-");
    spec.createdS = static_cast<std::int64_t>(std::time(nullptr));
    spec.model = target->id;
    spec.fingerprint = ctx.fingerprint();
    spec.stream = common.stream;
    spec.includeUsage = common.stream && common.includeUsage;
    spec.logprobs = logprobs;
    spec.topLogprobs = generate.sampling.topLogprobs;
    spec.parseTools = withTools;
    spec.toolFormat = toolCallFormatForTemplate(tmpl->source);
    spec.promptTokens = promptTokens;
    spec.tokenizer = tokenizer;
    runGeneration(ctx, std::move(spec), std::move(generate), request, response);
}

}  // namespace hearth::server
