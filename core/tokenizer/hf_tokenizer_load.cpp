// Reading tokenizer.json and the configs beside it into an HfTokenizer, and loadTokenizer, the
// room's entry point that picks the reader for a path.
#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/json_access.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/tokenizer_json_scan.h"
#include "util/mapped_file.h"

namespace hearth {

namespace tok {

namespace {

// tokenizer.json nests a few levels; a file nested deeper is hostile or broken, and refusing it
// keeps the recursive readers (Sequence of Sequence ...) bounded; the scan refuses it.
constexpr int kMaxJsonDepth = 64;
constexpr std::size_t kMaxAddedTokens = 1'000'000;

Result<std::vector<AddedToken>> parseAddedTokens(const nlohmann::json& root)
{
    std::vector<AddedToken> tokens;
    const nlohmann::json* list = findArray(root, "added_tokens");
    if (!list) return tokens;
    if (list->size() > kMaxAddedTokens) return makeError(ErrorCode::Corrupt, "added_tokens: too many entries");
    for (const auto& item : *list) {
        AddedToken t;
        HEARTH_TRY_ASSIGN(t.content, requireString(item, "content", "added_tokens entry"));
        long long id = optionalInt(item, "id", -1);
        if (id < 0 || id > 4'000'000) return makeError(ErrorCode::Corrupt, "added_tokens: '" + t.content + "' has a missing or out-of-range id");
        t.id = static_cast<TokenId>(id);
        t.special = optionalBool(item, "special", false);
        t.lstrip = optionalBool(item, "lstrip", false);
        t.rstrip = optionalBool(item, "rstrip", false);
        t.singleWord = optionalBool(item, "single_word", false);
        t.normalized = optionalBool(item, "normalized", !t.special);
        tokens.push_back(std::move(t));
    }
    return tokens;
}

// A tokenizer_config.json token field: "text" or {"content": "text", ...}.
std::optional<std::string> configTokenText(const nlohmann::json& config, const char* key)
{
    if (!config.is_object()) return std::nullopt;
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        auto content = it->find("content");
        if (content != it->end() && content->is_string()) return content->get<std::string>();
    }
    return std::nullopt;
}

nlohmann::json parseOptionalJson(std::string_view text)
{
    if (text.empty()) return nlohmann::json();
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json() : j;
}

}  // namespace

Result<std::unique_ptr<HfTokenizer>> HfTokenizer::fromJsonText(std::string_view jsonText, const std::string& name)
{
    auto fail = [&name](const Error& e) { return makeError(e.code, name + ": " + e.message); };
    TokenizerJsonScan scan;
    if (Status scanned = scanTokenizerJson(jsonText, kMaxJsonDepth, scan); !scanned) return fail(scanned.error());
    const nlohmann::json& root = scan.root;
    try {
        auto tokenizer = std::unique_ptr<HfTokenizer>(new HfTokenizer());
        const nlohmann::json null;
        auto section = [&](const char* key) -> const nlohmann::json& {
            auto it = root.find(key);
            return it == root.end() ? null : *it;
        };
        auto normalizer = parseNormalizer(section("normalizer"));
        if (!normalizer) return fail(normalizer.error());
        tokenizer->m_normalizer = std::move(normalizer).value();
        auto preTokenizer = parsePreTokenizer(section("pre_tokenizer"));
        if (!preTokenizer) return fail(preTokenizer.error());
        tokenizer->m_preTokenizer = std::move(preTokenizer).value();
        const nlohmann::json* model = findObject(root, "model");
        if (!model) return makeError(ErrorCode::Corrupt, name + ": 'model' is missing");
        bool byteLevel = tokenizer->m_preTokenizer && tokenizer->m_preTokenizer->isByteLevel();
        auto bpe = BpeModel::fromScan(*model, scan, byteLevel);
        if (!bpe) return fail(bpe.error());
        tokenizer->m_model = std::move(bpe).value();
        auto decoder = parseDecoder(section("decoder"));
        if (!decoder) return fail(decoder.error());
        tokenizer->m_decoder = std::move(decoder).value();
        auto post = PostProcessor::fromJson(section("post_processor"));
        if (!post) return fail(post.error());
        tokenizer->m_postProcessor = std::move(post).value();
        auto added = parseAddedTokens(root);
        if (!added) return fail(added.error());

        std::size_t vocabSize = tokenizer->m_model->vocabSize();
        for (const AddedToken& t : *added) {
            vocabSize = std::max(vocabSize, static_cast<std::size_t>(t.id) + 1);
            tokenizer->m_hasNormalizedAdded = tokenizer->m_hasNormalizedAdded || t.normalized;
        }
        for (TokenId id : tokenizer->m_postProcessor.prefix())
            if (id < 0 || static_cast<std::size_t>(id) >= vocabSize) return makeError(ErrorCode::Corrupt, name + ": post_processor uses id " + std::to_string(id) + " outside the vocab");
        for (TokenId id : tokenizer->m_postProcessor.suffix())
            if (id < 0 || static_cast<std::size_t>(id) >= vocabSize) return makeError(ErrorCode::Corrupt, name + ": post_processor uses id " + std::to_string(id) + " outside the vocab");
        tokenizer->m_vocabSize = vocabSize;
        tokenizer->m_added.build(std::move(added).value(), tokenizer->m_normalizer.get());
        tokenizer->m_special.addBosByDefault = !tokenizer->m_postProcessor.prefix().empty();
        tokenizer->m_special.addEosByDefault = !tokenizer->m_postProcessor.suffix().empty();
        if (tokenizer->m_model->vocabSize() == 0) return makeError(ErrorCode::Corrupt, name + ": the vocab is empty");
        return tokenizer;
    } catch (const nlohmann::json::exception& e) {
        return makeError(ErrorCode::Corrupt, name + ": " + e.what());
    }
}

Status HfTokenizer::applyConfigs(std::string_view tokenizerConfig, std::string_view generationConfig)
{
    nlohmann::json config = parseOptionalJson(tokenizerConfig);
    nlohmann::json generation = parseOptionalJson(generationConfig);
    auto idOf = [this](const std::optional<std::string>& text) -> std::optional<TokenId> {
        if (!text) return std::nullopt;
        return pieceToToken(*text);
    };
    m_special.bos = idOf(configTokenText(config, "bos_token"));
    m_special.eos = idOf(configTokenText(config, "eos_token"));
    m_special.pad = idOf(configTokenText(config, "pad_token"));
    m_special.unk = idOf(configTokenText(config, "unk_token"));

    std::vector<TokenId>& eot = m_special.endOfTurn;
    auto addEot = [&eot](TokenId id) {
        if (std::find(eot.begin(), eot.end(), id) == eot.end()) eot.push_back(id);
    };
    if (m_special.eos) addEot(*m_special.eos);
    if (generation.is_object()) {
        auto it = generation.find("eos_token_id");
        if (it != generation.end() && it->is_number_integer()) addEot(static_cast<TokenId>(it->get<long long>()));
        if (it != generation.end() && it->is_array())
            for (const auto& v : *it)
                if (v.is_number_integer()) addEot(static_cast<TokenId>(v.get<long long>()));
    }
    // Chat models end a turn with these even when the config names another eos.
    static const char* const kTurnEnders[] = {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>",
                                              "<end_of_turn>", "<|end|>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"};
    for (const char* name : kTurnEnders)
        if (const AddedToken* t = m_added.byContent(name); t && t->special) addEot(t->id);
    return Status::ok();
}

}  // namespace tok

