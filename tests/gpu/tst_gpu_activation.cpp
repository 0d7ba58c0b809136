// SiLU-and-multiply on a fused [gate | up] row against core's cpu::swiglu, including odd widths
// (the scalar path) and widths with pairs (the 4-byte path).
#include <QtTest>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

class TestGpuActivation : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void siluAndMul_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("inter");
        for (int t : {0, 1})
            for (int nTokens : {1, 7, 83, 769})
                for (int inter : {1, 7, 83, 1024, 4864}) {
                    const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " tokens " +
                                             std::to_string(nTokens) + " inter " + std::to_string(inter);
                    QTest::newRow(name.c_str()) << t << nTokens << inter;
                }
    }

    void siluAndMul()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, inter);
        const auto t = static_cast<ElemType>(type);
        std::mt19937 rng(5u + static_cast<unsigned>(nTokens * 977 + inter));
        const auto gateUp = randomValues(rng, static_cast<std::size_t>(nTokens) * 2 * inter, -6.0f, 6.0f, t);
        DeviceBuffer dIn, dOut;
        GPU_OK(dIn.upload(encode(gateUp, t)));
        GPU_OK(dOut.alloc(static_cast<std::size_t>(nTokens) * inter * 2));
        GPU_OK(hk::siluAndMul(dIn.get(), dOut.get(), nTokens, inter, t, nullptr));
        std::vector<std::uint16_t> got(static_cast<std::size_t>(nTokens) * inter);
        GPU_OK(dOut.download(got));
        std::vector<float> ref(got.size());
        for (int r = 0; r < nTokens; ++r) {
            const float* row = gateUp.data() + static_cast<std::size_t>(r) * 2 * inter;
            hearth::cpu::swiglu(row, row + inter, inter, ref.data() + static_cast<std::size_t>(r) * inter);
        }
        GPU_COMPARE(decode(got, t), ref, toleranceFor(t, rms(ref)));
    }
};

QTEST_APPLESS_MAIN(TestGpuActivation)
#include "tst_gpu_activation.moc"
