// Page pool bookkeeping: sizing from a byte budget, all-or-nothing reservation, exhaustion as an
// error value, release (including of never-grown tables) and no page leaked or handed out twice.
// Prefix reuse: published full pages are found again by their token prefix (and only by it: other
// tokens, another chain head or another salt miss), shared pages are counted once, released ones
// stay cached until the pool needs them (tails evicted before heads), and under random use the
// free/cached/used counters always add up and every page is back at the end.
#include <QtTest>

#include <random>
#include <map>
#include <numeric>
#include <set>

#include "engine/kv_cache.h"

using namespace hearth;

namespace {

KvLayout smallLayout()
{
    KvLayout l;
    l.nLayers = 2;
    l.nKvHeads = 2;
    l.headDim = 16;
    l.pageTokens = 16;
    l.bytesPerElement = 4;
    return l;  // 2 layers * (K,V) * 16 tokens * 2 heads * 16 dims * 4 bytes = 8192 bytes a page
}

std::vector<std::int32_t> iota(int n, int first = 100)
{
    std::vector<std::int32_t> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), first);
    return v;
}

// A table that went through a prefill of `tokens`: pages reserved, K/V "written", pages published.
BlockTable prefilled(KvPagePool& pool, const std::vector<std::int32_t>& tokens, std::uint64_t salt = 0)
{
    BlockTable t;
    const std::int64_t matched = pool.matchPrefix(t, {tokens.data(), tokens.size() - 1}, salt);
    (void)matched;
    if (!pool.reserve(t, static_cast<std::int64_t>(tokens.size())).isOk())
        return t;
    pool.publishPrefix(t, tokens, static_cast<std::int64_t>(tokens.size()), salt);
    return t;
}

bool countersAddUp(const KvPagePool& pool)
{
    return pool.nUsedPages() >= 0 && pool.nFreePages() + pool.nCachedPages() + pool.nUsedPages() == pool.nPages();
}

}  // namespace

class TestKvCache : public QObject {
    Q_OBJECT

private slots:
    void pageBytes() { QCOMPARE(smallLayout().bytesPerPage(), std::int64_t(8192)); }

    void sizedFromBudget_data()
    {
        QTest::addColumn<qulonglong>("budget");
        QTest::addColumn<int>("pages");
        QTest::newRow("exact") << qulonglong(8192 * 10) << 10;
        QTest::newRow("rounds down") << qulonglong(8192 * 10 + 8191) << 10;
        QTest::newRow("one") << qulonglong(8192) << 1;
    }

    void sizedFromBudget()
    {
        QFETCH(qulonglong, budget);
        QFETCH(int, pages);
        auto pool = KvPagePool::create(smallLayout(), budget);
        QVERIFY(pool.isOk());
        QCOMPARE(pool->nPages(), pages);
        QCOMPARE(pool->nFreePages(), pages);
    }

    void budgetTooSmall()
    {
        auto pool = KvPagePool::create(smallLayout(), 8191);
        QVERIFY(!pool.isOk());
        QCOMPARE(pool.error().code, ErrorCode::OutOfMemory);
        QVERIFY(pool.error().message.find("8192") != std::string::npos);
    }

