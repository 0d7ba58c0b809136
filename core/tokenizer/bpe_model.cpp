#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/json_access.h"
#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

// Ids above this are refused: no real vocabulary is near it, and it bounds the id->piece table.
constexpr long long kMaxTokenId = 4'000'000;
// Words longer than this are not cached (HF uses the same bound); the cache holds this many words.
constexpr std::size_t kMaxCachedWordBytes = 256;
constexpr std::size_t kCacheCapacity = 100'000;
// Up to this many symbols the merge loop scans an array; above it a heap keeps it n log n.
constexpr std::size_t kSmallWordSymbols = 96;

std::string fallbackPiece(unsigned byte)
{
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", byte);
    return buf;
}

}  // namespace

std::size_t StringHash::operator()(std::string_view s) const noexcept
{
    // FNV-1a over 8-byte words: words are short, and this beats std::hash's byte loop for them.
    std::uint64_t h = 0xcbf29ce484222325ull ^ s.size();
    std::size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
        std::uint64_t w;
        __builtin_memcpy(&w, s.data() + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    std::uint64_t tail = 0;
    if (i < s.size()) __builtin_memcpy(&tail, s.data() + i, s.size() - i);
    h = (h ^ tail) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h ^ (h >> 32));
}

void PairMap::reserve(std::size_t n)
{
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    m_entries.assign(cap, Entry{});
    m_mask = cap - 1;
    m_size = 0;
}

void PairMap::insert(TokenId left, TokenId right, std::int32_t rank, TokenId merged)
{
    if (m_entries.empty() || (m_size + 1) * 2 > m_entries.size()) {
        std::vector<Entry> old = std::move(m_entries);
        reserve(std::max<std::size_t>(16, old.size()));
        for (const Entry& e : old)
            if (e.key != kEmpty) insert(static_cast<TokenId>(e.key >> 32), static_cast<TokenId>(e.key & 0xFFFFFFFFu), e.rank, e.merged);
    }
    std::uint64_t key = makeKey(left, right);
    std::size_t i = slot(key);
    while (m_entries[i].key != kEmpty && m_entries[i].key != key) i = (i + 1) & m_mask;
    if (m_entries[i].key == kEmpty) ++m_size;
    m_entries[i] = Entry{key, rank, merged};
}

