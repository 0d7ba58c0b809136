// LoRA shrink/expand with a different adapter per row (or none) against an fp64 host
// y + scale_i * B_i (A_i x): four adapters of ranks 8, 16, 64 and 13 (maxRank 64), rows choosing
// at random among them and "no adapter", strided x and y (an output slice of a fused projection;
// the odd x stride leaves only every 8th row 16-byte aligned, so both shrink paths run).
// Rows without an adapter, and the columns outside the slice, must come back bit-identical.
#include <QtTest>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

class TestGpuLora : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void lora_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nRows");
        QTest::addColumn<int>("inDim");
        QTest::addColumn<int>("outDim");
        for (int t : {0, 1})
            for (int nRows : {1, 7, 83, 769})
                for (auto [in, out] : {std::pair{64, 83}, std::pair{896, 1024}, std::pair{83, 7}, std::pair{3584, 40}}) {
                    const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " rows " +
                                             std::to_string(nRows) + " in " + std::to_string(in) + " out " +
                                             std::to_string(out);
                    QTest::newRow(name.c_str()) << t << nRows << in << out;
                }
    }

    void lora()
    {
        QFETCH(int, type);
        QFETCH(int, nRows);
        QFETCH(int, inDim);
        QFETCH(int, outDim);
        const auto t = static_cast<ElemType>(type);
        // 13: a rank that is not a multiple of the expand kernel's 8-term steps.
        const std::vector<std::int32_t> ranks = {8, 16, 64, 13};
        const std::vector<float> scales = {2.0f, 0.5f, 0.125f, 1.0f};
        const int maxRank = 64;
        const int nAdapters = static_cast<int>(ranks.size());
        const int xStride = inDim + 3;
        const int yStride = outDim + 5;  // y is columns [0, outDim) of a wider row
        std::mt19937 rng(606u + static_cast<unsigned>(nRows * 7 + inDim * 3 + outDim));

        std::vector<std::vector<float>> a, b;
        std::vector<DeviceBuffer> dA(ranks.size()), dB(ranks.size());
        std::vector<const void*> aPtrs, bPtrs;
        for (int i = 0; i < nAdapters; ++i) {
            a.push_back(randomValues(rng, static_cast<std::size_t>(ranks[static_cast<std::size_t>(i)]) * inDim, -0.5f, 0.5f, t));
            b.push_back(randomValues(rng, static_cast<std::size_t>(outDim) * ranks[static_cast<std::size_t>(i)], -0.5f, 0.5f, t));
            GPU_OK(dA[static_cast<std::size_t>(i)].upload(encode(a.back(), t)));
            GPU_OK(dB[static_cast<std::size_t>(i)].upload(encode(b.back(), t)));
            aPtrs.push_back(dA[static_cast<std::size_t>(i)].get());
            bPtrs.push_back(dB[static_cast<std::size_t>(i)].get());
        }
        const auto x = randomValues(rng, static_cast<std::size_t>(nRows) * xStride, -1.0f, 1.0f, t);
        const auto y0 = randomValues(rng, static_cast<std::size_t>(nRows) * yStride, -1.0f, 1.0f, t);
        std::vector<std::int32_t> index(static_cast<std::size_t>(nRows));
        std::uniform_int_distribution<int> pick(-1, nAdapters - 1);
        for (auto& i : index)
            i = pick(rng);

        DeviceBuffer dX, dY, dIndex, dAPtrs, dBPtrs, dRanks, dScales, dShrunk;
        GPU_OK(dX.upload(encode(x, t)));
        GPU_OK(dY.upload(encode(y0, t)));
        GPU_OK(dIndex.upload(index));
        GPU_OK(dAPtrs.upload(aPtrs));
        GPU_OK(dBPtrs.upload(bPtrs));
        GPU_OK(dRanks.upload(ranks));
        GPU_OK(dScales.upload(scales));
        GPU_OK(dShrunk.alloc(static_cast<std::size_t>(nRows) * maxRank * sizeof(float)));
        hk::LoraArgs args;
        args.x = dX.get();
        args.y = dY.get();
        args.xStride = xStride;
        args.yStride = yStride;
        args.adapterIndex = dIndex.as<std::int32_t>();
        args.a = dAPtrs.as<const void*>();
        args.b = dBPtrs.as<const void*>();
        args.ranks = dRanks.as<std::int32_t>();
        args.scales = dScales.as<float>();
        args.nRows = nRows;
        args.inDim = inDim;
        args.outDim = outDim;
        args.maxRank = maxRank;
        args.shrunk = dShrunk.as<float>();
        args.type = t;
        GPU_OK(hk::loraApply(args, nullptr));
        std::vector<std::uint16_t> gotBits(y0.size());
        GPU_OK(dY.download(gotBits));
        const auto y0Bits = encode(y0, t);

        std::vector<float> got, ref;
        for (int r = 0; r < nRows; ++r) {
            const int ad = index[static_cast<std::size_t>(r)];
            std::vector<double> shrunk;  // A x for this row's adapter
            if (ad >= 0) {
                const auto rank = static_cast<std::size_t>(ranks[static_cast<std::size_t>(ad)]);
                const auto& aa = a[static_cast<std::size_t>(ad)];
                shrunk.assign(rank, 0.0);
                for (std::size_t k = 0; k < rank; ++k)
                    for (int j = 0; j < inDim; ++j)
                        shrunk[k] += static_cast<double>(aa[k * static_cast<std::size_t>(inDim) + static_cast<std::size_t>(j)]) *
                                     x[static_cast<std::size_t>(r) * xStride + static_cast<std::size_t>(j)];
            }
            for (int c = 0; c < yStride; ++c) {
                const std::size_t i = static_cast<std::size_t>(r) * yStride + static_cast<std::size_t>(c);
                if (ad < 0 || c >= outDim) {
                    QCOMPARE(gotBits[i], y0Bits[i]);
                    continue;
                }
                const auto& bb = b[static_cast<std::size_t>(ad)];
                double acc = 0;
                for (std::size_t k = 0; k < shrunk.size(); ++k)
                    acc += shrunk[k] * bb[static_cast<std::size_t>(c) * shrunk.size() + k];
                got.push_back(decode(gotBits[i], t));
                ref.push_back(static_cast<float>(y0[i] + scales[static_cast<std::size_t>(ad)] * acc));
            }
        }
        if (!ref.empty())
            GPU_COMPARE(got, ref, toleranceFor(t, rms(ref)));
    }
    // An adapter whose rank exceeds the launch's maxRank (a caller bug the launcher cannot see:
    // ranks live on the device) uses its first maxRank terms and still reads B with its own row
    // length, never a row of the wrong stride.
    void rankAboveMaxRank()
    {
        const ElemType t = ElemType::F16;
        const int inDim = 64, outDim = 40, rank = 24, maxRank = 16;
        std::mt19937 rng(707u);
        const auto a = randomValues(rng, static_cast<std::size_t>(rank) * inDim, -0.5f, 0.5f, t);
        const auto b = randomValues(rng, static_cast<std::size_t>(outDim) * rank, -0.5f, 0.5f, t);
        const auto x = randomValues(rng, static_cast<std::size_t>(inDim), -1.0f, 1.0f, t);
        const std::vector<float> y0(static_cast<std::size_t>(outDim), 0.0f);
        DeviceBuffer dA, dB, dX, dY, dIndex, dAPtrs, dBPtrs, dRanks, dScales, dShrunk;
        GPU_OK(dA.upload(encode(a, t)));
        GPU_OK(dB.upload(encode(b, t)));
        GPU_OK(dX.upload(encode(x, t)));
        GPU_OK(dY.upload(encode(y0, t)));
        GPU_OK(dIndex.upload(std::vector<std::int32_t>{0}));
        GPU_OK(dAPtrs.upload(std::vector<const void*>{dA.get()}));
        GPU_OK(dBPtrs.upload(std::vector<const void*>{dB.get()}));
        GPU_OK(dRanks.upload(std::vector<std::int32_t>{rank}));
        GPU_OK(dScales.upload(std::vector<float>{1.0f}));
        GPU_OK(dShrunk.alloc(static_cast<std::size_t>(maxRank) * sizeof(float)));
        hk::LoraArgs args;
        args.x = dX.get();
        args.y = dY.get();
        args.adapterIndex = dIndex.as<std::int32_t>();
        args.a = dAPtrs.as<const void*>();
        args.b = dBPtrs.as<const void*>();
        args.ranks = dRanks.as<std::int32_t>();
        args.scales = dScales.as<float>();
        args.nRows = 1;
        args.inDim = inDim;
        args.outDim = outDim;
        args.maxRank = maxRank;
        args.shrunk = dShrunk.as<float>();
        args.type = t;
        GPU_OK(hk::loraApply(args, nullptr));
        std::vector<std::uint16_t> gotBits(y0.size());
        GPU_OK(dY.download(gotBits));
        std::vector<float> ref(static_cast<std::size_t>(outDim));
        for (int o = 0; o < outDim; ++o) {
            double acc = 0;
            for (int r = 0; r < maxRank; ++r) {
                double ax = 0;
                for (int i = 0; i < inDim; ++i)
                    ax += static_cast<double>(a[static_cast<std::size_t>(r * inDim + i)]) * x[static_cast<std::size_t>(i)];
                acc += ax * b[static_cast<std::size_t>(o * rank + r)];
            }
            ref[static_cast<std::size_t>(o)] = static_cast<float>(acc);
        }
        GPU_COMPARE(decode(gotBits, t), ref, toleranceFor(t, rms(ref)));
    }
};

QTEST_APPLESS_MAIN(TestGpuLora)
#include "tst_gpu_lora.moc"
