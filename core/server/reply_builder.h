// Shapes engine events into OpenAI JSON: chat.completion / text_completion objects for whole
// replies, and the chunk sequence for SSE (role chunk, content and tool-call deltas with names
// sent once, the finish chunk, the usage chunk with empty choices when asked for).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/tool_calls.h"
#include "engine/engine.h"

namespace hearth::server {

enum class ReplyKind { Chat, Text };

struct ReplySpec {
    ReplyKind kind = ReplyKind::Chat;
    std::string id;                       // "chatcmpl-..." / "cmpl-..."
    std::int64_t createdS = 0;
    std::string model;
    std::string fingerprint;
    bool stream = false;
    bool includeUsage = false;
    bool logprobs = false;
    std::int32_t topLogprobs = 0;
    bool parseTools = false;              // chat with tools: tool-call markers become tool_calls
    ToolCallFormat toolFormat = ToolCallFormat::Auto;
    std::string echoText;                 // completions with echo: the prompt, sent before the reply
    std::int64_t promptTokens = 0;
    std::shared_ptr<const Tokenizer> tokenizer;   // token text for logprobs
};

class ReplyBuilder {
public:
    explicit ReplyBuilder(ReplySpec spec);

    // Chunks to send before any token: the chat role chunk, or the completions echo.
    std::vector<nlohmann::ordered_json> startChunks();
    // Tokens that arrived together (coalesced into one chunk); may return nothing while text
    // that could start a tool call is held back.
    std::vector<nlohmann::ordered_json> addTokens(const std::vector<TokenEvent>& tokens);
    // The held text, the finish chunk and (when asked) the usage chunk.
    std::vector<nlohmann::ordered_json> finishChunks(const FinishedEvent& finished);
    // The whole non-streamed reply.
    nlohmann::ordered_json fullResponse(const FinishedEvent& finished);

    std::int64_t completionTokens() const { return m_completionTokens; }
    const ReplySpec& spec() const { return m_spec; }

private:
    nlohmann::ordered_json chunk(nlohmann::ordered_json choice) const;
    nlohmann::ordered_json contentChunk(const ReplyDelta& delta, const nlohmann::ordered_json& logprobs) const;
    nlohmann::ordered_json usage(const FinishedEvent& finished) const;
    nlohmann::ordered_json chatLogprob(const TokenEvent& token) const;
    void appendTextLogprobs(const TokenEvent& token, nlohmann::ordered_json& into, std::size_t textOffset) const;
    nlohmann::ordered_json takePendingLogprobs();
    std::string finishReason(const FinishedEvent& finished) const;
    std::string tokenText(TokenId id) const;

    ReplySpec m_spec;
    std::optional<ToolCallStreamParser> m_parser;
    std::string m_text;                   // the whole reply so far
    std::vector<TokenEvent> m_pendingLogprobs;  // streamed tokens whose text is not sent yet
    nlohmann::ordered_json m_allLogprobs;       // non-stream: every token
    std::int64_t m_completionTokens = 0;
    std::size_t m_textOffset = 0;
    bool m_sawToolCall = false;
};

}  // namespace hearth::server
