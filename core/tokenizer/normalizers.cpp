#include "tokenizer/normalizers.h"

#include <cstdlib>
#include <vector>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "tokenizer/json_access.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

bool isAscii(const std::string& text)
{
    for (char c : text)
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    return true;
}

class UnicodeNormalizer final : public Normalizer {
public:
    UnicodeNormalizer(int options, bool asciiIsFixedPoint) : m_options(options), m_asciiIsFixedPoint(asciiIsFixedPoint) {}
    void normalize(std::string& text) const override
    {
        // ASCII is already in every normal form; most text is, so skip the library call.
        if (text.empty() || (m_asciiIsFixedPoint && isAscii(text))) return;
        utf8proc_uint8_t* out = nullptr;
        utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &out,
                                          static_cast<utf8proc_option_t>(m_options));
        if (n >= 0 && out) text.assign(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
        std::free(out);
    }

private:
    int m_options;
    bool m_asciiIsFixedPoint;
};

class LowercaseNormalizer final : public Normalizer {
public:
    void normalize(std::string& text) const override
    {
        std::string out;
        out.reserve(text.size());
        std::size_t pos = 0;
        while (pos < text.size()) appendUtf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(nextCodePoint(text, pos)))));
        text.swap(out);
    }
};

class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(std::unique_ptr<Regex> pattern, std::string content) : m_pattern(std::move(pattern)), m_content(std::move(content)) {}
    void normalize(std::string& text) const override
    {
        std::vector<Match> matches;
        m_pattern->findAll(text, matches);
        if (matches.empty()) return;
        std::string out;
        out.reserve(text.size() + matches.size() * m_content.size());
        std::size_t last = 0;
        for (const Match& m : matches) {
            out.append(text, last, m.begin - last);
            out.append(m_content);
            last = m.end;
        }
        out.append(text, last, std::string::npos);
        text.swap(out);
    }

private:
    std::unique_ptr<Regex> m_pattern;
    std::string m_content;
};

class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::string prefix) : m_prefix(std::move(prefix)) {}
    void normalize(std::string& text) const override
    {
        if (!text.empty()) text.insert(0, m_prefix);
    }

private:
    std::string m_prefix;
};

class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool left, bool right) : m_left(left), m_right(right) {}
    void normalize(std::string& text) const override
    {
        std::size_t begin = 0;
        std::size_t end = text.size();
        if (m_left) {
            while (begin < end) {
                std::size_t next = begin;
                if (!isUnicodeWhitespace(nextCodePoint(text, next))) break;
                begin = next;
            }
        }
        if (m_right) {
            while (end > begin) {
                std::size_t start = end - 1;
                while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
                std::size_t p = start;
                if (!isUnicodeWhitespace(nextCodePoint(text, p))) break;
                end = start;
            }
        }
        text = text.substr(begin, end - begin);
    }

private:
    bool m_left;
    bool m_right;
};

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : m_steps(std::move(steps)) {}
    void normalize(std::string& text) const override
    {
        for (const auto& step : m_steps) step->normalize(text);
    }

private:
    std::vector<std::unique_ptr<Normalizer>> m_steps;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> parseNormalizer(const nlohmann::json& spec)
{
    if (spec.is_null()) return std::unique_ptr<Normalizer>();
    HEARTH_TRY_ASSIGN(std::string type, requireString(spec, "type", "normalizer"));
    if (type == "NFC") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(UTF8PROC_STABLE | UTF8PROC_COMPOSE, true));
    if (type == "NFD") return std::unique_ptr<Normalizer>(new UnicodeNormalizer(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE, true));
    if (type == "NFKC")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT, true));
    if (type == "NFKD")
        return std::unique_ptr<Normalizer>(new UnicodeNormalizer(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT, true));
    if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
    if (type == "Prepend") {
        HEARTH_TRY_ASSIGN(std::string prefix, requireString(spec, "prepend", "Prepend normalizer"));
        return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(prefix)));
    }
    if (type == "Replace") {
        HEARTH_TRY_ASSIGN(std::unique_ptr<Regex> pattern, parsePattern(spec, "Replace normalizer"));
        HEARTH_TRY_ASSIGN(std::string content, requireString(spec, "content", "Replace normalizer"));
        return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(pattern), std::move(content)));
    }
    if (type == "Strip") {
        bool left = optionalBool(spec, "strip_left", true);
        bool right = optionalBool(spec, "strip_right", true);
        return std::unique_ptr<Normalizer>(new StripNormalizer(left, right));
    }
    if (type == "Sequence") {
        const nlohmann::json* list = findArray(spec, "normalizers");
        if (!list) return makeError(ErrorCode::Corrupt, "normalizer Sequence has no 'normalizers' list");
        std::vector<std::unique_ptr<Normalizer>> steps;
        for (const auto& item : *list) {
            HEARTH_TRY_ASSIGN(std::unique_ptr<Normalizer> step, parseNormalizer(item));
            if (step) steps.push_back(std::move(step));
        }
        return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(steps)));
    }
    return makeError(ErrorCode::Unsupported, "normalizer type '" + type + "' is not supported");
}

}  // namespace hearth::tok
