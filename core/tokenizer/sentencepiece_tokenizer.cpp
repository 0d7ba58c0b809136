// SentencePiece tokenizer.model through libsentencepiece. The library does the segmentation;
// this file adds what Hugging Face layers on top (special-token text, BOS/EOS, config ids) and
// keeps every library failure an error value.
#include "tokenizer/sentencepiece_tokenizer.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include "tokenizer/special_text_split.h"
#include "util/mapped_file.h"

namespace hearth {

namespace tok {

namespace {

constexpr std::string_view kMetaSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
// Real tokenizer.model files are a few MB; a larger file is not one.
constexpr std::size_t kMaxModelBytes = 64u << 20;

std::string replaceMetaSpace(std::string_view piece)
{
    std::string out;
    out.reserve(piece.size());
    for (std::size_t i = 0; i < piece.size();) {
        if (piece.substr(i, kMetaSpace.size()) == kMetaSpace) {
            out += ' ';
            i += kMetaSpace.size();
        } else {
            out += piece[i++];
        }
    }
    return out;
}

// "<0x0A>" -> 0x0A.
std::optional<unsigned char> bytePieceValue(std::string_view piece)
{
    if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return std::nullopt;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    int hi = hex(piece[3]), lo = hex(piece[4]);
    if (hi < 0 || lo < 0) return std::nullopt;
    return static_cast<unsigned char>(hi * 16 + lo);
}

std::optional<std::string> configTokenText(const nlohmann::json& config, const char* key)
{
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        auto content = it->find("content");
        if (content != it->end() && content->is_string()) return content->get<std::string>();
    }
    return std::nullopt;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer() : m_processor(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::fromSerializedModel(std::string_view modelBytes, const std::string& name)
{
    if (modelBytes.empty()) return makeError(ErrorCode::Corrupt, name + ": the SentencePiece model is empty");
    auto tokenizer = std::unique_ptr<SentencePieceTokenizer>(new SentencePieceTokenizer());
    sentencepiece::util::Status status = tokenizer->m_processor->LoadFromSerializedProto(modelBytes);
    if (!status.ok()) return makeError(ErrorCode::Corrupt, name + ": not a valid SentencePiece model: " + status.ToString());
    const sentencepiece::SentencePieceProcessor& sp = *tokenizer->m_processor;
    int n = sp.GetPieceSize();
    if (n <= 0) return makeError(ErrorCode::Corrupt, name + ": the SentencePiece model has no pieces");

    tokenizer->m_pieces.reserve(static_cast<std::size_t>(n));
    tokenizer->m_control.reserve(static_cast<std::size_t>(n));
    for (int id = 0; id < n; ++id) {
        tokenizer->m_pieces.push_back(sp.IdToPiece(id));
        bool control = sp.IsControl(id) || sp.IsUnknown(id);
        tokenizer->m_control.push_back(control);
        if (control && !tokenizer->m_pieces.back().empty()) tokenizer->m_specialTexts.emplace_back(tokenizer->m_pieces.back(), id);
    }
    // Longest first, so "<|im_end|>" wins over a shorter control piece that is its prefix.
    std::stable_sort(tokenizer->m_specialTexts.begin(), tokenizer->m_specialTexts.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });

    // The model proto is opaque here (Debian ships no protobuf headers for it), so ask the
    // library what decode does to a leading "▁": models with add_dummy_prefix drop it.
    for (int id = 0; id < n; ++id) {
        const std::string& piece = tokenizer->m_pieces[static_cast<std::size_t>(id)];
        if (sp.IsControl(id) || sp.IsUnknown(id) || sp.IsByte(id) || sp.IsUnused(id)) continue;
        if (piece.size() <= kMetaSpace.size() || piece.compare(0, kMetaSpace.size(), kMetaSpace) != 0) continue;
        std::string text;
        if (sp.Decode(std::vector<int>{id}, &text).ok()) tokenizer->m_decodeStripsLeadingSpace = text.empty() || text[0] != ' ';
        break;
    }

    auto optionalId = [](int id) -> std::optional<TokenId> { return id >= 0 ? std::optional<TokenId>(id) : std::nullopt; };
    SpecialTokens& special = tokenizer->m_special;
    special.bos = optionalId(sp.bos_id());
    special.eos = optionalId(sp.eos_id());
    special.pad = optionalId(sp.pad_id());
    special.unk = optionalId(sp.unk_id());
    special.addBosByDefault = special.bos.has_value();
    special.addEosByDefault = false;
    HEARTH_TRY_STATUS(tokenizer->applyTokenizerConfig({}, name));
    return tokenizer;
}

Status SentencePieceTokenizer::applyTokenizerConfig(std::string_view tokenizerConfig, const std::string& name)
{
    if (!tokenizerConfig.empty()) {
        nlohmann::json config = nlohmann::json::parse(tokenizerConfig, nullptr, false);
        if (config.is_discarded() || !config.is_object())
            return makeError(ErrorCode::Corrupt, name + ": tokenizer_config.json is not a JSON object");
        auto idOf = [this](const std::optional<std::string>& text, std::optional<TokenId> fallback) {
            if (!text) return fallback;
            auto id = pieceToToken(*text);
            return id ? id : fallback;
        };
        m_special.bos = idOf(configTokenText(config, "bos_token"), m_special.bos);
        m_special.eos = idOf(configTokenText(config, "eos_token"), m_special.eos);
        m_special.pad = idOf(configTokenText(config, "pad_token"), m_special.pad);
        m_special.unk = idOf(configTokenText(config, "unk_token"), m_special.unk);
        auto flag = [&config](const char* key, bool fallback) {
            auto it = config.find(key);
            return it != config.end() && it->is_boolean() ? it->get<bool>() : fallback;
        };
        m_special.addBosByDefault = m_special.bos && flag("add_bos_token", true);
        m_special.addEosByDefault = m_special.eos && flag("add_eos_token", false);
    }
    m_special.endOfTurn.clear();
    auto addEot = [this](TokenId id) {
        auto& eot = m_special.endOfTurn;
        if (std::find(eot.begin(), eot.end(), id) == eot.end()) eot.push_back(id);
    };
    if (m_special.eos) addEot(*m_special.eos);
    static const char* const kTurnEnders[] = {"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"};
    for (const char* text : kTurnEnders)
        if (auto id = pieceToToken(text); id && m_control[static_cast<std::size_t>(*id)]) addEot(*id);
    return Status::ok();
}

void SentencePieceTokenizer::encodePlain(std::string_view text, std::vector<TokenId>& out) const
{
    if (text.empty()) return;
    std::vector<int> ids;
    // Encode fails only on an unloaded model; loading succeeded, so an error here leaves `ids` empty.
    if (!m_processor->Encode(text, &ids).ok()) return;
    out.insert(out.end(), ids.begin(), ids.end());
}

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text, const EncodeOptions& options) const
{
    std::vector<TokenId> ids;
    if (options.addSpecialTokens && m_special.addBosByDefault && m_special.bos) ids.push_back(*m_special.bos);
    if (!options.parseSpecial || m_specialTexts.empty()) {
        encodePlain(text, ids);
    } else {
        splitAtSpecialTexts(
            text, m_specialTexts, [](TokenId) { return true; },
            [&](std::string_view run) { encodePlain(run, ids); }, [&](TokenId id) { ids.push_back(id); });
    }
    if (options.addSpecialTokens && m_special.addEosByDefault && m_special.eos) ids.push_back(*m_special.eos);
    return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<TokenId>& ids, bool skipSpecial) const
{
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
        if (run.empty()) return;
        std::string text;
        if (m_processor->Decode(run, &text).ok()) out += text;
        run.clear();
    };
    for (TokenId id : ids) {
        if (!valid(id)) continue;
        bool control = m_control[static_cast<std::size_t>(id)] && !m_processor->IsUnknown(id);
        if (!control) {
            run.push_back(id);
            continue;
        }
        flush();
        if (!skipSpecial) out += m_pieces[static_cast<std::size_t>(id)];
    }
    flush();
    return out;
}

std::string SentencePieceTokenizer::tokenBytes(TokenId id, bool atStart) const
{
    if (!valid(id)) return {};
    const std::string& piece = m_pieces[static_cast<std::size_t>(id)];
    if (m_processor->IsUnknown(id)) return " \xE2\x81\x87 ";  // SentencePiece decodes unknown as " ⁇ "
    if (m_control[static_cast<std::size_t>(id)]) return piece;
    if (m_processor->IsByte(id)) {
        auto byte = bytePieceValue(piece);
        return byte ? std::string(1, static_cast<char>(*byte)) : std::string();
    }
    std::string text = replaceMetaSpace(piece);
    if (atStart && m_decodeStripsLeadingSpace && !text.empty() && text[0] == ' ') text.erase(0, 1);
    return text;
}

std::string SentencePieceTokenizer::tokenToPiece(TokenId id) const
{
    return valid(id) ? m_pieces[static_cast<std::size_t>(id)] : std::string();
}

std::optional<TokenId> SentencePieceTokenizer::pieceToToken(std::string_view piece) const
{
    int id = m_processor->PieceToId(piece);
    // PieceToId answers unk_id for pieces it does not know; only the unknown piece itself maps there.
    if (id < 0 || !valid(id)) return std::nullopt;
    if (m_pieces[static_cast<std::size_t>(id)] != piece) return std::nullopt;
    return id;
}

bool SentencePieceTokenizer::isSpecial(TokenId id) const
{
    return valid(id) && m_control[static_cast<std::size_t>(id)];
}

}  // namespace tok

Result<std::unique_ptr<Tokenizer>> loadSentencePieceTokenizer(const std::string& modelPath, const std::string& folder)
{
    HEARTH_TRY_ASSIGN(std::string bytes, readTextFile(modelPath, tok::kMaxModelBytes));
    HEARTH_TRY_ASSIGN(std::unique_ptr<tok::SentencePieceTokenizer> tokenizer, tok::SentencePieceTokenizer::fromSerializedModel(bytes, modelPath));
    if (!folder.empty()) {
        std::error_code ec;
        std::filesystem::path configPath = std::filesystem::path(folder) / "tokenizer_config.json";
        if (std::filesystem::is_regular_file(configPath, ec)) {
            HEARTH_TRY_ASSIGN(std::string config, readTextFile(configPath.string(), 16u << 20));
            HEARTH_TRY_STATUS(tokenizer->applyTokenizerConfig(config, configPath.string()));
        }
    }
    return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace hearth
