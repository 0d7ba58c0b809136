#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/json_access.h"
#include "tokenizer/tokenizer_json_scan.h"
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

std::uint32_t PieceMap::hashOf(std::string_view key) { return static_cast<std::uint32_t>(StringHash{}(key)); }

void PieceMap::reserve(std::size_t nEntries, std::size_t nBytes)
{
    m_records.reserve(nBytes + nEntries * sizeof(Header));
    std::size_t nSlots = 16;
    while (nSlots < nEntries * 2) nSlots <<= 1;
    if (nSlots > m_slots.size()) rehash(nSlots);
}

void PieceMap::rehash(std::size_t nSlots)
{
    std::vector<Slot> old = std::move(m_slots);
    m_slots.assign(nSlots, Slot{});
    m_mask = nSlots - 1;
    for (const Slot& s : old) {
        if (s.offset == kFree) continue;
        std::size_t i = s.hash & m_mask;
        while (m_slots[i].offset != kFree) i = (i + 1) & m_mask;
        m_slots[i] = s;
    }
}

void PieceMap::set(std::string_view key, std::uint32_t hash, TokenId id)
{
    if ((m_size + 1) * 2 > m_slots.size()) rehash(std::max<std::size_t>(16, m_slots.size() * 2));
    std::size_t i = hash & m_mask;
    while (m_slots[i].offset != kFree) {
        if (matches(m_slots[i], key, hash)) {
            Header h = headerAt(m_slots[i].offset);
            h.id = id;
            __builtin_memcpy(m_records.data() + m_slots[i].offset, &h, sizeof h);
            return;
        }
        i = (i + 1) & m_mask;
    }
    m_slots[i] = Slot{hash, static_cast<std::uint32_t>(m_records.size())};
    Header h{id, static_cast<std::uint32_t>(key.size())};
    m_records.append(reinterpret_cast<const char*>(&h), sizeof h);
    m_records.append(key);
    ++m_size;
}

TokenId PieceMap::find(std::string_view key, std::uint32_t hash) const
{
    if (m_slots.empty()) return kAbsent;
    std::size_t i = hash & m_mask;
    while (m_slots[i].offset != kFree) {
        if (matches(m_slots[i], key, hash)) return headerAt(m_slots[i].offset).id;
        i = (i + 1) & m_mask;
    }
    return kAbsent;
}

namespace {

// How far ahead the batch loops prefetch: the slot kAhead keys ahead, its record half as far.
constexpr std::size_t kAhead = 16;

std::vector<std::uint32_t> hashesOf(const std::vector<std::string_view>& keys)
{
    std::vector<std::uint32_t> hashes(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) hashes[i] = PieceMap::hashOf(keys[i]);
    return hashes;
}

}  // namespace

void PieceMap::setBatch(const std::vector<std::string_view>& keys, const std::vector<TokenId>& ids)
{
    reserve(m_size + keys.size(), m_records.size());
    const std::vector<std::uint32_t> hashes = hashesOf(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i + kAhead < keys.size()) prefetchSlot(hashes[i + kAhead]);
        if (i + kAhead / 2 < keys.size()) prefetchRecord(hashes[i + kAhead / 2]);
        set(keys[i], hashes[i], ids[i]);
    }
}

void PieceMap::findBatch(const std::vector<std::string_view>& keys, std::vector<TokenId>& ids) const
{
    ids.resize(keys.size());
    if (m_slots.empty()) {
        std::fill(ids.begin(), ids.end(), kAbsent);
        return;
    }
    const std::vector<std::uint32_t> hashes = hashesOf(keys);
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i + kAhead < keys.size()) prefetchSlot(hashes[i + kAhead]);
        if (i + kAhead / 2 < keys.size()) prefetchRecord(hashes[i + kAhead / 2]);
        ids[i] = find(keys[i], hashes[i]);
    }
}

Result<std::unique_ptr<BpeModel>> BpeModel::fromScan(const nlohmann::json& model, const TokenizerJsonScan& scan, bool byteLevel)
{
    auto bpe = std::make_unique<BpeModel>();
    bpe->m_byteLevel = byteLevel;
    std::string type = optionalString(model, "type", "BPE");
    if (type != "BPE") return makeError(ErrorCode::Unsupported, "model type '" + type + "' is not supported (only BPE)");
    if (!optionalString(model, "continuing_subword_prefix", "").empty() || !optionalString(model, "end_of_word_suffix", "").empty())
        return makeError(ErrorCode::Unsupported, "BPE with continuing_subword_prefix or end_of_word_suffix is not supported");
    HEARTH_TRY_STATUS(bpe->readVocab(scan));
    HEARTH_TRY_STATUS(bpe->readMerges(scan));

    const auto unkIt = model.find("unk_token");
    if (unkIt != model.end() && unkIt->is_string()) {
        TokenId unk = bpe->m_pieceToId.find(unkIt->get_ref<const std::string&>());
        if (unk < 0) return makeError(ErrorCode::Corrupt, "model: unk_token '" + unkIt->get<std::string>() + "' is not in the vocab");
        bpe->m_unk = unk;
    }
    bpe->m_byteFallback = optionalBool(model, "byte_fallback", false);
    bpe->m_fuseUnk = optionalBool(model, "fuse_unk", false);
    bpe->m_ignoreMerges = optionalBool(model, "ignore_merges", false);
    return bpe;
}

