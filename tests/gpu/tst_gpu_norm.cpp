// RMSNorm (whole rows and per head inside a strided q/k buffer) and residual-add + RMSNorm against
// core's cpu::rmsNorm (fp64 sum of squares) on the same fp16/bf16-rounded inputs. The fused
// kernel's new residual must equal the host's rounded sum bit for bit; the normalised output is
// held to toleranceFor(type) (one output rounding plus fp32 accumulation order).
#include <QtTest>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

namespace {

std::vector<float> cpuRmsNorm(const std::vector<float>& x, const std::vector<float>& w, std::int64_t nRows, std::int64_t n,
                              float eps)
{
    hearth::WeightTensor weight;
    weight.data = w.data();
    weight.dtype = hearth::DType::F32;
    weight.rows = 1;
    weight.cols = n;
    std::vector<float> out(x.size());
    hearth::cpu::rmsNorm(x.data(), weight, eps, nRows, n, out.data());
    return out;
}

void addRows(int t)
{
    for (int nTokens : {1, 7, 83, 769})
        for (int n : {64, 83, 896, 3584, 5125}) {
            if (nTokens == 769 && n >= 3584)
                continue;  // the CPU reference time, not the kernel, would dominate
            const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " rows " + std::to_string(nTokens) +
                                     " n " + std::to_string(n);
            QTest::newRow(name.c_str()) << t << nTokens << n;
        }
}

}  // namespace

class TestGpuNorm : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void plain_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("n");
        addRows(0);
        addRows(1);
    }

    void plain()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, n);
        const auto t = static_cast<ElemType>(type);
        std::mt19937 rng(11u + static_cast<unsigned>(nTokens * 1009 + n));
        const auto x = randomValues(rng, static_cast<std::size_t>(nTokens) * n, -3.0f, 3.0f, t);
        const auto w = randomValues(rng, static_cast<std::size_t>(n), 0.5f, 1.5f, t);
        DeviceBuffer dX, dW, dOut;
        GPU_OK(dX.upload(encode(x, t)));
        GPU_OK(dW.upload(encode(w, t)));
        GPU_OK(dOut.alloc(x.size() * 2));
        hk::RmsNormArgs args;
        args.x = dX.get();
        args.weight = dW.get();
        args.out = dOut.get();
        args.nTokens = nTokens;
        args.n = n;
        args.eps = 1e-6f;
        args.type = t;
        GPU_OK(hk::rmsNorm(args, nullptr));
        std::vector<std::uint16_t> got(x.size());
        GPU_OK(dOut.download(got));
        const auto ref = cpuRmsNorm(x, w, nTokens, n, 1e-6f);
        GPU_COMPARE(decode(got, t), ref, toleranceFor(t, rms(ref)));
    }

    void perHead_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("nTokens");
        QTest::addColumn<int>("headDim");
        for (int t : {0, 1})
            for (int nTokens : {1, 7, 83, 769})
                for (int headDim : {64, 80, 96, 128}) {
                    const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " tokens " +
                                             std::to_string(nTokens) + " head_dim " + std::to_string(headDim);
                    QTest::newRow(name.c_str()) << t << nTokens << headDim;
                }
    }

    // Qwen3's q_norm in place on the q part of a fused [q | k | v] row: 7 q heads, 1 kv head;
    // the k and v columns must stay untouched.
    void perHead()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, headDim);
        const auto t = static_cast<ElemType>(type);
        const int nHeads = 7;
        const int stride = (nHeads + 2) * headDim;
        std::mt19937 rng(21u + static_cast<unsigned>(nTokens * 31 + headDim));
        const auto buf = randomValues(rng, static_cast<std::size_t>(nTokens) * stride, -2.0f, 2.0f, t);
        const auto w = randomValues(rng, static_cast<std::size_t>(headDim), 0.5f, 1.5f, t);
        DeviceBuffer dBuf, dW;
        GPU_OK(dBuf.upload(encode(buf, t)));
        GPU_OK(dW.upload(encode(w, t)));
        hk::RmsNormArgs args;
        args.x = dBuf.get();
        args.out = dBuf.get();
        args.weight = dW.get();
        args.nTokens = nTokens;
        args.nHeads = nHeads;
        args.n = headDim;
        args.xStride = stride;
        args.outStride = stride;
        args.eps = 1e-6f;
        args.type = t;
        GPU_OK(hk::rmsNorm(args, nullptr));
        std::vector<std::uint16_t> gotBits(buf.size());
        GPU_OK(dBuf.download(gotBits));
        const auto got = decode(gotBits, t);

        std::vector<float> qIn, qGot;
        for (int r = 0; r < nTokens; ++r) {
            const auto row = static_cast<std::size_t>(r) * stride;
            qIn.insert(qIn.end(), buf.begin() + static_cast<std::ptrdiff_t>(row),
                       buf.begin() + static_cast<std::ptrdiff_t>(row + static_cast<std::size_t>(nHeads * headDim)));
            qGot.insert(qGot.end(), got.begin() + static_cast<std::ptrdiff_t>(row),
                        got.begin() + static_cast<std::ptrdiff_t>(row + static_cast<std::size_t>(nHeads * headDim)));
            for (int c = nHeads * headDim; c < stride; ++c)
                QCOMPARE(got[row + static_cast<std::size_t>(c)], buf[row + static_cast<std::size_t>(c)]);
        }
        const auto ref = cpuRmsNorm(qIn, w, static_cast<std::int64_t>(nTokens) * nHeads, headDim, 1e-6f);
        GPU_COMPARE(qGot, ref, toleranceFor(t, rms(ref)));
    }

    void fused_data() { plain_data(); }

    void fused()
    {
        QFETCH(int, type);
        QFETCH(int, nTokens);
        QFETCH(int, n);
        const auto t = static_cast<ElemType>(type);
        std::mt19937 rng(31u + static_cast<unsigned>(nTokens * 1013 + n));
        const auto x = randomValues(rng, static_cast<std::size_t>(nTokens) * n, -3.0f, 3.0f, t);
        const auto res = randomValues(rng, x.size(), -3.0f, 3.0f, t);
        const auto w = randomValues(rng, static_cast<std::size_t>(n), 0.5f, 1.5f, t);
        DeviceBuffer dX, dRes, dW, dOut;
        GPU_OK(dX.upload(encode(x, t)));
        GPU_OK(dRes.upload(encode(res, t)));
        GPU_OK(dW.upload(encode(w, t)));
        GPU_OK(dOut.alloc(x.size() * 2));
        hk::RmsNormArgs args;
        args.x = dX.get();
        args.residual = dRes.get();
        args.weight = dW.get();
        args.out = dOut.get();
        args.nTokens = nTokens;
        args.n = n;
        args.eps = 1e-5f;
        args.type = t;
        GPU_OK(hk::fusedAddRmsNorm(args, nullptr));
        std::vector<std::uint16_t> gotOut(x.size()), gotRes(x.size());
        GPU_OK(dOut.download(gotOut));
        GPU_OK(dRes.download(gotRes));

        std::vector<float> sum(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
            const std::uint16_t want = encode(res[i] + x[i], t);
            QCOMPARE(gotRes[i], want);
            sum[i] = decode(want, t);
        }
        const auto ref = cpuRmsNorm(sum, w, nTokens, n, 1e-5f);
        GPU_COMPARE(decode(gotOut, t), ref, toleranceFor(t, rms(ref)));
    }
};

QTEST_APPLESS_MAIN(TestGpuNorm)
#include "tst_gpu_norm.moc"
