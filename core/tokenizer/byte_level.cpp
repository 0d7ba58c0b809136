#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

struct ByteLevelTables {
    std::array<std::string, 256> charOf;
    std::array<int, 512> byteOf{};  // every stand-in code point is below 0x144

    ByteLevelTables()
    {
        byteOf.fill(-1);
        int next = 0;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
            appendUtf8(charOf[static_cast<std::size_t>(b)], cp);
            byteOf[cp] = b;
        }
    }
};

const ByteLevelTables& tables()
{
    static const ByteLevelTables t;
    return t;
}

}  // namespace

std::string_view byteLevelChar(unsigned char byte) { return tables().charOf[byte]; }

std::optional<std::string> byteLevelToBytes(std::string_view piece)
{
    std::string out;
    if (!byteLevelToBytes(piece, out)) return std::nullopt;
    return out;
}

bool byteLevelToBytes(std::string_view piece, std::string& out)
{
    const ByteLevelTables& t = tables();
    out.clear();
    out.reserve(piece.size());
    std::size_t pos = 0;
    while (pos < piece.size()) {
        auto lead = static_cast<unsigned char>(piece[pos]);
        if (lead < 0x80) {
            // ASCII stands for itself or is outside the alphabet (space, controls).
            if (t.byteOf[lead] < 0) return false;
            out.push_back(static_cast<char>(lead));
            ++pos;
            continue;
        }
        if (validSequenceLength(piece, pos) == 0) return false;
        char32_t cp = nextCodePoint(piece, pos);
        if (cp >= t.byteOf.size() || t.byteOf[cp] < 0) return false;
        out.push_back(static_cast<char>(t.byteOf[cp]));
    }
    return true;
}

std::string bytesToByteLevel(std::string_view bytes)
{
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) out.append(byteLevelChar(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace hearth::tok
