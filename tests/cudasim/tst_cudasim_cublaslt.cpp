// cudasim's cuBLASLt subset (runtime/cublaslt.cpp), the one a GEMM autotuner needs: matmul against
// a naive double-precision column-major reference for fp16/bf16/fp32, all op pairs, awkward sizes,
// padded leading dimensions, alpha and beta (beta 0 over NaN, in place, separate C), bit-identical
// to cublasGemmEx on the same problem whichever algorithm runs; the heuristic's algorithms
// (distinct, within the workspace cap and the requested count); AlgoCheck; a workspace too small;
// misuse answered with a status; stream order; capture into a CUDA graph and replay.
#include <QtTest>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "exact_values.h"

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

std::size_t elemBytes(int type) { return type == CUDA_R_32F ? 4 : 2; }

using cudasimtest::decodeHalf;
using cudasimtest::exactBf16;
using cudasimtest::exactHalf;

// Host values as the bytes of `type` (exact for the values the tests use).
std::vector<unsigned char> encode(const std::vector<float>& v, int type)
{
    std::vector<unsigned char> out(v.size() * elemBytes(type));
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (type == CUDA_R_32F) {
            std::memcpy(&out[i * 4], &v[i], 4);
        } else {
            const std::uint16_t h = type == CUDA_R_16F ? exactHalf(v[i]) : exactBf16(v[i]);
            std::memcpy(&out[i * 2], &h, 2);
        }
    }
    return out;
}

float decode(const unsigned char* p, int type)
{
    float f = 0;
    if (type == CUDA_R_32F) {
        std::memcpy(&f, p, 4);
        return f;
    }
    std::uint16_t h;
    std::memcpy(&h, p, 2);
    if (type == CUDA_R_16F)
        return decodeHalf(h);
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    std::memcpy(&f, &bits, 4);
    return f;
}

// Small multiples of 1/32 in [-2, 2]: exact in every type, and fp32 sums of their products are exact.
std::vector<float> randomValues(std::size_t n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> dist(-64, 64);
    std::vector<float> v(n);
    for (float& x : v)
        x = static_cast<float>(dist(rng)) / 32.0f;
    return v;
}

void* deviceCopy(const std::vector<unsigned char>& bytes)
{
    void* d = nullptr;
    if (cudaMalloc(&d, bytes.size()) != cudaSuccess)
        return nullptr;
    if (cudaMemcpy(d, bytes.data(), bytes.size(), cudaMemcpyHostToDevice) != cudaSuccess)
        return nullptr;
    return d;
}

std::vector<unsigned char> hostCopy(const void* d, std::size_t nBytes)
{
    std::vector<unsigned char> out(nBytes);
    if (cudaMemcpy(out.data(), d, nBytes, cudaMemcpyDeviceToHost) != cudaSuccess)
        out.clear();
    return out;
}

// One GEMM problem's descriptors (C and D share a layout), destroyed with it.
struct LtProblem {
    cublasLtHandle_t handle = nullptr;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    bool ok = false;

    LtProblem(int inType, int outType, bool transA, bool transB, int m, int n, int k, int pad,
              std::size_t maxWorkspaceBytes)
    {
        const cublasOperation_t opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N, opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
        const int rowsA = transA ? k : m, colsA = transA ? m : k;
        const int rowsB = transB ? n : k, colsB = transB ? k : n;
        const auto in = cudaDataType(inType), out = cudaDataType(outType);
        const std::uint64_t ws = maxWorkspaceBytes;
        ok = cublasLtCreate(&handle) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB) ==
                 CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&a, in, rowsA, colsA, rowsA + pad) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&b, in, rowsB, colsB, rowsB + pad) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&c, out, m, n, m + pad) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatrixLayoutCreate(&d, out, m, n, m + pad) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceCreate(&pref) == CUBLAS_STATUS_SUCCESS &&
             cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) ==
                 CUBLAS_STATUS_SUCCESS;
    }
    ~LtProblem()
    {
        if (pref)
            cublasLtMatmulPreferenceDestroy(pref);
        for (cublasLtMatrixLayout_t l : {a, b, c, d})
            if (l)
                cublasLtMatrixLayoutDestroy(l);
        if (desc)
            cublasLtMatmulDescDestroy(desc);
        if (handle)
            cublasLtDestroy(handle);
    }
    LtProblem(const LtProblem&) = delete;
    LtProblem& operator=(const LtProblem&) = delete;

    // The heuristic's answer (empty on failure).
    std::vector<cublasLtMatmulHeuristicResult_t> algos(int requested) const
    {
        std::vector<cublasLtMatmulHeuristicResult_t> r(static_cast<std::size_t>(requested));
        int count = -1;
        if (cublasLtMatmulAlgoGetHeuristic(handle, desc, a, b, c, d, pref, requested, r.data(), &count) !=
            CUBLAS_STATUS_SUCCESS)
            count = 0;
        r.resize(static_cast<std::size_t>(std::max(count, 0)));
        return r;
    }
};

}  // namespace