Result<std::unique_ptr<BpeModel>> BpeModel::fromJson(const nlohmann::json& model, bool byteLevel)
{
    auto bpe = std::make_unique<BpeModel>();
    bpe->m_byteLevel = byteLevel;
    std::string type = optionalString(model, "type", "BPE");
    if (type != "BPE") return makeError(ErrorCode::Unsupported, "model type '" + type + "' is not supported (only BPE)");
    if (!optionalString(model, "continuing_subword_prefix", "").empty() || !optionalString(model, "end_of_word_suffix", "").empty())
        return makeError(ErrorCode::Unsupported, "BPE with continuing_subword_prefix or end_of_word_suffix is not supported");

    const nlohmann::json* vocab = findObject(model, "vocab");
    if (!vocab) return makeError(ErrorCode::Corrupt, "model: 'vocab' is missing or not an object");
    long long maxId = -1;
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
        if (!it.value().is_number_integer()) return makeError(ErrorCode::Corrupt, "model vocab: id of '" + it.key() + "' is not an integer");
        long long id = it.value().get<long long>();
        if (id < 0 || id > kMaxTokenId) return makeError(ErrorCode::Corrupt, "model vocab: id " + std::to_string(id) + " of '" + it.key() + "' is out of range");
        maxId = std::max(maxId, id);
    }
    bpe->m_pieces.resize(static_cast<std::size_t>(maxId + 1));
    bpe->m_pieceToId.reserve(vocab->size());
    bpe->m_keyToId.reserve(vocab->size());
    for (auto it = vocab->begin(); it != vocab->end(); ++it) {
        auto id = static_cast<TokenId>(it.value().get<long long>());
        const std::string& piece = it.key();
        bpe->m_pieces[static_cast<std::size_t>(id)] = piece;
        bpe->m_pieceToId[piece] = id;
        if (byteLevel) {
            // Spellings outside the byte alphabet cannot come out of the byte-level BPE.
            if (auto bytes = byteLevelToBytes(piece)) bpe->m_keyToId[*bytes] = id;
        } else {
            bpe->m_keyToId[piece] = id;
        }
    }
    for (unsigned b = 0; b < 256; ++b) {
        auto it = bpe->m_keyToId.find(std::string_view(std::string(1, static_cast<char>(b))));
        bpe->m_byteIds[b] = byteLevel && it != bpe->m_keyToId.end() ? it->second : -1;
        auto fb = bpe->m_pieceToId.find(fallbackPiece(b));
        bpe->m_fallbackIds[b] = fb != bpe->m_pieceToId.end() ? fb->second : -1;
    }

    const nlohmann::json* merges = findArray(model, "merges");
    if (!merges) return makeError(ErrorCode::Corrupt, "model: 'merges' is missing or not a list");
    bpe->m_merges.reserve(merges->size());
    std::int32_t rank = 0;
    std::string merged;
    for (const auto& m : *merges) {
        std::string_view left, right;
        std::string line;
        if (m.is_string()) {
            line = m.get<std::string>();
            std::size_t space = line.find(' ');
            if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
                return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(rank) + " '" + line + "' is not two tokens");
            left = std::string_view(line).substr(0, space);
            right = std::string_view(line).substr(space + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            left = m[0].get_ref<const std::string&>();
            right = m[1].get_ref<const std::string&>();
        } else {
            return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(rank) + " is neither \"a b\" nor [a, b]");
        }
        merged.assign(left);
        merged.append(right);
        auto a = bpe->m_pieceToId.find(left);
        auto b = bpe->m_pieceToId.find(right);
        auto c = bpe->m_pieceToId.find(std::string_view(merged));
        if (a == bpe->m_pieceToId.end() || b == bpe->m_pieceToId.end() || c == bpe->m_pieceToId.end())
            return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(rank) + " uses a token missing from the vocab");
        bpe->m_merges.insert(a->second, b->second, rank, c->second);
        ++rank;
    }

    const auto unkIt = model.find("unk_token");
    if (unkIt != model.end() && unkIt->is_string()) {
        auto it = bpe->m_pieceToId.find(std::string_view(unkIt->get_ref<const std::string&>()));
        if (it == bpe->m_pieceToId.end()) return makeError(ErrorCode::Corrupt, "model: unk_token '" + unkIt->get<std::string>() + "' is not in the vocab");
        bpe->m_unk = it->second;
    }
    bpe->m_byteFallback = optionalBool(model, "byte_fallback", false);
    bpe->m_fuseUnk = optionalBool(model, "fuse_unk", false);
    bpe->m_ignoreMerges = optionalBool(model, "ignore_merges", false);
    return bpe;
}

const std::string& BpeModel::piece(TokenId id) const
{
    static const std::string empty;
    return id >= 0 && static_cast<std::size_t>(id) < m_pieces.size() ? m_pieces[static_cast<std::size_t>(id)] : empty;
}

std::optional<TokenId> BpeModel::pieceToId(std::string_view piece) const
{
    auto it = m_pieceToId.find(piece);
    if (it == m_pieceToId.end()) return std::nullopt;
    return it->second;
}

