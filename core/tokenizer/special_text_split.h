// Splitting text at the literal spellings of special tokens, shared by the SentencePiece and
// GGUF (llama-type) tokenizers, whose libraries match these texts before the model runs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth {

// Walks `text` and, at the leftmost position where one of `specials` (sorted longest first, so
// the longest wins there) matches and `usable(id)` allows it, calls onText(text before it) then
// onSpecial(id); the text after the last match goes to onText too. onText may see empty text.
template <typename Usable, typename OnText, typename OnSpecial>
void splitAtSpecialTexts(std::string_view text, const std::vector<std::pair<std::string, TokenId>>& specials,
                         Usable usable, OnText onText, OnSpecial onSpecial)
{
    std::size_t start = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::pair<std::string, TokenId>* hit = nullptr;
        for (const auto& special : specials) {
            if (usable(special.second) && text.compare(pos, special.first.size(), special.first) == 0) {
                hit = &special;
                break;
            }
        }
        if (!hit) {
            ++pos;
            continue;
        }
        onText(text.substr(start, pos - start));
        onSpecial(hit->second);
        pos += hit->first.size();
        start = pos;
    }
    onText(text.substr(start));
}

}  // namespace hearth
