// The tokenizer.ggml.* keys of a GGUF file, checked and gathered (private to the tokenizer room).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::tok {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class GgufTokenType : std::int32_t { Undefined = 0, Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct GgufVocab {
    std::string name;                  // the file, for error messages
    std::string model;                 // "gpt2" or "llama"
    std::string pre;                   // tokenizer.ggml.pre ("" when absent)
    std::vector<std::string> tokens;
    std::vector<GgufTokenType> types;  // Normal when the file has none
    std::vector<float> scores;         // empty when the file has none
    std::vector<std::string> merges;   // "left right"
    SpecialTokens special;             // bos/eos/unk/pad, add flags; endOfTurn from eos/eot/eom
    bool addSpacePrefix = true;        // tokenizer.ggml.add_space_prefix ("llama" only)

    GgufTokenType type(TokenId id) const { return types[static_cast<std::size_t>(id)]; }
};

Result<std::unique_ptr<Tokenizer>> makeGgufBpeTokenizer(const GgufVocab& vocab);
Result<std::unique_ptr<Tokenizer>> makeGgufSpmTokenizer(const GgufVocab& vocab);

}  // namespace hearth::tok
