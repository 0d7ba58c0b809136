#include "tokenizer/added_tokens.h"

#include <algorithm>

#include <utf8proc.h>

#include "tokenizer/normalizers.h"
#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

bool isWordChar(char32_t cp)
{
    if (cp == '_') return true;
    auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return (category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO) ||
           (category >= UTF8PROC_CATEGORY_ND && category <= UTF8PROC_CATEGORY_NO);
}

char32_t lastCodePoint(std::string_view text, std::size_t end, std::size_t* start = nullptr)
{
    std::size_t s = end - 1;
    while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80) --s;
    if (start) *start = s;
    std::size_t p = s;
    return nextCodePoint(text, p);
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view key, std::int32_t token)
{
    if (key.empty()) return;
    std::int32_t node = 0;
    for (char c : key) {
        auto byte = static_cast<unsigned char>(c);
        auto& children = nodes[static_cast<std::size_t>(node)].children;
        auto it = std::find_if(children.begin(), children.end(), [byte](const auto& p) { return p.first == byte; });
        if (it != children.end()) {
            node = it->second;
        } else {
            auto next = static_cast<std::int32_t>(nodes.size());
            nodes[static_cast<std::size_t>(node)].children.emplace_back(byte, next);
            nodes.emplace_back();
            node = next;
        }
    }
    firstByte[static_cast<unsigned char>(key[0])] = true;
    // The first token registered with a spelling wins, like HF's trie built in id order.
    if (nodes[static_cast<std::size_t>(node)].token < 0) nodes[static_cast<std::size_t>(node)].token = token;
}

std::pair<std::int32_t, std::size_t> AddedVocabulary::Trie::longestAt(std::string_view text, std::size_t pos) const
{
    std::pair<std::int32_t, std::size_t> best{-1, 0};
    std::int32_t node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        auto byte = static_cast<unsigned char>(text[i]);
        const auto& children = nodes[static_cast<std::size_t>(node)].children;
        auto it = std::find_if(children.begin(), children.end(), [byte](const auto& p) { return p.first == byte; });
        if (it == children.end()) break;
        node = it->second;
        if (nodes[static_cast<std::size_t>(node)].token >= 0) best = {nodes[static_cast<std::size_t>(node)].token, i + 1 - pos};
    }
    return best;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer)
{
    m_tokens = std::move(tokens);
    for (std::size_t i = 0; i < m_tokens.size(); ++i) {
        const AddedToken& t = m_tokens[i];
        m_byId.emplace(t.id, i);
        m_byContent.emplace(t.content, i);
        if (t.normalized) {
            std::string spelling = t.content;
            if (normalizer) normalizer->normalize(spelling);
            m_normalizedTrie.insert(spelling, static_cast<std::int32_t>(i));
        } else {
            m_rawTrie.insert(t.content, static_cast<std::int32_t>(i));
        }
    }
}

void AddedVocabulary::split(std::string_view text, bool normalizedSet, bool parseSpecial, std::vector<Segment>& out) const
{
    const Trie& trie = normalizedSet ? m_normalizedTrie : m_rawTrie;
    std::size_t startOffset = 0;
    std::size_t pos = 0;
    // Mirrors AddedVocabulary::find_matches over aho-corasick's leftmost-longest, non-overlapping
    // matches: a match that is rejected (single_word) or skipped (special, not parsed) still
    // consumes its text.
    while (pos < text.size()) {
        if (!trie.firstByte[static_cast<unsigned char>(text[pos])]) {
            ++pos;
            continue;
        }
        auto [index, length] = trie.longestAt(text, pos);
        if (index < 0) {
            ++pos;
            continue;
        }
        std::size_t start = pos;
        std::size_t stop = pos + length;
        pos = stop;
        const AddedToken& token = m_tokens[static_cast<std::size_t>(index)];
        if (token.special && !parseSpecial) continue;
        if (token.singleWord) {
            bool startSpace = start == 0 || !isWordChar(lastCodePoint(text, start));
            std::size_t p = stop;
            bool stopSpace = stop == text.size() || !isWordChar(nextCodePoint(text, p));
            if (!startSpace || !stopSpace) continue;
        }
        if (start < startOffset) continue;  // inside an earlier token's rstrip
        if (token.lstrip) {
            std::size_t newStart = start;
            while (newStart > 0) {
                std::size_t s = 0;
                if (!isUnicodeWhitespace(lastCodePoint(text, newStart, &s))) break;
                newStart = s;
            }
            start = std::max(newStart, startOffset);
        }
        if (token.rstrip) {
            while (stop < text.size()) {
                std::size_t p = stop;
                if (!isUnicodeWhitespace(nextCodePoint(text, p))) break;
                stop = p;
            }
            pos = stop;
        }
        if (startOffset < start) out.push_back({startOffset, start, -1});
        out.push_back({start, stop, token.id});
        startOffset = stop;
    }
    if (startOffset < text.size()) out.push_back({startOffset, text.size(), -1});
}

const AddedToken* AddedVocabulary::byId(TokenId id) const
{
    auto it = m_byId.find(id);
    return it == m_byId.end() ? nullptr : &m_tokens[it->second];
}

const AddedToken* AddedVocabulary::byContent(std::string_view content) const
{
    auto it = m_byContent.find(std::string(content));
    return it == m_byContent.end() ? nullptr : &m_tokens[it->second];
}

}  // namespace hearth::tok
