// Paged KV cache bookkeeping: a pool of fixed-size pages (each holds `pageTokens` tokens of K and V
// for every layer) sized from a byte budget, and a block table per sequence mapping its token
// positions to pages. The pool only hands out page numbers; where the bytes live (host memory
// for the CPU backend, device memory for CUDA) is the backend's business, so both use the same
// logical layout. Running out of pages is an error value the scheduler answers by queueing or
// preempting, never a crash.
#pragma once

#include <cstdint>
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

// The pages of one sequence, in position order: token at position p is in page pages()[p / pageTokens],
// slot p % pageTokens. Only the pool changes it.
class BlockTable {
public:
    const std::vector<std::int32_t>& pages() const { return m_pages; }
    std::int64_t capacityTokens(std::int64_t pageTokens) const { return static_cast<std::int64_t>(m_pages.size()) * pageTokens; }

private:
    friend class KvPagePool;
    std::vector<std::int32_t> m_pages;
    // TODO(#4): prefix reuse keys each full page by a hash of the tokens up to its end; a table
    // then starts with shared pages (refcount > 1) found by hash, and only its tail is private.
    std::vector<std::uint64_t> m_prefixHashes;
};

class KvPagePool {
public:
    // A pool of floor(budgetBytes / layout.bytesPerPage()) pages; an error when not even one fits.
    static Result<KvPagePool> create(const KvLayout& layout, std::uint64_t budgetBytes);

    const KvLayout& layout() const { return m_layout; }
    std::int32_t nPages() const { return static_cast<std::int32_t>(m_refCounts.size()); }
    std::int32_t nFreePages() const { return static_cast<std::int32_t>(m_free.size()); }
    std::int32_t nUsedPages() const { return nPages() - nFreePages(); }

    // Grows `table` so it covers positions [0, nTokens). All or nothing: when the pool cannot
    // supply every page needed, the table is unchanged and the error is OutOfMemory.
    Status reserve(BlockTable& table, std::int64_t nTokens);
    // Returns every page of `table` to the pool (a page shared by several tables is freed when
    // the last one lets go) and empties the table.
    void release(BlockTable& table);

private:
    KvLayout m_layout;
    std::vector<std::int32_t> m_refCounts;  // per page; 0 = free
    std::vector<std::int32_t> m_free;       // stack of free page numbers
};

}  // namespace hearth
