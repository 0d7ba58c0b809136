// Added tokens (tokenizer.json "added_tokens"): special and normal tokens matched in the text
// before the model runs, longest match first, with HF's lstrip/rstrip/single_word/normalized rules.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::tok {

class Normalizer;

struct AddedToken {
    std::string content;
    TokenId id = 0;
    bool special = false;
    bool lstrip = false;
    bool rstrip = false;
    bool singleWord = false;
    bool normalized = false;
};

// A stretch of the text: either plain text [begin, end) or an added token.
struct Segment {
    std::size_t begin = 0;
    std::size_t end = 0;
    TokenId token = -1;  // -1: plain text
};

class AddedVocabulary {
public:
    // Registers the tokens and builds the matchers; normalized tokens are matched in their
    // normalized spelling, as HF does.
    void build(std::vector<AddedToken> tokens, const Normalizer* normalizer);

    // Splits `text` into plain text and added tokens. `normalizedSet` picks the tokens matched
    // after normalization; with `parseSpecial` false, special tokens are left as text.
    void split(std::string_view text, bool normalizedSet, bool parseSpecial, std::vector<Segment>& out) const;

    const AddedToken* byId(TokenId id) const;
    const AddedToken* byContent(std::string_view content) const;
    const std::vector<AddedToken>& tokens() const { return m_tokens; }
    bool empty() const { return m_tokens.empty(); }

private:
    // A byte trie over token spellings; node 0 is the root.
    struct Trie {
        struct Node {
            std::vector<std::pair<unsigned char, std::int32_t>> children;
            std::int32_t token = -1;  // index into m_tokens
        };
        std::vector<Node> nodes{Node{}};
        bool firstByte[256] = {};
        void insert(std::string_view key, std::int32_t token);
        // The longest token that starts at text[pos]: (token index, length) or (-1, 0).
        std::pair<std::int32_t, std::size_t> longestAt(std::string_view text, std::size_t pos) const;
    };

    std::vector<AddedToken> m_tokens;
    Trie m_rawTrie;
    Trie m_normalizedTrie;
    std::unordered_map<TokenId, std::size_t> m_byId;
    std::unordered_map<std::string, std::size_t> m_byContent;
};

}  // namespace hearth::tok
