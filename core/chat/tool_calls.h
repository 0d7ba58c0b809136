// Tool calls out of a model's reply: the text a model writes when it calls a tool, turned into
// structured calls {id, name, arguments} in the OpenAI shape, for the three conventions chat
// templates teach models:
//   Hermes / Qwen:  <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>   (one or more)
//   Llama 3.1:      {"name": ..., "parameters": {...}}   at the start of the reply, or after <|python_tag|>
//   Mistral v0.3:   [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]
// A marker whose text is not a valid call comes back as plain content with `malformed` set;
// nothing here throws or aborts on model output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

enum class ToolCallFormat {
    Auto,     // any of the markers below
    Hermes,   // <tool_call>...</tool_call> (Qwen2.5, Qwen3, Hermes)
    Llama3,   // bare JSON or <|python_tag|> (Llama 3.1 / 3.2)
    Mistral,  // [TOOL_CALLS] (Mistral v0.3)
};

// The format a chat template teaches, from the markers its text mentions (Auto when none does).
ToolCallFormat toolCallFormatForTemplate(std::string_view chatTemplate);

struct ToolCallOptions {
    ToolCallFormat format = ToolCallFormat::Auto;
    // Seeds the call ids ("call_" + 24 characters; Mistral: 9 alphanumerics, as its template
    // demands). 0 takes a random seed; tests pin it so ids repeat.
    std::uint64_t idSeed = 0;
};

struct ToolCall {
    std::string id;
    std::string name;
    std::string arguments;  // a JSON object as compact text, keys in the model's order
};

struct ParsedReply {
    std::string content;  // the text outside tool-call markers
    std::vector<ToolCall> toolCalls;
    bool malformed = false;  // a marker held text that is not a valid call; that text is in content
};

// Parses a whole reply.
ParsedReply parseToolCalls(std::string_view reply, const ToolCallOptions& options = {});

// One tool call's part of a streamed delta, shaped like OpenAI's choices[].delta.tool_calls[]:
// the first delta of a call carries its index, id and name (arguments empty), later ones carry
// argument text to append.
struct ToolCallDelta {
    int index = 0;
    std::string id;
    std::string name;
    std::string arguments;
};

struct ReplyDelta {
    std::string content;
    std::vector<ToolCallDelta> toolCalls;
    bool empty() const { return content.empty() && toolCalls.empty(); }
};

// Turns a reply streamed as text deltas into content deltas and tool-call deltas. Text that may
// be the start of a marker is held back until it is known not to be one; a call is emitted once
// its text is complete and valid, because a call that turns out malformed must become content
// and deltas already sent cannot be taken back. Feeding a reply in any split gives, reassembled,
// exactly parseToolCalls(reply).
class ToolCallStreamParser {
public:
    explicit ToolCallStreamParser(const ToolCallOptions& options = {});

    // Consumes the next piece of the reply; returns what can be shown now.
    ReplyDelta feed(std::string_view text);
    // The reply ended: flushes held text and any unclosed call.
    ReplyDelta finish();
    bool malformed() const { return m_malformed; }

private:
    enum class State { Text, Call, AfterCall };

    void scanText(ReplyDelta& out);
    void scanCall(ReplyDelta& out);
    void scanAfterCall();
    void emitContent(std::string_view text, ReplyDelta& out);
    // Tries the call text; on success emits calls, else emits it as content between its markers.
    void closeCall(std::string_view callText, std::string_view closeMarker, ReplyDelta& out);
    std::string nextId();

    ToolCallOptions m_options;
    std::uint64_t m_idState = 0;
    State m_state = State::Text;
    std::string m_buffer;           // text not yet consumed
    std::string m_marker;           // the open marker of the current call ("" for bare Llama JSON)
    std::string m_call;             // the current call's text so far
    std::string m_heldWhitespace;   // whitespace after a call, shown only if more content follows
    bool m_sawAnyText = false;      // something other than whitespace came before (Llama bare JSON)
    bool m_jsonMode = false;        // the call ends where its JSON value closes (no close marker)
    int m_jsonDepth = 0;
    bool m_jsonInString = false;
    bool m_jsonEscape = false;
    bool m_jsonStarted = false;
    int m_nCalls = 0;
    bool m_malformed = false;
};

// Folds streamed deltas back into one reply (what a client reassembling OpenAI chunks builds).
void appendReplyDelta(ParsedReply& reply, const ReplyDelta& delta);

}  // namespace hearth
