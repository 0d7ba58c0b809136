// RoPE on q and k inside a fused [q | k | v] row against core's cpu::ropeTables + cpu::applyRope
// (the CPU engine's rotate_half layout), with default and YaRN-like frequencies (an attention
// scale != 1) and positions up to 128K, where the fp32 angle is large. v must stay untouched.
// With writeCache, the same launch also writes each token's rotated k (the bits left in k) and
// its v (unchanged) into the given slot of a paged cache with 5-token pages and padded pages;
// a token with slot -1 writes nothing, and every other cache element keeps its sentinel.
#include <QtTest>

#include <algorithm>
#include <cmath>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

class TestGpuRope : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void rope_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("nQHeads");
        QTest::addColumn<int>("nKHeads");
        QTest::addColumn<bool>("yarn");
        QTest::addColumn<bool>("writeCache");
        for (bool writeCache : {false, true})
        for (int t : {0, 1})
            for (int nTokens : {1, 7, 83})
                for (int headDim : {64, 80, 96, 128})
                    for (auto [nq, nk] : {std::pair{4, 4}, std::pair{14, 2}, std::pair{28, 4}, std::pair{6, 3}})
                        for (bool yarn : {false, true}) {
                            if (writeCache && yarn)
                                continue;  // the cache write does not depend on the frequencies
                            const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " tokens " +
                                                     std::to_string(nTokens) + " hd " + std::to_string(headDim) + " q" +
                                                     std::to_string(nq) + "/k" + std::to_string(nk) + (yarn ? " yarn" : "") +
                                                     (writeCache ? " cache" : "");
                            QTest::newRow(name.c_str()) << t << nTokens << headDim << nq << nk << yarn << writeCache;
                        }
    }

    void rope()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, headDim);
        QFETCH(int, nQHeads);
        QFETCH(int, nKHeads);
        QFETCH(bool, yarn);
        QFETCH(bool, writeCache);
        const auto t = static_cast<ElemType>(type);
        const int stride = (nQHeads + 2 * nKHeads) * headDim;
        std::mt19937 rng(3u + static_cast<unsigned>(nTokens * 7919 + headDim * 31 + nQHeads));
        const auto buf = randomValues(rng, static_cast<std::size_t>(nTokens) * stride, -2.0f, 2.0f, t);

        hearth::RopeFrequencies freqs;
        const int half = headDim / 2;
        const double theta = yarn ? 1e6 : 1e4;
        for (int i = 0; i < half; ++i) {
            float f = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / headDim));
            if (yarn && i > half / 2)
                f /= 4.0f;  // a YaRN-style interpolated tail; any table must do
            freqs.invFreq.push_back(f);
        }
        freqs.attentionScale = yarn ? 1.1386f : 1.0f;
        std::vector<std::int32_t> positions(static_cast<std::size_t>(nTokens));
        std::uniform_int_distribution<int> pos(0, 131071);
        for (std::size_t i = 0; i < positions.size(); ++i)
            positions[i] = i == 0 ? 0 : pos(rng);

        DeviceBuffer dBuf, dPos, dFreq;
        GPU_OK(dBuf.upload(encode(buf, t)));
        GPU_OK(dPos.upload(positions));
        GPU_OK(dFreq.upload(freqs.invFreq));
        hk::RopeArgs args;
        args.q = dBuf.get();
        args.k = dBuf.as<std::uint16_t>() + static_cast<std::size_t>(nQHeads) * headDim;
        args.positions = dPos.as<std::int32_t>();
        args.invFreq = dFreq.as<float>();
        args.attentionScale = freqs.attentionScale;
        args.nTokens = nTokens;
        args.nQHeads = nQHeads;
        args.nKHeads = nKHeads;
        args.headDim = headDim;
        args.qStride = stride;
        args.kStride = stride;
        args.type = t;

        // The cache: [page][K|V][slot][kvHead][d] with 6 elements of padding after each page.
        const int pageTokens = 5;
        const int kvDim = nKHeads * headDim;
        const int nPages = nTokens / pageTokens + 2;
        const std::int64_t pageStride = 2 * pageTokens * kvDim + 6;
        const float sentinel = 0.25f;
        std::vector<std::int32_t> slotOf(static_cast<std::size_t>(nTokens));
        {
            std::vector<std::int32_t> all(static_cast<std::size_t>(nPages * pageTokens));
            for (std::size_t i = 0; i < all.size(); ++i)
                all[i] = static_cast<std::int32_t>(i);
            std::shuffle(all.begin(), all.end(), rng);
            for (std::size_t i = 0; i < slotOf.size(); ++i)
                slotOf[i] = i == 1 ? -1 : all[i];  // token 1 (when there is one) is padding
        }
        DeviceBuffer dCache, dSlots;
        GPU_OK(dCache.upload(encode(std::vector<float>(static_cast<std::size_t>(nPages * pageStride), sentinel), t)));
        GPU_OK(dSlots.upload(slotOf));
        if (writeCache) {
            args.writeCache = true;
            args.v = dBuf.as<std::uint16_t>() + static_cast<std::size_t>(nQHeads + nKHeads) * headDim;
            args.vStride = stride;
            args.slotMapping = dSlots.as<std::int32_t>();
            args.cache.kCache = dCache.get();
            args.cache.vCache = dCache.as<std::uint16_t>() + static_cast<std::size_t>(pageTokens) * kvDim;
            args.cache.pageStride = pageStride;
            args.cache.tokenStride = kvDim;
            args.cache.headStride = headDim;
            args.cache.pageTokens = pageTokens;
            args.cache.nKvHeads = nKHeads;
            args.cache.headDim = headDim;
            args.cache.type = t;
        }
        GPU_OK(hk::applyRope(args, nullptr));
        std::vector<std::uint16_t> gotBits(buf.size());
        GPU_OK(dBuf.download(gotBits));
        const auto got = decode(gotBits, t);

        std::vector<float> ref = buf;
        std::vector<float> cosT(static_cast<std::size_t>(half)), sinT(static_cast<std::size_t>(half));
        for (int r = 0; r < nTokens; ++r) {
            hearth::cpu::ropeTables(freqs, positions[static_cast<std::size_t>(r)], cosT.data(), sinT.data());
            hearth::cpu::applyRope(ref.data() + static_cast<std::size_t>(r) * stride, nQHeads + nKHeads, headDim,
                                   cosT.data(), sinT.data());
        }
        for (int r = 0; r < nTokens; ++r)
            for (int c = (nQHeads + nKHeads) * headDim; c < stride; ++c) {
                const std::size_t i = static_cast<std::size_t>(r) * stride + static_cast<std::size_t>(c);
                QCOMPARE(got[i], buf[i]);
            }
        GPU_COMPARE(got, ref, toleranceFor(t, rms(ref)));

        std::vector<std::uint16_t> cacheBits(static_cast<std::size_t>(nPages * pageStride));
        GPU_OK(dCache.download(cacheBits));
        std::vector<float> expected(cacheBits.size(), sentinel);
        if (writeCache) {
            for (int r = 0; r < nTokens; ++r) {
                const std::int32_t slot = slotOf[static_cast<std::size_t>(r)];
                if (slot < 0)
                    continue;
                const std::int64_t base = (slot / pageTokens) * pageStride + (slot % pageTokens) * kvDim;
                for (int c = 0; c < kvDim; ++c) {
                    const std::size_t row = static_cast<std::size_t>(r) * stride;
                    expected[static_cast<std::size_t>(base + c)] = got[row + static_cast<std::size_t>(nQHeads * headDim + c)];
                    expected[static_cast<std::size_t>(base + pageTokens * kvDim + c)] =
                        buf[row + static_cast<std::size_t>((nQHeads + nKHeads) * headDim + c)];
                }
            }
        }
        const auto cache = decode(cacheBits, t);
        for (std::size_t i = 0; i < cache.size(); ++i)
            if (cache[i] != expected[i])
                QFAIL(("cache element " + std::to_string(i) + ": " + std::to_string(cache[i]) + ", expected " +
                       std::to_string(expected[i]))
                          .c_str());
    }

    void ropeCacheNeedsItsShape()
    {
        hk::RopeArgs a;
        std::int32_t dummy = 0;
        float freq = 1.0f;
        a.q = &dummy;
        a.k = &dummy;
        a.v = &dummy;
        a.positions = &dummy;
        a.invFreq = &freq;
        a.slotMapping = &dummy;
        a.nTokens = 1;
        a.nQHeads = 4;
        a.nKHeads = 2;
        a.headDim = 64;
        a.writeCache = true;
        a.cache.kCache = &dummy;
        a.cache.vCache = &dummy;
        a.cache.pageStride = a.cache.tokenStride = a.cache.headStride = 128;
        a.cache.nKvHeads = 4;  // not k's 2
        a.cache.headDim = 64;
        QVERIFY(!hk::applyRope(a, nullptr).ok);
        a.cache.nKvHeads = 2;
        a.v = nullptr;
        QVERIFY(!hk::applyRope(a, nullptr).ok);
    }
};

QTEST_APPLESS_MAIN(TestGpuRope)
#include "tst_gpu_rope.moc"
