// The GEMM tuner (GemmContext::tune / install, kernels/gemm_tune.cu): whichever method a plan
// names (cuBLAS's default, a cuBLASLt algorithm, the skinny GEMM in one of its tiles, the GEMV for
// up to 8 rows), GEMMs of the
// planned shapes, of smaller m served by the same plan, and of shapes with no plan all equal a
// fp64 host product; plans the library cannot run are refused at install; a tuned GEMM captured
// in a CUDA graph replays to the eager result. On cudasim the timings mean nothing, so the tests
// force the method under test (GemmTuneOptions::prefer) rather than trusting the race.
#include <QtTest>

#include <cuda_runtime.h>

#include <memory>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

namespace {

// y[r, o] = sum_i x[r, i] w[o, i], fp64 accumulation.
std::vector<float> hostProduct(const std::vector<float>& x, const std::vector<float>& w, std::int64_t m, std::int64_t n,
                               std::int64_t k)
{
    std::vector<float> y(static_cast<std::size_t>(m * n));
    for (std::int64_t r = 0; r < m; ++r)
        for (std::int64_t o = 0; o < n; ++o) {
            double acc = 0.0;
            for (std::int64_t i = 0; i < k; ++i)
                acc += static_cast<double>(x[static_cast<std::size_t>(r * k + i)]) * w[static_cast<std::size_t>(o * k + i)];
            y[static_cast<std::size_t>(r * n + o)] = static_cast<float>(acc);
        }
    return y;
}

hk::GemmProblem problem(std::int64_t m, std::int64_t n, std::int64_t k, ElemType in, ElemType out)
{
    hk::GemmProblem p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.inType = in;
    p.outType = out;
    return p;
}

// Dense GemmArgs of an m x n x k product (alpha 1, beta 0).
hk::GemmArgs denseArgs(const void* x, const void* w, void* y, std::int64_t m, std::int64_t n, std::int64_t k, ElemType in,
                       ElemType out)
{
    hk::GemmArgs a;
    a.x = x;
    a.w = w;
    a.y = y;
    a.m = m;
    a.n = n;
    a.k = k;
    a.inType = in;
    a.outType = out;
    return a;
}

// Runs ctx.gemm for m rows of random x against w and compares with the host product.
void checkGemm(hk::GemmContext& ctx, std::int64_t m, std::int64_t n, std::int64_t k, ElemType in, ElemType out)
{
    std::mt19937 rng(7u + static_cast<unsigned>(m * 31 + n * 7 + k));
    const auto x = randomValues(rng, static_cast<std::size_t>(m * k), -1.0f, 1.0f, in);
    const auto w = randomValues(rng, static_cast<std::size_t>(n * k), -1.0f, 1.0f, in);
    DeviceBuffer dX, dW, dY;
    GPU_OK(dX.upload(encode(x, in)));
    GPU_OK(dW.upload(encode(w, in)));
    // NaN first: beta 0 must not read y.
    if (out == ElemType::F32)
        GPU_OK(dY.upload(std::vector<float>(static_cast<std::size_t>(m * n), std::nanf(""))));
    else
        GPU_OK(dY.upload(std::vector<std::uint16_t>(static_cast<std::size_t>(m * n), std::uint16_t{0x7fff})));
    GPU_OK(ctx.gemm(denseArgs(dX.get(), dW.get(), dY.get(), m, n, k, in, out), nullptr));
    std::vector<float> got(static_cast<std::size_t>(m * n));
    if (out == ElemType::F32) {
        GPU_OK(dY.download(got));
    } else {
        std::vector<std::uint16_t> bits(got.size());
        GPU_OK(dY.download(bits));
        got = decode(bits, in);
    }
    const auto ref = hostProduct(x, w, m, n, k);
    GPU_COMPARE(got, ref, toleranceFor(out == ElemType::F32 ? ElemType::F16 : in, rms(ref)));
}

}  // namespace

