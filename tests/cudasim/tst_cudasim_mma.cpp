// kernels/mma_sync.cuh on cudasim against plain CPU matrix products, with the register layouts
// written out here from the PTX ISA's figures for mma.m16n8k16 (.f16/.bf16) and ldmatrix: every
// ldmatrix flavour (.x1/.x2/.x4, plain and .trans) against the element each lane must receive, an
// mma fed straight from registers, and the flash-attention chain the prefill kernel runs (A from
// ldmatrix, B from ldmatrix of K rows and from ldmatrix .trans of V rows, then the accumulators
// packed into an A operand). Random fp16/bf16 inputs; products are exact in fp32, so the results
// must match a double-precision sum to within fp32 rounding of the 16 adds.
#include <QtTest>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "exec/device.h"
#include "mma_sync.cuh"

namespace ex = cudasim::exec;
namespace km = hearth::kernels::mma;

namespace {

cudaError_t runWarp(std::function<void()> body)
{
    const cudaError_t err = ex::launch(ex::config(dim3(1), dim3(32)), nullptr, "mma test kernel", std::move(body));
    if (err != cudaSuccess)
        return err;
    return cudaDeviceSynchronize();
}

std::uint16_t toBits(bool bf16, float v)
{
    return bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(v)) : __half_as_ushort(__float2half_rn(v));
}

float fromBits(bool bf16, std::uint16_t b)
{
    return bf16 ? __bfloat162float(__ushort_as_bfloat16(b)) : __half2float(__ushort_as_half(b));
}

// n random values already representable in the element type (so the CPU sees what the MMA sees).
std::vector<std::uint16_t> randomBits(std::mt19937& rng, bool bf16, std::size_t n)
{
    std::uniform_real_distribution<float> d(-2.0f, 2.0f);
    std::vector<std::uint16_t> v(n);
    for (auto& x : v)
        x = toBits(bf16, d(rng));
    return v;
}

std::uint32_t pack(std::uint16_t lo, std::uint16_t hi) { return std::uint32_t{lo} | (std::uint32_t{hi} << 16); }

// |got - want| within fp32 rounding of a 16-term sum (with the accumulator) of these magnitudes.
bool close(float got, double want, double magnitude)
{
    return std::abs(static_cast<double>(got) - want) <= 20.0 * 0x1p-24 * magnitude + 1e-30;
}

}  // namespace

class TestCudasimMma : public QObject {
    Q_OBJECT

private slots:
    void ldmatrixLayouts_data()
    {
        QTest::addColumn<int>("nMatrices");
        QTest::addColumn<bool>("trans");
        for (int n : {1, 2, 4})
            for (bool trans : {false, true})
                QTest::newRow((std::to_string(n) + (trans ? " trans" : "")).c_str()) << n << trans;
    }

    // 4 matrices of 8 rows, each row at its own (16-byte aligned) place in a padded buffer; lanes
    // 8i..8i+7 address matrix i's rows (in a shuffled order, to show each lane's address is used).
    void ldmatrixLayouts()
    {
        QFETCH(int, nMatrices);
        QFETCH(bool, trans);
        constexpr int kLd = 24;  // elements per buffer row: 48 bytes, rows stay 16-byte aligned
        alignas(16) static std::uint16_t buf[32 * kLd];
        for (int i = 0; i < 32 * kLd; ++i)
            buf[i] = static_cast<std::uint16_t>(i * 7 + 3);
        // Matrix i, row r lives in buffer row rowOf(i, r), columns 8..15.
        const auto rowOf = [](int i, int r) { return (i * 8 + (r * 3) % 8) ^ 5; };
        static std::uint32_t got[32][4];
        const std::uint16_t* base = buf;
        const std::function<void()> body = [=] {
            const int lane = static_cast<int>(threadIdx.x);
            const km::SharedAddress row = km::sharedAddress(base + rowOf((lane / 8) % nMatrices, lane % 8) * kLd + 8);
            std::uint32_t r4[4] = {};
            if (nMatrices == 4) {
                if (trans)
                    km::ldmatrix<4, true>(r4, row);
                else
                    km::ldmatrix<4, false>(r4, row);
            } else if (nMatrices == 2) {
                std::uint32_t r2[2];
                if (trans)
                    km::ldmatrix<2, true>(r2, row);
                else
                    km::ldmatrix<2, false>(r2, row);
                r4[0] = r2[0];
                r4[1] = r2[1];
            } else {
                std::uint32_t r1[1];
                if (trans)
                    km::ldmatrix<1, true>(r1, row);
                else
                    km::ldmatrix<1, false>(r1, row);
                r4[0] = r1[0];
            }
            for (int i = 0; i < 4; ++i)
                got[lane][i] = r4[i];
        };
        QCOMPARE(runWarp(body), cudaSuccess);
        const auto at = [&](int i, int r, int c) { return buf[rowOf(i, r) * kLd + 8 + c]; };
        for (int lane = 0; lane < 32; ++lane)
            for (int i = 0; i < nMatrices; ++i) {
                const int g = lane / 4;
                const int c = 2 * (lane % 4);
                const std::uint32_t want = trans ? pack(at(i, c, g), at(i, c + 1, g)) : pack(at(i, g, c), at(i, g, c + 1));
                QCOMPARE(got[lane][i], want);
            }
    }

