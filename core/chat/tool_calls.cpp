// Tool-call parsing. One state machine serves both the streaming parser and the whole-reply
// parse, so a reply split anywhere gives the same result as the reply in one piece.
#include "chat/tool_calls.h"

#include <algorithm>
#include <array>
#include <random>

#include <nlohmann/json.hpp>

namespace hearth {

namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";
constexpr std::string_view kMistralOpen = "[TOOL_CALLS]";
// Deeper JSON than this in a call is not something a model writes for a tool; refusing it keeps
// the parser's work bounded on hostile output.
constexpr int kMaxJsonDepth = 256;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool allSpace(std::string_view s) { return std::all_of(s.begin(), s.end(), isSpace); }

bool wantsHermes(ToolCallFormat f) { return f == ToolCallFormat::Auto || f == ToolCallFormat::Hermes; }
bool wantsLlama(ToolCallFormat f) { return f == ToolCallFormat::Auto || f == ToolCallFormat::Llama3; }
bool wantsMistral(ToolCallFormat f) { return f == ToolCallFormat::Auto || f == ToolCallFormat::Mistral; }

std::vector<std::string_view> openMarkers(ToolCallFormat f)
{
    std::vector<std::string_view> markers;
    if (wantsHermes(f)) markers.push_back(kHermesOpen);
    if (wantsLlama(f)) markers.push_back(kPythonTag);
    if (wantsMistral(f)) markers.push_back(kMistralOpen);
    return markers;
}

// The length of the longest suffix of `text` that is a proper prefix of some marker: text that
// may still become a marker once more arrives.
std::size_t heldPrefixLength(std::string_view text, const std::vector<std::string_view>& markers)
{
    std::size_t best = 0;
    for (std::string_view m : markers) {
        std::size_t maxLen = std::min(text.size(), m.size() - 1);
        for (std::size_t len = maxLen; len > best; --len)
            if (text.substr(text.size() - len) == m.substr(0, len)) {
                best = len;
                break;
            }
    }
    return best;
}

std::uint64_t splitMix64(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct CallValue {
    std::string name;
    std::string arguments;
};

// One call object: "name" and "arguments" (Hermes, Mistral) or "parameters" (Llama), the latter
// an object or a string holding one.
bool readCall(const nlohmann::ordered_json& item, CallValue& call)
{
    if (!item.is_object()) return false;
    auto name = item.find("name");
    if (name == item.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) return false;
    call.name = name->get<std::string>();
    auto args = item.find("arguments");
    if (args == item.end()) args = item.find("parameters");
    if (args == item.end() || args->is_null()) {
        call.arguments = "{}";
        return true;
    }
    nlohmann::ordered_json value = *args;
    if (value.is_string()) {
        value = nlohmann::ordered_json::parse(args->get<std::string>(), nullptr, false);
        if (value.is_discarded()) return false;
    }
    if (!value.is_object()) return false;
    call.arguments = value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return true;
}

bool readCalls(std::string_view text, std::vector<CallValue>& calls)
{
    nlohmann::ordered_json root = nlohmann::ordered_json::parse(text, nullptr, false);
    if (root.is_discarded()) return false;
    if (root.is_object()) root = nlohmann::ordered_json::array({root});
    if (!root.is_array() || root.empty()) return false;
    for (const auto& item : root) {
        CallValue call;
        if (!readCall(item, call)) return false;
        calls.push_back(std::move(call));
    }
    return true;
}

}  // namespace

ToolCallFormat toolCallFormatForTemplate(std::string_view chatTemplate)
{
    if (chatTemplate.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::Hermes;
    if (chatTemplate.find(kMistralOpen) != std::string_view::npos) return ToolCallFormat::Mistral;
    if (chatTemplate.find(kPythonTag) != std::string_view::npos) return ToolCallFormat::Llama3;
    return ToolCallFormat::Auto;
}

ToolCallStreamParser::ToolCallStreamParser(const ToolCallOptions& options) : m_options(options)
{
    m_idState = options.idSeed;
    if (m_idState == 0) {
        std::random_device rd;
        m_idState = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
}

std::string ToolCallStreamParser::nextId()
{
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    bool mistral = m_marker == kMistralOpen || m_options.format == ToolCallFormat::Mistral;
    std::string id = mistral ? "" : "call_";
    std::size_t n = mistral ? 9 : 24;
    for (std::size_t i = 0; i < n; ++i) id += kAlphabet[splitMix64(m_idState) % 62];
    return id;
}

void ToolCallStreamParser::emitContent(std::string_view text, ReplyDelta& out)
{
    if (text.empty()) return;
    if (m_nCalls == 0) {
        out.content += text;
        return;
    }
    // After a call, whitespace is shown only when more text follows it, so the separators
    // between and after calls never become content of their own.
    std::size_t end = text.size();
    while (end > 0 && isSpace(text[end - 1])) --end;
    if (end > 0) {
        out.content += m_heldWhitespace;
        out.content += text.substr(0, end);
        m_heldWhitespace.clear();
    }
    m_heldWhitespace += text.substr(end);
}

void ToolCallStreamParser::closeCall(std::string_view callText, std::string_view closeMarker, ReplyDelta& out)
{
    std::vector<CallValue> calls;
    bool bare = allSpace(m_marker);
    if (readCalls(callText, calls)) {
        // Content held while the call was open is resolved now that it is known to be a call.
        for (CallValue& call : calls) {
            ToolCallDelta head;
            head.index = m_nCalls++;
            head.id = nextId();
            head.name = std::move(call.name);
            ToolCallDelta args;
            args.index = head.index;
            args.arguments = std::move(call.arguments);
            out.toolCalls.push_back(std::move(head));
            out.toolCalls.push_back(std::move(args));
        }
        m_state = (m_marker == kPythonTag || bare) ? State::AfterCall : State::Text;
    } else {
        if (!bare) m_malformed = true;
        std::string text = m_marker;
        text += callText;
        text += closeMarker;
        emitContent(text, out);
        m_state = State::Text;
    }
    m_marker.clear();
    m_call.clear();
}

void ToolCallStreamParser::scanText(ReplyDelta& out)
{
    if (!m_sawAnyText && wantsLlama(m_options.format)) {
        std::size_t first = 0;
        while (first < m_buffer.size() && isSpace(m_buffer[first])) ++first;
        if (first == m_buffer.size()) return;  // only whitespace so far: a bare call may follow
        m_sawAnyText = true;
        if (m_buffer[first] == '{') {
            m_marker = m_buffer.substr(0, first);
            m_buffer.erase(0, first);
            m_state = State::Call;
            m_jsonMode = true;
            m_jsonStarted = false;
            return;
        }
    }
    m_sawAnyText = true;
    std::vector<std::string_view> markers = openMarkers(m_options.format);
    std::size_t best = std::string::npos;
    std::string_view found;
    for (std::string_view m : markers) {
        std::size_t p = m_buffer.find(m);
        if (p < best) {
            best = p;
            found = m;
        }
    }
    if (best != std::string::npos) {
        emitContent(std::string_view(m_buffer).substr(0, best), out);
        m_marker = std::string(found);
        m_buffer.erase(0, best + found.size());
        m_state = State::Call;
        m_jsonMode = found != kHermesOpen;
        m_jsonStarted = false;
        return;
    }
    std::size_t hold = heldPrefixLength(m_buffer, markers);
    emitContent(std::string_view(m_buffer).substr(0, m_buffer.size() - hold), out);
    m_buffer.erase(0, m_buffer.size() - hold);
}

void ToolCallStreamParser::scanCall(ReplyDelta& out)
{
    if (!m_jsonMode) {
        std::size_t from = m_call.size() >= kHermesClose.size() ? m_call.size() - kHermesClose.size() + 1 : 0;
        m_call += m_buffer;
        m_buffer.clear();
        std::size_t p = m_call.find(kHermesClose, from);
        if (p == std::string::npos) return;
        m_buffer = m_call.substr(p + kHermesClose.size());
        std::string callText = m_call.substr(0, p);
        closeCall(callText, kHermesClose, out);
        return;
    }
    std::size_t i = 0;
    for (; i < m_buffer.size(); ++i) {
        char c = m_buffer[i];
        m_call += c;
        if (!m_jsonStarted) {
            if (isSpace(c)) continue;
            if (c != '{' && c != '[') {
                ++i;
                m_buffer.erase(0, i);
                closeCall(m_call, {}, out);
                return;
            }
            m_jsonStarted = true;
            m_jsonDepth = 1;
            m_jsonInString = false;
            m_jsonEscape = false;
            continue;
        }
        if (m_jsonInString) {
            if (m_jsonEscape) m_jsonEscape = false;
            else if (c == '\\') m_jsonEscape = true;
            else if (c == '"') m_jsonInString = false;
            continue;
        }
        if (c == '"') m_jsonInString = true;
        else if (c == '{' || c == '[') ++m_jsonDepth;
        else if (c == '}' || c == ']') --m_jsonDepth;
        if (m_jsonDepth == 0 || m_jsonDepth > kMaxJsonDepth) {
            ++i;
            m_buffer.erase(0, i);
            closeCall(m_call, {}, out);
            return;
        }
    }
    m_buffer.clear();
}

void ToolCallStreamParser::scanAfterCall()
{
    // Llama writes several calls separated by ';' or whitespace; anything else ends the run.
    std::size_t i = 0;
    while (i < m_buffer.size() && (isSpace(m_buffer[i]) || m_buffer[i] == ';')) ++i;
    m_marker += m_buffer.substr(0, i);
    m_buffer.erase(0, i);
    if (m_buffer.empty()) return;
    if (m_buffer[0] == '{') {
        m_state = State::Call;
        m_jsonMode = true;
        m_jsonStarted = false;
        return;
    }
    // Not another call: the separators are ordinary text again.
    m_buffer.insert(0, m_marker);
    m_marker.clear();
    m_state = State::Text;
}

ReplyDelta ToolCallStreamParser::feed(std::string_view text)
{
    ReplyDelta out;
    m_buffer += text;
    while (!m_buffer.empty()) {
        State before = m_state;
        std::size_t sizeBefore = m_buffer.size();
        switch (m_state) {
        case State::Text: scanText(out); break;
        case State::Call: scanCall(out); break;
        case State::AfterCall: scanAfterCall(); break;
        }
        if (m_state == before && m_buffer.size() == sizeBefore) break;  // waiting for more text
    }
    return out;
}

ReplyDelta ToolCallStreamParser::finish()
{
    ReplyDelta out;
    switch (m_state) {
    case State::Text:
        emitContent(m_buffer, out);
        break;
    case State::Call:
        // An unclosed <tool_call> whose text is a whole call is a call (generation stopped at the
        // close marker); anything else unfinished is shown as written.
        m_call += m_buffer;
        closeCall(m_call, {}, out);
        break;
    case State::AfterCall:
        emitContent(m_marker, out);
        m_marker.clear();
        break;
    }
    m_buffer.clear();
    m_heldWhitespace.clear();
    m_state = State::Text;
    return out;
}

void appendReplyDelta(ParsedReply& reply, const ReplyDelta& delta)
{
    reply.content += delta.content;
    for (const ToolCallDelta& d : delta.toolCalls) {
        if (d.index < 0) continue;
        auto index = static_cast<std::size_t>(d.index);
        if (index >= reply.toolCalls.size()) reply.toolCalls.resize(index + 1);
        ToolCall& call = reply.toolCalls[index];
        if (!d.id.empty()) call.id = d.id;
        if (!d.name.empty()) call.name = d.name;
        call.arguments += d.arguments;
    }
}

ParsedReply parseToolCalls(std::string_view reply, const ToolCallOptions& options)
{
    ToolCallStreamParser parser(options);
    ParsedReply parsed;
    appendReplyDelta(parsed, parser.feed(reply));
    appendReplyDelta(parsed, parser.finish());
    parsed.malformed = parser.malformed();
    return parsed;
}

}  // namespace hearth
