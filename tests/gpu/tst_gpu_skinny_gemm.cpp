// The tensor-core skinny GEMM (kernels/skinny_gemm.cu) against a plain fp64 host product on the
// same rounded inputs, with every tile width (16, 32, 64, 128 features per block) and the automatic
// choice run on each case: token counts 1..64 across the 16-row WMMA tiles (1, 7, 9, 16, 17, 33,
// 64), feature counts that end mid-tile and mid-block (1, 7, 83, 769, 1040), k within one 128-wide
// chunk, across chunks with a partial last one (136, 1000) and the 7B width (3584), padded leading
// dimensions (y padding must stay untouched), beta 0 over a NaN-filled y, beta 1, alpha != 1.
// cudasim has 4 SMs, so the small n take the deep ring (no more blocks than SMs) and the larger
// ones the normal one. Also: bit-identical repeats, graph capture and replay, y one element off
// alignment, and the refused arguments.
#include <QtTest>
#include <cuda_runtime.h>

#include <algorithm>

#include "gpu_test_util.h"
#include "skinny_gemm.h"

using namespace gputest;
namespace hk = hearth::kernels;

namespace {

constexpr int kTiles[] = {0, 16, 32, 64, 128};  // 0: the launcher's own choice
constexpr std::uint16_t kNanBits = 0xffff;       // NaN in fp16 and bf16

struct Case {
    ElemType type = ElemType::F16;
    int m = 1, n = 1, k = 8;
    int ldx = 0, ldw = 0, ldy = 0;  // 0: dense
    float alpha = 1.0f, beta = 0.0f;
};

// Host inputs of one case (values rounded to the type) and the device buffers holding them.
struct Problem {
    Case c;
    std::vector<float> x, w, y0;      // [m, ldx], [n, ldw], [m, ldy]
    std::vector<std::uint16_t> y0Bits;
    DeviceBuffer dX, dW, dY;

    KernelStatus upload()
    {
        KernelStatus s = dX.upload(encode(x, c.type));
        if (s.ok)
            s = dW.upload(encode(w, c.type));
        if (s.ok)
            s = dY.upload(y0Bits);
        return s;
    }
    // In place: the launches' y pointer stays valid (upload would allocate anew).
    KernelStatus resetY() { return hk::copyToDevice(dY.get(), y0Bits.data(), y0Bits.size() * 2); }
    hk::GemmArgs args() const
    {
        hk::GemmArgs a;
        a.x = dX.get();
        a.w = dW.get();
        a.y = dY.get();
        a.m = c.m;
        a.n = c.n;
        a.k = c.k;
        a.ldx = c.ldx;
        a.ldw = c.ldw;
        a.ldy = c.ldy;
        a.inType = c.type;
        a.outType = c.type;
        a.alpha = c.alpha;
        a.beta = c.beta;
        return a;
    }
    int ldx() const { return c.ldx ? c.ldx : c.k; }
    int ldw() const { return c.ldw ? c.ldw : c.k; }
    int ldy() const { return c.ldy ? c.ldy : c.n; }
};

void makeProblem(Problem& p, const Case& c, unsigned seed)
{
    p.c = c;
    std::mt19937 rng(seed);
    p.x = randomValues(rng, static_cast<std::size_t>(c.m) * p.ldx(), -1.0f, 1.0f, c.type);
    p.w = randomValues(rng, static_cast<std::size_t>(c.n) * p.ldw(), -1.0f, 1.0f, c.type);
    if (c.beta == 0.0f) {
        p.y0.assign(static_cast<std::size_t>(c.m) * p.ldy(), std::nanf(""));
        p.y0Bits.assign(p.y0.size(), kNanBits);
    } else {
        p.y0 = randomValues(rng, static_cast<std::size_t>(c.m) * p.ldy(), -1.0f, 1.0f, c.type);
        p.y0Bits = encode(p.y0, c.type);
    }
}

// alpha * sum_i x[t, i] w[f, i] + beta * y0[t, f] in fp64, dense [m, n] (y0 not read at beta 0).
std::vector<float> hostReference(const Problem& p)
{
    const Case& c = p.c;
    std::vector<float> ref(static_cast<std::size_t>(c.m) * c.n);
    for (int t = 0; t < c.m; ++t)
        for (int f = 0; f < c.n; ++f) {
            double acc = 0;
            const float* xr = p.x.data() + static_cast<std::size_t>(t) * p.ldx();
            const float* wr = p.w.data() + static_cast<std::size_t>(f) * p.ldw();
            for (int i = 0; i < c.k; ++i)
                acc += static_cast<double>(xr[i]) * wr[i];
            double v = c.alpha * acc;
            if (c.beta != 0.0f)
                v += static_cast<double>(c.beta) * p.y0[static_cast<std::size_t>(t) * p.ldy() + static_cast<std::size_t>(f)];
            ref[static_cast<std::size_t>(t) * c.n + static_cast<std::size_t>(f)] = static_cast<float>(v);
        }
    return ref;
}

std::string caseName(const Case& c)
{
    std::string s = std::string(typeName(c.type)) + " m " + std::to_string(c.m) + " n " + std::to_string(c.n) + " k " +
                    std::to_string(c.k);
    if (c.ldx || c.ldw || c.ldy)
        s += " padded";
    if (c.beta == 0.0f)
        s += " beta0-nan-y";
    else
        s += " beta " + std::to_string(c.beta).substr(0, 5);
    if (c.alpha != 1.0f)
        s += " alpha " + std::to_string(c.alpha).substr(0, 5);
    return s;
}

void addCase(const Case& c)
{
    QTest::newRow(caseName(c).c_str()) << static_cast<int>(c.type) << c.m << c.n << c.k << c.ldx << c.ldw << c.ldy
                                       << static_cast<double>(c.alpha) << static_cast<double>(c.beta);
}

}  // namespace