    void mmaFromRegisters_data()
    {
        QTest::addColumn<bool>("bf16");
        QTest::newRow("f16") << false;
        QTest::newRow("bf16") << true;
    }

    // A[16][16], B[16 k][8 n], C[16][8] placed in registers by the PTX figures' formulas.
    void mmaFromRegisters()
    {
        QFETCH(bool, bf16);
        std::mt19937 rng(11u + (bf16 ? 1u : 0u));
        const auto a = randomBits(rng, bf16, 256);
        const auto b = randomBits(rng, bf16, 128);
        std::vector<float> c(128);
        for (auto& x : c)
            x = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
        static float d[32][4];
        const std::uint16_t* pa = a.data();
        const std::uint16_t* pb = b.data();
        const float* pc = c.data();
        const std::function<void()> body = [=] {
            const int lane = static_cast<int>(threadIdx.x);
            const int g = lane / 4;
            const int t = lane % 4;
            const auto A = [&](int r, int k) { return pa[r * 16 + k]; };
            const auto B = [&](int k, int n) { return pb[k * 8 + n]; };
            const std::uint32_t ra[4] = {pack(A(g, 2 * t), A(g, 2 * t + 1)), pack(A(g + 8, 2 * t), A(g + 8, 2 * t + 1)),
                                         pack(A(g, 2 * t + 8), A(g, 2 * t + 9)),
                                         pack(A(g + 8, 2 * t + 8), A(g + 8, 2 * t + 9))};
            const std::uint32_t rb[2] = {pack(B(2 * t, g), B(2 * t + 1, g)), pack(B(2 * t + 8, g), B(2 * t + 9, g))};
            float acc[4] = {pc[g * 8 + 2 * t], pc[g * 8 + 2 * t + 1], pc[(g + 8) * 8 + 2 * t], pc[(g + 8) * 8 + 2 * t + 1]};
            if (bf16)
                km::mmaM16N8K16<__nv_bfloat16>(acc, ra, rb);
            else
                km::mmaM16N8K16<__half>(acc, ra, rb);
            for (int i = 0; i < 4; ++i)
                d[lane][i] = acc[i];
        };
        QCOMPARE(runWarp(body), cudaSuccess);
        for (int lane = 0; lane < 32; ++lane)
            for (int i = 0; i < 4; ++i) {
                const int row = lane / 4 + 8 * (i / 2);
                const int col = 2 * (lane % 4) + i % 2;
                double want = c[static_cast<std::size_t>(row * 8 + col)];
                double mag = std::abs(want);
                for (int k = 0; k < 16; ++k) {
                    const double term = static_cast<double>(fromBits(bf16, a[static_cast<std::size_t>(row * 16 + k)])) *
                                        fromBits(bf16, b[static_cast<std::size_t>(k * 8 + col)]);
                    want += term;
                    mag += std::abs(term);
                }
                QVERIFY2(close(d[lane][i], want, mag),
                         qPrintable(QStringLiteral("row %1 col %2: %3 vs %4").arg(row).arg(col).arg(d[lane][i]).arg(want)));
            }
    }

    void attentionChain_data() { mmaFromRegisters_data(); }

