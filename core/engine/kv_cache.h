// Paged KV cache bookkeeping: a pool of fixed-size pages (each holds `pageTokens` tokens of K and V
// for every layer) sized from a byte budget, and a block table per sequence mapping its token
// positions to pages. The pool only hands out page numbers; where the bytes live (host memory
// for the CPU backend, device memory for CUDA) is the backend's business, so both use the same
// logical layout. Running out of pages is an error value the scheduler answers by queueing or
// preempting, never a crash.
//
// Prefix reuse: a full page whose K/V is written can be published under a chain hash of the
// tokens up to its end (h(page) = hash(h(previous page), the page's tokens), seeded per adapter).
// A later sequence whose tokens start the same way takes those pages instead of recomputing them
// (shared, refcounted). A released published page stays cached (refcount 0, in an LRU) until the
// pool needs it for something else. Pages are only shared when full, and a sequence only writes
// positions past its matched prefix, so no sequence ever writes into a shared page.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/model_config.h"
#include "util/result.h"

namespace hearth {

// What one page holds. K and V are stored per layer as [pageTokens, nKvHeads, headDim].
struct KvLayout {
    std::int64_t nLayers = 0;
    std::int64_t nKvHeads = 0;
    std::int64_t headDim = 0;
    std::int64_t pageTokens = 16;
    std::int64_t bytesPerElement = 4;  // 4 for the fp32 CPU cache, 2 for an fp16 GPU cache

    static KvLayout forModel(const ModelConfig& config, std::int64_t bytesPerElement, std::int64_t pageTokens = 16);
    std::int64_t elementsPerPage() const { return nLayers * 2 * pageTokens * nKvHeads * headDim; }
    std::int64_t bytesPerPage() const { return elementsPerPage() * bytesPerElement; }
};

// The chain hash of one full page: mixes the previous page's hash (or the seed for the first
// page) with the page's tokens. 64-bit; matches are also checked token by token.
std::uint64_t prefixPageHash(std::uint64_t previous, std::span<const std::int32_t> tokens);
// The chain's starting value for a given salt (0: the base model; an adapter and its scale
// give other salts, since the same tokens give different K/V under an adapter).
std::uint64_t prefixSeed(std::uint64_t salt);

// The pages of one sequence, in position order: token at position p is in page pages()[p / pageTokens],
// slot p % pageTokens. Only the pool changes it.
class BlockTable {
public:
    const std::vector<std::int32_t>& pages() const { return m_pages; }
    std::int64_t capacityTokens(std::int64_t pageTokens) const { return static_cast<std::int64_t>(m_pages.size()) * pageTokens; }

private:
    friend class KvPagePool;
    std::vector<std::int32_t> m_pages;
    // Chain hashes of the leading full pages already matched or published (a prefix of m_pages).
    std::vector<std::uint64_t> m_prefixHashes;
};

class KvPagePool {
public:
    // A pool of floor(budgetBytes / layout.bytesPerPage()) pages; an error when not even one fits.
    static Result<KvPagePool> create(const KvLayout& layout, std::uint64_t budgetBytes);

    const KvLayout& layout() const { return m_layout; }
    std::int32_t nPages() const { return static_cast<std::int32_t>(m_refCounts.size()); }
    // Pages holding nothing anyone may want.
    std::int32_t nFreePages() const { return static_cast<std::int32_t>(m_free.size()); }
    // Pages no table holds that keep a published prefix for reuse; handed out when free ones run out.
    std::int32_t nCachedPages() const { return static_cast<std::int32_t>(m_lru.size()); }
    // Pages held by at least one table.
    std::int32_t nUsedPages() const { return nPages() - nFreePages() - nCachedPages(); }
    // What reserve() can hand out: free plus cached pages.
    std::int32_t nAvailablePages() const { return nFreePages() + nCachedPages(); }

    // Grows `table` so it covers positions [0, nTokens). All or nothing: when the pool cannot
    // supply every page needed (free first, then the least recently used cached ones), the table
    // is unchanged and the error is OutOfMemory.
    Status reserve(BlockTable& table, std::int64_t nTokens);
    // Lets go of every page of `table` and empties it. A page nobody holds any more becomes
    // cached when it carries a published prefix, else free.
    void release(BlockTable& table);

    // Starts the empty `table` with the longest chain of published pages equal to the leading
    // full pages of `tokens` (under `salt`); returns how many tokens they cover (a multiple of
    // pageTokens, 0 when the table was not empty). Pass the tokens whose K/V may be reused: a
    // caller that needs logits for the last token leaves it out.
    std::int64_t matchPrefix(BlockTable& table, std::span<const std::int32_t> tokens, std::uint64_t salt);
    // Records that the K/V of tokens[0, nComputed) is written in `table`'s pages: each full page
    // not yet published becomes findable by matchPrefix. A page whose prefix another page already
    // publishes stays private.
    void publishPrefix(BlockTable& table, std::span<const std::int32_t> tokens, std::int64_t nComputed,
                       std::uint64_t salt);
    // Forgets every cached prefix (cached pages become free); pages in use keep their hashes.
    void dropCached();

private:
    struct PageKey {
        bool published = false;
        std::uint64_t hash = 0;
        std::uint64_t previous = 0;  // the chain hash before this page, checked on a match
    };

    void unpublish(std::int32_t page);
    std::span<std::int32_t> pageTokens(std::int32_t page);

    KvLayout m_layout;
    std::vector<std::int32_t> m_refCounts;  // per page; 0 = free or cached
    std::vector<std::int32_t> m_free;       // stack of free page numbers
    std::vector<PageKey> m_keys;            // per page
    std::vector<std::int32_t> m_tokens;     // [nPages, pageTokens]: a published page's tokens
    std::unordered_map<std::uint64_t, std::int32_t> m_byHash;
    std::list<std::int32_t> m_lru;          // cached pages, least recently released first
    std::vector<std::list<std::int32_t>::iterator> m_lruPos;  // per page; valid while cached
};

}  // namespace hearth
