#include "engine/kv_cache.h"

#include <string>

namespace hearth {

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
    pool.m_free.reserve(n);
    // Highest first so pages are handed out 0, 1, 2, ... which keeps early sequences contiguous.
    for (std::uint64_t i = n; i-- > 0;)
        pool.m_free.push_back(static_cast<std::int32_t>(i));
    return pool;
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
    if (extra > static_cast<std::int64_t>(m_free.size()))
        return makeError(ErrorCode::OutOfMemory, "KV cache: " + std::to_string(nTokens) + " tokens need " +
                                                     std::to_string(extra) + " more pages, " +
                                                     std::to_string(m_free.size()) + " of " +
                                                     std::to_string(nPages()) + " are free");
    for (std::int64_t i = 0; i < extra; ++i) {
        const std::int32_t page = m_free.back();
        m_free.pop_back();
        m_refCounts[static_cast<std::size_t>(page)] = 1;
        table.m_pages.push_back(page);
        table.m_prefixHashes.push_back(0);
    }
    return Status::ok();
}

void KvPagePool::release(BlockTable& table)
{
    for (std::int32_t page : table.m_pages) {
        std::int32_t& rc = m_refCounts[static_cast<std::size_t>(page)];
        if (rc > 0 && --rc == 0)
            m_free.push_back(page);
    }
    table.m_pages.clear();
    table.m_prefixHashes.clear();
}

}  // namespace hearth
