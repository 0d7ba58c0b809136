// Tokenizers from the vocabulary a GGUF file embeds (tokenizer.ggml.*), so a GGUF model needs no
// other file. "gpt2" vocabularies run on the tokenizer.json byte-level BPE with the pre-tokenizer
// tokenizer.ggml.pre names; "llama" vocabularies run llama.cpp's SentencePiece-style merge by
// score with <0xNN> byte fallback.
#pragma once

#include <memory>
#include <string>

#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

namespace hearth {

// The tokenizer `header`'s tokenizer.ggml.* keys describe; `name` (the file) prefixes errors.
Result<std::unique_ptr<Tokenizer>> tokenizerFromGguf(const GgufHeader& header, const std::string& name);

// Reads a .gguf file's header and builds its tokenizer.
Result<std::unique_ptr<Tokenizer>> loadGgufTokenizer(const std::string& path);

}  // namespace hearth