class TestCudasimCublasLt : public QObject {
    Q_OBJECT

private slots:
    void matmul_data();
    void matmul();
    void heuristic_data();
    void heuristic();
    void algoCheckRefusesForeignAlgos();
    void workspaceTooSmallDoesNotRun();
    void misuse_data();
    void misuse();
    void streamOrdered();
    void graphCaptureAndReplay();
};

void TestCudasimCublasLt::matmul_data()
{
    QTest::addColumn<int>("inType");
    QTest::addColumn<int>("outType");
    QTest::addColumn<bool>("transA");
    QTest::addColumn<bool>("transB");
    QTest::addColumn<int>("m");
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("k");
    QTest::addColumn<int>("pad");  // extra leading-dimension elements
    QTest::addColumn<float>("alpha");
    QTest::addColumn<float>("beta");
    QTest::addColumn<bool>("separateC");  // C and D different buffers (else in place)
    QTest::addColumn<int>("algoIndex");   // into the heuristic's list; -1: algo = nullptr
    const int types[][2] = {{CUDA_R_16F, CUDA_R_16F},
                            {CUDA_R_16F, CUDA_R_32F},
                            {CUDA_R_16BF, CUDA_R_16BF},
                            {CUDA_R_16BF, CUDA_R_32F},
                            {CUDA_R_32F, CUDA_R_32F}};
    const int shapes[][3] = {{1, 1, 1}, {7, 83, 8}, {83, 7, 129}, {769, 5, 64}, {3, 769, 83}};
    auto typeName = [](int t) { return t == CUDA_R_16F ? "f16" : t == CUDA_R_16BF ? "bf16" : "f32"; };
    int row = 0;
    for (const auto& t : types)
        for (const auto& sh : shapes)
            for (int ops = 0; ops < 4; ++ops, ++row) {
                // Hearth's call is (T, N); the other three check the general column-major GEMM.
                const bool ta = ops == 0 || ops == 2, tb = ops >= 2;
                const float beta = row % 3 == 0 ? 0.0f : row % 3 == 1 ? 1.0f : 0.5f;
                const bool separateC = row % 3 == 2;
                const float alpha = row % 2 ? 1.5f : -0.75f;
                const int pad = ops == 1 ? 0 : 3;
                const int algoIndex = row % 5 - 1;
                QTest::addRow("%s->%s %c%c %dx%dx%d a=%g b=%g%s algo#%d", typeName(t[0]), typeName(t[1]),
                              ta ? 'T' : 'N', tb ? 'T' : 'N', sh[0], sh[1], sh[2], double(alpha), double(beta),
                              separateC ? " C!=D" : "", algoIndex)
                    << t[0] << t[1] << ta << tb << sh[0] << sh[1] << sh[2] << pad << alpha << beta << separateC
                    << algoIndex;
            }
}

