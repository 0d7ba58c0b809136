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

// Spelling -> id, open addressing over one record arena: a vocabulary is ~150k short strings,
// and one allocation for all of them (instead of a node and a string each) is most of a fast
// load. Loading is bound by cache misses on random lookups, so the batch calls prefetch ahead.
class PieceMap {
public:
    static constexpr TokenId kAbsent = -1;

    static std::uint32_t hashOf(std::string_view key);
    void reserve(std::size_t nEntries, std::size_t nBytes);
    // Adds `key`, or gives it the new id when present (a later duplicate wins, as in a JSON DOM).
    void set(std::string_view key, TokenId id) { set(key, hashOf(key), id); }
    // set() for each key in order, with the lookups overlapped.
    void setBatch(const std::vector<std::string_view>& keys, const std::vector<TokenId>& ids);
    TokenId find(std::string_view key) const { return find(key, hashOf(key)); }
    // find() for each key into `ids` (kAbsent where missing), with the lookups overlapped.
    void findBatch(const std::vector<std::string_view>& keys, std::vector<TokenId>& ids) const;
    // Calls f(key, id) for every key, in the order keys were first added.
    template <typename F>
    void forEach(F&& f) const
    {
        std::size_t pos = 0;
        while (pos < m_records.size()) {
            Header h = headerAt(pos);
            f(std::string_view(m_records).substr(pos + sizeof(Header), h.length), h.id);
            pos += sizeof(Header) + h.length;
        }
    }

private:
    // m_records holds, per key in first-insertion order, a Header and the key's bytes.
    struct Header {
        TokenId id;
        std::uint32_t length;
    };
    struct Slot {
        std::uint32_t hash = 0;
        std::uint32_t offset = kFree;  // of the record in m_records
    };
    static constexpr std::uint32_t kFree = ~std::uint32_t{0};

    Header headerAt(std::size_t offset) const
    {
        Header h;
        __builtin_memcpy(&h, m_records.data() + offset, sizeof h);
        return h;
    }
    bool matches(const Slot& slot, std::string_view key, std::uint32_t hash) const
    {
        if (slot.hash != hash) return false;
        Header h = headerAt(slot.offset);
        return h.length == key.size() && std::string_view(m_records).substr(slot.offset + sizeof(Header), h.length) == key;
    }
    void set(std::string_view key, std::uint32_t hash, TokenId id);
    TokenId find(std::string_view key, std::uint32_t hash) const;
    // Loads the first slot of `hash`, then (a few keys later) the record it points at.
    void prefetchSlot(std::uint32_t hash) const { __builtin_prefetch(&m_slots[hash & m_mask]); }
    void prefetchRecord(std::uint32_t hash) const
    {
        const Slot& slot = m_slots[hash & m_mask];
        if (slot.offset != kFree) __builtin_prefetch(m_records.data() + slot.offset);
    }
    void rehash(std::size_t nSlots);

    std::string m_records;
    std::vector<Slot> m_slots;
    std::size_t m_mask = 0;
    std::size_t m_size = 0;
};

struct TokenizerJsonScan;

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
    void prefetch(TokenId left, TokenId right) const
    {
        if (!m_entries.empty()) __builtin_prefetch(&m_entries[slot(makeKey(left, right))]);
    }
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
    // Reads a tokenizer.json "model" object (`model`, its small fields) with the vocab and merges
    // `scan` read from it; `byteLevel` when the pre-tokenizer maps bytes to GPT-2 characters.
    static Result<std::unique_ptr<BpeModel>> fromScan(const nlohmann::json& model, const TokenizerJsonScan& scan, bool byteLevel);

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

    Status readVocab(const TokenizerJsonScan& scan);
    Status readMerges(const TokenizerJsonScan& scan);
    // Model-space key (raw bytes when byte-level, else the spelling) -> id.
    const PieceMap& keyMap() const { return m_byteLevel ? m_keyToId : m_pieceToId; }

    std::vector<std::string> m_pieces;       // id -> spelling in tokenizer.json
    PieceMap m_pieceToId;                     // spelling -> id
    PieceMap m_keyToId;                       // byte-level only: raw bytes -> id
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
