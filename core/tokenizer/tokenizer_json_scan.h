// One pass over tokenizer.json that reads the two big tables, model.vocab and model.merges, into
// flat lists of string views, and hands every other part (a few KB) to nlohmann as small DOMs.
// A full nlohmann DOM of an 11 MB Qwen file costs ~0.3 s of map nodes built and torn down; this
// keeps a tokenizer load well under the time it takes to read a small model's weights.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace hearth::tok {

// One "piece": id entry of model.vocab, in file order.
struct VocabItem {
    std::string_view piece;
    long long id = 0;
    bool isInteger = false;  // false: the value was a string, a fraction, an object...
};

// One entry of model.merges: "a b" (kept whole in `left`), ["a", "b"], or anything else.
struct MergeItem {
    enum class Form : std::uint8_t { Line, Pair, Invalid };
    std::string_view left;
    std::string_view right;
    Form form = Form::Invalid;
};

struct TokenizerJsonScan {
    // The document, less model.vocab when it was an object and model.merges when it was a list.
    nlohmann::json root;
    bool hasVocab = false;
    std::vector<VocabItem> vocab;
    bool hasMerges = false;
    std::vector<MergeItem> merges;
    // Strings that held escapes, decoded; a deque so views into it stay valid as it grows.
    std::deque<std::string> unescaped;
};

// Fills `out` from `text`, which must outlive it (the views point into it). Refuses what
// nlohmann would refuse (syntax, bad escapes, invalid UTF-8) and nesting deeper than `maxDepth`.
Status scanTokenizerJson(std::string_view text, int maxDepth, TokenizerJsonScan& out);

}  // namespace hearth::tok
