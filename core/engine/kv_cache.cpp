#include "engine/kv_cache.h"

#include <algorithm>
#include <string>

namespace hearth {

namespace {

// splitmix64's finaliser: every input bit affects every output bit.
std::uint64_t mix64(std::uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

}  // namespace

std::uint64_t prefixPageHash(std::uint64_t previous, std::span<const std::int32_t> tokens)
{
    std::uint64_t h = mix64(previous ^ 0x6a09e667f3bcc909ull);
    for (std::int32_t t : tokens)
        h = mix64(h + 0x9e3779b97f4a7c15ull + static_cast<std::uint32_t>(t));
    return mix64(h ^ tokens.size());
}

std::uint64_t prefixSeed(std::uint64_t salt) { return mix64(salt + 0x243f6a8885a308d3ull); }

KvLayout KvLayout::forModel(const ModelConfig& config, std::int64_t bytesPerElement, std::int64_t pageTokens)
{
    KvLayout l;
    l.nLayers = config.nLayers;
    l.nKvHeads = config.nKvHeads;
    l.headDim = config.headDim;
    l.pageTokens = pageTokens;
    l.bytesPerElement = bytesPerElement;
    return l;
}

Result<KvPagePool> KvPagePool::create(const KvLayout& layout, std::uint64_t budgetBytes)
{
    if (layout.nLayers <= 0 || layout.nKvHeads <= 0 || layout.headDim <= 0 || layout.pageTokens <= 0 ||
        layout.bytesPerElement <= 0)
        return makeError(ErrorCode::InvalidArgument, "KV cache: layout sizes must be positive");
    const auto perPage = static_cast<std::uint64_t>(layout.bytesPerPage());
    const std::uint64_t n = budgetBytes / perPage;
    if (n == 0)
        return makeError(ErrorCode::OutOfMemory, "KV cache: a budget of " + std::to_string(budgetBytes) +
                                                     " bytes holds no page of " + std::to_string(perPage) + " bytes");
    if (n > static_cast<std::uint64_t>(INT32_MAX))
        return makeError(ErrorCode::InvalidArgument, "KV cache: budget gives more than 2^31 pages");
    KvPagePool pool;
    pool.m_layout = layout;
    pool.m_refCounts.assign(n, 0);
    pool.m_keys.assign(n, PageKey{});
    pool.m_tokens.assign(n * static_cast<std::uint64_t>(layout.pageTokens), 0);
    pool.m_lruPos.resize(n);
    pool.m_free.reserve(n);
    // Highest first so pages are handed out 0, 1, 2, ... which keeps early sequences contiguous.
    for (std::uint64_t i = n; i-- > 0;)
        pool.m_free.push_back(static_cast<std::int32_t>(i));
    return pool;
}

std::span<std::int32_t> KvPagePool::pageTokens(std::int32_t page)
{
    const auto p = static_cast<std::size_t>(m_layout.pageTokens);
    return {m_tokens.data() + static_cast<std::size_t>(page) * p, p};
}

void KvPagePool::unpublish(std::int32_t page)
{
    PageKey& key = m_keys[static_cast<std::size_t>(page)];
    if (!key.published)
        return;
    const auto it = m_byHash.find(key.hash);
    if (it != m_byHash.end() && it->second == page)
        m_byHash.erase(it);
    key = PageKey{};
}

Status KvPagePool::reserve(BlockTable& table, std::int64_t nTokens)
{
    if (nTokens < 0)
        return makeError(ErrorCode::InvalidArgument, "KV cache: negative token count");
    const std::int64_t needPages = (nTokens + m_layout.pageTokens - 1) / m_layout.pageTokens;
    const std::int64_t have = static_cast<std::int64_t>(table.m_pages.size());
    if (needPages <= have)
        return Status::ok();
    const std::int64_t extra = needPages - have;
    if (extra > nAvailablePages())
        return makeError(ErrorCode::OutOfMemory, "KV cache: " + std::to_string(nTokens) + " tokens need " +
                                                     std::to_string(extra) + " more pages, " +
                                                     std::to_string(nAvailablePages()) + " of " +
                                                     std::to_string(nPages()) + " are free or cached");
    for (std::int64_t i = 0; i < extra; ++i) {
        std::int32_t page = 0;
        if (!m_free.empty()) {
            page = m_free.back();
            m_free.pop_back();
        } else {
            // Evict the cached prefix released longest ago.
            page = m_lru.front();
            m_lru.pop_front();
            unpublish(page);
        }
        m_refCounts[static_cast<std::size_t>(page)] = 1;
        table.m_pages.push_back(page);
    }
    return Status::ok();
}

void KvPagePool::release(BlockTable& table)
{
    // Last page first: a chain's tail then sits nearer the LRU's front and is evicted before its
    // head, which keeps the head matchable (a chain is useless without its first pages).
    for (auto it = table.m_pages.rbegin(); it != table.m_pages.rend(); ++it) {
        const std::int32_t page = *it;
        std::int32_t& rc = m_refCounts[static_cast<std::size_t>(page)];
        if (rc > 0 && --rc == 0) {
            if (m_keys[static_cast<std::size_t>(page)].published)
                m_lruPos[static_cast<std::size_t>(page)] = m_lru.insert(m_lru.end(), page);
            else
                m_free.push_back(page);
        }
    }
    table.m_pages.clear();
    table.m_prefixHashes.clear();
}

std::int64_t KvPagePool::matchPrefix(BlockTable& table, std::span<const std::int32_t> tokens, std::uint64_t salt)
{
    if (!table.m_pages.empty())
        return 0;
    const auto p = static_cast<std::size_t>(m_layout.pageTokens);
    std::uint64_t previous = prefixSeed(salt);
    for (std::size_t first = 0; first + p <= tokens.size(); first += p) {
        const std::span<const std::int32_t> chunk = tokens.subspan(first, p);
        const std::uint64_t h = prefixPageHash(previous, chunk);
        const auto it = m_byHash.find(h);
        if (it == m_byHash.end())
            break;
        const std::int32_t page = it->second;
        const std::span<std::int32_t> stored = pageTokens(page);
        // A 64-bit collision must not hand out another prompt's K/V.
        if (m_keys[static_cast<std::size_t>(page)].previous != previous ||
            !std::equal(chunk.begin(), chunk.end(), stored.begin()))
            break;
        std::int32_t& rc = m_refCounts[static_cast<std::size_t>(page)];
        if (rc == 0)
            m_lru.erase(m_lruPos[static_cast<std::size_t>(page)]);
        ++rc;
        table.m_pages.push_back(page);
        table.m_prefixHashes.push_back(h);
        previous = h;
    }
    return static_cast<std::int64_t>(table.m_pages.size()) * m_layout.pageTokens;
}

void KvPagePool::publishPrefix(BlockTable& table, std::span<const std::int32_t> tokens, std::int64_t nComputed,
                               std::uint64_t salt)
{
    const auto p = static_cast<std::size_t>(m_layout.pageTokens);
    const std::size_t written = static_cast<std::size_t>(std::clamp<std::int64_t>(
        nComputed, 0, static_cast<std::int64_t>(tokens.size())));
    const std::size_t nFull = std::min(written / p, table.m_pages.size());
    std::uint64_t previous = table.m_prefixHashes.empty() ? prefixSeed(salt) : table.m_prefixHashes.back();
    for (std::size_t i = table.m_prefixHashes.size(); i < nFull; ++i) {
        const std::span<const std::int32_t> chunk = tokens.subspan(i * p, p);
        const std::uint64_t h = prefixPageHash(previous, chunk);
        const std::int32_t page = table.m_pages[i];
        PageKey& key = m_keys[static_cast<std::size_t>(page)];
        if (!key.published && m_byHash.find(h) == m_byHash.end()) {
            key.published = true;
            key.hash = h;
            key.previous = previous;
            std::copy(chunk.begin(), chunk.end(), pageTokens(page).begin());
            m_byHash.emplace(h, page);
        }
        table.m_prefixHashes.push_back(h);
        previous = h;
    }
}

void KvPagePool::dropCached()
{
    for (std::int32_t page : m_lru) {
        unpublish(page);
        m_free.push_back(page);
    }
    m_lru.clear();
}

}  // namespace hearth
