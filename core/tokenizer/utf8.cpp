#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

unsigned char byteAt(std::string_view text, std::size_t pos) { return static_cast<unsigned char>(text[pos]); }

// The allowed range of the second byte depends on the lead byte (Unicode table 3-7).
bool secondByteOk(unsigned char lead, unsigned char b)
{
    switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
    }
}

std::size_t expectedLength(unsigned char lead)
{
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;
}

// How many bytes starting at pos form a correct (possibly incomplete) prefix of a sequence.
std::size_t correctPrefixLength(std::string_view text, std::size_t pos)
{
    unsigned char lead = byteAt(text, pos);
    std::size_t need = expectedLength(lead);
    if (need <= 1) return need;
    std::size_t n = 1;
    while (n < need && pos + n < text.size()) {
        unsigned char b = byteAt(text, pos + n);
        bool ok = n == 1 ? secondByteOk(lead, b) : (b >= 0x80 && b <= 0xBF);
        if (!ok) break;
        ++n;
    }
    return n;
}

}  // namespace

std::size_t validSequenceLength(std::string_view text, std::size_t pos)
{
    if (pos >= text.size()) return 0;
    std::size_t need = expectedLength(byteAt(text, pos));
    if (need == 0) return 0;
    return correctPrefixLength(text, pos) == need ? need : 0;
}

std::size_t invalidSubpartLength(std::string_view text, std::size_t pos)
{
    std::size_t n = correctPrefixLength(text, pos);
    return n == 0 ? 1 : n;
}

bool isValidUtf8(std::string_view text)
{
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (byteAt(text, pos) < 0x80) {
            ++pos;
            continue;
        }
        std::size_t n = validSequenceLength(text, pos);
        if (n == 0) return false;
        pos += n;
    }
    return true;
}

std::string toValidUtf8(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t n = validSequenceLength(text, pos);
        if (n > 0) {
            out.append(text.substr(pos, n));
            pos += n;
        } else {
            out.append(kReplacementChar);
            pos += invalidSubpartLength(text, pos);
        }
    }
    return out;
}

char32_t nextCodePoint(std::string_view text, std::size_t& pos)
{
    unsigned char lead = byteAt(text, pos);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    std::size_t n = expectedLength(lead);
    if (n == 0 || pos + n > text.size()) {
        ++pos;
        return 0xFFFD;
    }
    char32_t cp = lead & (0xFF >> (n + 1));
    for (std::size_t i = 1; i < n; ++i) cp = (cp << 6) | (byteAt(text, pos + i) & 0x3F);
    pos += n;
    return cp;
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
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

bool isUnicodeWhitespace(char32_t cp)
{
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

}  // namespace hearth::tok
