// GGUF-embedded vocabularies: reading tokenizer.ggml.*, and the "gpt2" (byte-level BPE) kind,
// which is handed to the tokenizer.json engine as the tokenizer.json the GGUF was converted from
// would have described it, so there is one BPE in Hearth and its ids are Hugging Face's.
#include "tokenizer/gguf_tokenizer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "tokenizer/gguf_vocab.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/pre_tokenizers.h"

namespace hearth {

namespace tok {

namespace {

constexpr std::size_t kMaxTokens = 4'000'000;

// The pre-tokenizer regexes of the tokenizer.json files these tokenizer.ggml.pre names stand for
// (llama.cpp's convert script picks the name by hashing what that tokenizer.json produces).
const char* const kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kDeepSeekV3Regexes[] = {
    R"(\p{N}{1,3})",
    "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+",  // [一-龥぀-ゟ゠-ヿ]+
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

nlohmann::json splitStep(const char* regex)
{
    return {{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
}

nlohmann::json byteLevelStep(bool useRegex)
{
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", useRegex}};
}

// The normalizer and pre-tokenizer of the tokenizer.json behind a tokenizer.ggml.pre name.
Result<std::pair<nlohmann::json, nlohmann::json>> pipelineFor(const std::string& pre, const std::string& name)
{
    nlohmann::json steps = nlohmann::json::array();
    nlohmann::json normalizer;
    if (pre == "qwen2") {
        normalizer = {{"type", "NFC"}};
        steps.push_back(splitStep(kQwen2Regex));
    } else if (pre == "llama-bpe" || pre == "llama3") {
        steps.push_back(splitStep(kLlama3Regex));
    } else if (pre == "deepseek-v3") {
        for (const char* regex : kDeepSeekV3Regexes) steps.push_back(splitStep(regex));
    } else if (pre == "gpt-2" || pre == "default" || pre.empty()) {
        return std::make_pair(normalizer, byteLevelStep(true));
    } else {
        return makeError(ErrorCode::Unsupported, name + ": tokenizer.ggml.pre '" + pre +
                                                     "' is not supported (qwen2, llama-bpe, deepseek-v3, gpt-2, default)");
    }
    steps.push_back(byteLevelStep(false));
    return std::make_pair(normalizer, nlohmann::json{{"type", "Sequence"}, {"pretokenizers", steps}});
}

// A "gpt2" vocabulary over the tokenizer.json engine; BOS/EOS come from the GGUF's own flags.
class GgufBpeTokenizer final : public Tokenizer {
public:
    GgufBpeTokenizer(std::unique_ptr<HfTokenizer> inner, SpecialTokens special)
        : m_inner(std::move(inner)), m_special(std::move(special)) {}

    std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options) const override
    {
        std::vector<TokenId> ids;
        bool add = options.addSpecialTokens;
        if (add && m_special.addBosByDefault && m_special.bos) ids.push_back(*m_special.bos);
        std::vector<TokenId> body = m_inner->encode(text, {.parseSpecial = options.parseSpecial, .addSpecialTokens = false});
        ids.insert(ids.end(), body.begin(), body.end());
        if (add && m_special.addEosByDefault && m_special.eos) ids.push_back(*m_special.eos);
        return ids;
    }
    std::string decode(const std::vector<TokenId>& ids, bool skipSpecial) const override { return m_inner->decode(ids, skipSpecial); }
    std::string tokenBytes(TokenId id, bool atStart) const override { return m_inner->tokenBytes(id, atStart); }
    std::string tokenToPiece(TokenId id) const override { return m_inner->tokenToPiece(id); }
    std::optional<TokenId> pieceToToken(std::string_view piece) const override { return m_inner->pieceToToken(piece); }
    bool isSpecial(TokenId id) const override { return m_inner->isSpecial(id); }
    std::size_t vocabSize() const override { return m_inner->vocabSize(); }
    const SpecialTokens& specialTokens() const override { return m_special; }

private:
    std::unique_ptr<HfTokenizer> m_inner;
    SpecialTokens m_special;
};

Result<std::vector<std::string>> stringArray(const GgufHeader& header, const char* key, const std::string& name, bool required)
{
    std::vector<std::string> out;
    const GgufValue* value = header.find(key);
    if (!value) {
        if (required) return makeError(ErrorCode::Corrupt, name + ": " + key + " is missing");
        return out;
    }
    const GgufArray* array = value->asArray();
    if (!array || array->elementType != GgufValueType::String)
        return makeError(ErrorCode::Corrupt, name + ": " + key + " is not an array of strings");
    if (array->values.size() > 2 * kMaxTokens) return makeError(ErrorCode::Corrupt, name + ": " + key + " has too many entries");
    out.reserve(array->values.size());
    for (const GgufValue& v : array->values) out.push_back(v.asString() ? *v.asString() : std::string());
    return out;
}

Result<std::optional<TokenId>> tokenIdKey(const GgufHeader& header, const char* key, std::size_t nTokens, const std::string& name)
{
    const GgufValue* value = header.find(key);
    if (!value) return std::optional<TokenId>();
    auto id = value->asInt();
    // llama.cpp writes -1 (as a huge unsigned value) for "none"; anything else out of range is corrupt.
    if (!id || *id < 0 || static_cast<std::uint64_t>(*id) == 0xFFFFFFFFull) return std::optional<TokenId>();
    if (static_cast<std::uint64_t>(*id) >= nTokens)
        return makeError(ErrorCode::Corrupt, name + ": " + key + " = " + std::to_string(*id) + " is outside the vocabulary");
    return std::optional<TokenId>(static_cast<TokenId>(*id));
}

bool boolKey(const GgufHeader& header, const char* key, bool fallback)
{
    const GgufValue* value = header.find(key);
    if (!value) return fallback;
    if (value->type == GgufValueType::Bool) return std::get<bool>(value->v);
    auto n = value->asInt();
    return n ? *n != 0 : fallback;
}

Result<GgufVocab> readVocab(const GgufHeader& header, const std::string& name)
{
    GgufVocab vocab;
    vocab.name = name;
    const GgufValue* model = header.find("tokenizer.ggml.model");
    if (!model || !model->asString()) return makeError(ErrorCode::NotFound, name + ": no tokenizer.ggml.model (the GGUF embeds no vocabulary)");
    vocab.model = *model->asString();
    if (const GgufValue* pre = header.find("tokenizer.ggml.pre"); pre && pre->asString()) vocab.pre = *pre->asString();
    HEARTH_TRY_ASSIGN(vocab.tokens, stringArray(header, "tokenizer.ggml.tokens", name, true));
    std::size_t n = vocab.tokens.size();
    if (n == 0 || n > kMaxTokens) return makeError(ErrorCode::Corrupt, name + ": tokenizer.ggml.tokens has " + std::to_string(n) + " entries");

    vocab.types.assign(n, GgufTokenType::Normal);
    if (const GgufValue* types = header.find("tokenizer.ggml.token_type")) {
        const GgufArray* array = types->asArray();
        if (!array || array->values.size() != n) return makeError(ErrorCode::Corrupt, name + ": tokenizer.ggml.token_type does not have one entry per token");
        for (std::size_t i = 0; i < n; ++i) {
            auto t = array->values[i].asInt();
            if (!t || *t < 0 || *t > 6) return makeError(ErrorCode::Corrupt, name + ": tokenizer.ggml.token_type[" + std::to_string(i) + "] is not a token type");
            vocab.types[i] = static_cast<GgufTokenType>(*t);
        }
    }
    if (const GgufValue* scores = header.find("tokenizer.ggml.scores")) {
        const GgufArray* array = scores->asArray();
        if (!array || array->values.size() != n) return makeError(ErrorCode::Corrupt, name + ": tokenizer.ggml.scores does not have one entry per token");
        vocab.scores.reserve(n);
        for (const GgufValue& v : array->values) {
            auto f = v.asFloat();
            if (!f) return makeError(ErrorCode::Corrupt, name + ": tokenizer.ggml.scores holds a non-number");
            vocab.scores.push_back(static_cast<float>(*f));
        }
    }
    HEARTH_TRY_ASSIGN(vocab.merges, stringArray(header, "tokenizer.ggml.merges", name, vocab.model == "gpt2"));

    SpecialTokens& s = vocab.special;
    HEARTH_TRY_ASSIGN(s.bos, tokenIdKey(header, "tokenizer.ggml.bos_token_id", n, name));
    HEARTH_TRY_ASSIGN(s.eos, tokenIdKey(header, "tokenizer.ggml.eos_token_id", n, name));
    HEARTH_TRY_ASSIGN(s.unk, tokenIdKey(header, "tokenizer.ggml.unknown_token_id", n, name));
    HEARTH_TRY_ASSIGN(s.pad, tokenIdKey(header, "tokenizer.ggml.padding_token_id", n, name));
    HEARTH_TRY_ASSIGN(std::optional<TokenId> eot, tokenIdKey(header, "tokenizer.ggml.eot_token_id", n, name));
    HEARTH_TRY_ASSIGN(std::optional<TokenId> eom, tokenIdKey(header, "tokenizer.ggml.eom_token_id", n, name));
    // llama.cpp's defaults: SentencePiece vocabularies add BOS unless told otherwise.
    s.addBosByDefault = s.bos && boolKey(header, "tokenizer.ggml.add_bos_token", vocab.model == "llama");
    s.addEosByDefault = s.eos && boolKey(header, "tokenizer.ggml.add_eos_token", false);
    vocab.addSpacePrefix = boolKey(header, "tokenizer.ggml.add_space_prefix", true);
    auto addEot = [&s](TokenId id) {
        if (std::find(s.endOfTurn.begin(), s.endOfTurn.end(), id) == s.endOfTurn.end()) s.endOfTurn.push_back(id);
    };
    for (std::optional<TokenId> id : {s.eos, eot, eom})
        if (id) addEot(*id);
    // Chat models end a turn with these control tokens even when the file names another eos.
    static const char* const kTurnEnders[] = {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>",
                                              "<end_of_turn>", "<|end|>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};
    for (std::size_t id = 0; id < n; ++id) {
        if (vocab.types[id] != GgufTokenType::Control) continue;
        for (const char* text : kTurnEnders)
            if (vocab.tokens[id] == text) addEot(static_cast<TokenId>(id));
    }
    return vocab;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> makeGgufBpeTokenizer(const GgufVocab& vocab)
{
    HEARTH_TRY_ASSIGN(auto pipeline, pipelineFor(vocab.pre, vocab.name));
    nlohmann::json pieces = nlohmann::json::object();
    nlohmann::json added = nlohmann::json::array();
    for (std::size_t id = 0; id < vocab.tokens.size(); ++id) {
        GgufTokenType type = vocab.types[id];
        if (type == GgufTokenType::Control || type == GgufTokenType::UserDefined) {
            added.push_back({{"id", id}, {"content", vocab.tokens[id]}, {"single_word", false}, {"lstrip", false},
                             {"rstrip", false}, {"normalized", false}, {"special", type == GgufTokenType::Control}});
        } else {
            pieces[vocab.tokens[id]] = id;
        }
    }
    nlohmann::json model = {{"type", "BPE"}, {"vocab", std::move(pieces)}, {"merges", vocab.merges},
                            {"ignore_merges", vocab.pre == "llama-bpe" || vocab.pre == "llama3"}, {"byte_fallback", false}};
    nlohmann::json doc = {{"version", "1.0"}, {"added_tokens", std::move(added)}, {"normalizer", pipeline.first},
                          {"pre_tokenizer", pipeline.second}, {"post_processor", nullptr},
                          {"decoder", byteLevelStep(true)}, {"model", std::move(model)}};
    HEARTH_TRY_ASSIGN(std::unique_ptr<HfTokenizer> inner,
                      HfTokenizer::fromJsonText(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), vocab.name));
    return std::unique_ptr<Tokenizer>(std::make_unique<GgufBpeTokenizer>(std::move(inner), vocab.special));
}

}  // namespace tok

Result<std::unique_ptr<Tokenizer>> tokenizerFromGguf(const GgufHeader& header, const std::string& name)
{
    HEARTH_TRY_ASSIGN(tok::GgufVocab vocab, tok::readVocab(header, name));
    if (vocab.model == "gpt2") return tok::makeGgufBpeTokenizer(vocab);
    if (vocab.model == "llama") return tok::makeGgufSpmTokenizer(vocab);
    return makeError(ErrorCode::Unsupported, name + ": tokenizer.ggml.model '" + vocab.model + "' is not supported (gpt2, llama)");
}

Result<std::unique_ptr<Tokenizer>> loadGgufTokenizer(const std::string& path)
{
    HEARTH_TRY_ASSIGN(GgufHeader header, readGgufHeader(path));
    return tokenizerFromGguf(header, path);
}

}  // namespace hearth