    // S = Q K^T (Q [16][32] by ldmatrix .x4, K [16 keys][32] rows by ldmatrix .x4: two n-tiles per
    // load, two k-steps), then O = P V with P = S rounded to the element type and packed from the
    // two n-tiles' accumulators, V [16 keys][16] rows by ldmatrix .x4 .trans: the prefill's path.
    void attentionChain()
    {
        QFETCH(bool, bf16);
        std::mt19937 rng(23u + (bf16 ? 1u : 0u));
        constexpr int kLd = 40;  // padded row stride in elements (80 bytes)
        alignas(16) static std::uint16_t q[16 * kLd], k[16 * kLd], v[16 * kLd];
        const auto qv = randomBits(rng, bf16, 16 * kLd);
        const auto kv = randomBits(rng, bf16, 16 * kLd);
        const auto vv = randomBits(rng, bf16, 16 * kLd);
        std::copy(qv.begin(), qv.end(), q);
        std::copy(kv.begin(), kv.end(), k);
        std::copy(vv.begin(), vv.end(), v);
        static float s[32][2][4], o[32][2][4];
        const std::function<void()> body = [=] {
            const int lane = static_cast<int>(threadIdx.x);
            float sAcc[2][4] = {};
            for (int ks = 0; ks < 2; ++ks) {
                std::uint32_t qa[4], kb[4];
                const int qRow = (lane & 7) + 8 * ((lane >> 3) & 1);  // A: rows 0-7 / 8-15, then k + 8
                const int kRow = (lane & 7) + 8 * (lane >> 4);         // B: keys 0-7 at d 0-7 / 8-15, then keys 8-15
                km::ldmatrix<4, false>(qa, km::sharedAddress(q + qRow * kLd + 8 * (lane >> 4) + 16 * ks));
                km::ldmatrix<4, false>(kb, km::sharedAddress(k + kRow * kLd + 8 * ((lane >> 3) & 1) + 16 * ks));
                const std::uint32_t b0[2] = {kb[0], kb[1]}, b1[2] = {kb[2], kb[3]};
                if (bf16) {
                    km::mmaM16N8K16<__nv_bfloat16>(sAcc[0], qa, b0);
                    km::mmaM16N8K16<__nv_bfloat16>(sAcc[1], qa, b1);
                } else {
                    km::mmaM16N8K16<__half>(sAcc[0], qa, b0);
                    km::mmaM16N8K16<__half>(sAcc[1], qa, b1);
                }
            }
            std::uint32_t pa[4];
            for (int j = 0; j < 2; ++j)
                for (int h = 0; h < 2; ++h)
                    pa[2 * j + h] = bf16 ? km::packPair<__nv_bfloat16>(sAcc[j][2 * h], sAcc[j][2 * h + 1])
                                         : km::packPair<__half>(sAcc[j][2 * h], sAcc[j][2 * h + 1]);
            std::uint32_t vb[4];
            km::ldmatrix<4, true>(vb, km::sharedAddress(v + ((lane & 7) + 8 * ((lane >> 3) & 1)) * kLd + 8 * (lane >> 4)));
            float oAcc[2][4] = {};
            const std::uint32_t b0[2] = {vb[0], vb[1]}, b1[2] = {vb[2], vb[3]};
            if (bf16) {
                km::mmaM16N8K16<__nv_bfloat16>(oAcc[0], pa, b0);
                km::mmaM16N8K16<__nv_bfloat16>(oAcc[1], pa, b1);
            } else {
                km::mmaM16N8K16<__half>(oAcc[0], pa, b0);
                km::mmaM16N8K16<__half>(oAcc[1], pa, b1);
            }
            for (int j = 0; j < 2; ++j)
                for (int i = 0; i < 4; ++i) {
                    s[lane][j][i] = sAcc[j][i];
                    o[lane][j][i] = oAcc[j][i];
                }
        };
        QCOMPARE(runWarp(body), cudaSuccess);
        const auto el = [&](const std::uint16_t* m, int r, int c) {
            return static_cast<double>(fromBits(bf16, m[r * kLd + c]));
        };
        // S on the CPU, then P as the kernel rounds it (from the simulated S, whose check bounds the
        // difference), then O.
        double sRef[16][16], sMag[16][16];
        for (int r = 0; r < 16; ++r)
            for (int n = 0; n < 16; ++n) {
                sRef[r][n] = sMag[r][n] = 0.0;
                for (int d = 0; d < 32; ++d) {
                    sRef[r][n] += el(q, r, d) * el(k, n, d);
                    sMag[r][n] += std::abs(el(q, r, d) * el(k, n, d));
                }
            }
        double p[16][16];
        for (int lane = 0; lane < 32; ++lane)
            for (int j = 0; j < 2; ++j)
                for (int i = 0; i < 4; ++i) {
                    const int row = lane / 4 + 8 * (i / 2);
                    const int col = 8 * j + 2 * (lane % 4) + i % 2;
                    const float got = s[lane][j][i];
                    QVERIFY2(close(got, sRef[row][col], 2.0 * sMag[row][col]),
                             qPrintable(QStringLiteral("S %1,%2: %3 vs %4").arg(row).arg(col).arg(got).arg(sRef[row][col])));
                    p[row][col] = fromBits(bf16, toBits(bf16, got));
                }
        for (int lane = 0; lane < 32; ++lane)
            for (int j = 0; j < 2; ++j)
                for (int i = 0; i < 4; ++i) {
                    const int row = lane / 4 + 8 * (i / 2);
                    const int col = 8 * j + 2 * (lane % 4) + i % 2;
                    double want = 0.0, mag = 0.0;
                    for (int key = 0; key < 16; ++key) {
                        want += p[row][key] * el(v, key, col);
                        mag += std::abs(p[row][key] * el(v, key, col));
                    }
                    QVERIFY2(close(o[lane][j][i], want, mag),
                             qPrintable(QStringLiteral("O %1,%2: %3 vs %4").arg(row).arg(col).arg(o[lane][j][i]).arg(want)));
                }
    }
};

QTEST_APPLESS_MAIN(TestCudasimMma)
#include "tst_cudasim_mma.moc"
