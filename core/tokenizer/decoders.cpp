#include "tokenizer/decoders.h"

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/json_access.h"
#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

// The byte of a "<0xXX>" token, or -1.
int fallbackByte(const std::string& token)
{
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    int hi = hex(token[3]);
    int lo = hex(token[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string byteLevelBytes(const std::string& token)
{
    auto bytes = byteLevelToBytes(token);
    return bytes ? *bytes : token;
}

class ByteLevelDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::string bytes;
        for (const std::string& t : tokens) bytes += byteLevelBytes(t);
        tokens.assign(1, toValidUtf8(bytes));
    }
    void decodeToken(std::string& token, TokenDecodeState&) const override { token = byteLevelBytes(token); }
};

class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(std::string replacement, bool stripFirst) : m_replacement(std::move(replacement)), m_stripFirst(stripFirst) {}
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::size_t i = 0; i < tokens.size(); ++i) rewrite(tokens[i], i == 0);
    }
    void decodeToken(std::string& token, TokenDecodeState& state) const override { rewrite(token, state.atStart); }

private:
    // HF drops every replacement character of the first token (not only a leading one).
    void rewrite(std::string& token, bool first) const
    {
        std::string out;
        std::size_t pos = 0;
        while (pos < token.size()) {
            if (token.compare(pos, m_replacement.size(), m_replacement) == 0) {
                if (!(first && m_stripFirst)) out.push_back(' ');
                pos += m_replacement.size();
            } else {
                out.push_back(token[pos++]);
            }
        }
        token.swap(out);
    }
    std::string m_replacement;
    bool m_stripFirst;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(std::unique_ptr<Regex> pattern, std::string content) : m_pattern(std::move(pattern)), m_content(std::move(content)) {}
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::string& t : tokens) rewrite(t);
    }
    void decodeToken(std::string& token, TokenDecodeState&) const override { rewrite(token); }

private:
    void rewrite(std::string& token) const
    {
        if (!isValidUtf8(token)) return;
        std::vector<Match> matches;
        m_pattern->findAll(token, matches);
        if (matches.empty()) return;
        std::string out;
        std::size_t last = 0;
        for (const Match& m : matches) {
            out.append(token, last, m.begin - last);
            out += m_content;
            last = m.end;
        }
        out.append(token, last, std::string::npos);
        token.swap(out);
    }
    std::unique_ptr<Regex> m_pattern;
    std::string m_content;
};

class ByteFallbackDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (isValidUtf8(pending)) {
                out.push_back(pending);
            } else {
                // HF: one U+FFFD per byte of an invalid run.
                for (std::size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementChar);
            }
            pending.clear();
        };
        for (std::string& t : tokens) {
            int byte = fallbackByte(t);
            if (byte >= 0) {
                pending.push_back(static_cast<char>(byte));
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens.swap(out);
    }
    void decodeToken(std::string& token, TokenDecodeState&) const override
    {
        int byte = fallbackByte(token);
        if (byte >= 0) token.assign(1, static_cast<char>(byte));
    }
};

class FuseDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        std::string all;
        for (const std::string& t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
    void decodeToken(std::string&, TokenDecodeState& state) const override { state.fused = true; }
};

class StripDecoder final : public Decoder {
public:
    StripDecoder(char32_t content, std::size_t start, std::size_t stop) : m_content(content), m_start(start), m_stop(stop) {}
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (std::string& t : tokens) {
            std::u32string chars;
            std::size_t pos = 0;
            while (pos < t.size()) chars.push_back(nextCodePoint(t, pos));
            std::size_t startCut = 0;
            while (startCut < m_start && startCut < chars.size() && chars[startCut] == m_content) ++startCut;
            std::size_t stopCut = chars.size();
            for (std::size_t i = 0; i < m_stop && stopCut > startCut && chars[stopCut - 1] == m_content; ++i) --stopCut;
            std::string out;
            for (std::size_t i = startCut; i < stopCut; ++i) appendUtf8(out, chars[i]);
            t.swap(out);
        }
    }
    // After a Fuse only the start of the whole text is stripped; the end is unknown while
    // streaming, so trailing strips are not applied.
    void decodeToken(std::string& token, TokenDecodeState& state) const override
    {
        if (state.fused && !state.atStart) return;
        std::string encoded;
        appendUtf8(encoded, m_content);
        std::size_t cut = 0;
        for (std::size_t i = 0; i < m_start && token.compare(cut, encoded.size(), encoded) == 0; ++i) cut += encoded.size();
        token.erase(0, cut);
    }

