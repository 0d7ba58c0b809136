// The CPU backend's building blocks against independent references: RoPE frequencies and
// rotations against transformers' own code (tests/fixtures/rope/rope_goldens.json, written by
// tests/reference/make_rope_goldens.py), fp16/bf16 widening against exact IEEE values, and the
// threaded matmul against a plain double-precision loop over awkward sizes.
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/cpu/cpu_ops.h"
#include "engine/rope.h"
#include "model/model_config.h"
#include "util/mapped_file.h"
#include "util/thread_pool.h"

using namespace hearth;

namespace {

nlohmann::json loadRopeGoldens()
{
    auto text = readTextFile(std::string(HEARTH_FIXTURES_DIR) + "/rope/rope_goldens.json");
    if (!text)
        return {};
    return nlohmann::json::parse(*text, nullptr, false);
}

}  // namespace

class TestCpuOps : public QObject {
    Q_OBJECT

private:
    nlohmann::json m_rope;

private slots:
    void initTestCase()
    {
        m_rope = loadRopeGoldens();
        QVERIFY2(m_rope.is_object() && m_rope.contains("cases"), "rope_goldens.json is missing or malformed");
    }

    void rope_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : {"default", "linear", "dynamic_short", "dynamic_long", "yarn_qwen25", "yarn_mscale", "llama3"})
            QTest::newRow(name) << QString::fromLatin1(name);
    }

    void rope()
    {
        QFETCH(QString, name);
        const nlohmann::json& c = m_rope["cases"][name.toStdString()];
        QVERIFY(c.is_object());
        auto config = parseModelConfig(c["config"].dump(), name.toStdString());
        QVERIFY2(config.isOk(), config.isOk() ? "" : config.error().toString().c_str());
        const RopeFrequencies f = computeRopeFrequencies(*config, c["seq_len"].get<std::int64_t>());

        const auto expected = c["inv_freq"].get<std::vector<double>>();
        QCOMPARE(f.invFreq.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i) {
            const double rel = std::abs(f.invFreq[i] - expected[i]) / std::abs(expected[i]);
            if (rel > 2e-6)
                QFAIL(qPrintable(QStringLiteral("inv_freq[%1] = %2, transformers %3").arg(i).arg(f.invFreq[i], 0, 'g', 9).arg(expected[i], 0, 'g', 9)));
        }
        QVERIFY(std::abs(f.attentionScale - c["attention_factor"].get<double>()) < 1e-6);

        // Rotation of a fixed query at each position, against apply_rotary_pos_emb.
        const auto input = c["input"].get<std::vector<float>>();
        const std::int64_t headDim = c["config"]["head_dim"].get<std::int64_t>();
        const auto nHeads = static_cast<std::int64_t>(input.size()) / headDim;
        const auto positions = c["positions"].get<std::vector<std::int64_t>>();
        for (std::size_t p = 0; p < positions.size(); ++p) {
            std::vector<float> x = input;
            std::vector<float> cs(static_cast<std::size_t>(headDim / 2)), sn(cs.size());
            cpu::ropeTables(f, positions[p], cs.data(), sn.data());
            cpu::applyRope(x.data(), nHeads, headDim, cs.data(), sn.data());
            const auto want = c["rotated"][p].get<std::vector<double>>();
            for (std::size_t i = 0; i < x.size(); ++i) {
                // Angles up to ~4e4 rad in float32: transformers' own cos/sin differ by a few ulp of the angle.
                if (std::abs(x[i] - want[i]) > 2e-3)
                    QFAIL(qPrintable(QStringLiteral("position %1 element %2: %3, transformers %4")
                                         .arg(positions[p]).arg(i).arg(x[i]).arg(want[i])));
            }
        }
    }

    void halfToFloat_data()
    {
        QTest::addColumn<uint>("bits");
        QTest::addColumn<float>("value");
        QTest::newRow("zero") << 0x0000u << 0.0f;
        QTest::newRow("one") << 0x3c00u << 1.0f;
        QTest::newRow("minus two") << 0xc000u << -2.0f;
        QTest::newRow("max") << 0x7bffu << 65504.0f;
        QTest::newRow("min normal") << 0x0400u << std::ldexp(1.0f, -14);
        QTest::newRow("min subnormal") << 0x0001u << std::ldexp(1.0f, -24);
        QTest::newRow("largest subnormal") << 0x03ffu << std::ldexp(1023.0f, -24);
        QTest::newRow("-subnormal") << 0x8200u << -std::ldexp(512.0f, -24);
        QTest::newRow("third") << 0x3555u << 0.333251953125f;
        QTest::newRow("inf") << 0x7c00u << INFINITY;
        QTest::newRow("-inf") << 0xfc00u << -INFINITY;
    }

    void halfToFloat()
    {
        QFETCH(uint, bits);
        QFETCH(float, value);
        QCOMPARE(cpu::halfToFloat(static_cast<std::uint16_t>(bits)), value);
        const std::uint16_t h = static_cast<std::uint16_t>(bits);
        WeightTensor t{&h, DType::F16, 1, 1};
        float widened = 0;
        cpu::widen(t, 0, 1, &widened);  // the vectorised path
        QCOMPARE(widened, value);
    }

    void halfNan() { QVERIFY(std::isnan(cpu::halfToFloat(0x7e00))); }

    void bf16()
    {
        QCOMPARE(cpu::bf16ToFloat(0x3f80), 1.0f);
        QCOMPARE(cpu::bf16ToFloat(0xc0a0), -5.0f);
        QCOMPARE(cpu::bf16ToFloat(0x3e80), 0.25f);
    }

    void matmulAgainstDouble_data()
    {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("outDim");
        QTest::addColumn<int>("inDim");
        QTest::addColumn<int>("dtype");
        for (int dt : {0, 1, 2})
            for (auto [r, o, i] : {std::tuple{1, 1, 1}, {1, 7, 83}, {3, 83, 769}, {5, 129, 16}, {2, 33, 5125}})
                QTest::newRow(qPrintable(QStringLiteral("%1x%2x%3 dtype%4").arg(r).arg(o).arg(i).arg(dt))) << r << o << i << dt;
    }

    void matmulAgainstDouble()
    {
        QFETCH(int, rows);
        QFETCH(int, outDim);
        QFETCH(int, inDim);
        QFETCH(int, dtype);
        std::mt19937 rng(42u + static_cast<unsigned>(rows * outDim + inDim));
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        std::vector<float> x(static_cast<std::size_t>(rows * inDim)), wf(static_cast<std::size_t>(outDim * inDim));
        for (float& v : x)
            v = u(rng);
        // Values exactly representable in every dtype (8 significant bits) so the reference is exact.
        std::vector<std::uint16_t> w16(wf.size());
        for (std::size_t i = 0; i < wf.size(); ++i) {
            wf[i] = std::round(u(rng) * 128.0f) / 256.0f;
            std::uint32_t b;
            std::memcpy(&b, &wf[i], 4);
            w16[i] = static_cast<std::uint16_t>(b >> 16);  // bf16
        }
        if (dtype == 2)
            for (std::size_t i = 0; i < wf.size(); ++i) {
                // binary16: the value is k/256 with |k| <= 128, exactly representable
                const float v = wf[i];
                std::uint16_t h = 0;
                if (v != 0.0f) {
                    int e = 0;
                    const float m = std::frexp(std::abs(v), &e);  // v = m * 2^e, m in [0.5, 1)
                    const int he = e - 1 + 15;
                    const auto mant = static_cast<std::uint16_t>(std::lround((m * 2.0f - 1.0f) * 1024.0f));
                    h = static_cast<std::uint16_t>((v < 0 ? 0x8000 : 0) | (he << 10) | mant);
                }
                w16[i] = h;
            }
        WeightTensor w{dtype == 0 ? static_cast<const void*>(wf.data()) : w16.data(),
                       dtype == 0 ? DType::F32 : dtype == 1 ? DType::BF16 : DType::F16, outDim, inDim};
        std::vector<float> bias(static_cast<std::size_t>(outDim));
        for (float& b : bias)
            b = u(rng);
        WeightTensor bt{bias.data(), DType::F32, 1, outDim};
        std::vector<float> y(static_cast<std::size_t>(rows * outDim));
        ThreadPool pool(3);
        cpu::matmul(pool, x.data(), rows, w, &bt, y.data());
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < outDim; ++o) {
                double ref = bias[static_cast<std::size_t>(o)];
                for (int i = 0; i < inDim; ++i)
                    ref += static_cast<double>(wf[static_cast<std::size_t>(o * inDim + i)]) * x[static_cast<std::size_t>(r * inDim + i)];
                const double got = y[static_cast<std::size_t>(r * outDim + o)];
                QVERIFY2(std::abs(got - ref) <= 1e-5 + 1e-5 * std::sqrt(static_cast<double>(inDim)),
                         qPrintable(QStringLiteral("row %1 out %2: %3 vs %4").arg(r).arg(o).arg(got).arg(ref)));
            }
        // A row's result must not depend on the other rows of the call (batch invariance).
        if (rows > 1) {
            std::vector<float> single(static_cast<std::size_t>(outDim));
            cpu::matmul(pool, x.data() + (rows - 1) * inDim, 1, w, &bt, single.data());
            QVERIFY(std::memcmp(single.data(), y.data() + (rows - 1) * outDim, single.size() * sizeof(float)) == 0);
        }
    }

    void threadPoolCoversRange()
    {
        for (int threads : {1, 2, 5}) {
            ThreadPool pool(threads);
            for (std::int64_t n : {0, 1, 3, 1000}) {
                std::vector<int> hits(static_cast<std::size_t>(n), 0);
                pool.parallelFor(n, [&](std::int64_t b, std::int64_t e) {
                    for (std::int64_t i = b; i < e; ++i)
                        ++hits[static_cast<std::size_t>(i)];
                });
                for (int h : hits)
                    QCOMPARE(h, 1);
            }
        }
    }

    void rmsNormAgainstDouble()
    {
        const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f};
        const std::vector<float> w = {1.0f, 0.5f, 2.0f, -1.0f};
        WeightTensor wt{w.data(), DType::F32, 1, 4};
        std::vector<float> y(4);
        cpu::rmsNorm(x.data(), wt, 1e-6, 1, 4, y.data());
        const double rms = std::sqrt((1.0 + 4.0 + 9.0 + 0.25) / 4.0 + 1e-6);
        for (int i = 0; i < 4; ++i)
            QVERIFY(std::abs(y[static_cast<std::size_t>(i)] - w[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)] / rms) < 1e-6);
    }
};

QTEST_APPLESS_MAIN(TestCpuOps)
#include "tst_cpu_ops.moc"
