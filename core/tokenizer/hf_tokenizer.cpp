#include "tokenizer/hf_tokenizer.h"

#include "tokenizer/utf8.h"

namespace hearth::tok {

std::vector<TokenId> HfTokenizer::encode(std::string_view text, const EncodeOptions& options) const
{
    // HF takes a Rust String, always valid UTF-8; repair first so every later step can rely on it.
    std::string repaired;
    if (!isValidUtf8(text)) {
        repaired = toValidUtf8(text);
        text = repaired;
    }
    std::vector<TokenId> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<Segment> segments;
    if (m_added.empty()) segments.push_back({0, text.size(), -1});
    else m_added.split(text, false, options.parseSpecial, segments);

    std::string normalized;
    std::vector<Segment> inner;
    for (const Segment& segment : segments) {
        if (segment.token >= 0) {
            ids.push_back(segment.token);
            continue;
        }
        std::string_view part = text.substr(segment.begin, segment.end - segment.begin);
        if (part.empty()) continue;
        bool atInputStart = segment.begin == 0;
        if (m_normalizer) {
            normalized.assign(part);
            m_normalizer->normalize(normalized);
            part = normalized;
        }
        if (!m_hasNormalizedAdded) {
            encodeText(part, atInputStart, ids);
            continue;
        }
        inner.clear();
        m_added.split(part, true, options.parseSpecial, inner);
        for (const Segment& sub : inner) {
            if (sub.token >= 0) ids.push_back(sub.token);
            else encodeText(part.substr(sub.begin, sub.end - sub.begin), atInputStart && sub.begin == 0, ids);
        }
    }
    if (options.addSpecialTokens) m_postProcessor.apply(ids);
    return ids;
}

void HfTokenizer::encodeText(std::string_view text, bool atInputStart, std::vector<TokenId>& ids) const
{
    if (text.empty()) return;
    if (!m_preTokenizer) {
        m_model->encodeWord(text, ids);
        return;
    }
    thread_local Pieces pieces;
    pieces.text.assign(text);
    pieces.spans.clear();
    pieces.spans.push_back({0, text.size(), atInputStart});
    m_preTokenizer->apply(pieces);
    for (const PieceSpan& span : pieces.spans)
        m_model->encodeWord(std::string_view(pieces.text).substr(span.begin, span.end - span.begin), ids);
}

const std::string* HfTokenizer::spelling(TokenId id) const
{
    if (const AddedToken* added = m_added.byId(id)) return &added->content;
    if (id < 0 || static_cast<std::size_t>(id) >= m_model->vocabSize()) return nullptr;
    const std::string& piece = m_model->piece(id);
    return piece.empty() ? nullptr : &piece;
}

std::string HfTokenizer::decode(const std::vector<TokenId>& ids, bool skipSpecial) const
{
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (TokenId id : ids) {
        if (skipSpecial && isSpecial(id)) continue;
        if (const std::string* s = spelling(id)) tokens.push_back(*s);
    }
    std::string out;
    if (m_decoder) {
        m_decoder->decodeChain(tokens);
        for (const std::string& t : tokens) out += t;
    } else {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0) out.push_back(' ');
            out += tokens[i];
        }
    }
    return isValidUtf8(out) ? out : toValidUtf8(out);
}

std::string HfTokenizer::tokenBytes(TokenId id, bool atStart) const
{
    const std::string* s = spelling(id);
    if (!s) return {};
    std::string token = *s;
    if (!m_decoder) return atStart ? token : " " + token;
    TokenDecodeState state;
    state.atStart = atStart;
    m_decoder->decodeToken(token, state);
    return token;
}

std::string HfTokenizer::tokenToPiece(TokenId id) const
{
    const std::string* s = spelling(id);
    return s ? *s : std::string();
}

std::optional<TokenId> HfTokenizer::pieceToToken(std::string_view piece) const
{
    if (const AddedToken* added = m_added.byContent(piece)) return added->id;
    return m_model->pieceToId(piece);
}

bool HfTokenizer::isSpecial(TokenId id) const
{
    const AddedToken* added = m_added.byId(id);
    return added && added->special;
}

}  // namespace hearth::tok