private:
    char32_t m_content;
    std::size_t m_start;
    std::size_t m_stop;
};

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps) : m_steps(std::move(steps)) {}
    void decodeChain(std::vector<std::string>& tokens) const override
    {
        for (const auto& step : m_steps) step->decodeChain(tokens);
    }
    void decodeToken(std::string& token, TokenDecodeState& state) const override
    {
        for (const auto& step : m_steps) step->decodeToken(token, state);
    }

private:
    std::vector<std::unique_ptr<Decoder>> m_steps;
};

}  // namespace

Result<std::unique_ptr<Decoder>> parseDecoder(const nlohmann::json& spec, int depth)
{
    if (spec.is_null()) return std::unique_ptr<Decoder>();
    if (depth > 16) return makeError(ErrorCode::Corrupt, "decoder: Sequence nested too deeply");
    HEARTH_TRY_ASSIGN(std::string type, requireString(spec, "type", "decoder"));
    if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
    if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
    if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
    if (type == "Metaspace") {
        std::string replacement = optionalString(spec, "replacement", "\xE2\x96\x81");
        if (replacement.empty()) return makeError(ErrorCode::Corrupt, "Metaspace decoder: empty replacement");
        std::string scheme = optionalString(spec, "prepend_scheme", optionalBool(spec, "add_prefix_space", true) ? "always" : "never");
        return std::unique_ptr<Decoder>(new MetaspaceDecoder(std::move(replacement), scheme != "never"));
    }
    if (type == "Replace") {
        HEARTH_TRY_ASSIGN(std::unique_ptr<Regex> pattern, parsePattern(spec, "Replace decoder"));
        HEARTH_TRY_ASSIGN(std::string content, requireString(spec, "content", "Replace decoder"));
        return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(pattern), std::move(content)));
    }
    if (type == "Strip") {
        HEARTH_TRY_ASSIGN(std::string content, requireString(spec, "content", "Strip decoder"));
        if (content.empty() || !isValidUtf8(content)) return makeError(ErrorCode::Corrupt, "Strip decoder: 'content' must be one character");
        std::size_t pos = 0;
        char32_t c = nextCodePoint(content, pos);
        long long start = optionalInt(spec, "start", 0);
        long long stop = optionalInt(spec, "stop", 0);
        if (start < 0 || stop < 0 || start > 1024 || stop > 1024) return makeError(ErrorCode::Corrupt, "Strip decoder: start/stop out of range");
        return std::unique_ptr<Decoder>(new StripDecoder(c, static_cast<std::size_t>(start), static_cast<std::size_t>(stop)));
    }
    if (type == "Sequence") {
        const nlohmann::json* list = findArray(spec, "decoders");
        if (!list) return makeError(ErrorCode::Corrupt, "decoder Sequence has no 'decoders' list");
        std::vector<std::unique_ptr<Decoder>> steps;
        for (const auto& item : *list) {
            HEARTH_TRY_ASSIGN(std::unique_ptr<Decoder> step, parseDecoder(item, depth + 1));
            if (step) steps.push_back(std::move(step));
        }
        return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(steps)));
    }
    return makeError(ErrorCode::Unsupported, "decoder type '" + type + "' is not supported");
}

}  // namespace hearth::tok
