// cudasim's cublasGemmEx against a naive double-precision column-major reference, for every type
// combination kernels/gemm.cu uses (fp16/bf16 in, the same or fp32 out), its (T, N) call and the
// other three op pairs, awkward sizes, padded leading dimensions, alpha and beta; beta == 0 must not
// read C (left as NaN bytes), and the padding between columns must stay untouched.
#include <QtTest>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "exact_values.h"

namespace {

using cudasimtest::decodeHalf;
using cudasimtest::exactBf16;
using cudasimtest::exactHalf;
using cudasimtest::decodeBf16;

}  // namespace

class TestCudasimGemm : public QObject {
    Q_OBJECT

private slots:
    void gemm_data();
    void gemm();
    void gemmRejectsWhatItDoesNotDo();
};

void TestCudasimGemm::gemm_data()
{
    QTest::addColumn<int>("inType");
    QTest::addColumn<int>("outType");
    QTest::addColumn<bool>("transA");
    QTest::addColumn<bool>("transB");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    QTest::addColumn<int>("pad");  // extra leading-dimension elements
    QTest::addColumn<float>("beta");
    const int types[][2] = {{CUDA_R_16F, CUDA_R_16F}, {CUDA_R_16F, CUDA_R_32F}, {CUDA_R_16BF, CUDA_R_16BF},
                            {CUDA_R_16BF, CUDA_R_32F}};
    const int shapes[][3] = {{1, 1, 1}, {7, 83, 5}, {83, 7, 129}, {33, 65, 64}};
    for (const auto& t : types)
        for (const auto& sh : shapes)
            for (int ops = 0; ops < 4; ++ops) {
                // gemm.cu's call is (T, N); the other three check the general column-major GEMM.
                const bool ta = ops == 0 || ops == 2, tb = ops >= 2;
                const float beta = (sh[0] + ops) % 2 ? 0.0f : 0.5f;
                const int pad = ops == 1 ? 0 : 3;
                QTest::addRow("%s->%s %c%c %dx%dx%d beta=%g", t[0] == CUDA_R_16F ? "f16" : "bf16",
                              t[1] == CUDA_R_32F ? "f32" : "same", ta ? 'T' : 'N', tb ? 'T' : 'N', sh[0], sh[1], sh[2],
                              double(beta))
                    << t[0] << t[1] << ta << tb << sh[0] << sh[1] << sh[2] << pad << beta;
            }
}