class TestGpuSkinnyGemm : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void matchesHostProduct_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("m");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("ldx");
        QTest::addColumn<int>("ldw");
        QTest::addColumn<int>("ldy");
        QTest::addColumn<double>("alpha");
        QTest::addColumn<double>("beta");
        // The mode cycles over the cases so that each (m, n) meets each of: beta 0 over NaN,
        // beta 1, alpha and beta both != 1; every other case has padded leading dimensions.
        int i = 0;
        for (ElemType t : {ElemType::F16, ElemType::BF16})
            for (int m : {1, 7, 9, 16, 17, 33, 64})
                for (int n : {1, 7, 83, 769})
                    for (int k : {8, 136}) {
                        Case c;
                        c.type = t;
                        c.m = m;
                        c.n = n;
                        c.k = k;
                        if (i % 2 == 1) {
                            c.ldx = k + 8;
                            c.ldw = k + 24;
                            c.ldy = n + 5;
                        }
                        c.beta = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : -0.75f;
                        c.alpha = i % 3 == 2 ? 0.5f : 1.0f;
                        addCase(c);
                        ++i;
                    }
        // Long k (several chunks, each k group of every tile doing real work) at fewer shapes.
        for (ElemType t : {ElemType::F16, ElemType::BF16})
            for (int m : {1, 17, 64})
                for (auto [n, k] : {std::pair{83, 1000}, std::pair{1040, 3584}}) {
                    Case c;
                    c.type = t;
                    c.m = m;
                    c.n = n;
                    c.k = k;
                    if (i % 2 == 1) {
                        c.ldx = k + 16;
                        c.ldw = k + 8;
                        c.ldy = n + 3;
                    }
                    c.beta = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : -0.75f;
                    c.alpha = i % 3 == 2 ? 0.5f : 1.0f;
                    addCase(c);
                    ++i;
                }
    }

    // Every tile width on the same inputs; y padding (columns n..ldy-1) keeps its bits.
    void matchesHostProduct()
    {
        QFETCH(int, type);
        QFETCH(int, m);
        QFETCH(int, n);
        QFETCH(int, k);
        QFETCH(int, ldx);
        QFETCH(int, ldw);
        QFETCH(int, ldy);
        QFETCH(double, alpha);
        QFETCH(double, beta);
        Case c{static_cast<ElemType>(type), m, n, k, ldx, ldw, ldy, static_cast<float>(alpha), static_cast<float>(beta)};
        Problem p;
        makeProblem(p, c, 101u + static_cast<unsigned>(m * 7919 + n * 31 + k + ldy));
        GPU_OK(p.upload());
        const auto ref = hostReference(p);
        const Tolerance tol = toleranceFor(c.type, rms(ref));
        for (int tile : kTiles) {
            GPU_OK(p.resetY());
            GPU_OK(hk::skinnyGemm(p.args(), nullptr, tile));
            std::vector<std::uint16_t> bits(p.y0Bits.size());
            GPU_OK(p.dY.download(bits));
            std::vector<float> got;
            got.reserve(ref.size());
            for (int t = 0; t < m; ++t)
                for (int f = 0; f < p.ldy(); ++f) {
                    const std::size_t at = static_cast<std::size_t>(t) * p.ldy() + static_cast<std::size_t>(f);
                    if (f < n)
                        got.push_back(decode(bits[at], c.type));
                    else
                        QVERIFY2(bits[at] == p.y0Bits[at], ("tile " + std::to_string(tile) + " wrote y padding").c_str());
                }
            const Diff d = compare(got, ref, tol);
            QVERIFY2(d.nBad == 0 && d.nmse <= tol.nmse, ("tile " + std::to_string(tile) + ": " + d.text).c_str());
        }
    }

    // The same inputs twice give the same bits (no atomics, a fixed reduction order), per tile.
    void repeatsBitIdentical()
    {
        Problem p;
        makeProblem(p, Case{ElemType::BF16, 33, 769, 1000, 0, 0, 0, 1.0f, 0.0f}, 7u);
        GPU_OK(p.upload());
        for (int tile : kTiles) {
            std::vector<std::uint16_t> first(p.y0Bits.size()), second(p.y0Bits.size());
            GPU_OK(hk::skinnyGemm(p.args(), nullptr, tile));
            GPU_OK(p.dY.download(first));
            GPU_OK(p.resetY());
            GPU_OK(hk::skinnyGemm(p.args(), nullptr, tile));
            GPU_OK(p.dY.download(second));
            QVERIFY2(first == second, ("tile " + std::to_string(tile)).c_str());
        }
    }

    // Captured into a graph on a non-blocking stream (the automatic tile choice queries the device
    // during the capture) and replayed twice: each replay gives the eager launch's bits.
    void graphReplayMatchesEager()
    {
        Problem p;
        makeProblem(p, Case{ElemType::F16, 17, 300, 1000, 0, 0, 0, 0.5f, 0.0f}, 11u);
        GPU_OK(p.upload());
        GPU_OK(hk::skinnyGemm(p.args(), nullptr));
        std::vector<std::uint16_t> eager(p.y0Bits.size());
        GPU_OK(p.dY.download(eager));
        GPU_OK(p.resetY());
        GPU_OK(hk::deviceSynchronize());

        cudaStream_t stream = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
        const KernelStatus captured = hk::skinnyGemm(p.args(), stream);
        cudaGraph_t graph = nullptr;
        const cudaError_t endErr = cudaStreamEndCapture(stream, &graph);
        QVERIFY2(captured.ok, captured.describe().c_str());
        QCOMPARE(endErr, cudaSuccess);
        cudaGraphExec_t exec = nullptr;
        QCOMPARE(cudaGraphInstantiateWithFlags(&exec, graph, 0), cudaSuccess);
        for (int replay = 0; replay < 2; ++replay) {
            QCOMPARE(cudaGraphLaunch(exec, stream), cudaSuccess);
            QCOMPARE(cudaStreamSynchronize(stream), cudaSuccess);
            std::vector<std::uint16_t> replayed(p.y0Bits.size());
            GPU_OK(p.dY.download(replayed));
            QVERIFY(replayed == eager);
        }
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        cudaStreamDestroy(stream);
    }

    void refusesBadArguments_data()
    {
        QTest::addColumn<QString>("what");
        for (const char* what : {"m 65", "m -1", "k 12", "k 0", "ldx 1004", "ldw short", "ldy short", "x off 16 bytes",
                                 "w off 16 bytes", "f32 out", "f32 in", "null w", "tile 48"})
            QTest::newRow(what) << QString::fromLatin1(what);
    }

    // Refused before any launch: an error status naming the condition, y untouched, and
    // skinnyGemmSupports says no (except for the tile, which is not an argument of the product).
    void refusesBadArguments()
    {
        QFETCH(QString, what);
        Problem p;
        makeProblem(p, Case{ElemType::F16, 8, 40, 1000, 1016, 1016, 0, 1.0f, 0.0f}, 3u);
        GPU_OK(p.upload());
        hk::GemmArgs a = p.args();
        int tile = 0;
        if (what == QLatin1String("m 65"))
            a.m = 65;
        else if (what == QLatin1String("m -1"))
            a.m = -1;
        else if (what == QLatin1String("k 12"))
            a.k = 12;
        else if (what == QLatin1String("k 0"))
            a.k = 0;
        else if (what == QLatin1String("ldx 1004"))
            a.ldx = 1004;
        else if (what == QLatin1String("ldw short"))
            a.ldw = 992;
        else if (what == QLatin1String("ldy short"))
            a.ldy = 39;
        else if (what == QLatin1String("x off 16 bytes"))
            a.x = p.dX.as<std::uint16_t>() + 4;
        else if (what == QLatin1String("w off 16 bytes"))
            a.w = p.dW.as<std::uint16_t>() + 1;
        else if (what == QLatin1String("f32 out"))
            a.outType = ElemType::F32;
        else if (what == QLatin1String("f32 in"))
            a.inType = a.outType = ElemType::F32;
        else if (what == QLatin1String("null w"))
            a.w = nullptr;
        else
            tile = 48;
        QCOMPARE(hk::skinnyGemmSupports(a), tile != 0);
        const KernelStatus s = hk::skinnyGemm(a, nullptr, tile);
        QVERIFY2(!s.ok, "accepted");
        QVERIFY2(s.file.find("skinny_gemm") != std::string::npos && !s.message.empty(), s.describe().c_str());
        std::vector<std::uint16_t> bits(p.y0Bits.size());
        GPU_OK(p.dY.download(bits));
        QVERIFY(bits == p.y0Bits);
    }

    // y needs only element alignment (a view one element into a buffer, odd ldy): the element
    // before the view keeps its bits.
    void yOffByOneElement()
    {
        Problem p;
        makeProblem(p, Case{ElemType::BF16, 9, 83, 136, 0, 0, 0, 1.0f, 1.0f}, 5u);
        GPU_OK(p.upload());
        std::vector<std::uint16_t> yBits(p.y0Bits.size() + 1, kNanBits);
        std::copy(p.y0Bits.begin(), p.y0Bits.end(), yBits.begin() + 1);
        DeviceBuffer dY;
        GPU_OK(dY.upload(yBits));
        hk::GemmArgs a = p.args();
        a.y = dY.as<std::uint16_t>() + 1;
        QVERIFY(hk::skinnyGemmSupports(a));
        const auto ref = hostReference(p);
        for (int tile : kTiles) {
            GPU_OK(hk::copyToDevice(dY.get(), yBits.data(), yBits.size() * 2));  // in place: a.y stays valid
            GPU_OK(hk::skinnyGemm(a, nullptr, tile));
            std::vector<std::uint16_t> bits(yBits.size());
            GPU_OK(dY.download(bits));
            QCOMPARE(bits[0], kNanBits);
            const std::vector<std::uint16_t> view(bits.begin() + 1, bits.end());
            GPU_COMPARE(decode(view, ElemType::BF16), ref, toleranceFor(ElemType::BF16, rms(ref)));
        }
    }

    // m == 0 or n == 0: success without a launch (y, even null, untouched).
    void emptyIsSuccess()
    {
        hk::GemmArgs a;
        a.m = 0;
        a.n = 10;
        a.k = 8;
        QVERIFY(hk::skinnyGemmSupports(a));
        GPU_OK(hk::skinnyGemm(a, nullptr));
        a.m = 5;
        a.n = 0;
        GPU_OK(hk::skinnyGemm(a, nullptr));
        GPU_OK(hk::deviceSynchronize());
    }
};

QTEST_APPLESS_MAIN(TestGpuSkinnyGemm)
#include "tst_gpu_skinny_gemm.moc"
