// Chunk shapes follow ../shared/API-COMPAT.md A.3/A.4: id, created, model and fingerprint are
// the same in every chunk, tool calls carry index always and name only in a call's first delta.
#include "server/reply_builder.h"

#include <cmath>

namespace hearth::server {

namespace {

using OJson = nlohmann::ordered_json;

// JSON has no -inf; OpenAI reports impossible tokens as -9999.
double finiteLogprob(float logprob)
{
    return std::isfinite(logprob) ? double(logprob) : -9999.0;
}

OJson byteList(const std::string& text)
{
    OJson bytes = OJson::array();
    for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
    return bytes;
}

}  // namespace

ReplyBuilder::ReplyBuilder(ReplySpec spec) : m_spec(std::move(spec))
{
    if (m_spec.parseTools && m_spec.stream) m_parser.emplace(ToolCallOptions{m_spec.toolFormat, 0});
    if (m_spec.kind == ReplyKind::Chat) {
        m_allLogprobs = OJson::array();
    } else {
        m_allLogprobs = OJson{{"tokens", OJson::array()},
                              {"token_logprobs", OJson::array()},
                              {"top_logprobs", OJson::array()},
                              {"text_offset", OJson::array()}};
    }
    m_textOffset = m_spec.echoText.size();
}

std::string ReplyBuilder::tokenText(TokenId id) const
{
    return m_spec.tokenizer ? m_spec.tokenizer->tokenBytes(id, false) : std::string();
}

OJson ReplyBuilder::chunk(OJson choice) const
{
    OJson out;
    out["id"] = m_spec.id;
    out["object"] = m_spec.kind == ReplyKind::Chat ? "chat.completion.chunk" : "text_completion";
    out["created"] = m_spec.createdS;
    out["model"] = m_spec.model;
    out["system_fingerprint"] = m_spec.fingerprint;
    out["choices"] = choice.is_null() ? OJson::array() : OJson::array({std::move(choice)});
    out["usage"] = nullptr;
    return out;
}

std::vector<OJson> ReplyBuilder::startChunks()
{
    std::vector<OJson> out;
    if (m_spec.kind == ReplyKind::Chat) {
        out.push_back(chunk(OJson{{"index", 0},
                                  {"delta", {{"role", "assistant"}, {"content", ""}}},
                                  {"logprobs", nullptr},
                                  {"finish_reason", nullptr}}));
    } else if (!m_spec.echoText.empty()) {
        out.push_back(chunk(OJson{{"index", 0}, {"text", m_spec.echoText}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
    }
    return out;
}

OJson ReplyBuilder::chatLogprob(const TokenEvent& token) const
{
    std::string text = tokenText(token.token);
    OJson top = OJson::array();
    for (std::size_t i = 0; i < token.topLogprobs.size() && int(i) < m_spec.topLogprobs; ++i) {
        std::string alt = tokenText(token.topLogprobs[i].token);
        top.push_back(OJson{{"token", alt}, {"logprob", finiteLogprob(token.topLogprobs[i].logprob)}, {"bytes", byteList(alt)}});
    }
    return OJson{{"token", text}, {"logprob", finiteLogprob(token.logprob)}, {"bytes", byteList(text)}, {"top_logprobs", top}};
}

void ReplyBuilder::appendTextLogprobs(const TokenEvent& token, OJson& into, std::size_t textOffset) const
{
    into["tokens"].push_back(tokenText(token.token));
    into["token_logprobs"].push_back(finiteLogprob(token.logprob));
    OJson top = OJson::object();
    for (std::size_t i = 0; i < token.topLogprobs.size() && int(i) < m_spec.topLogprobs; ++i) {
        top[tokenText(token.topLogprobs[i].token)] = finiteLogprob(token.topLogprobs[i].logprob);
    }
    into["top_logprobs"].push_back(top);
    into["text_offset"].push_back(textOffset);
}

OJson ReplyBuilder::takePendingLogprobs()
{
    if (!m_spec.logprobs) return nullptr;
    OJson out;
    if (m_spec.kind == ReplyKind::Chat) {
        OJson content = OJson::array();
        for (const TokenEvent& t : m_pendingLogprobs) content.push_back(chatLogprob(t));
        out = OJson{{"content", content}, {"refusal", nullptr}};
    } else {
        out = OJson{{"tokens", OJson::array()}, {"token_logprobs", OJson::array()}, {"top_logprobs", OJson::array()},
                    {"text_offset", OJson::array()}};
        for (const TokenEvent& t : m_pendingLogprobs) {
            appendTextLogprobs(t, out, m_textOffset);
            m_textOffset += t.textDelta.size();
        }
    }
    m_pendingLogprobs.clear();
    return out;
}

OJson ReplyBuilder::contentChunk(const ReplyDelta& delta, const OJson& logprobs) const
{
    if (m_spec.kind == ReplyKind::Text) {
        return chunk(OJson{{"index", 0}, {"text", delta.content}, {"logprobs", logprobs}, {"finish_reason", nullptr}});
    }
    OJson d = OJson::object();
    if (!delta.content.empty() || delta.toolCalls.empty()) d["content"] = delta.content;
    if (!delta.toolCalls.empty()) {
        OJson calls = OJson::array();
        for (const ToolCallDelta& call : delta.toolCalls) {
            if (!call.id.empty()) {
                calls.push_back(OJson{{"index", call.index},
                                      {"id", call.id},
                                      {"type", "function"},
                                      {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
            } else {
                calls.push_back(OJson{{"index", call.index}, {"function", {{"arguments", call.arguments}}}});
            }
        }
        d["tool_calls"] = calls;
    }
    return chunk(OJson{{"index", 0}, {"delta", d}, {"logprobs", logprobs}, {"finish_reason", nullptr}});
}

std::vector<OJson> ReplyBuilder::addTokens(const std::vector<TokenEvent>& tokens)
{
    std::string text;
    for (const TokenEvent& t : tokens) {
        text += t.textDelta;
        ++m_completionTokens;
    }
    m_text += text;
    if (!m_spec.stream) {
        for (const TokenEvent& t : tokens) {
            if (!m_spec.logprobs) break;
            if (m_spec.kind == ReplyKind::Chat) {
                m_allLogprobs.push_back(chatLogprob(t));
            } else {
                appendTextLogprobs(t, m_allLogprobs, m_textOffset);
                m_textOffset += t.textDelta.size();
            }
        }
        return {};
    }
    if (m_spec.logprobs) m_pendingLogprobs.insert(m_pendingLogprobs.end(), tokens.begin(), tokens.end());
    ReplyDelta delta;
    if (m_parser) delta = m_parser->feed(text);
    else delta.content = text;
    if (delta.empty()) return {};
    if (!delta.toolCalls.empty()) m_sawToolCall = true;
    return {contentChunk(delta, takePendingLogprobs())};
}

std::string ReplyBuilder::finishReason(const FinishedEvent& finished) const
{
    if (m_sawToolCall) return "tool_calls";
    return finished.reason == FinishReason::Length ? "length" : "stop";
}

OJson ReplyBuilder::usage(const FinishedEvent& finished) const
{
    return OJson{{"prompt_tokens", m_spec.promptTokens},
                 {"completion_tokens", m_completionTokens},
                 {"total_tokens", m_spec.promptTokens + m_completionTokens},
                 {"prompt_tokens_details", {{"cached_tokens", finished.stats.cachedPromptTokens}}},
                 {"completion_tokens_details", {{"reasoning_tokens", 0}}}};
}

std::vector<OJson> ReplyBuilder::finishChunks(const FinishedEvent& finished)
{
    std::vector<OJson> out;
    m_text += finished.textDelta;
    ReplyDelta delta;
    if (m_parser) {
        delta = m_parser->feed(finished.textDelta);
        ReplyDelta tail = m_parser->finish();
        delta.content += tail.content;
        delta.toolCalls.insert(delta.toolCalls.end(), tail.toolCalls.begin(), tail.toolCalls.end());
    } else {
        delta.content = finished.textDelta;
    }
    if (!delta.toolCalls.empty()) m_sawToolCall = true;
    if (!delta.empty() || !m_pendingLogprobs.empty()) out.push_back(contentChunk(delta, takePendingLogprobs()));
    if (m_spec.kind == ReplyKind::Chat) {
        out.push_back(chunk(OJson{{"index", 0}, {"delta", OJson::object()}, {"logprobs", nullptr}, {"finish_reason", finishReason(finished)}}));
    } else {
        out.push_back(chunk(OJson{{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", finishReason(finished)}}));
    }
    if (m_spec.includeUsage) {
        OJson last = chunk(nullptr);
        last["usage"] = usage(finished);
        out.push_back(std::move(last));
    }
    return out;
}

OJson ReplyBuilder::fullResponse(const FinishedEvent& finished)
{
    m_text += finished.textDelta;
    OJson logprobs = nullptr;
    OJson choice;
    if (m_spec.kind == ReplyKind::Chat) {
        OJson message = {{"role", "assistant"}, {"content", m_text}, {"refusal", nullptr}};
        if (m_spec.parseTools) {
            ParsedReply parsed = parseToolCalls(m_text, ToolCallOptions{m_spec.toolFormat, 0});
            if (!parsed.toolCalls.empty()) {
                m_sawToolCall = true;
                message["content"] = parsed.content.empty() ? OJson(nullptr) : OJson(parsed.content);
                OJson calls = OJson::array();
                for (const ToolCall& call : parsed.toolCalls) {
                    calls.push_back(OJson{{"id", call.id},
                                          {"type", "function"},
                                          {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
                }
                message["tool_calls"] = calls;
            }
        }
        if (m_spec.logprobs) logprobs = OJson{{"content", m_allLogprobs}, {"refusal", nullptr}};
        choice = OJson{{"index", 0}, {"message", message}, {"logprobs", logprobs}, {"finish_reason", finishReason(finished)}};
    } else {
        if (m_spec.logprobs) logprobs = m_allLogprobs;
        choice = OJson{{"text", m_spec.echoText + m_text}, {"index", 0}, {"logprobs", logprobs}, {"finish_reason", finishReason(finished)}};
    }
    OJson out;
    out["id"] = m_spec.id;
    out["object"] = m_spec.kind == ReplyKind::Chat ? "chat.completion" : "text_completion";
    out["created"] = m_spec.createdS;
    out["model"] = m_spec.model;
    out["system_fingerprint"] = m_spec.fingerprint;
    out["choices"] = OJson::array({choice});
    out["usage"] = usage(finished);
    return out;
}

}  // namespace hearth::server
