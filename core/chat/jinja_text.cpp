#include "chat/jinja_text.h"

#include <utf8proc.h>

namespace hearth::jinja::text {

namespace {

// Decodes one code point at s[i]; malformed bytes decode as themselves (U+FFFD would change
// lengths), so byte strings that are not UTF-8 still round-trip.
char32_t decodeAt(std::string_view s, size_t& i)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len = b0 < 0x80 ? 1 : (b0 >> 5) == 6 ? 2 : (b0 >> 4) == 14 ? 3 : (b0 >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
        ++i;
        return b0;
    }
    char32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
    for (int k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return b0;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    i += len;
    return cp;
}

template <typename Map>
std::string mapCase(std::string_view s, Map map)
{
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const size_t start = i;
        const char32_t cp = decodeAt(s, i);
        if (cp < 0x80 || i - start > 1)
            appendUtf8(out, map(cp));
        else
            out.append(s.substr(start, i - start));
    }
    return out;
}

char32_t toUpper(char32_t cp) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))); }
char32_t toLower(char32_t cp) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }

bool isCased(char32_t cp) { return toUpper(cp) != cp || toLower(cp) != cp; }

}  // namespace

std::vector<size_t> codepointOffsets(std::string_view s)
{
    std::vector<size_t> offsets;
    offsets.reserve(s.size() + 1);
    size_t i = 0;
    while (i < s.size()) {
        offsets.push_back(i);
        decodeAt(s, i);
    }
    offsets.push_back(s.size());
    return offsets;
}

size_t codepointCount(std::string_view s)
{
    size_t n = 0;
    size_t i = 0;
    while (i < s.size()) {
        decodeAt(s, i);
        ++n;
    }
    return n;
}

std::vector<char32_t> decode(std::string_view s)
{
    std::vector<char32_t> out;
    size_t i = 0;
    while (i < s.size())
        out.push_back(decodeAt(s, i));
    return out;
}

void appendUtf8(std::string& out, char32_t cp)
{
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string encode(const std::vector<char32_t>& cps)
{
    std::string out;
    for (char32_t cp : cps)
        appendUtf8(out, cp);
    return out;
}

bool isSpace(char32_t cp)
{
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x1C: case 0x1D: case 0x1E:
    case 0x1F: case 0x20: case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

std::string upper(std::string_view s) { return mapCase(s, toUpper); }
std::string lower(std::string_view s) { return mapCase(s, toLower); }

std::string capitalize(std::string_view s)
{
    std::vector<char32_t> cps = decode(s);
    for (size_t i = 0; i < cps.size(); ++i)
        cps[i] = i == 0 ? toUpper(cps[i]) : toLower(cps[i]);
    return encode(cps);
}

std::string pyTitle(std::string_view s)
{
    std::vector<char32_t> cps = decode(s);
    bool previousCased = false;
    for (char32_t& cp : cps) {
        const bool cased = isCased(cp);
        cp = previousCased ? toLower(cp) : toUpper(cp);
        previousCased = cased;
    }
    return encode(cps);
}

std::string jinjaTitle(std::string_view s)
{
    // jinja2 splits on runs of whitespace and -({[< and capitalizes each piece.
    std::vector<char32_t> cps = decode(s);
    bool wordStart = true;
    for (char32_t& cp : cps) {
        const bool separator = isSpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
        if (separator) {
            wordStart = true;
            continue;
        }
        cp = wordStart ? toUpper(cp) : toLower(cp);
        wordStart = false;
    }
    return encode(cps);
}

std::string strip(std::string_view s, const std::string* chars, bool left, bool right)
{
    std::vector<char32_t> cps = decode(s);
    std::vector<char32_t> set;
    if (chars)
        set = decode(*chars);
    auto strippable = [&](char32_t cp) {
        if (!chars)
            return isSpace(cp);
        for (char32_t c : set)
            if (c == cp)
                return true;
        return false;
    };
    size_t b = 0;
    size_t e = cps.size();
    if (left)
        while (b < e && strippable(cps[b]))
            ++b;
    if (right)
        while (e > b && strippable(cps[e - 1]))
            --e;
    return encode(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b),
                                        cps.begin() + static_cast<std::ptrdiff_t>(e)));
}

}  // namespace hearth::jinja::text