Status BpeModel::readVocab(const TokenizerJsonScan& scan)
{
    if (!scan.hasVocab) return makeError(ErrorCode::Corrupt, "model: 'vocab' is missing or not an object");
    long long maxId = -1;
    std::size_t nBytes = 0;
    std::vector<std::string_view> pieces;
    std::vector<TokenId> ids;
    pieces.reserve(scan.vocab.size());
    ids.reserve(scan.vocab.size());
    for (const VocabItem& item : scan.vocab) {
        if (!item.isInteger) return makeError(ErrorCode::Corrupt, "model vocab: id of '" + std::string(item.piece) + "' is not an integer");
        if (item.id < 0 || item.id > kMaxTokenId)
            return makeError(ErrorCode::Corrupt, "model vocab: id " + std::to_string(item.id) + " of '" + std::string(item.piece) + "' is out of range");
        maxId = std::max(maxId, item.id);
        nBytes += item.piece.size();
        pieces.push_back(item.piece);
        ids.push_back(static_cast<TokenId>(item.id));
    }
    m_pieceToId.reserve(pieces.size(), nBytes);
    m_pieceToId.setBatch(pieces, ids);
    // Two spellings with one id: the greater spelling names the id, as when a sorted DOM was read.
    m_pieces.resize(static_cast<std::size_t>(maxId + 1));
    m_pieceToId.forEach([this](std::string_view piece, TokenId id) {
        std::string& slot = m_pieces[static_cast<std::size_t>(id)];
        if (slot.empty() || piece > slot) slot.assign(piece);
    });
    if (m_byteLevel) {
        // Spellings outside the byte alphabet cannot come out of the byte-level BPE.
        std::string bytes;
        std::string arena;
        arena.reserve(nBytes);
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        spans.reserve(pieces.size());
        ids.clear();
        m_pieceToId.forEach([&](std::string_view piece, TokenId id) {
            if (!byteLevelToBytes(piece, bytes)) return;
            spans.emplace_back(arena.size(), bytes.size());
            arena.append(bytes);
            ids.push_back(id);
        });
        std::vector<std::string_view> keys;
        keys.reserve(spans.size());
        for (auto [offset, length] : spans) keys.push_back(std::string_view(arena).substr(offset, length));
        m_keyToId.reserve(keys.size(), arena.size());
        m_keyToId.setBatch(keys, ids);
    }
    for (unsigned b = 0; b < 256; ++b) {
        const char byte = static_cast<char>(b);
        m_byteIds[b] = m_byteLevel ? m_keyToId.find(std::string_view(&byte, 1)) : -1;
        m_fallbackIds[b] = m_pieceToId.find(fallbackPiece(b));
    }
    return Status::ok();
}

Status BpeModel::readMerges(const TokenizerJsonScan& scan)
{
    if (!scan.hasMerges) return makeError(ErrorCode::Corrupt, "model: 'merges' is missing or not a list");
    // Split every entry first, look all three spellings of every entry up as one batch, then
    // report the first bad entry in file order, as a one-by-one reader would.
    const std::size_t n = scan.merges.size();
    std::vector<std::string_view> keys(3 * n);
    std::vector<bool> wellFormed(n, false);
    std::size_t mergedBytes = 0;
    for (const MergeItem& m : scan.merges) mergedBytes += m.left.size() + m.right.size();
    std::string merged;
    merged.reserve(mergedBytes);
    for (std::size_t i = 0; i < n; ++i) {
        const MergeItem& m = scan.merges[i];
        std::string_view left = m.left;
        std::string_view right = m.right;
        if (m.form == MergeItem::Form::Line) {
            std::size_t space = left.find(' ');
            if (space == std::string_view::npos || left.find(' ', space + 1) != std::string_view::npos) continue;
            right = left.substr(space + 1);
            left = left.substr(0, space);
        } else if (m.form != MergeItem::Form::Pair) {
            continue;
        }
        wellFormed[i] = true;
        keys[3 * i] = left;
        keys[3 * i + 1] = right;
        std::size_t offset = merged.size();
        merged.append(left);
        merged.append(right);
        keys[3 * i + 2] = std::string_view(merged).substr(offset, left.size() + right.size());
    }
    std::vector<TokenId> ids;
    m_pieceToId.findBatch(keys, ids);
    for (std::size_t i = 0; i < n; ++i) {
        if (!wellFormed[i] && scan.merges[i].form == MergeItem::Form::Line)
            return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(i) + " '" + std::string(scan.merges[i].left) + "' is not two tokens");
        if (!wellFormed[i]) return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(i) + " is neither \"a b\" nor [a, b]");
        if (ids[3 * i] < 0 || ids[3 * i + 1] < 0 || ids[3 * i + 2] < 0)
            return makeError(ErrorCode::Corrupt, "model merges: entry " + std::to_string(i) + " uses a token missing from the vocab");
    }
    m_merges.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i + kAhead < n) m_merges.prefetch(ids[3 * (i + kAhead)], ids[3 * (i + kAhead) + 1]);
        m_merges.insert(ids[3 * i], ids[3 * i + 1], static_cast<std::int32_t>(i), ids[3 * i + 2]);
    }
    return Status::ok();
}

const std::string& BpeModel::piece(TokenId id) const
{
    static const std::string empty;
    return id >= 0 && static_cast<std::size_t>(id) < m_pieces.size() ? m_pieces[static_cast<std::size_t>(id)] : empty;
}

std::optional<TokenId> BpeModel::pieceToId(std::string_view piece) const
{
    TokenId id = m_pieceToId.find(piece);
    if (id < 0) return std::nullopt;
    return id;
}

void BpeModel::encodeWord(std::string_view word, std::vector<TokenId>& out) const
{
    if (word.empty()) return;
    if (m_ignoreMerges) {
        if (TokenId id = keyMap().find(word); id >= 0) {
            out.push_back(id);
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
            id = keyMap().find(word.substr(pos, len));
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