void TestCudasimCublasLt::matmul()
{
    QFETCH(int, inType);
    QFETCH(int, outType);
    QFETCH(bool, transA);
    QFETCH(bool, transB);
    QFETCH(int, m);
    QFETCH(int, n);
    QFETCH(int, k);
    QFETCH(int, pad);
    QFETCH(float, alpha);
    QFETCH(float, beta);
    QFETCH(bool, separateC);
    QFETCH(int, algoIndex);
    const int rowsA = transA ? k : m, colsA = transA ? m : k;
    const int rowsB = transB ? n : k, colsB = transB ? k : n;
    const int lda = rowsA + pad, ldb = rowsB + pad, ldc = m + pad;
    const unsigned seed = static_cast<unsigned>(m * 131 + n * 17 + k);
    const std::vector<float> a = randomValues(std::size_t(lda) * colsA, seed),
                             b = randomValues(std::size_t(ldb) * colsB, seed + 1),
                             c = randomValues(std::size_t(ldc) * n, seed + 2);
    const std::size_t outBytes = elemBytes(outType), cBytes = c.size() * outBytes;
    const std::vector<unsigned char> cEncoded = encode(c, outType);
    void* dA = deviceCopy(encode(a, inType));
    void* dB = deviceCopy(encode(b, inType));
    QVERIFY(dA && dB);
    // D (Lt) and R (cublasGemmEx) start as C when C is read in place, else as fresh 0xFF (NaN) bytes.
    const bool inPlace = beta != 0.0f && !separateC;
    void *dD = nullptr, *dR = nullptr, *dC = nullptr;
    QCOMPARE(cudaMalloc(&dD, cBytes), cudaSuccess);
    QCOMPARE(cudaMalloc(&dR, cBytes), cudaSuccess);
    if (inPlace)
        QCOMPARE(cudaMemcpy(dD, cEncoded.data(), cBytes, cudaMemcpyHostToDevice), cudaSuccess);
    if (beta != 0.0f)
        QCOMPARE(cudaMemcpy(dR, cEncoded.data(), cBytes, cudaMemcpyHostToDevice), cudaSuccess);
    if (separateC) {
        dC = deviceCopy(cEncoded);
        QVERIFY(dC);
    }
    void* workspace = nullptr;
    QCOMPARE(cudaMalloc(&workspace, 4 * kMiB), cudaSuccess);
    cudaStream_t s = nullptr;
    QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);

    const LtProblem p(inType, outType, transA, transB, m, n, k, pad, 4 * kMiB);
    QVERIFY(p.ok);
    const std::vector<cublasLtMatmulHeuristicResult_t> algos = p.algos(4);
    QCOMPARE(int(algos.size()), 4);
    const cublasLtMatmulAlgo_t* algo = algoIndex < 0 ? nullptr : &algos[std::size_t(algoIndex)].algo;
    const std::size_t wsBytes = algoIndex < 0 ? 0 : algos[std::size_t(algoIndex)].workspaceSize;
    QCOMPARE(cublasLtMatmul(p.handle, p.desc, &alpha, dA, p.a, dB, p.b, &beta, separateC ? dC : dD, p.c, dD, p.d, algo,
                            wsBytes ? workspace : nullptr, wsBytes, s),
             CUBLAS_STATUS_SUCCESS);

    cublasHandle_t h = nullptr;
    QCOMPARE(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cublasGemmEx(h, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, dA,
                          cudaDataType(inType), lda, dB, cudaDataType(inType), ldb, &beta, dR, cudaDataType(outType),
                          ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
    const std::vector<unsigned char> got = hostCopy(dD, cBytes), viaGemmEx = hostCopy(dR, cBytes);
    QCOMPARE(got.size(), cBytes);

    // The reference: D = alpha op(A) op(B) + beta C in double, column-major.
    const double tolerance = outType == CUDA_R_32F ? 1e-6 : outType == CUDA_R_16F ? 1.0 / 1024 : 1.0 / 128;
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
            const float value = decode(&got[at * outBytes], outType);
            if (!(std::fabs(value - want) <= 1e-6 + tolerance * std::fabs(want)))
                QFAIL(qPrintable(QStringLiteral("D[%1,%2] = %3, want %4").arg(i).arg(j).arg(value).arg(want)));
        }
    // The padding between columns is never written (and never copied from C).
    if (pad > 0 && !inPlace && n > 1)
        for (std::size_t byte = std::size_t(m) * outBytes; byte < std::size_t(ldc) * outBytes; ++byte)
            QCOMPARE(int(got[byte]), 0xFF);
    // The same CPU GEMM as cublasGemmEx: the same bits, padding included (it is NaN or C in both).
    if (inPlace || beta == 0.0f)
        QVERIFY(got == viaGemmEx);
    else
        for (int j = 0; j < n; ++j)
            QVERIFY(std::memcmp(&got[std::size_t(j) * ldc * outBytes], &viaGemmEx[std::size_t(j) * ldc * outBytes],
                                std::size_t(m) * outBytes) == 0);
    // C != D: C is read, not written.
    if (separateC)
        QVERIFY(hostCopy(dC, cBytes) == cEncoded);

    QCOMPARE(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    for (void* ptr : {dA, dB, dC, dD, dR, workspace})
        if (ptr)
            QCOMPARE(cudaFree(ptr), cudaSuccess);
}

void TestCudasimCublasLt::heuristic_data()
{
    QTest::addColumn<qulonglong>("maxWorkspace");  // ~0: the preference left at its default
    QTest::addColumn<int>("requested");
    QTest::addColumn<int>("expected");
    // The simulator's algorithms need 0, 0, 1 MiB and 4 MiB of workspace (runtime/cublaslt.cpp).
    const struct {
        qulonglong cap;
        int available;
    } caps[] = {{~0ull, 2}, {0, 2}, {kMiB - 1, 2}, {kMiB, 3}, {4 * kMiB - 1, 3}, {4 * kMiB, 4}, {1ull << 40, 4}};
    for (const auto& cap : caps)
        for (int requested : {1, 2, 3, 4, 8})
            QTest::addRow("cap=%llu requested=%d", cap.cap, requested)
                << cap.cap << requested << std::min(requested, cap.available);
}

void TestCudasimCublasLt::heuristic()
{
    QFETCH(qulonglong, maxWorkspace);
    QFETCH(int, requested);
    QFETCH(int, expected);
    LtProblem p(CUDA_R_16F, CUDA_R_16F, true, false, 64, 16, 128, 0, 0);
    QVERIFY(p.ok);
    if (maxWorkspace == ~0ull) {  // a fresh preference: cuBLASLt's default cap is 0
        QCOMPARE(cublasLtMatmulPreferenceDestroy(p.pref), CUBLAS_STATUS_SUCCESS);
        QCOMPARE(cublasLtMatmulPreferenceCreate(&p.pref), CUBLAS_STATUS_SUCCESS);
    } else {
        const std::uint64_t cap = maxWorkspace;
        QCOMPARE(cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &cap,
                                                      sizeof cap),
                 CUBLAS_STATUS_SUCCESS);
    }
    // Slots past the returned count stay as the caller left them.
    std::vector<cublasLtMatmulHeuristicResult_t> r(std::size_t(requested) + 1);
    std::memset(r.data(), 0x5A, r.size() * sizeof r[0]);
    const auto untouched = r.back();
    int count = -1;
    QCOMPARE(cublasLtMatmulAlgoGetHeuristic(p.handle, p.desc, p.a, p.b, p.c, p.d, p.pref, requested, r.data(), &count),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(count, expected);
    QVERIFY(std::memcmp(&r.back(), &untouched, sizeof untouched) == 0);
    const std::size_t cap = maxWorkspace == ~0ull ? 0 : maxWorkspace;
    for (int i = 0; i < count; ++i) {
        QCOMPARE(r[i].state, CUBLAS_STATUS_SUCCESS);
        QVERIFY(r[i].workspaceSize <= cap);
        QVERIFY(r[i].wavesCount > 0.0f);
        for (int j = 0; j < i; ++j)
            QVERIFY(std::memcmp(&r[i].algo, &r[j].algo, sizeof r[i].algo) != 0);
        // AlgoCheck agrees with the heuristic, and leaves result.algo alone (as documented).
        cublasLtMatmulHeuristicResult_t check{};
        QCOMPARE(cublasLtMatmulAlgoCheck(p.handle, p.desc, p.a, p.b, p.c, p.d, &r[i].algo, &check),
                 CUBLAS_STATUS_SUCCESS);
        QCOMPARE(check.workspaceSize, r[i].workspaceSize);
        QCOMPARE(check.state, CUBLAS_STATUS_SUCCESS);
    }
}

void TestCudasimCublasLt::algoCheckRefusesForeignAlgos()
{
    LtProblem half(CUDA_R_16F, CUDA_R_16F, true, false, 32, 8, 64, 0, 4 * kMiB);
    LtProblem bf16(CUDA_R_16BF, CUDA_R_16BF, true, false, 32, 8, 64, 0, 4 * kMiB);
    QVERIFY(half.ok && bf16.ok);
    const auto halfAlgos = half.algos(4);
    QCOMPARE(int(halfAlgos.size()), 4);
    cublasLtMatmulHeuristicResult_t result{};
    const cublasLtMatmulAlgo_t zeroed{};
    QCOMPARE(cublasLtMatmulAlgoCheck(half.handle, half.desc, half.a, half.b, half.c, half.d, &zeroed, &result),
             CUBLAS_STATUS_INVALID_VALUE);
    // An algorithm offered for fp16 does not run bf16.
    QCOMPARE(cublasLtMatmulAlgoCheck(bf16.handle, bf16.desc, bf16.a, bf16.b, bf16.c, bf16.d, &halfAlgos[0].algo,
                                     &result),
             CUBLAS_STATUS_INVALID_VALUE);
    cublasLtMatmulAlgo_t unknownId = halfAlgos[0].algo;
    unknownId.data[0] = 99;
    QCOMPARE(cublasLtMatmulAlgoCheck(half.handle, half.desc, half.a, half.b, half.c, half.d, &unknownId, &result),
             CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(cublasLtMatmulAlgoCheck(half.handle, half.desc, half.a, half.b, half.c, half.d, &halfAlgos[0].algo,
                                     nullptr),
             CUBLAS_STATUS_INVALID_VALUE);
    // The same algorithm checks fine for another shape of the same types.
    LtProblem otherShape(CUDA_R_16F, CUDA_R_16F, false, true, 7, 3, 5, 1, 0);
    QVERIFY(otherShape.ok);
    result.algo = halfAlgos[3].algo;
    QCOMPARE(cublasLtMatmulAlgoCheck(otherShape.handle, otherShape.desc, otherShape.a, otherShape.b, otherShape.c,
                                     otherShape.d, &result.algo, &result),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(result.workspaceSize, halfAlgos[3].workspaceSize);
}

void TestCudasimCublasLt::workspaceTooSmallDoesNotRun()
{
    const int m = 16, n = 4, k = 32;
    LtProblem p(CUDA_R_16F, CUDA_R_32F, true, false, m, n, k, 0, 4 * kMiB);
    QVERIFY(p.ok);
    const auto algos = p.algos(4);
    QCOMPARE(int(algos.size()), 4);
    const cublasLtMatmulHeuristicResult_t& big = algos[3];
    QVERIFY(big.workspaceSize > kMiB);
    void* dA = deviceCopy(encode(randomValues(std::size_t(m) * k, 1), CUDA_R_16F));
    void* dB = deviceCopy(encode(randomValues(std::size_t(k) * n, 2), CUDA_R_16F));
    QVERIFY(dA && dB);
    void *dD = nullptr, *workspace = nullptr;
    QCOMPARE(cudaMalloc(&dD, std::size_t(m) * n * 4), cudaSuccess);
    QCOMPARE(cudaMalloc(&workspace, big.workspaceSize), cudaSuccess);
    std::vector<unsigned char> pageable(big.workspaceSize);
    const float alpha = 1.0f, beta = 0.0f;
    auto matmul = [&](void* ws, std::size_t wsBytes) {
        return cublasLtMatmul(p.handle, p.desc, &alpha, dA, p.a, dB, p.b, &beta, dD, p.c, dD, p.d, &big.algo, ws,
                              wsBytes, nullptr);
    };
    QCOMPARE(matmul(workspace, big.workspaceSize - 1), CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(matmul(workspace, 0), CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(matmul(nullptr, big.workspaceSize), CUBLAS_STATUS_INVALID_VALUE);
    QCOMPARE(matmul(pageable.data(), big.workspaceSize), CUBLAS_STATUS_INVALID_VALUE);  // not device memory
    QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
    for (unsigned char byte : hostCopy(dD, std::size_t(m) * n * 4))
        QCOMPARE(int(byte), 0xFF);  // nothing ran
    // Enough workspace: it runs, and every output is a number.
    QCOMPARE(matmul(workspace, big.workspaceSize), CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
    const std::vector<unsigned char> out = hostCopy(dD, std::size_t(m) * n * 4);
    for (std::size_t i = 0; i < out.size(); i += 4)
        QVERIFY(std::isfinite(decode(&out[i], CUDA_R_32F)));
    for (void* ptr : {dA, dB, dD, workspace})
        QCOMPARE(cudaFree(ptr), cudaSuccess);
}

// Each misuse case starts from a valid fp16 8x8x8 (T, N) problem and breaks one thing.
enum Misuse {
    NullHandle,
    ComputeType16F,
    ScaleType16F,
    DescCreateNullOut,
    TransAConj,
    TransABadValue,
    TransAWrongSize,
    EpilogueRelu,
    EpilogueDefault,
    PointerModeDevice,
    UnmodelledDescAttribute,
    GetAttributeNoSizeOut,
    GetAttributeWrongSize,
    LayoutLdBelowRows,
    LayoutType8I,
    LayoutBatchCount2,
    LayoutRowOrder,
    PrefWrongSize,
    HeuristicKMismatch,
    HeuristicMixedInputs,
    HeuristicHalfInBf16Out,
    HeuristicCAndDDiffer,
    HeuristicZeroRequested,
    HeuristicNullPreference,
    MatmulKMismatch,
    MatmulZeroedAlgo,
    MatmulNullAlpha,
    MatmulZeroedLayout,
};

void TestCudasimCublasLt::misuse_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<int>("expected");
    const int invalid = CUBLAS_STATUS_INVALID_VALUE, unsupported = CUBLAS_STATUS_NOT_SUPPORTED;
    QTest::newRow("null handle") << int(NullHandle) << int(CUBLAS_STATUS_NOT_INITIALIZED);
    QTest::newRow("compute type 16F") << int(ComputeType16F) << unsupported;
    QTest::newRow("scale type 16F") << int(ScaleType16F) << unsupported;
    QTest::newRow("desc create, null out") << int(DescCreateNullOut) << invalid;
    QTest::newRow("transa C") << int(TransAConj) << invalid;
    QTest::newRow("transa 7") << int(TransABadValue) << invalid;
    QTest::newRow("transa 8 bytes") << int(TransAWrongSize) << invalid;
    QTest::newRow("epilogue relu") << int(EpilogueRelu) << unsupported;
    QTest::newRow("epilogue default") << int(EpilogueDefault) << int(CUBLAS_STATUS_SUCCESS);
    QTest::newRow("pointer mode device") << int(PointerModeDevice) << unsupported;
    QTest::newRow("bias pointer") << int(UnmodelledDescAttribute) << invalid;
    QTest::newRow("get, size 0, no sizeWritten") << int(GetAttributeNoSizeOut) << invalid;
    QTest::newRow("get transa, 8 bytes") << int(GetAttributeWrongSize) << invalid;
    QTest::newRow("layout ld < rows") << int(LayoutLdBelowRows) << invalid;
    QTest::newRow("layout int8") << int(LayoutType8I) << unsupported;
    QTest::newRow("layout batch 2") << int(LayoutBatchCount2) << unsupported;
    QTest::newRow("layout row order") << int(LayoutRowOrder) << unsupported;
    QTest::newRow("pref cap as uint32") << int(PrefWrongSize) << invalid;
    QTest::newRow("heuristic, k mismatch") << int(HeuristicKMismatch) << invalid;
    QTest::newRow("heuristic, f16 x bf16") << int(HeuristicMixedInputs) << unsupported;
    QTest::newRow("heuristic, f16 -> bf16") << int(HeuristicHalfInBf16Out) << unsupported;
    QTest::newRow("heuristic, C ld != D ld") << int(HeuristicCAndDDiffer) << invalid;
    QTest::newRow("heuristic, 0 requested") << int(HeuristicZeroRequested) << invalid;
    QTest::newRow("heuristic, null preference") << int(HeuristicNullPreference) << invalid;
    QTest::newRow("matmul, k mismatch") << int(MatmulKMismatch) << invalid;
    QTest::newRow("matmul, zeroed algo") << int(MatmulZeroedAlgo) << invalid;
    QTest::newRow("matmul, null alpha") << int(MatmulNullAlpha) << invalid;
    QTest::newRow("matmul, zeroed layout") << int(MatmulZeroedLayout) << invalid;
}

void TestCudasimCublasLt::misuse()
{
    QFETCH(int, which);
    QFETCH(int, expected);
    const int m = 8, n = 8, k = 8;
    LtProblem p(CUDA_R_16F, CUDA_R_16F, true, false, m, n, k, 0, 0);
    QVERIFY(p.ok);
    void* dA = deviceCopy(encode(randomValues(std::size_t(m) * k, 1), CUDA_R_16F));
    void* dB = deviceCopy(encode(randomValues(std::size_t(k) * n, 2), CUDA_R_16F));
    void* dD = nullptr;
    QVERIFY(dA && dB);
    QCOMPARE(cudaMalloc(&dD, std::size_t(m) * n * 2), cudaSuccess);
    const float one = 1.0f, zero = 0.0f;
    auto matmul = [&](cublasLtMatrixLayout_t aDesc, const cublasLtMatmulAlgo_t* algo, const float* alpha) {
        return cublasLtMatmul(p.handle, p.desc, alpha, dA, aDesc, dB, p.b, &zero, dD, p.c, dD, p.d, algo, nullptr, 0,
                              nullptr);
    };
    // A heuristic call that fails must report no algorithms.
    auto heuristic = [&](cublasLtMatrixLayout_t aDesc, cublasLtMatrixLayout_t cDesc, cublasLtMatmulPreference_t pref,
                         int requested) {
        cublasLtMatmulHeuristicResult_t r[4];
        int count = -1;
        const cublasStatus_t s =
            cublasLtMatmulAlgoGetHeuristic(p.handle, p.desc, aDesc, p.b, cDesc, p.d, pref, requested, r, &count);
        return s != CUBLAS_STATUS_SUCCESS && count != 0 ? CUBLAS_STATUS_INTERNAL_ERROR : s;
    };
    auto setDesc = [&](cublasLtMatmulDescAttributes_t attr, const auto& value, std::size_t size) {
        return cublasLtMatmulDescSetAttribute(p.desc, attr, &value, size);
    };
    cublasLtMatrixLayout_t extra = nullptr;  // a layout a case makes
    cublasLtMatmulDesc_t desc = nullptr;
    cublasStatus_t got = CUBLAS_STATUS_INTERNAL_ERROR;
    switch (Misuse(which)) {
    case NullHandle: got = cublasLtMatmul(nullptr, p.desc, &one, dA, p.a, dB, p.b, &zero, dD, p.c, dD, p.d, nullptr,
                                          nullptr, 0, nullptr);
        break;
    case ComputeType16F: got = cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_16F, CUDA_R_16F); break;
    case ScaleType16F: got = cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_16F); break;
    case DescCreateNullOut: got = cublasLtMatmulDescCreate(nullptr, CUBLAS_COMPUTE_32F, CUDA_R_32F); break;
    case TransAConj: got = setDesc(CUBLASLT_MATMUL_DESC_TRANSA, std::int32_t(CUBLAS_OP_C), 4); break;
    case TransABadValue: got = setDesc(CUBLASLT_MATMUL_DESC_TRANSA, std::int32_t(7), 4); break;
    case TransAWrongSize: got = setDesc(CUBLASLT_MATMUL_DESC_TRANSA, std::int64_t(CUBLAS_OP_T), 8); break;
    case EpilogueRelu: got = setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE, std::uint32_t(CUBLASLT_EPILOGUE_RELU), 4); break;
    case EpilogueDefault:
        got = setDesc(CUBLASLT_MATMUL_DESC_EPILOGUE, std::uint32_t(CUBLASLT_EPILOGUE_DEFAULT), 4);
        break;
    case PointerModeDevice:
        got = setDesc(CUBLASLT_MATMUL_DESC_POINTER_MODE, std::int32_t(CUBLASLT_POINTER_MODE_DEVICE), 4);
        break;
    case UnmodelledDescAttribute: got = setDesc(CUBLASLT_MATMUL_DESC_BIAS_POINTER, dD, sizeof dD); break;
    case GetAttributeNoSizeOut:
        got = cublasLtMatmulDescGetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, nullptr, 0, nullptr);
        break;
    case GetAttributeWrongSize: {
        std::int64_t value = 0;
        std::size_t written = 0;
        got = cublasLtMatmulDescGetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &value, sizeof value, &written);
        break;
    }
    case LayoutLdBelowRows: got = cublasLtMatrixLayoutCreate(&extra, CUDA_R_16F, 8, 8, 7); break;
    case LayoutType8I: got = cublasLtMatrixLayoutCreate(&extra, CUDA_R_8I, 8, 8, 8); break;
    case LayoutBatchCount2: {
        const std::int32_t batch = 2;
        got = cublasLtMatrixLayoutSetAttribute(p.a, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch, sizeof batch);
        break;
    }
    case LayoutRowOrder: {
        const std::int32_t order = CUBLASLT_ORDER_ROW;
        got = cublasLtMatrixLayoutSetAttribute(p.a, CUBLASLT_MATRIX_LAYOUT_ORDER, &order, sizeof order);
        break;
    }
    case PrefWrongSize: {
        const std::uint32_t cap = 1024;
        got = cublasLtMatmulPreferenceSetAttribute(p.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &cap, sizeof cap);
        break;
    }
    case HeuristicKMismatch:
        QCOMPARE(cublasLtMatrixLayoutCreate(&extra, CUDA_R_16F, k + 1, m, k + 1), CUBLAS_STATUS_SUCCESS);
        got = heuristic(extra, p.c, p.pref, 4);
        break;
    case HeuristicMixedInputs:
        QCOMPARE(cublasLtMatrixLayoutCreate(&extra, CUDA_R_16BF, k, m, k), CUBLAS_STATUS_SUCCESS);
        got = heuristic(extra, p.c, p.pref, 4);
        break;
    case HeuristicHalfInBf16Out:
        QCOMPARE(cublasLtMatrixLayoutCreate(&extra, CUDA_R_16BF, m, n, m), CUBLAS_STATUS_SUCCESS);
    {
        cublasLtMatmulHeuristicResult_t r[4];
        int count = -1;
        got = cublasLtMatmulAlgoGetHeuristic(p.handle, p.desc, p.a, p.b, extra, extra, p.pref, 4, r, &count);
        QCOMPARE(count, 0);
        break;
    }
    case HeuristicCAndDDiffer:
        QCOMPARE(cublasLtMatrixLayoutCreate(&extra, CUDA_R_16F, m, n, m + 1), CUBLAS_STATUS_SUCCESS);
        got = heuristic(p.a, extra, p.pref, 4);
        break;
    case HeuristicZeroRequested: got = heuristic(p.a, p.c, p.pref, 0); break;
    case HeuristicNullPreference: got = heuristic(p.a, p.c, nullptr, 4); break;
    case MatmulKMismatch:
        QCOMPARE(cublasLtMatrixLayoutCreate(&extra, CUDA_R_16F, k - 1, m, k), CUBLAS_STATUS_SUCCESS);
        got = matmul(extra, nullptr, &one);
        break;
    case MatmulZeroedAlgo: {
        const cublasLtMatmulAlgo_t zeroed{};
        got = matmul(p.a, &zeroed, &one);
        break;
    }
    case MatmulNullAlpha: got = matmul(p.a, nullptr, nullptr); break;
    case MatmulZeroedLayout: {
        cublasLtMatrixLayoutOpaque_t zeroed{};
        got = matmul(&zeroed, nullptr, &one);
        break;
    }
    }
    QCOMPARE(int(got), expected);
    if (extra)
        QCOMPARE(cublasLtMatrixLayoutDestroy(extra), CUBLAS_STATUS_SUCCESS);
    if (desc)
        QCOMPARE(cublasLtMatmulDescDestroy(desc), CUBLAS_STATUS_SUCCESS);
    // No failed call queued work: D is still the fresh allocation's 0xFF bytes.
    QCOMPARE(cudaDeviceSynchronize(), cudaSuccess);
    if (expected != CUBLAS_STATUS_SUCCESS)
        for (unsigned char byte : hostCopy(dD, std::size_t(m) * n * 2))
            QCOMPARE(int(byte), 0xFF);
    for (void* ptr : {dA, dB, dD})
        QCOMPARE(cudaFree(ptr), cudaSuccess);
}