    void reserveGrowsByPages()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 8);
        BlockTable t;
        QVERIFY(pool->reserve(t, 1).isOk());
        QCOMPARE(t.pages().size(), std::size_t(1));
        QVERIFY(pool->reserve(t, 16).isOk());
        QCOMPARE(t.pages().size(), std::size_t(1));
        QVERIFY(pool->reserve(t, 17).isOk());
        QCOMPARE(t.pages().size(), std::size_t(2));
        QCOMPARE(t.capacityTokens(16), std::int64_t(32));
        QVERIFY(pool->reserve(t, 5).isOk());  // shrinking is not a thing: nothing changes
        QCOMPARE(pool->nUsedPages(), 2);
        pool->release(t);
        QCOMPARE(pool->nUsedPages(), 0);
        QVERIFY(t.pages().empty());
    }

    void exhaustionIsAnErrorAndAllOrNothing()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 4);
        BlockTable a, b;
        QVERIFY(pool->reserve(a, 48).isOk());  // 3 pages
        const Status s = pool->reserve(b, 32);  // needs 2, 1 free
        QVERIFY(!s.isOk());
        QCOMPARE(s.error().code, ErrorCode::OutOfMemory);
        QVERIFY(b.pages().empty());
        QCOMPARE(pool->nFreePages(), 1);
        QVERIFY(!pool->reserve(a, 80).isOk());  // growing past the pool leaves a as it was
        QCOMPARE(a.pages().size(), std::size_t(3));
        QVERIFY(pool->reserve(b, 16).isOk());
        QCOMPARE(pool->nFreePages(), 0);
        pool->release(a);
        pool->release(b);
        QCOMPARE(pool->nFreePages(), 4);
    }

    void noLeaksNoDoubleHandout()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 37);
        std::vector<BlockTable> tables(20);
        std::mt19937 rng(7);
        for (int round = 0; round < 2000; ++round) {
            BlockTable& t = tables[rng() % tables.size()];
            if (rng() % 3 == 0) {
                pool->release(t);
            } else {
                const std::int64_t want = t.capacityTokens(16) + static_cast<std::int64_t>(rng() % 40);
                const std::int32_t freeBefore = pool->nFreePages();
                const Status s = pool->reserve(t, want);
                if (!s.isOk())
                    QCOMPARE(pool->nFreePages(), freeBefore);
            }
            std::set<std::int32_t> owned;
            std::size_t total = 0;
            for (const BlockTable& x : tables) {
                total += x.pages().size();
                owned.insert(x.pages().begin(), x.pages().end());
            }
            QCOMPARE(owned.size(), total);  // no page in two tables
            QCOMPARE(pool->nUsedPages(), static_cast<std::int32_t>(total));
            for (std::int32_t p : owned)
                QVERIFY(p >= 0 && p < pool->nPages());
        }
        for (BlockTable& t : tables)
            pool->release(t);
        QCOMPARE(pool->nFreePages(), pool->nPages());
    }

    void releaseEmptyTable()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 2);
        BlockTable t;
        pool->release(t);
        pool->release(t);
        QCOMPARE(pool->nFreePages(), 2);
    }

    void negativeTokens()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 2);
        BlockTable t;
        QCOMPARE(pool->reserve(t, -1).error().code, ErrorCode::InvalidArgument);
    }

    void prefixPagesAreSharedAndCountedOnce()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 10);
        const auto tokens = iota(40);  // 2 full pages + 8 tokens
        BlockTable a = prefilled(*pool, tokens);
        QCOMPARE(a.pages().size(), std::size_t(3));
        QCOMPARE(pool->nUsedPages(), 3);

        auto longer = tokens;
        longer.push_back(7);
        BlockTable b;
        QCOMPARE(pool->matchPrefix(b, {longer.data(), longer.size() - 1}, 0), std::int64_t(32));
        QCOMPARE(b.pages()[0], a.pages()[0]);
        QCOMPARE(b.pages()[1], a.pages()[1]);
        QVERIFY(pool->reserve(b, static_cast<std::int64_t>(longer.size())).isOk());
        QVERIFY(b.pages()[2] != a.pages()[2]);  // the partial page is private
        QCOMPARE(pool->nUsedPages(), 4);
        QVERIFY(countersAddUp(*pool));

        pool->release(a);  // shared pages stay with b; a's private partial page is free again
        QCOMPARE(pool->nUsedPages(), 3);
        QCOMPARE(pool->nCachedPages(), 0);
        pool->release(b);
        QCOMPARE(pool->nUsedPages(), 0);
        QCOMPARE(pool->nCachedPages(), 2);
        QCOMPARE(pool->nFreePages(), 8);

        BlockTable c;  // the cached pages come back for a third request
        QCOMPARE(pool->matchPrefix(c, {tokens.data(), 35}, 0), std::int64_t(32));
        QCOMPARE(pool->nCachedPages(), 0);
        QCOMPARE(pool->nUsedPages(), 2);
        pool->release(c);
    }

    void matchNeedsTheSamePrefix_data()
    {
        QTest::addColumn<int>("changeAt");  // index of the token that differs; -1: none
        QTest::addColumn<qulonglong>("salt");
        QTest::addColumn<int>("expectTokens");
        QTest::newRow("same") << -1 << qulonglong(0) << 48;
        QTest::newRow("first token") << 0 << qulonglong(0) << 0;
        QTest::newRow("last of page 1") << 15 << qulonglong(0) << 0;
        QTest::newRow("page 2") << 20 << qulonglong(0) << 16;
        QTest::newRow("page 3") << 47 << qulonglong(0) << 32;
        QTest::newRow("other salt") << -1 << qulonglong(5) << 0;
    }

    void matchNeedsTheSamePrefix()
    {
        QFETCH(int, changeAt);
        QFETCH(qulonglong, salt);
        QFETCH(int, expectTokens);
        auto pool = KvPagePool::create(smallLayout(), 8192 * 16);
        const auto tokens = iota(50);
        BlockTable a = prefilled(*pool, tokens);
        auto probe = tokens;
        if (changeAt >= 0)
            probe[static_cast<std::size_t>(changeAt)] += 1000;
        BlockTable b;
        QCOMPARE(pool->matchPrefix(b, probe, salt), std::int64_t(expectTokens));
        for (std::size_t i = 0; i < b.pages().size(); ++i)
            QCOMPARE(b.pages()[i], a.pages()[i]);
        pool->release(a);
        pool->release(b);
        QCOMPARE(pool->nUsedPages(), 0);
    }

    void chainHashDependsOnEarlierPages()
    {
        // Page 2 alone equal is not a match: its K/V depends on everything before it.
        auto pool = KvPagePool::create(smallLayout(), 8192 * 16);
        auto first = iota(32, 0);
        auto second = iota(32, 0);
        second[0] = 999;
        BlockTable a = prefilled(*pool, first);
        BlockTable b;
        QCOMPARE(pool->matchPrefix(b, second, 0), std::int64_t(0));
        QVERIFY(prefixPageHash(prefixSeed(0), {first.data() + 16, 16}) !=
                prefixPageHash(prefixPageHash(prefixSeed(0), {first.data(), 16}), {first.data() + 16, 16}));
        pool->release(a);
    }

    void onlyWrittenFullPagesArePublished()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 8);
        const auto tokens = iota(48);
        BlockTable a;
        QVERIFY(pool->reserve(a, 48).isOk());
        pool->publishPrefix(a, tokens, 20, 0);  // only page 1 is complete
        BlockTable b;
        QCOMPARE(pool->matchPrefix(b, tokens, 0), std::int64_t(16));
        pool->release(b);
        pool->publishPrefix(a, tokens, 48, 0);
        QCOMPARE(pool->matchPrefix(b, tokens, 0), std::int64_t(48));
        pool->release(b);
        pool->release(a);
        QCOMPARE(pool->nCachedPages(), 3);
    }

    void cachedPagesAreEvictedTailFirst()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 4);
        const auto tokens = iota(33);  // pages 1 and 2 full, page 3 partial
        BlockTable a = prefilled(*pool, tokens);
        pool->release(a);
        QCOMPARE(pool->nCachedPages(), 2);
        QCOMPARE(pool->nFreePages(), 2);
        BlockTable other;
        QVERIFY(pool->reserve(other, 48).isOk());  // 2 free + 1 evicted
        QCOMPARE(pool->nCachedPages(), 1);
        BlockTable b;
        QCOMPARE(pool->matchPrefix(b, tokens, 0), std::int64_t(16));  // the head survived
        QVERIFY(!pool->reserve(other, 80).isOk());  // the matched page is in use, not evictable
        pool->release(b);
        pool->release(other);
        QVERIFY(countersAddUp(*pool));
        pool->dropCached();
        QCOMPARE(pool->nFreePages(), 4);
        QCOMPARE(pool->matchPrefix(b, tokens, 0), std::int64_t(0));
    }

    void randomPrefixUseNeverLeaks()
    {
        auto pool = KvPagePool::create(smallLayout(), 8192 * 24);
        std::mt19937 rng(11);
        // A few shared "system prompts" so matches happen often.
        std::vector<std::vector<std::int32_t>> heads;
        for (int h = 0; h < 3; ++h)
            heads.push_back(iota(16 * (1 + h), 1000 * h));
        std::vector<std::pair<BlockTable, std::vector<std::int32_t>>> live;
        for (int round = 0; round < 3000; ++round) {
            if (!live.empty() && (rng() % 2 == 0 || live.size() > 8)) {
                const std::size_t i = rng() % live.size();
                pool->release(live[i].first);
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
            } else {
                std::vector<std::int32_t> tokens = heads[rng() % heads.size()];
                const int tail = 1 + static_cast<int>(rng() % 30);
                for (int i = 0; i < tail; ++i)
                    tokens.push_back(static_cast<std::int32_t>(rng() % 4));
                const std::uint64_t salt = rng() % 2;
                BlockTable t;
                const std::int64_t matched = pool->matchPrefix(t, {tokens.data(), tokens.size() - 1}, salt);
                QVERIFY(matched % 16 == 0 && matched < static_cast<std::int64_t>(tokens.size()));
                if (!pool->reserve(t, static_cast<std::int64_t>(tokens.size())).isOk()) {
                    pool->release(t);
                } else {
                    pool->publishPrefix(t, tokens, static_cast<std::int64_t>(tokens.size()), salt);
                    live.emplace_back(std::move(t), tokens);
                }
            }
            QVERIFY(countersAddUp(*pool));
            // A page in two tables must hold the same tokens at the same place in both.
            std::map<std::int32_t, std::pair<std::size_t, std::vector<std::int32_t>>> seen;
            std::set<std::int32_t> distinct;
            for (const auto& [t, tokens] : live)
                for (std::size_t p = 0; p < t.pages().size(); ++p) {
                    distinct.insert(t.pages()[p]);
                    const std::size_t end = std::min(tokens.size(), (p + 1) * 16);
                    std::vector<std::int32_t> prefix(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(end));
                    auto [it, fresh] = seen.emplace(t.pages()[p], std::make_pair(p, prefix));
                    if (!fresh) {
                        QCOMPARE(it->second.first, p);
                        QVERIFY(it->second.second == prefix);
                    }
                }
            QCOMPARE(pool->nUsedPages(), static_cast<std::int32_t>(distinct.size()));
        }
        for (auto& [t, tokens] : live)
            pool->release(t);
        QCOMPARE(pool->nUsedPages(), 0);
        QCOMPARE(pool->nFreePages() + pool->nCachedPages(), pool->nPages());
    }
};

QTEST_APPLESS_MAIN(TestKvCache)
#include "tst_kv_cache.moc"
