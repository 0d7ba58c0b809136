// The synthetic reference models, generated once per build folder for every test that needs them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hearth::test {

// Folder holding ref-qwen2-d64, ref-qwen2-d128 and ref-qwen2-d64-lora, generated on first use
// into HEARTH_BINARY_DIR/reference-models (safe when several test processes ask at once).
// Empty, with the reason on stderr, when generation failed.
std::string referenceModelsDir();

// One prompt of golden.json (Hugging Face transformers on the reference models): its token ids
// and the greedy continuation.
struct GoldenGreedy {
    std::vector<TokenId> ids;
    std::vector<TokenId> greedy;
};
// golden.json's prompts by model key ("ref-qwen2-d64", ...); empty when the file is missing or
// malformed (the callers' count checks then fail).
std::map<std::string, std::vector<GoldenGreedy>> readGoldenGreedy();

}  // namespace hearth::test
