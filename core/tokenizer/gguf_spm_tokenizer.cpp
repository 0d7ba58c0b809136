// GGUF "llama" vocabularies: llama.cpp's SentencePiece-style tokenizer. Text becomes one symbol
// per UTF-8 character ("▁" for spaces, one prepended to each run of text), neighbours merge while
// the merged text is a token, highest score first, and characters no token covers fall back to
// their <0xNN> byte tokens. Decoding follows the Hugging Face Llama decoder (▁ to space, byte
// fallback, one leading space stripped) so text matches what transformers shows.
#include <algorithm>
#include <queue>

#include "tokenizer/bpe_model.h"
#include "tokenizer/gguf_vocab.h"
#include "tokenizer/special_text_split.h"

namespace hearth::tok {

namespace {

constexpr std::string_view kMetaSpace = "\xE2\x96\x81";  // U+2581

std::size_t utf8Length(unsigned char lead)
{
    if (lead < 0xC0) return 1;  // ASCII, or a stray continuation byte taken alone
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    return 4;
}

bool validUtf8(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
        for (std::size_t k = 1; k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3Fu);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

std::optional<unsigned char> bytePieceValue(std::string_view piece)
{
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    int hi = hex(piece[3]), lo = hex(piece[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned char>(hi * 16 + lo);
}

std::string metaToSpace(std::string_view piece)
{
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
        if (piece.substr(i, kMetaSpace.size()) == kMetaSpace) {
            out += ' ';
            i += kMetaSpace.size();
        } else {
            out += piece[i++];
        }
    }
    return out;
}

class GgufSpmTokenizer final : public Tokenizer {
public:
    explicit GgufSpmTokenizer(const GgufVocab& vocab) : m_vocab(vocab)
    {
        std::size_t n = m_vocab.tokens.size();
        if (m_vocab.scores.size() != n) m_vocab.scores.assign(n, 0.0f);
        std::fill(std::begin(m_byteIds), std::end(m_byteIds), -1);
        m_pieceToId.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            auto id = static_cast<TokenId>(i);
            const std::string& piece = m_vocab.tokens[i];
            m_pieceToId.emplace(piece, id);
            GgufTokenType type = m_vocab.types[i];
            if (type == GgufTokenType::Byte)
                if (auto b = bytePieceValue(piece); b && m_byteIds[*b] < 0) m_byteIds[*b] = id;
            if ((type == GgufTokenType::Control || type == GgufTokenType::Unknown || type == GgufTokenType::UserDefined) && !piece.empty())
                m_specialTexts.emplace_back(piece, id);
        }
        std::stable_sort(m_specialTexts.begin(), m_specialTexts.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    }

    std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options) const override
    {
        std::vector<TokenId> ids;
        const SpecialTokens& s = m_vocab.special;
        if (options.addSpecialTokens && s.addBosByDefault && s.bos) ids.push_back(*s.bos);
        // Control and unknown text is a token only when parsing specials; user-defined always is.
        splitAtSpecialTexts(
            text, m_specialTexts,
            [&](TokenId id) { return options.parseSpecial || m_vocab.type(id) == GgufTokenType::UserDefined; },
            [&](std::string_view run) { encodeRun(run, ids); }, [&](TokenId id) { ids.push_back(id); });
        if (options.addSpecialTokens && s.addEosByDefault && s.eos) ids.push_back(*s.eos);
        return ids;
    }

    std::string decode(const std::vector<TokenId>& ids, bool skipSpecial) const override
    {
        std::string out;
        std::string bytes;
        auto flushBytes = [&] {
            if (bytes.empty()) return;
            if (validUtf8(bytes)) {
                out += bytes;
            } else {
                for (std::size_t i = 0; i < bytes.size(); ++i) out += "\xEF\xBF\xBD";
            }
            bytes.clear();
        };
        for (TokenId id : ids) {
            if (!valid(id)) continue;
            if (skipSpecial && isSpecial(id)) continue;
            if (m_vocab.type(id) == GgufTokenType::Byte) {
                if (auto b = bytePieceValue(m_vocab.tokens[static_cast<std::size_t>(id)])) {
                    bytes += static_cast<char>(*b);
                    continue;
                }
            }
            flushBytes();
            out += pieceText(id);
        }
        flushBytes();
        if (m_vocab.addSpacePrefix && !out.empty() && out[0] == ' ') out.erase(0, 1);
        return out;
    }

    std::string tokenBytes(TokenId id, bool atStart) const override
    {
        if (!valid(id)) return {};
        if (m_vocab.type(id) == GgufTokenType::Byte)
            if (auto b = bytePieceValue(m_vocab.tokens[static_cast<std::size_t>(id)])) return std::string(1, static_cast<char>(*b));
        std::string text = pieceText(id);
        if (atStart && m_vocab.addSpacePrefix && !text.empty() && text[0] == ' ') text.erase(0, 1);
        return text;
    }

    std::string tokenToPiece(TokenId id) const override { return valid(id) ? m_vocab.tokens[static_cast<std::size_t>(id)] : std::string(); }

    std::optional<TokenId> pieceToToken(std::string_view piece) const override
    {
        auto it = m_pieceToId.find(piece);
        return it == m_pieceToId.end() ? std::nullopt : std::optional<TokenId>(it->second);
    }

    bool isSpecial(TokenId id) const override
    {
        return valid(id) && (m_vocab.type(id) == GgufTokenType::Control || m_vocab.type(id) == GgufTokenType::Unknown);
    }
    std::size_t vocabSize() const override { return m_vocab.tokens.size(); }
    const SpecialTokens& specialTokens() const override { return m_vocab.special; }

private:
    struct Symbol {
        std::size_t begin = 0;
        std::size_t n = 0;
        int prev = -1;
        int next = -1;
    };
    struct Bigram {
        int left = 0;
        int right = 0;
        float score = 0;
        std::size_t size = 0;
        // Highest score first; on equal scores the leftmost pair, as llama.cpp orders them.
        bool operator<(const Bigram& o) const { return score < o.score || (score == o.score && left > o.left); }
    };

    bool valid(TokenId id) const { return id >= 0 && static_cast<std::size_t>(id) < m_vocab.tokens.size(); }

    std::string pieceText(TokenId id) const
    {
        GgufTokenType type = m_vocab.type(id);
        const std::string& piece = m_vocab.tokens[static_cast<std::size_t>(id)];
        return type == GgufTokenType::Control || type == GgufTokenType::Unknown ? piece : metaToSpace(piece);
    }

    // Merges may only form ordinary pieces: control, byte and unused tokens are never the result of
    // SentencePiece segmentation, though their spelling may be reachable ("<s>" from "<s" + ">").
    std::optional<TokenId> mergeTarget(std::string_view text) const
    {
        auto it = m_pieceToId.find(text);
        if (it == m_pieceToId.end()) return std::nullopt;
        GgufTokenType type = m_vocab.type(it->second);
        if (type != GgufTokenType::Normal && type != GgufTokenType::UserDefined) return std::nullopt;
        return it->second;
    }

    void encodeRun(std::string_view raw, std::vector<TokenId>& out) const
    {
        if (raw.empty()) return;
        std::string text;
        text.reserve(raw.size() + 8);
        if (m_vocab.addSpacePrefix) text += kMetaSpace;
        for (char c : raw) {
            if (c == ' ') text += kMetaSpace;
            else text += c;
        }
        std::vector<Symbol> symbols;
        for (std::size_t offset = 0; offset < text.size();) {
            Symbol sym;
            sym.begin = offset;
            sym.n = std::min(utf8Length(static_cast<unsigned char>(text[offset])), text.size() - offset);
            offset += sym.n;
            sym.prev = static_cast<int>(symbols.size()) - 1;
            sym.next = offset == text.size() ? -1 : static_cast<int>(symbols.size()) + 1;
            symbols.push_back(sym);
        }
        std::priority_queue<Bigram> queue;
        auto tryAdd = [&](int left, int right) {
            if (left < 0 || right < 0) return;
            const Symbol& l = symbols[static_cast<std::size_t>(left)];
            const Symbol& r = symbols[static_cast<std::size_t>(right)];
            auto id = mergeTarget(std::string_view(text).substr(l.begin, l.n + r.n));
            if (!id) return;
            queue.push(Bigram{left, right, m_vocab.scores[static_cast<std::size_t>(*id)], l.n + r.n});
        };
        for (std::size_t i = 1; i < symbols.size(); ++i) tryAdd(static_cast<int>(i) - 1, static_cast<int>(i));
        while (!queue.empty()) {
            Bigram b = queue.top();
            queue.pop();
            Symbol& l = symbols[static_cast<std::size_t>(b.left)];
            Symbol& r = symbols[static_cast<std::size_t>(b.right)];
            if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale: a side merged since
            l.n += r.n;
            r.n = 0;
            l.next = r.next;
            if (r.next >= 0) symbols[static_cast<std::size_t>(r.next)].prev = b.left;
            tryAdd(l.prev, b.left);
            tryAdd(b.left, l.next);
        }
        for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[static_cast<std::size_t>(i)].next) {
            const Symbol& sym = symbols[static_cast<std::size_t>(i)];
            std::string_view piece = std::string_view(text).substr(sym.begin, sym.n);
            if (auto id = mergeTarget(piece)) {
                out.push_back(*id);
                continue;
            }
            for (char c : piece) {
                TokenId byteId = m_byteIds[static_cast<unsigned char>(c)];
                if (byteId >= 0) out.push_back(byteId);
                else if (m_vocab.special.unk) out.push_back(*m_vocab.special.unk);
            }
        }
    }

    GgufVocab m_vocab;
    StringIdMap m_pieceToId;
    TokenId m_byteIds[256];
    std::vector<std::pair<std::string, TokenId>> m_specialTexts;  // longest first
};

}  // namespace

Result<std::unique_ptr<Tokenizer>> makeGgufSpmTokenizer(const GgufVocab& vocab)
{
    bool anyByte = std::any_of(vocab.types.begin(), vocab.types.end(), [](GgufTokenType t) { return t == GgufTokenType::Byte; });
    if (!anyByte && !vocab.special.unk)
        return makeError(ErrorCode::Corrupt, vocab.name + ": a SentencePiece vocabulary needs <0xNN> byte tokens or an unknown token");
    return std::unique_ptr<Tokenizer>(std::make_unique<GgufSpmTokenizer>(vocab));
}

}  // namespace hearth::tok
