// GPU sampling against core's Sampler: greedy rows and the top-n raw log-probabilities against
// Sampler::sample with temperature 0; filtered draws against processLogits (the kept set after
// temperature, top-k, top-p, min-p) and a host walk of the kept weights in id order with the same
// uniform. A drawn id must be kept, and u * total must fall inside its slice of the cumulative
// weights (within 1e-4 of the total: the GPU sums in fp32 and in another order). Log-probabilities
// within 1e-3 (fp32 log-sum-exp over up to 152k terms).
#include <QtTest>

#include <cmath>

#include "engine/sampler.h"
#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

namespace {

struct Params {
    float temperature = 1.0f;
    std::int32_t topK = 0;
    float topP = 1.0f;
    float minP = 0.0f;
};

hearth::SamplingParams toSampling(const Params& p)
{
    hearth::SamplingParams s;
    s.temperature = p.temperature;
    s.topK = p.topK;
    s.topP = p.topP;
    s.minP = p.minP;
    return s;
}

double rawLogprob(const float* row, int vocab, int id)
{
    double m = -INFINITY;
    for (int i = 0; i < vocab; ++i)
        m = std::max(m, static_cast<double>(row[i]));
    double s = 0;
    for (int i = 0; i < vocab; ++i)
        s += std::exp(row[i] - m);
    return row[id] - (m + std::log(s));
}

struct Outputs {
    std::vector<std::int32_t> tokens;
    std::vector<float> logprobs;
    std::vector<std::int32_t> topTokens;
    std::vector<float> topLogprobs;
};

// Runs the kernel over `logits` [nRows, vocab] with per-row params and uniforms.
KernelStatus runSampler(const std::vector<float>& logits, int nRows, int vocab, const std::vector<Params>& params,
                        const std::vector<float>& uniforms, int nTop, Outputs& out)
{
    std::vector<float> temperature, topP, minP;
    std::vector<std::int32_t> topK;
    for (const Params& p : params) {
        temperature.push_back(p.temperature);
        topK.push_back(p.topK);
        topP.push_back(p.topP);
        minP.push_back(p.minP);
    }
    DeviceBuffer dLogits, dT, dK, dP, dMin, dU, dTokens, dLp, dTopT, dTopL;
    for (KernelStatus s : {dLogits.upload(logits), dT.upload(temperature), dK.upload(topK), dP.upload(topP),
                           dMin.upload(minP), dU.upload(uniforms), dTokens.alloc(static_cast<std::size_t>(nRows) * 4),
                           dLp.alloc(static_cast<std::size_t>(nRows) * 4),
                           dTopT.alloc(static_cast<std::size_t>(nRows * std::max(nTop, 1)) * 4),
                           dTopL.alloc(static_cast<std::size_t>(nRows * std::max(nTop, 1)) * 4)})
        if (!s.ok)
            return s;
    hk::SamplingArgs a;
    a.logits = dLogits.as<float>();
    a.nRows = nRows;
    a.vocab = vocab;
    a.temperature = dT.as<float>();
    a.topK = dK.as<std::int32_t>();
    a.topP = dP.as<float>();
    a.minP = dMin.as<float>();
    a.uniform = dU.as<float>();
    a.tokens = dTokens.as<std::int32_t>();
    a.logprobs = dLp.as<float>();
    a.nTop = nTop;
    a.topTokens = dTopT.as<std::int32_t>();
    a.topLogprobs = dTopL.as<float>();
    HEARTH_KERNEL_TRY(hk::sampleTokens(a, nullptr));
    out.tokens.resize(static_cast<std::size_t>(nRows));
    out.logprobs.resize(static_cast<std::size_t>(nRows));
    out.topTokens.resize(static_cast<std::size_t>(nRows * nTop));
    out.topLogprobs.resize(static_cast<std::size_t>(nRows * nTop));
    HEARTH_KERNEL_TRY(dTokens.download(out.tokens));
    HEARTH_KERNEL_TRY(dLp.download(out.logprobs));
    HEARTH_KERNEL_TRY(dTopT.download(out.topTokens));
    return dTopL.download(out.topLogprobs);
}

}  // namespace

