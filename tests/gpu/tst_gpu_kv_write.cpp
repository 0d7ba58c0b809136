// Writing new tokens' K/V into their pages (slot mapping) against a host copy of the same
// writes: bit-exact, every other element of the cache (other slots, pages, layers, and tokens
// whose slot is -1) unchanged. k and v are read from a fused [q | k | v] row.
#include <QtTest>

#include "gpu_test_util.h"
#include "paged_cache_fixture.h"

using namespace gputest;
namespace hk = hearth::kernels;

class TestGpuKvWrite : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void writeKv_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("nKvHeads");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("layout");
        for (int t : {0, 1})
            for (int nTokens : {1, 7, 83})
                for (int nKv : {1, 4})
                    for (int headDim : {64, 80, 96, 128})
                        for (int layout : {0, 1}) {
                            const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " tokens " +
                                                     std::to_string(nTokens) + " kv " + std::to_string(nKv) + " hd " +
                                                     std::to_string(headDim) + " layout " + std::to_string(layout);
                            QTest::newRow(name.c_str()) << t << nTokens << nKv << headDim << layout;
                        }
    }

    void writeKv()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, nKvHeads);
        QFETCH(int, headDim);
        QFETCH(int, layout);
        PagedCacheFixture c;
        c.type = static_cast<ElemType>(type);
        c.layout = layout;
        c.pageTokens = layout == 0 ? 16 : 7;
        c.nKvHeads = nKvHeads;
        c.headDim = headDim;
        std::mt19937 rng(404u + static_cast<unsigned>(nTokens * 17 + nKvHeads * 5 + headDim + layout));
        c.build(rng, {nTokens + 20}, 2);  // room for every token's slot, and then some
        GPU_OK(c.upload());

        // Distinct random slots over the whole pool; every 5th token is padding (-1).
        std::vector<std::int32_t> allSlots(static_cast<std::size_t>(c.nPages * c.pageTokens));
        std::iota(allSlots.begin(), allSlots.end(), 0);
        std::shuffle(allSlots.begin(), allSlots.end(), rng);
        std::vector<std::int32_t> slotMap(allSlots.begin(), allSlots.begin() + nTokens);
        for (std::size_t i = 3; i < slotMap.size(); i += 5)
            slotMap[i] = -1;

        const int nQHeads = 2 * nKvHeads;
        const std::int64_t stride = static_cast<std::int64_t>(nQHeads + 2 * nKvHeads) * headDim;
        const auto qkv = randomValues(rng, static_cast<std::size_t>(nTokens * stride), -3.0f, 3.0f, c.type);
        DeviceBuffer dQkv, dSlots;
        GPU_OK(dQkv.upload(encode(qkv, c.type)));
        GPU_OK(dSlots.upload(slotMap));
        hk::KvWriteArgs args;
        args.k = dQkv.as<std::uint16_t>() + nQHeads * headDim;
        args.v = dQkv.as<std::uint16_t>() + (nQHeads + nKvHeads) * headDim;
        args.kStride = stride;
        args.vStride = stride;
        args.slotMapping = dSlots.as<std::int32_t>();
        args.nTokens = nTokens;
        args.cache = c.paged();
        GPU_OK(hk::writeKv(args, nullptr));

        std::vector<std::uint16_t> want = encode(c.cache, c.type);
        for (int t = 0; t < nTokens; ++t) {
            const std::int32_t slot = slotMap[static_cast<std::size_t>(t)];
            if (slot < 0)
                continue;
            const std::int64_t base = (slot / c.pageTokens) * c.elementsPerPage() + (slot % c.pageTokens) * c.tokenStride();
            for (std::int64_t h = 0; h < nKvHeads; ++h)
                for (std::int64_t d = 0; d < headDim; ++d) {
                    const std::int64_t dst = base + h * c.headStride() + d;
                    const std::int64_t src = t * stride + h * headDim + d;
                    want[static_cast<std::size_t>(c.kOffset() + dst)] = encode(qkv[static_cast<std::size_t>(src + nQHeads * headDim)], c.type);
                    want[static_cast<std::size_t>(c.vOffset() + dst)] =
                        encode(qkv[static_cast<std::size_t>(src + (nQHeads + nKvHeads) * headDim)], c.type);
                }
        }
        std::vector<std::uint16_t> got(want.size());
        GPU_OK(c.dCache.download(got));
        std::size_t nDiff = 0;
        for (std::size_t i = 0; i < got.size(); ++i)
            nDiff += got[i] != want[i];
        QCOMPARE(nDiff, std::size_t{0});
    }
};

QTEST_APPLESS_MAIN(TestGpuKvWrite)
#include "tst_gpu_kv_write.moc"
