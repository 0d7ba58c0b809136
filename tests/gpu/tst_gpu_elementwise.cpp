// Embedding gather, fp16 <-> bf16 conversion and bias add against host references: all three
// must be bit-exact (a copy, a correctly rounded conversion, one fp32 add rounded once).
#include <QtTest>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

class TestGpuElementwise : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void embedding_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("hidden");
        for (int t : {0, 1})
            for (int nTokens : {1, 7, 83, 769})
                for (int hidden : {7, 64, 83, 1024}) {
                    const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " tokens " +
                                             std::to_string(nTokens) + " hidden " + std::to_string(hidden);
                    QTest::newRow(name.c_str()) << t << nTokens << hidden;
                }
    }

    // Ids include -1 and vocab (out of range): those rows must come back as zeros.
    void embedding()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, hidden);
        const auto t = static_cast<ElemType>(type);
        const int vocab = 97;
        std::mt19937 rng(1234u + static_cast<unsigned>(nTokens * 131 + hidden));
        const auto table = encode(randomValues(rng, static_cast<std::size_t>(vocab) * hidden, -2.0f, 2.0f, t), t);
        std::vector<std::int32_t> ids(static_cast<std::size_t>(nTokens));
        std::uniform_int_distribution<int> pick(-1, vocab);
        for (auto& id : ids)
            id = pick(rng);
        DeviceBuffer dTable, dIds, dOut;
        GPU_OK(dTable.upload(table));
        GPU_OK(dIds.upload(ids));
        GPU_OK(dOut.alloc(static_cast<std::size_t>(nTokens) * hidden * 2));
        hk::EmbeddingArgs args;
        args.ids = dIds.as<std::int32_t>();
        args.table = dTable.get();
        args.out = dOut.get();
        args.nTokens = nTokens;
        args.vocab = vocab;
        args.hidden = hidden;
        args.type = t;
        GPU_OK(hk::embeddingGather(args, nullptr));
        std::vector<std::uint16_t> got(static_cast<std::size_t>(nTokens) * hidden);
        GPU_OK(dOut.download(got));
        for (int r = 0; r < nTokens; ++r) {
            const int id = ids[static_cast<std::size_t>(r)];
            for (int c = 0; c < hidden; ++c) {
                const std::uint16_t want =
                    id >= 0 && id < vocab ? table[static_cast<std::size_t>(id) * hidden + c] : std::uint16_t(0);
                QCOMPARE(got[static_cast<std::size_t>(r) * hidden + c], want);
            }
        }
    }

    // Every bf16 bit pattern converted to fp16 (saturating) and every fp16 pattern to bf16.
    void conversionsExhaustive()
    {
        std::vector<std::uint16_t> all(65536);
        for (std::size_t i = 0; i < all.size(); ++i)
            all[i] = static_cast<std::uint16_t>(i);
        DeviceBuffer dIn, dOut;
        GPU_OK(dIn.upload(all));
        GPU_OK(dOut.alloc(all.size() * 2));
        std::vector<std::uint16_t> got(all.size());

        GPU_OK(hk::convertBf16ToF16(dIn.get(), dOut.get(), static_cast<std::int64_t>(all.size()), nullptr));
        GPU_OK(dOut.download(got));
        for (std::size_t i = 0; i < all.size(); ++i) {
            float v = hearth::cpu::bf16ToFloat(all[i]);
            if (std::isnan(v)) {
                QVERIFY2(std::isnan(hearth::cpu::halfToFloat(got[i])), qPrintable(QString::number(i)));
                continue;
            }
            if (std::isfinite(v))
                v = std::fmin(std::fmax(v, -65504.0f), 65504.0f);
            QCOMPARE(got[i], floatToHalf(v));
        }

        GPU_OK(hk::convertF16ToBf16(dIn.get(), dOut.get(), static_cast<std::int64_t>(all.size()), nullptr));
        GPU_OK(dOut.download(got));
        for (std::size_t i = 0; i < all.size(); ++i) {
            const float v = hearth::cpu::halfToFloat(all[i]);
            if (std::isnan(v)) {
                QVERIFY2(std::isnan(hearth::cpu::bf16ToFloat(got[i])), qPrintable(QString::number(i)));
                continue;
            }
            QCOMPARE(got[i], floatToBf16(v));
        }
    }

    void bias_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nRows");
        QTest::addColumn<int>("nCols");
        QTest::addColumn<int>("extraStride");
        for (int t : {0, 1})
            for (int nRows : {1, 7, 83, 769})
                for (int nCols : {1, 83, 3584})
                    for (int extra : {0, 5}) {
                        const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " rows " +
                                                 std::to_string(nRows) + " cols " + std::to_string(nCols) +
                                                 " stride+" + std::to_string(extra);
                        QTest::newRow(name.c_str()) << t << nRows << nCols << extra;
                    }
    }

    // Columns past nCols (the stride's padding) must stay untouched.
    void bias()
    {
        QFETCH(int, type);
        QFETCH(int, nRows);
        QFETCH(int, nCols);
        QFETCH(int, extraStride);
        const auto t = static_cast<ElemType>(type);
        const int stride = nCols + extraStride;
        std::mt19937 rng(77u + static_cast<unsigned>(nRows * 7 + nCols));
        const auto x = encode(randomValues(rng, static_cast<std::size_t>(nRows) * stride, -4.0f, 4.0f, t), t);
        const auto b = encode(randomValues(rng, static_cast<std::size_t>(nCols), -1.0f, 1.0f, t), t);
        DeviceBuffer dX, dB;
        GPU_OK(dX.upload(x));
        GPU_OK(dB.upload(b));
        GPU_OK(hk::addBias(dX.get(), dB.get(), nRows, nCols, stride, t, nullptr));
        std::vector<std::uint16_t> got(x.size());
        GPU_OK(dX.download(got));
        for (int r = 0; r < nRows; ++r)
            for (int c = 0; c < stride; ++c) {
                const std::size_t i = static_cast<std::size_t>(r) * stride + c;
                const std::uint16_t want =
                    c < nCols ? encode(decode(x[i], t) + decode(b[static_cast<std::size_t>(c)], t), t) : x[i];
                QCOMPARE(got[i], want);
            }
    }
};

QTEST_APPLESS_MAIN(TestGpuElementwise)
#include "tst_gpu_elementwise.moc"