void TestCudasimGemm::gemm()
{
    QFETCH(int, inType);
    QFETCH(int, outType);
    QFETCH(bool, transA);
    QFETCH(bool, transB);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    QFETCH(int, pad);
    QFETCH(float, beta);
    const bool inHalf = inType == CUDA_R_16F;
    const int rowsA = transA ? k : m, colsA = transA ? m : k;
    const int rowsB = transB ? n : k, colsB = transB ? k : n;
    const int lda = rowsA + pad, ldb = rowsB + pad, ldc = m + pad;
    std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 17 + k));
    std::uniform_int_distribution<int> dist(-64, 64);
    auto fill = [&](std::vector<float>& v) {
        for (float& x : v)
            x = static_cast<float>(dist(rng)) / 32.0f;
    };
    std::vector<float> a(static_cast<std::size_t>(lda) * colsA), b(static_cast<std::size_t>(ldb) * colsB),
        c(static_cast<std::size_t>(ldc) * n);
    fill(a);
    fill(b);
    fill(c);
    const bool outFloat = outType == CUDA_R_32F;
    auto encode = [&](const std::vector<float>& v) {
        std::vector<std::uint16_t> bits(v.size());
        for (std::size_t i = 0; i < v.size(); ++i)
            bits[i] = inHalf ? exactHalf(v[i]) : exactBf16(v[i]);
        return bits;
    };
    const std::vector<std::uint16_t> aBits = encode(a), bBits = encode(b), cBits = encode(c);
    void *dA = nullptr, *dB = nullptr, *dC = nullptr;
    const std::size_t outBytes = outFloat ? 4 : 2;
    QCOMPARE(cudaMalloc(&dA, aBits.size() * 2), cudaSuccess);
    QCOMPARE(cudaMalloc(&dB, bBits.size() * 2), cudaSuccess);
    QCOMPARE(cudaMalloc(&dC, c.size() * outBytes), cudaSuccess);
    QCOMPARE(cudaMemcpy(dA, aBits.data(), aBits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
    QCOMPARE(cudaMemcpy(dB, bBits.data(), bBits.size() * 2, cudaMemcpyHostToDevice), cudaSuccess);
    if (beta != 0.0f)  // with beta == 0 C stays 0xFF (NaN): cuBLAS must not read it
        QCOMPARE(cudaMemcpy(dC, outFloat ? static_cast<const void*>(c.data()) : cBits.data(), c.size() * outBytes,
                            cudaMemcpyHostToDevice),
                 cudaSuccess);
    cudaStream_t s = nullptr;
    QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cublasHandle_t h = nullptr;
    QCOMPARE(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    const float alpha = 1.5f;
    QCOMPARE(cublasGemmEx(h, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, dA,
                          cudaDataType(inType), lda, dB, cudaDataType(inType), ldb, &beta, dC, cudaDataType(outType), ldc,
                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
    std::vector<unsigned char> out(c.size() * outBytes);
    QCOMPARE(cudaMemcpy(out.data(), dC, out.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    // The reference: C = alpha op(A) op(B) + beta C in double, column-major.
    const double tolerance = outFloat ? 1e-5 : inHalf ? 1.0 / 1024 : 1.0 / 128;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double acc = 0;
            for (int l = 0; l < k; ++l) {
                const double av = transA ? a[l + std::size_t(i) * lda] : a[i + std::size_t(l) * lda];
                const double bv = transB ? b[j + std::size_t(l) * ldb] : b[l + std::size_t(j) * ldb];
                acc += av * bv;
            }
            const std::size_t at = i + std::size_t(j) * ldc;
            const double want = alpha * acc + (beta != 0.0f ? beta * double(c[at]) : 0.0);
            float got = 0;
            if (outFloat)
                std::memcpy(&got, out.data() + at * 4, 4);
            else {
                std::uint16_t bits;
                std::memcpy(&bits, out.data() + at * 2, 2);
                got = inHalf ? decodeHalf(bits) : decodeBf16(bits);
            }
            if (!(std::fabs(got - want) <= 1e-6 + tolerance * std::fabs(want)))
                QFAIL(qPrintable(QStringLiteral("C[%1,%2] = %3, want %4").arg(i).arg(j).arg(got).arg(want)));
        }
    // The padding between columns is never written.
    if (pad > 0 && beta == 0.0f && n > 1)
        for (std::size_t byte = std::size_t(m) * outBytes; byte < std::size_t(ldc) * outBytes; ++byte)
            QCOMPARE(int(out[byte]), 0xFF);
    QCOMPARE(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    for (void* p : {dA, dB, dC})
        QCOMPARE(cudaFree(p), cudaSuccess);
}

void TestCudasimGemm::gemmRejectsWhatItDoesNotDo()
{
    cublasHandle_t h = nullptr;
    QCOMPARE(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    void* d = nullptr;
    QCOMPARE(cudaMalloc(&d, 4096), cudaSuccess);
    const float one = 1.0f, zero = 0.0f;
    // lda shorter than a column of A.
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 4, d, CUDA_R_16F, 8, &zero, d,
                          CUDA_R_16F, 8, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_INVALID_VALUE);
    // Mixed input types and other compute types are not simulated.
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 8, d, CUDA_R_16BF, 8, &zero, d,
                          CUDA_R_32F, 8, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_NOT_SUPPORTED);
    QCOMPARE(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 8, 8, 8, &one, d, CUDA_R_16F, 8, d, CUDA_R_16F, 8, &zero, d,
                          CUDA_R_16F, 8, CUBLAS_COMPUTE_16F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_NOT_SUPPORTED);
    QVERIFY(std::strlen(cublasGetStatusString(CUBLAS_STATUS_NOT_SUPPORTED)) > 0);
    // The workspace must be device memory, 256-byte aligned.
    QCOMPARE(cublasSetWorkspace(h, static_cast<char*>(d) + 16, 1024), CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(cublasSetWorkspace(h, d, 4096), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaFree(d), cudaSuccess);
}

QTEST_APPLESS_MAIN(TestCudasimGemm)
#include "tst_cudasim_gemm.moc"