void BpeModel::encodeWord(std::string_view word, std::vector<TokenId>& out) const
{
    if (word.empty()) return;
    if (m_ignoreMerges) {
        auto it = m_keyToId.find(word);
        if (it != m_keyToId.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (word.size() == 1 && m_byteLevel && m_byteIds[static_cast<unsigned char>(word[0])] >= 0) {
        out.push_back(m_byteIds[static_cast<unsigned char>(word[0])]);
        return;
    }
    bool cacheable = word.size() <= kMaxCachedWordBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(m_cacheMutex);
        auto it = m_cache.find(word);
        if (it != m_cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::size_t start = out.size();
    mergeWord(word, out);
    if (cacheable) {
        std::lock_guard<std::mutex> lock(m_cacheMutex);
        if (m_cache.size() >= kCacheCapacity) m_cache.clear();
        m_cache.emplace(std::string(word), std::vector<TokenId>(out.begin() + static_cast<std::ptrdiff_t>(start), out.end()));
    }
}

void BpeModel::initialSymbols(std::string_view word, std::vector<TokenId>& ids) const
{
    // HF's merge_word: known characters become symbols, unknown ones become their "<0xXX>" byte
    // tokens (byte_fallback) or unk (fused when fuse_unk), or vanish when there is no unk.
    TokenId pendingUnk = -1;  // an unk not yet pushed (fuse_unk may extend it)
    std::size_t pos = 0;
    while (pos < word.size()) {
        std::size_t len = 1;
        TokenId id = -1;
        if (m_byteLevel) {
            id = m_byteIds[static_cast<unsigned char>(word[pos])];
        } else {
            len = validSequenceLength(word, pos);
            if (len == 0) len = 1;
            auto it = m_keyToId.find(word.substr(pos, len));
            if (it != m_keyToId.end()) id = it->second;
        }
        std::string_view ch = word.substr(pos, len);
        pos += len;
        if (id >= 0) {
            if (pendingUnk >= 0) ids.push_back(pendingUnk);
            pendingUnk = -1;
            ids.push_back(id);
            continue;
        }
        if (m_byteFallback) {
            bool all = true;
            for (char c : ch) all = all && m_fallbackIds[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                for (char c : ch) ids.push_back(m_fallbackIds[static_cast<unsigned char>(c)]);
                continue;
            }
        }
        if (m_unk) {
            if (pendingUnk >= 0 && !m_fuseUnk) ids.push_back(pendingUnk);
            pendingUnk = *m_unk;
        }
    }
    if (pendingUnk >= 0) ids.push_back(pendingUnk);
}

void BpeModel::mergeWord(std::string_view word, std::vector<TokenId>& out) const
{
    thread_local std::vector<TokenId> ids;
    ids.clear();
    initialSymbols(word, ids);
    if (ids.size() <= kSmallWordSymbols) mergeSmall(ids);
    else mergeLarge(ids);
    out.insert(out.end(), ids.begin(), ids.end());
}

void BpeModel::mergeSmall(std::vector<TokenId>& ids) const
{
    // ranks[i] is the rank of the pair (ids[i], ids[i+1]); merging the lowest rank, leftmost first,
    // gives the same result as HF's priority queue.
    std::int32_t ranks[kSmallWordSymbols];
    TokenId mergedIds[kSmallWordSymbols];
    std::size_t n = ids.size();
    auto lookup = [&](std::size_t i) {
        const PairMap::Entry* e = m_merges.find(ids[i], ids[i + 1]);
        ranks[i] = e ? e->rank : INT_MAX;
        mergedIds[i] = e ? e->merged : -1;
    };
    for (std::size_t i = 0; i + 1 < n; ++i) lookup(i);
    while (n > 1) {
        std::size_t best = 0;
        std::int32_t bestRank = INT_MAX;
        for (std::size_t i = 0; i + 1 < n; ++i) {
            if (ranks[i] < bestRank) {
                bestRank = ranks[i];
                best = i;
            }
        }
        if (bestRank == INT_MAX) break;
        ids[best] = mergedIds[best];
        for (std::size_t i = best + 1; i + 1 < n; ++i) ids[i] = ids[i + 1];
        for (std::size_t i = best + 1; i + 2 < n; ++i) {
            ranks[i] = ranks[i + 1];
            mergedIds[i] = mergedIds[i + 1];
        }
        --n;
        ids.resize(n);
        if (best > 0) lookup(best - 1);
        if (best + 1 < n) lookup(best);
    }
}

void BpeModel::mergeLarge(std::vector<TokenId>& ids) const
{
    struct Symbol {
        TokenId id;
        std::int32_t prev;
        std::int32_t next;
        bool alive;
    };
    struct Candidate {
        std::int32_t rank;
        std::int32_t pos;
        TokenId merged;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    const auto n = static_cast<std::int32_t>(ids.size());
    std::vector<Symbol> symbols(ids.size());
    for (std::int32_t i = 0; i < n; ++i) symbols[static_cast<std::size_t>(i)] = {ids[static_cast<std::size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1, true};
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto consider = [&](std::int32_t pos) {
        if (pos < 0) return;
        const Symbol& s = symbols[static_cast<std::size_t>(pos)];
        if (s.next < 0) return;
        if (const PairMap::Entry* e = m_merges.find(s.id, symbols[static_cast<std::size_t>(s.next)].id)) queue.push({e->rank, pos, e->merged});
    };
    for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
    while (!queue.empty()) {
        Candidate top = queue.top();
        queue.pop();
        Symbol& left = symbols[static_cast<std::size_t>(top.pos)];
        if (!left.alive || left.next < 0) continue;
        Symbol& right = symbols[static_cast<std::size_t>(left.next)];
        const PairMap::Entry* e = m_merges.find(left.id, right.id);
        if (!e || e->merged != top.merged) continue;  // stale: a neighbour merged since
        left.id = top.merged;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = top.pos;
        consider(left.prev);
        consider(top.pos);
    }
    ids.clear();
    for (std::int32_t i = 0; i >= 0 && i < n; i = symbols[static_cast<std::size_t>(i)].next) ids.push_back(symbols[static_cast<std::size_t>(i)].id);
}

}  // namespace hearth::tok