namespace {

std::string readOptional(const std::filesystem::path& path)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return {};
    auto text = readTextFile(path.string(), 16u << 20);
    return text ? std::move(text).value() : std::string();
}

Result<std::unique_ptr<Tokenizer>> loadTokenizerJson(const std::filesystem::path& jsonPath)
{
    HEARTH_TRY_ASSIGN(std::string text, readTextFile(jsonPath.string(), 256u << 20));
    HEARTH_TRY_ASSIGN(std::unique_ptr<tok::HfTokenizer> tokenizer, tok::HfTokenizer::fromJsonText(text, jsonPath.string()));
    std::filesystem::path folder = jsonPath.parent_path();
    HEARTH_TRY_STATUS(tokenizer->applyConfigs(readOptional(folder / "tokenizer_config.json"),
                                              readOptional(folder / "generation_config.json")));
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> loadTokenizer(const std::string& path)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::path p(path);
    if (fs::is_directory(p, ec)) {
        if (fs::is_regular_file(p / "tokenizer.json", ec)) return loadTokenizerJson(p / "tokenizer.json");
        if (fs::is_regular_file(p / "tokenizer.model", ec)) return loadSentencePieceTokenizer((p / "tokenizer.model").string(), p.string());
        return makeError(ErrorCode::NotFound, path + ": no tokenizer.json or tokenizer.model in this folder");
    }
    if (!fs::exists(p, ec)) return makeError(ErrorCode::NotFound, path + ": no such file or folder");
    std::string ext = p.extension().string();
    if (ext == ".json") return loadTokenizerJson(p);
    if (ext == ".model") return loadSentencePieceTokenizer(path, p.parent_path().string());
    if (ext == ".gguf") return loadGgufTokenizer(path);
    return makeError(ErrorCode::Unsupported, path + ": not a tokenizer.json, tokenizer.model or .gguf file");
}

}  // namespace hearth
