// tokenizer.json "pre_tokenizer": splits normalized text into the pieces BPE runs on. Pieces are
// spans over one buffer so splitting allocates nothing per piece.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/regex.h"
#include "util/result.h"

namespace hearth::tok {

struct PieceSpan {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool atInputStart = false;  // starts at offset 0 of the caller's text (Metaspace "first")
};

// The working set of one pre-tokenization: the text and its current pieces, plus scratch space
// reused across steps.
struct Pieces {
    std::string text;
    std::vector<PieceSpan> spans;
    std::vector<PieceSpan> nextSpans;
    std::vector<Match> matches;
    std::string nextText;
};

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits (and for Metaspace/ByteLevel prefixing, rewrites) every piece.
    virtual void apply(Pieces& pieces) const = 0;
    // True when this step (or one inside a Sequence) is ByteLevel: the model then works on bytes.
    virtual bool isByteLevel() const { return false; }
};

// Builds the pre-tokenizer a tokenizer.json "pre_tokenizer" object describes (null gives nullptr).
Result<std::unique_ptr<PreTokenizer>> parsePreTokenizer(const nlohmann::json& spec, int depth = 0);

// The regex GPT-2's ByteLevel pre-tokenizer splits with when use_regex is on.
inline constexpr const char* kGpt2SplitRegex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace hearth::tok
