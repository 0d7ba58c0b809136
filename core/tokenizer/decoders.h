// tokenizer.json "decoder": turns token spellings back into text. decodeChain follows HF's
// decode_chain exactly (for whole-sequence decode); decodeToken gives one token's raw bytes for the
// streaming detokenizer, leaving UTF-8 repair to the caller.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "util/result.h"

namespace hearth::tok {

struct TokenDecodeState {
    bool atStart = true;  // the first token of the output
    bool fused = false;   // a Fuse step ran earlier in the chain: later steps see the whole text
};

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens) const = 0;
    virtual void decodeToken(std::string& token, TokenDecodeState& state) const = 0;
};

// Builds the decoder a tokenizer.json "decoder" object describes (null gives nullptr).
Result<std::unique_ptr<Decoder>> parseDecoder(const nlohmann::json& spec, int depth = 0);

}  // namespace hearth::tok
