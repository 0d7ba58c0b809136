// The Tokenizer for SentencePiece tokenizer.model files (Llama 2, Mistral, Gemma and friends that
// ship no tokenizer.json), run by libsentencepiece so the ids are SentencePiece's own.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace hearth {

namespace tok {

class SentencePieceTokenizer final : public Tokenizer {
public:
    ~SentencePieceTokenizer() override;

    // Parses the bytes of a .model file; `name` (the file path) prefixes error messages.
    static Result<std::unique_ptr<SentencePieceTokenizer>> fromSerializedModel(std::string_view modelBytes, const std::string& name);

    // Special-token parsing splits the text at the model's control symbols ("<s>", "<|im_end|>")
    // and "<unk>", as HF's slow LlamaTokenizer does; user-defined symbols are matched by
    // SentencePiece itself in both modes, because they are ordinary pieces of the model.
    std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const override;
    // Control tokens decode to their spelling unless skipped; runs between them decode as
    // SentencePiece decodes them.
    std::string decode(const std::vector<TokenId>& ids, bool skipSpecial = false) const override;
    std::string tokenBytes(TokenId id, bool atStart) const override;
    std::string tokenToPiece(TokenId id) const override;
    std::optional<TokenId> pieceToToken(std::string_view piece) const override;
    bool isSpecial(TokenId id) const override;
    std::size_t vocabSize() const override { return m_pieces.size(); }
    const SpecialTokens& specialTokens() const override { return m_special; }

    // Takes bos/eos/pad/unk, add_bos_token and add_eos_token from tokenizer_config.json text
    // (empty: keep the model's own ids and LlamaTokenizer's defaults, BOS on, EOS off).
    Status applyTokenizerConfig(std::string_view tokenizerConfig, const std::string& name);

private:
    SentencePieceTokenizer();
    void encodePlain(std::string_view text, std::vector<TokenId>& out) const;
    bool valid(TokenId id) const { return id >= 0 && static_cast<std::size_t>(id) < m_pieces.size(); }

    std::unique_ptr<sentencepiece::SentencePieceProcessor> m_processor;
    std::vector<std::string> m_pieces;
    std::vector<bool> m_control;                                // control or unknown: special
    std::vector<std::pair<std::string, TokenId>> m_specialTexts;  // longest first
    bool m_decodeStripsLeadingSpace = true;
    SpecialTokens m_special;
};

}  // namespace tok

// Loads a tokenizer.model, with the tokenizer_config.json in `folder` when there is one
// (`folder` may be empty).
Result<std::unique_ptr<Tokenizer>> loadSentencePieceTokenizer(const std::string& modelPath, const std::string& folder);

}  // namespace hearth
