// One tokenizer interface over the three sources Hearth reads: Hugging Face tokenizer.json
// (byte-level BPE and metaspace BPE with byte fallback), SentencePiece tokenizer.model, and the
// vocabulary embedded in a GGUF file. Encoding must give exactly the ids Hugging Face gives.
// Implementations are immutable after loading and safe to use from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace hearth {

using TokenId = std::int32_t;

struct SpecialTokens {
    std::optional<TokenId> bos;
    std::optional<TokenId> eos;
    std::optional<TokenId> pad;
    std::optional<TokenId> unk;
    std::vector<TokenId> endOfTurn;  // ids that end an assistant turn (eos, <|im_end|>, <|eot_id|>, ...)
    bool addBosByDefault = false;    // the tokenizer's own post-processor adds BOS
    bool addEosByDefault = false;
};

struct EncodeOptions {
    bool parseSpecial = true;        // "<|im_start|>" in text becomes the special token (HF default)
    bool addSpecialTokens = false;   // run the post-processor (BOS/EOS) like HF add_special_tokens=True
};

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    virtual std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const = 0;
    // Decodes ids to UTF-8 text; invalid UTF-8 from partial byte tokens becomes U+FFFD, as HF does.
    virtual std::string decode(const std::vector<TokenId>& ids, bool skipSpecial = false) const = 0;
    // The raw bytes one token adds to decoded text, possibly part of a UTF-8 character (byte-level
    // and "<0xXX>" byte-fallback tokens). `atStart`: the token is the first of the text, where
    // metaspace vocabularies drop the leading space as decode does. Used by StreamDecoder.
    virtual std::string tokenBytes(TokenId id, bool atStart) const = 0;
    // The vocabulary's own spelling of a token ("Ġhello", "▁hello", "<0x0A>", "<|im_end|>").
    virtual std::string tokenToPiece(TokenId id) const = 0;
    virtual std::optional<TokenId> pieceToToken(std::string_view piece) const = 0;
    virtual bool isSpecial(TokenId id) const = 0;
    virtual std::size_t vocabSize() const = 0;
    virtual const SpecialTokens& specialTokens() const = 0;
};

// Loads a tokenizer from a model folder (tokenizer.json, else tokenizer.model), a tokenizer.json or
// tokenizer.model path, or a .gguf file. Special ids and the end-of-turn set come from
// tokenizer_config.json / generation_config.json / config.json when present.
Result<std::unique_ptr<Tokenizer>> loadTokenizer(const std::string& path);

}  // namespace hearth
