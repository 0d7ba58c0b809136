// tokenizer.json "model" of type BPE: vocabulary, merges by rank, byte fallback, unk handling and
// a per-word cache. For byte-level vocabularies the model works on raw bytes (the tokens' GPT-2
// spellings are converted once at load), so encoding never builds mapped strings.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace hearth::tok {

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept;
};

using StringIdMap = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;

// Merge table: (left id, right id) -> (rank, merged id), open addressing on one 64-bit key.
class PairMap {
public:
    struct Entry {
        std::uint64_t key = kEmpty;
        std::int32_t rank = 0;
        TokenId merged = 0;
    };
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

    void reserve(std::size_t n);
    // Later inserts of the same pair replace earlier ones, as HF's HashMap collect does.
    void insert(TokenId left, TokenId right, std::int32_t rank, TokenId merged);
    const Entry* find(TokenId left, TokenId right) const
    {
        if (m_entries.empty()) return nullptr;
        std::uint64_t key = makeKey(left, right);
        std::size_t i = slot(key);
        while (true) {
            const Entry& e = m_entries[i];
            if (e.key == key) return &e;
            if (e.key == kEmpty) return nullptr;
            i = (i + 1) & m_mask;
        }
    }

private:
    static std::uint64_t makeKey(TokenId left, TokenId right)
    {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
    }
    std::size_t slot(std::uint64_t key) const { return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & m_mask; }

    std::vector<Entry> m_entries;
    std::size_t m_mask = 0;
    std::size_t m_size = 0;
};

class BpeModel {
public:
    // Reads vocab and merges from a tokenizer.json "model" object; `byteLevel` when the
    // pre-tokenizer maps bytes to GPT-2 characters.
    static Result<std::unique_ptr<BpeModel>> fromJson(const nlohmann::json& model, bool byteLevel);

    // Appends the ids of one pre-tokenized word (raw bytes for byte-level models).
    void encodeWord(std::string_view word, std::vector<TokenId>& out) const;

    std::size_t vocabSize() const { return m_pieces.size(); }
    // The vocabulary spelling of `id` (empty for ids the vocabulary does not define).
    const std::string& piece(TokenId id) const;
    std::optional<TokenId> pieceToId(std::string_view piece) const;
    bool byteLevel() const { return m_byteLevel; }

private:
    void mergeWord(std::string_view word, std::vector<TokenId>& out) const;
    void initialSymbols(std::string_view word, std::vector<TokenId>& ids) const;
    void mergeSmall(std::vector<TokenId>& ids) const;
    void mergeLarge(std::vector<TokenId>& ids) const;

    std::vector<std::string> m_pieces;       // id -> spelling in tokenizer.json
    StringIdMap m_pieceToId;                  // spelling -> id
    StringIdMap m_keyToId;                    // model-space key (raw bytes when byte-level) -> id
    TokenId m_byteIds[256];                   // byte-level: the id of each single byte, or -1
    TokenId m_fallbackIds[256];               // byte fallback: the id of "<0xXX>", or -1
    PairMap m_merges;
    std::optional<TokenId> m_unk;
    bool m_byteLevel = false;
    bool m_byteFallback = false;
    bool m_fuseUnk = false;
    bool m_ignoreMerges = false;

    // Words seen before; bounded, cleared when full. Guarded so encode stays thread-safe.
    mutable std::mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<TokenId>, StringHash, std::equal_to<>> m_cache;
};

}  // namespace hearth::tok
