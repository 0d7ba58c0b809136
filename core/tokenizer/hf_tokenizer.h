// The Tokenizer for Hugging Face tokenizer.json files: added tokens, normalizer, pre-tokenizer,
// BPE model, post-processor and decoder, run in HF's order so the ids are HF's ids.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/decoders.h"
#include "tokenizer/normalizers.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizers.h"
#include "tokenizer/tokenizer.h"

namespace hearth::tok {

class HfTokenizer final : public Tokenizer {
public:
    // Parses tokenizer.json text; `name` (the file path) prefixes error messages.
    static Result<std::unique_ptr<HfTokenizer>> fromJsonText(std::string_view jsonText, const std::string& name);

    std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const override;
    std::string decode(const std::vector<TokenId>& ids, bool skipSpecial = false) const override;
    std::string tokenBytes(TokenId id, bool atStart) const override;
    std::string tokenToPiece(TokenId id) const override;
    std::optional<TokenId> pieceToToken(std::string_view piece) const override;
    bool isSpecial(TokenId id) const override;
    std::size_t vocabSize() const override { return m_vocabSize; }
    const SpecialTokens& specialTokens() const override { return m_special; }

    // Fills special ids from tokenizer_config.json / generation_config.json text (either may be
    // empty) and the end-of-turn tokens the vocabulary has.
    Status applyConfigs(std::string_view tokenizerConfig, std::string_view generationConfig);

private:
    void encodeText(std::string_view text, bool atInputStart, std::vector<TokenId>& ids) const;
    // The spelling decode starts from: the added token's content or the vocabulary piece.
    const std::string* spelling(TokenId id) const;

    std::unique_ptr<Normalizer> m_normalizer;
    std::unique_ptr<PreTokenizer> m_preTokenizer;
    std::unique_ptr<BpeModel> m_model;
    std::unique_ptr<Decoder> m_decoder;
    PostProcessor m_postProcessor;
    AddedVocabulary m_added;
    bool m_hasNormalizedAdded = false;
    std::size_t m_vocabSize = 0;
    SpecialTokens m_special;
};

}  // namespace hearth::tok