void TestCudasimCublasLt::streamOrdered()
{
    // Inputs copied in, the GEMM and the result copied out, all queued on one stream: the event
    // after them completes only after all three ran, in that order.
    const int m = 37, n = 5, k = 48;
    LtProblem p(CUDA_R_32F, CUDA_R_32F, true, false, m, n, k, 0, kMiB);
    QVERIFY(p.ok);
    const auto algos = p.algos(4);
    QCOMPARE(int(algos.size()), 3);
    const std::vector<float> a = randomValues(std::size_t(k) * m, 5), b = randomValues(std::size_t(k) * n, 6);
    float *hA = nullptr, *hB = nullptr, *hD = nullptr;
    QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&hA), a.size() * 4), cudaSuccess);
    QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&hB), b.size() * 4), cudaSuccess);
    QCOMPARE(cudaMallocHost(reinterpret_cast<void**>(&hD), std::size_t(m) * n * 4), cudaSuccess);
    std::memcpy(hA, a.data(), a.size() * 4);
    std::memcpy(hB, b.data(), b.size() * 4);
    std::memset(hD, 0, std::size_t(m) * n * 4);
    void *dA = nullptr, *dB = nullptr, *dD = nullptr, *workspace = nullptr;
    QCOMPARE(cudaMalloc(&dA, a.size() * 4), cudaSuccess);
    QCOMPARE(cudaMalloc(&dB, b.size() * 4), cudaSuccess);
    QCOMPARE(cudaMalloc(&dD, std::size_t(m) * n * 4), cudaSuccess);
    QCOMPARE(cudaMalloc(&workspace, kMiB), cudaSuccess);
    cudaStream_t s = nullptr;
    cudaEvent_t done = nullptr;
    QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    QCOMPARE(cudaEventCreate(&done), cudaSuccess);
    const float alpha = 1.0f, beta = 0.0f;
    QCOMPARE(cudaMemcpyAsync(dA, hA, a.size() * 4, cudaMemcpyHostToDevice, s), cudaSuccess);
    QCOMPARE(cudaMemcpyAsync(dB, hB, b.size() * 4, cudaMemcpyHostToDevice, s), cudaSuccess);
    QCOMPARE(cublasLtMatmul(p.handle, p.desc, &alpha, dA, p.a, dB, p.b, &beta, dD, p.c, dD, p.d, &algos[2].algo,
                            workspace, kMiB, s),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaMemcpyAsync(hD, dD, std::size_t(m) * n * 4, cudaMemcpyDeviceToHost, s), cudaSuccess);
    QCOMPARE(cudaEventRecord(done, s), cudaSuccess);
    QCOMPARE(cudaEventSynchronize(done), cudaSuccess);
    QCOMPARE(cudaEventQuery(done), cudaSuccess);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double want = 0;  // exact in fp32 for these values
            for (int l = 0; l < k; ++l)
                want += double(a[l + std::size_t(i) * k]) * b[l + std::size_t(j) * k];
            QCOMPARE(double(hD[i + std::size_t(j) * m]), want);
        }
    QCOMPARE(cudaEventDestroy(done), cudaSuccess);
    QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    for (void* ptr : {dA, dB, dD, workspace})
        QCOMPARE(cudaFree(ptr), cudaSuccess);
    for (float* ptr : {hA, hB, hD})
        QCOMPARE(cudaFreeHost(ptr), cudaSuccess);
}