class TestGpuSampling : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    void sample_data()
    {
        QTest::addColumn<int>("vocab");
        QTest::addColumn<float>("temperature");
        QTest::addColumn<int>("topK");
        QTest::addColumn<float>("topP");
        QTest::addColumn<float>("minP");
        const struct {
            const char* name;
            Params p;
        } sets[] = {{"plain", {1.0f, 0, 1.0f, 0.0f}},         {"top-k 50 T0.7", {0.7f, 50, 1.0f, 0.0f}},
                    {"top-p 0.9", {1.0f, 0, 0.9f, 0.0f}},      {"min-p 0.05 T1.3", {1.3f, 0, 1.0f, 0.05f}},
                    {"all three", {0.8f, 40, 0.95f, 0.02f}},   {"top-k 1000 T0.5", {0.5f, 1000, 1.0f, 0.0f}},
                    {"top-p 0.3 T2", {2.0f, 0, 0.3f, 0.0f}}};
        for (int vocab : {7, 83, 1000, 152064})
            for (const auto& s : sets) {
                const std::string name = std::string(s.name) + " vocab " + std::to_string(vocab);
                QTest::newRow(name.c_str()) << vocab << s.p.temperature << s.p.topK << s.p.topP << s.p.minP;
            }
    }

    // 16 rows with the row's params, every 5th row greedy instead (mixed batches).
    void sample()
    {
        QFETCH(int, vocab);
        QFETCH(float, temperature);
        QFETCH(int, topK);
        QFETCH(float, topP);
        QFETCH(float, minP);
        const int nRows = 16;
        const int nTop = std::min(vocab, 20);
        std::mt19937 rng(55u + static_cast<unsigned>(vocab) + static_cast<unsigned>(topK * 7) +
                         static_cast<unsigned>(topP * 1000) + static_cast<unsigned>(minP * 10000));
        std::normal_distribution<float> normal(0.0f, 3.0f);
        std::uniform_real_distribution<float> unit(0.0f, 1.0f);
        std::vector<float> logits(static_cast<std::size_t>(nRows) * vocab);
        for (float& x : logits)
            x = normal(rng);
        std::vector<Params> params(static_cast<std::size_t>(nRows), Params{temperature, topK, topP, minP});
        std::vector<float> uniforms(static_cast<std::size_t>(nRows));
        for (int r = 0; r < nRows; ++r) {
            if (r % 5 == 0)
                params[static_cast<std::size_t>(r)].temperature = 0.0f;
            uniforms[static_cast<std::size_t>(r)] = std::min(unit(rng), 0.99999f);
        }
        Outputs out;
        GPU_OK(runSampler(logits, nRows, vocab, params, uniforms, nTop, out));

        for (int r = 0; r < nRows; ++r) {
            const float* row = logits.data() + static_cast<std::size_t>(r) * vocab;
            const Params& p = params[static_cast<std::size_t>(r)];
            const std::int32_t got = out.tokens[static_cast<std::size_t>(r)];
            QVERIFY2(got >= 0 && got < vocab, qPrintable(QString::number(got)));

            // Top-n and greedy from core's Sampler.
            hearth::SamplingParams greedy;
            greedy.temperature = 0.0f;
            greedy.topLogprobs = nTop;
            hearth::Sampler sampler(greedy, vocab);
            std::vector<float> copy(row, row + vocab);
            const hearth::SampledToken ref = sampler.sample(copy);
            QCOMPARE(static_cast<int>(ref.top.size()), nTop);
            for (int j = 0; j < nTop; ++j) {
                QCOMPARE(out.topTokens[static_cast<std::size_t>(r * nTop + j)], ref.top[static_cast<std::size_t>(j)].token);
                QVERIFY(std::fabs(out.topLogprobs[static_cast<std::size_t>(r * nTop + j)] - ref.top[static_cast<std::size_t>(j)].logprob) < 1e-3f);
            }
            QVERIFY(std::fabs(out.logprobs[static_cast<std::size_t>(r)] - rawLogprob(row, vocab, got)) < 1e-3);
            if (p.temperature == 0.0f) {
                QCOMPARE(got, ref.token);
                continue;
            }

            // The kept set and the slice of the cumulative weights the uniform selects.
            std::vector<float> kept(row, row + vocab);
            hearth::processLogits(toSampling(p), hearth::TokenCounts{}, kept);
            QVERIFY2(std::isfinite(kept[static_cast<std::size_t>(got)]),
                     qPrintable(QStringLiteral("row %1 drew %2, which the filters remove").arg(r).arg(got)));
            double total = 0;
            for (float z : kept)
                total += std::isfinite(z) ? std::exp(static_cast<double>(z)) : 0.0;
            double before = 0;
            for (int i = 0; i < got; ++i)
                before += std::isfinite(kept[static_cast<std::size_t>(i)]) ? std::exp(static_cast<double>(kept[static_cast<std::size_t>(i)])) : 0.0;
            const double after = before + std::exp(static_cast<double>(kept[static_cast<std::size_t>(got)]));
            const double target = uniforms[static_cast<std::size_t>(r)] * total;
            QVERIFY2(target >= before - 1e-4 * total && target <= after + 1e-4 * total,
                     qPrintable(QStringLiteral("row %1: u*total %2 outside [%3, %4] of id %5")
                                    .arg(r).arg(target).arg(before).arg(after).arg(got)));
        }
    }

    // Ties go to the lower id; NaN counts as -inf; +inf is the largest value (and the only
    // token with weight when sampling).
    void specialValues()
    {
        const int vocab = 83;
        std::vector<float> logits(static_cast<std::size_t>(4 * vocab), 0.0f);
        std::mt19937 rng(9);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (float& x : logits)
            x = normal(rng);
        // Row 0: a tie for the max at ids 40 and 11 (11 must win). Row 1: NaNs and a tie.
        logits[40] = logits[11] = 50.0f;
        for (int i : {0, 5, 60})
            logits[static_cast<std::size_t>(vocab + i)] = NAN;
        logits[static_cast<std::size_t>(vocab + 70)] = logits[static_cast<std::size_t>(vocab + 30)] = 20.0f;
        // Rows 2 and 3: +inf at id 77, greedy and sampled.
        logits[static_cast<std::size_t>(2 * vocab + 77)] = INFINITY;
        logits[static_cast<std::size_t>(3 * vocab + 77)] = INFINITY;
        const std::vector<Params> params = {{0.0f, 0, 1.0f, 0.0f}, {0.0f, 0, 1.0f, 0.0f}, {0.0f, 0, 1.0f, 0.0f}, {1.0f, 0, 0.9f, 0.0f}};
        Outputs out;
        GPU_OK(runSampler(logits, 4, vocab, params, {0.5f, 0.5f, 0.5f, 0.7f}, 3, out));
        QCOMPARE(out.tokens[0], 11);
        QCOMPARE(out.topTokens[0], 11);
        QCOMPARE(out.topTokens[1], 40);
        QCOMPARE(out.tokens[1], 30);
        QCOMPARE(out.tokens[2], 77);
        QCOMPARE(out.tokens[3], 77);
        QVERIFY(std::fabs(out.logprobs[2]) < 1e-6f);
    }
};

QTEST_APPLESS_MAIN(TestGpuSampling)
#include "tst_gpu_sampling.moc"
