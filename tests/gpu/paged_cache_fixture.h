// A random paged KV cache for the attention and KV-write tests: a pool of pages, each holding K
// and V of nLayers layers, filled with random fp16/bf16 values everywhere (so reading a wrong
// slot, page or layer changes the answer), and block tables that give each sequence distinct
// pages in a shuffled order. Two layouts, both expressible as kernels::PagedKv strides:
//   0: [page][layer][K|V][slot][kvHead][d]   (the CPU engine's)
//   1: [page][layer][K|V][kvHead][slot][d]   (head-major)
// The test reads layer 1 of 2, so a layer offset bug shows too.
#pragma once

#include <algorithm>
#include <numeric>

#include "gpu_test_util.h"

namespace gputest {

struct PagedCacheFixture {
    ElemType type = ElemType::F16;
    int layout = 0;
    std::int64_t pageTokens = 16;
    std::int64_t nKvHeads = 1;
    std::int64_t headDim = 64;
    std::int64_t nLayers = 2;
    std::int64_t layer = 1;
    std::int64_t nPages = 0;

    std::vector<float> cache;                // host copy as floats, [nPages, elementsPerPage()]
    std::vector<std::int32_t> tables;        // [nSeqs, maxPagesPerSeq], -1 past a sequence's pages
    std::int64_t maxPagesPerSeq = 0;
    DeviceBuffer dCache;
    DeviceBuffer dTables;

    std::int64_t layerElements() const { return pageTokens * nKvHeads * headDim; }
    std::int64_t elementsPerPage() const { return nLayers * 2 * layerElements(); }
    std::int64_t kOffset() const { return (layer * 2) * layerElements(); }
    std::int64_t vOffset() const { return (layer * 2 + 1) * layerElements(); }
    std::int64_t tokenStride() const { return layout == 0 ? nKvHeads * headDim : headDim; }
    std::int64_t headStride() const { return layout == 0 ? headDim : pageTokens * headDim; }

    // Pages for sequences of `lengths` tokens, plus `sparePages` no table uses.
    void build(std::mt19937& rng, const std::vector<int>& lengths, int sparePages)
    {
        std::int64_t needed = 0;
        maxPagesPerSeq = 1;
        for (int len : lengths) {
            const std::int64_t pages = (len + pageTokens - 1) / pageTokens;
            needed += pages;
            maxPagesPerSeq = std::max(maxPagesPerSeq, pages + 1);  // one unused column: -1
        }
        nPages = needed + sparePages;
        cache = randomValues(rng, static_cast<std::size_t>(nPages * elementsPerPage()), -1.0f, 1.0f, type);
        std::vector<std::int32_t> order(static_cast<std::size_t>(nPages));
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
        tables.assign(lengths.size() * static_cast<std::size_t>(maxPagesPerSeq), -1);
        std::size_t next = 0;
        for (std::size_t s = 0; s < lengths.size(); ++s) {
            const std::int64_t pages = (lengths[s] + pageTokens - 1) / pageTokens;
            for (std::int64_t p = 0; p < pages; ++p)
                tables[s * static_cast<std::size_t>(maxPagesPerSeq) + static_cast<std::size_t>(p)] = order[next++];
        }
    }

    KernelStatus upload()
    {
        const KernelStatus s = dCache.upload(encode(cache, type));
        return s.ok ? dTables.upload(tables) : s;
    }

    hearth::kernels::PagedKv paged() const
    {
        hearth::kernels::PagedKv p;
        p.kCache = dCache.as<std::uint16_t>() + kOffset();
        p.vCache = dCache.as<std::uint16_t>() + vOffset();
        p.pageStride = elementsPerPage();
        p.tokenStride = tokenStride();
        p.headStride = headStride();
        p.pageTokens = pageTokens;
        p.nKvHeads = nKvHeads;
        p.headDim = headDim;
        p.type = type;
        return p;
    }

    // core's cpu::pagedAttention for query `q` [headDim] of a head reading `kvHead`, over the
    // first nContext positions of sequence `seq`.
    void reference(const float* q, std::int64_t seq, std::int64_t kvHead, std::int64_t nContext, float scale,
                   float* out) const
    {
        hearth::cpu::PagedAttentionArgs a;
        a.q = q;
        a.out = out;
        a.kBase = cache.data() + kOffset() + kvHead * headStride();
        a.vBase = cache.data() + vOffset() + kvHead * headStride();
        a.pages = tables.data() + seq * maxPagesPerSeq;
        a.pageStride = elementsPerPage();
        a.slotStride = tokenStride();
        a.pageTokens = pageTokens;
        a.nContext = nContext;
        a.headDim = headDim;
        a.scale = scale;
        std::vector<float> scores(static_cast<std::size_t>(std::max<std::int64_t>(nContext, 1)));
        hearth::cpu::pagedAttention(a, scores.data());
    }
};

}  // namespace gputest