void TestCudasimCublasLt::graphCaptureAndReplay()
{
    // D += alpha A^T B captured once (with the algorithm that needs the most workspace) and
    // replayed three times: D = C0 + 3 alpha A^T B, exactly in fp32 for these values.
    const int m = 19, n = 6, k = 40, replays = 3;
    LtProblem p(CUDA_R_32F, CUDA_R_32F, true, false, m, n, k, 0, 4 * kMiB);
    QVERIFY(p.ok);
    const auto algos = p.algos(4);
    QCOMPARE(int(algos.size()), 4);
    const cublasLtMatmulHeuristicResult_t& chosen = algos[3];
    const std::vector<float> a = randomValues(std::size_t(k) * m, 7), b = randomValues(std::size_t(k) * n, 8),
                             c0 = randomValues(std::size_t(m) * n, 9);
    void* dA = deviceCopy(encode(a, CUDA_R_32F));
    void* dB = deviceCopy(encode(b, CUDA_R_32F));
    void* dD = deviceCopy(encode(c0, CUDA_R_32F));
    void* workspace = nullptr;
    QVERIFY(dA && dB && dD);
    QCOMPARE(cudaMalloc(&workspace, chosen.workspaceSize), cudaSuccess);
    cudaStream_t s = nullptr;
    QCOMPARE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    const float alpha = 0.5f, beta = 1.0f;
    cudaGraph_t graph = nullptr;
    QCOMPARE(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    QCOMPARE(cublasLtMatmul(p.handle, p.desc, &alpha, dA, p.a, dB, p.b, &beta, dD, p.c, dD, p.d, &chosen.algo,
                            workspace, chosen.workspaceSize, s),
             CUBLAS_STATUS_SUCCESS);
    QCOMPARE(cudaStreamEndCapture(s, &graph), cudaSuccess);
    std::size_t nodes = 0;
    QCOMPARE(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
    QCOMPARE(nodes, std::size_t(1));
    // Capturing ran nothing.
    QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
    QVERIFY(hostCopy(dD, c0.size() * 4) == encode(c0, CUDA_R_32F));
    cudaGraphExec_t exec = nullptr;
    QCOMPARE(cudaGraphInstantiateWithFlags(&exec, graph, 0), cudaSuccess);
    for (int r = 0; r < replays; ++r)
        QCOMPARE(cudaGraphLaunch(exec, s), cudaSuccess);
    QCOMPARE(cudaStreamSynchronize(s), cudaSuccess);
    const std::vector<unsigned char> out = hostCopy(dD, c0.size() * 4);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double dot = 0;
            for (int l = 0; l < k; ++l)
                dot += double(a[l + std::size_t(i) * k]) * b[l + std::size_t(j) * k];
            const std::size_t at = i + std::size_t(j) * m;
            QCOMPARE(double(decode(&out[at * 4], CUDA_R_32F)), c0[at] + replays * alpha * dot);
        }
    QCOMPARE(cudaGraphExecDestroy(exec), cudaSuccess);
    QCOMPARE(cudaGraphDestroy(graph), cudaSuccess);
    QCOMPARE(cudaStreamDestroy(s), cudaSuccess);
    for (void* ptr : {dA, dB, dD, workspace})
        QCOMPARE(cudaFree(ptr), cudaSuccess);
}

QTEST_APPLESS_MAIN(TestCudasimCublasLt)
#include "tst_cudasim_cublaslt.moc"
