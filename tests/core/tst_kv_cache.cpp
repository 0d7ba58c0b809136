// Page pool bookkeeping: sizing from a byte budget, all-or-nothing reservation, exhaustion as an
// error value, release (including of never-grown tables) and no page leaked or handed out twice.
#include <QtTest>

#include <random>
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
};

QTEST_APPLESS_MAIN(TestKvCache)
#include "tst_kv_cache.moc"