class TestGpuGemmTune : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
        GPU_REQUIRE_DEVICE();
        GPU_OK(m_scratch.alloc(16u << 20));
    }

    void tunedGemmsMatchTheReference_data()
    {
        QTest::addColumn<int>("prefer");
        QTest::addColumn<int>("type");
        QTest::addColumn<bool>("f32Out");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::addColumn<bool>("fewRows");  // plans at m = 4 and 8 (the GEMV's range) instead of 16 and 24
        for (hk::GemmMethod prefer : {hk::GemmMethod::Cublas, hk::GemmMethod::CublasLt, hk::GemmMethod::Skinny, hk::GemmMethod::Gemv})
            for (ElemType t : {ElemType::F16, ElemType::BF16})
                for (bool f32Out : {false, true})
                    for (auto [n, k] : {std::pair{83, 64}, std::pair{264, 136}})
                        for (bool fewRows : {false, true}) {
                            if (prefer == hk::GemmMethod::Skinny && f32Out)
                                continue;  // the skinny GEMM writes the input type only
                            if (prefer == hk::GemmMethod::Gemv && !fewRows)
                                continue;  // the GEMV takes at most 8 rows
                            const std::string name = std::string(hk::gemmMethodName(prefer)) + " " + typeName(t) +
                                                     (f32Out ? " f32-out" : "") + " n " + std::to_string(n) + " k " +
                                                     std::to_string(k) + (fewRows ? " m 4/8" : " m 16/24");
                            QTest::newRow(name.c_str())
                                << static_cast<int>(prefer) << static_cast<int>(t) << f32Out << n << k << fewRows;
                        }
    }

    // Plans at m = 16 and 24: m 1-16 runs by the first, 17-24 by the second, 25 by the default
    // (or at 4 and 8: 1-4, 5-8, 9).
    void tunedGemmsMatchTheReference()
    {
        QFETCH(int, prefer);
        QFETCH(int, type);
        QFETCH(bool, f32Out);
        QFETCH(int, n);
        QFETCH(int, k);
        QFETCH(bool, fewRows);
        const std::int64_t m1 = fewRows ? 4 : 16, m2 = fewRows ? 8 : 24;
        const auto want = static_cast<hk::GemmMethod>(prefer);
        const auto t = static_cast<ElemType>(type);
        const ElemType out = f32Out ? ElemType::F32 : t;
        std::unique_ptr<hk::GemmContext> ctx;
        GPU_OK(hk::GemmContext::create(&ctx));
        hk::GemmTuneOptions o;
        o.scratch = m_scratch.get();
        o.scratchBytes = 16u << 20;
        o.reps = 1;
        o.prefer = want;
        std::vector<hk::GemmPlan> plans;
        GPU_OK(ctx->tune({problem(m1, n, k, t, out), problem(m2, n, k, t, out)}, o, nullptr, &plans));
        QCOMPARE(plans.size(), std::size_t{2});
        const bool gemvRange = fewRows && !f32Out;  // where the GEMV is the baseline (fp32 out: a candidate only)
        for (const hk::GemmPlan& p : plans) {
            QVERIFY(p.defaultUs > 0.0f);
            QVERIFY(p.chosenUs > 0.0f);
            QVERIFY(p.nCandidates >= 2);  // the default and at least one alternative
            QCOMPARE(p.nRejected, 0);      // every alternative ran and agreed with the default
            if (want != hk::GemmMethod::Cublas)
                QCOMPARE(static_cast<int>(p.method), prefer);
            else if (p.method == hk::GemmMethod::Cublas)
                QCOMPARE(p.chosenUs, p.defaultUs);
            else if (gemvRange)  // the GEMV (the baseline of few rows), or what beat it and was the fastest
                QVERIFY(p.method == hk::GemmMethod::Gemv || p.chosenUs <= p.defaultUs);
            else  // beat cuBLAS's default by the margin (the GEMV too, writing fp32)
                QVERIFY(p.chosenUs < p.defaultUs * (1.0f - o.minGain));
            const std::optional<hk::GemmMethod> planned =
                ctx->plannedMethod(denseArgs(nullptr, nullptr, nullptr, p.problem.m, n, k, t, out));
            QVERIFY(planned.has_value());
            QCOMPARE(static_cast<int>(*planned), static_cast<int>(p.method));
        }
        QCOMPARE(ctx->plans().size(), std::size_t{2});
        // Taller than every plan: none applies.
        QVERIFY(!ctx->plannedMethod(denseArgs(nullptr, nullptr, nullptr, m2 + 1, n, k, t, out)).has_value());
        for (std::int64_t m : {std::int64_t{1}, m1 - 1, m1, m1 + 1, m2, m2 + 1})
            checkGemm(*ctx, m, n, k, t, out);
    }

    void installRefusesWhatCannotRun()
    {
        std::unique_ptr<hk::GemmContext> ctx;
        GPU_OK(hk::GemmContext::create(&ctx));
        hk::GemmPlan lt;
        lt.problem = problem(16, 83, 64, ElemType::F16, ElemType::F16);
        lt.method = hk::GemmMethod::CublasLt;  // an all-zero algorithm: no library's
        hk::GemmPlan badTile = lt;
        badTile.method = hk::GemmMethod::Skinny;
        badTile.skinnyTile = 7;
        hk::GemmPlan f32Skinny = badTile;
        f32Skinny.skinnyTile = 32;
        f32Skinny.problem.outType = ElemType::F32;
        hk::GemmPlan tooTall = f32Skinny;
        tooTall.problem = problem(65, 83, 64, ElemType::F16, ElemType::F16);
        hk::GemmPlan badShape = f32Skinny;
        badShape.problem = problem(16, 0, 64, ElemType::F16, ElemType::F16);
        hk::GemmPlan gemvTall = f32Skinny;
        gemvTall.method = hk::GemmMethod::Gemv;
        gemvTall.problem = problem(9, 83, 64, ElemType::F16, ElemType::F16);
        hk::GemmPlan gemvF32 = gemvTall;
        gemvF32.problem = problem(8, 83, 64, ElemType::F32, ElemType::F32);  // fp32 in: no half-precision GEMM
        QCOMPARE(ctx->install({lt, badTile, f32Skinny, tooTall, badShape, gemvTall, gemvF32}), 0);
        QVERIFY(ctx->plans().empty());
        hk::GemmPlan skinny = f32Skinny;
        skinny.problem.outType = ElemType::F16;
        QCOMPARE(ctx->install({skinny}), 1);
        QCOMPARE(ctx->plans().size(), std::size_t{1});
        QCOMPARE(static_cast<int>(ctx->plans()[0].method), static_cast<int>(hk::GemmMethod::Skinny));
        checkGemm(*ctx, 16, 83, 64, ElemType::F16, ElemType::F16);
        // A plan for the same problem replaces the first.
        hk::GemmPlan plain = skinny;
        plain.method = hk::GemmMethod::Cublas;
        QCOMPARE(ctx->install({plain}), 1);
        QCOMPARE(ctx->plans().size(), std::size_t{1});
        QCOMPARE(static_cast<int>(ctx->plans()[0].method), static_cast<int>(hk::GemmMethod::Cublas));
        // The GEMV serves fp32 output (the vocabulary projection's logits) up to 8 rows.
        hk::GemmPlan gemvF32Out = gemvTall;
        gemvF32Out.problem = problem(8, 83, 64, ElemType::F16, ElemType::F32);
        QCOMPARE(ctx->install({gemvF32Out}), 1);
        checkGemm(*ctx, 5, 83, 64, ElemType::F16, ElemType::F32);
    }

    // Problems that do not fit the scratch, or come after the budget, stay on the default untimed.
    void tuneRespectsScratchAndBudget()
    {
        std::unique_ptr<hk::GemmContext> ctx;
        GPU_OK(hk::GemmContext::create(&ctx));
        hk::GemmTuneOptions o;
        o.scratch = m_scratch.get();
        o.scratchBytes = 64u << 10;
        o.reps = 1;
        std::vector<hk::GemmPlan> plans;
        const hk::GemmProblem small = problem(16, 32, 64, ElemType::BF16, ElemType::BF16);
        const hk::GemmProblem big = problem(16, 4096, 64, ElemType::BF16, ElemType::BF16);  // 512 KiB of weights
        GPU_OK(ctx->tune({small, big}, o, nullptr, &plans));
        QCOMPARE(plans.size(), std::size_t{2});
        QVERIFY(plans[0].nCandidates >= 1);
        QCOMPARE(plans[1].nCandidates, 0);
        QCOMPARE(static_cast<int>(plans[1].method), static_cast<int>(hk::GemmMethod::Cublas));
        QCOMPARE(ctx->plans().size(), std::size_t{1});  // the untimed one is not installed
        o.scratchBytes = 16u << 20;
        o.budgetMs = -1.0;  // already spent
        plans.clear();
        GPU_OK(ctx->tune({big}, o, nullptr, &plans));
        QCOMPARE(plans.size(), std::size_t{1});
        QCOMPARE(plans[0].nCandidates, 0);
    }

    void tunedGemmReplaysInAGraph_data()
    {
        QTest::addColumn<int>("prefer");
        QTest::newRow("cublaslt") << static_cast<int>(hk::GemmMethod::CublasLt);
        QTest::newRow("skinny") << static_cast<int>(hk::GemmMethod::Skinny);
    }
    void tunedGemmReplaysInAGraph()
    {
        QFETCH(int, prefer);
        const ElemType t = ElemType::BF16;
        const std::int64_t m = 24, n = 264, k = 136;
        std::unique_ptr<hk::GemmContext> ctx;
        GPU_OK(hk::GemmContext::create(&ctx));
        hk::GemmTuneOptions o;
        o.scratch = m_scratch.get();
        o.scratchBytes = 16u << 20;
        o.reps = 1;
        o.prefer = static_cast<hk::GemmMethod>(prefer);
        std::vector<hk::GemmPlan> plans;
        GPU_OK(ctx->tune({problem(m, n, k, t, t)}, o, nullptr, &plans));
        QCOMPARE(static_cast<int>(plans.at(0).method), prefer);

        std::mt19937 rng(99u);
        const auto x = randomValues(rng, static_cast<std::size_t>(m * k), -1.0f, 1.0f, t);
        const auto w = randomValues(rng, static_cast<std::size_t>(n * k), -1.0f, 1.0f, t);
        DeviceBuffer dX, dW, dEager, dGraph;
        GPU_OK(dX.upload(encode(x, t)));
        GPU_OK(dW.upload(encode(w, t)));
        GPU_OK(dEager.alloc(static_cast<std::size_t>(m * n) * 2));
        GPU_OK(dGraph.alloc(static_cast<std::size_t>(m * n) * 2));
        hk::GemmArgs a = denseArgs(dX.get(), dW.get(), dEager.get(), m, n, k, t, t);
        GPU_OK(ctx->gemm(a, nullptr));
        std::vector<std::uint16_t> eager(static_cast<std::size_t>(m * n)), replayed(eager.size());
        GPU_OK(dEager.download(eager));

        cudaStream_t stream = nullptr;
        QCOMPARE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
        QCOMPARE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
        a.y = dGraph.get();
        const hk::KernelStatus captured = ctx->gemm(a, stream);
        cudaGraph_t graph = nullptr;
        const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
        QVERIFY2(captured.ok, captured.describe().c_str());
        QCOMPARE(ended, cudaSuccess);
        cudaGraphExec_t exec = nullptr;
        QCOMPARE(cudaGraphInstantiateWithFlags(&exec, graph, 0), cudaSuccess);
        for (int i = 0; i < 2; ++i) {
            QCOMPARE(cudaGraphLaunch(exec, stream), cudaSuccess);
            QCOMPARE(cudaStreamSynchronize(stream), cudaSuccess);
        }
        GPU_OK(dGraph.download(replayed));
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
        cudaStreamDestroy(stream);
        QVERIFY(eager == replayed);
    }

private:
    DeviceBuffer m_scratch;
};

QTEST_APPLESS_MAIN(TestGpuGemmTune)
#include "tst_gpu_gemm_tune.moc"
