// Decode attention on both kernel families, against core's cpu::pagedAttention on the same
// random cache (tst_gpu_paged_attention covers the head_dim x GQA x layout grid at short
// contexts). The CUDA-core kernels (DecodeAttentionImpl::Simt) at the shapes and corner cases the
// rewrite for bandwidth introduced: batch-1 contexts that pick each partition size (64, 128, 256
// tokens) up to 32K tokens with Qwen2.5-7B's GQA 7 and head_dim 128; a cache whose rows are only
// 4-byte aligned (the fallback to 4-byte loads); a context length past maxContext (clamped, not
// read past the block table); an empty context in a split batch (zeros); and batches of 40 and
// more sequences, whose blocks take bigger query-head groups than batch 1's (variants for 1-2,
// 3-4, 5-7 and 8 heads). The tensor-core kernel (DecodeAttentionImpl::TensorCore) over fp16/bf16,
// head_dim 64/80/96/128, GQA 1/4/7/8/16 and 20 (two blocks per kv head), contexts 1 to 4097 with
// partly filled last pages (single partition and split), several lengths in one launch, empty
// contexts, batch 8, 7-token pages, clamped lengths and the 7B shape at 32K; its refusal of a
// cache off 16 bytes; and which kernel Auto picks (bit-identical to the forced one). Tolerances
// are toleranceFor's, as for the tensor-core prefill (P is rounded to the cache type there too).
#include <QtTest>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "gpu_test_util.h"
#include "paged_cache_fixture.h"

using namespace gputest;
namespace hk = hearth::kernels;

// GPU_OK for runCase, which returns the output bits.
#define RUN_OK(expr)                                                                                 \
    do {                                                                                             \
        const ::hearth::kernels::KernelStatus runStatus_ = (expr);                                   \
        if (!runStatus_.ok) {                                                                        \
            QTest::qFail(runStatus_.describe().c_str(), __FILE__, __LINE__);                         \
            return {};                                                                               \
        }                                                                                            \
    } while (0)

namespace {

struct Case {
    ElemType type = ElemType::F16;
    std::int64_t headDim = 128;
    std::int64_t nKvHeads = 2;
    std::int64_t ratio = 7;
    std::vector<int> lengths;       // per sequence, as the cache holds them
    std::vector<int> contextLens;   // what the kernel is told (may exceed maxContext)
    std::int64_t maxContext = 0;
    std::int64_t shiftElements = 0; // cache uploaded this many elements past a 256-byte boundary
    std::int64_t pageTokens = 16;
    hk::DecodeAttentionImpl impl = hk::DecodeAttentionImpl::Simt;
    bool expectRefused = false;     // the launch must fail, naming the cache's alignment
    bool inGraph = false;           // captured on a stream (as the engine does) and replayed twice
};

// The launch captured into a CUDA graph on a fresh stream in the engine's capture mode, then the
// graph replayed twice: the launch must make no call capture forbids, and the grid and kernel
// choice must not depend on the lengths, which the caller may change between capture and replay.
KernelStatus launchInGraph(const hk::DecodeAttentionArgs& args, const std::function<KernelStatus()>& beforeReplay)
{
    const auto cuda = [](cudaError_t e, const char* what) {
        return e == cudaSuccess ? KernelStatus::success() : KernelStatus::failure(what, cudaGetErrorString(e), __FILE__, __LINE__);
    };
    cudaStream_t stream = nullptr;
    KernelStatus st = cuda(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    if (!st.ok)
        return st;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    st = cuda(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    if (st.ok) {
        const KernelStatus captured = hk::pagedAttentionDecode(args, stream);
        st = cuda(cudaStreamEndCapture(stream, &graph), "cudaStreamEndCapture");
        if (!captured.ok)
            st = captured;
    }
    if (st.ok)
        st = cuda(cudaGraphInstantiateWithFlags(&exec, graph, 0), "cudaGraphInstantiateWithFlags");
    if (st.ok)
        st = beforeReplay();
    for (int i = 0; i < 2 && st.ok; ++i) {
        st = cuda(cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
        if (st.ok)
            st = cuda(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }
    if (exec)
        cudaGraphExecDestroy(exec);
    if (graph)
        cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    return st;
}

// Runs the decode kernel on `c`, compares with the CPU reference over min(len, maxContext) and
// returns the output's bits (empty after a failure).
std::vector<std::uint16_t> runCase(const Case& k, std::uint32_t seed)
{
    PagedCacheFixture c;
    c.type = k.type;
    c.layout = 0;
    c.pageTokens = k.pageTokens;
    c.nKvHeads = k.nKvHeads;
    c.headDim = k.headDim;
    c.nLayers = 1;  // 32K contexts: keep the host copy small
    c.layer = 0;
    std::mt19937 rng(seed);
    c.build(rng, k.lengths, 1);
    RUN_OK(c.dTables.upload(c.tables));
    const auto bits = encode(c.cache, c.type);
    DeviceBuffer dCache;
    RUN_OK(dCache.alloc((bits.size() + static_cast<std::size_t>(k.shiftElements)) * 2));
    auto* base = dCache.as<std::uint16_t>() + k.shiftElements;
    RUN_OK(hk::copyToDevice(base, bits.data(), bits.size() * 2));
    hk::PagedKv paged = c.paged();
    paged.kCache = base + c.kOffset();
    paged.vCache = base + c.vOffset();

    const auto nSeqs = static_cast<std::int64_t>(k.lengths.size());
    const std::int64_t nQHeads = k.nKvHeads * k.ratio;
    const std::int64_t qStride = (nQHeads + 2 * k.nKvHeads) * k.headDim;
    const auto q = randomValues(rng, static_cast<std::size_t>(nSeqs * qStride), -4.0f, 4.0f, c.type);
    const float scale = 1.0f / std::sqrt(static_cast<float>(k.headDim));
    if (k.maxContext > c.maxPagesPerSeq * c.pageTokens) {
        QTest::qFail("maxContext beyond the block table", __FILE__, __LINE__);
        return {};
    }

    DeviceBuffer dQ, dOut, dCtx, dWork;
    RUN_OK(dQ.upload(encode(q, c.type)));
    const std::vector<std::uint16_t> sentinel(static_cast<std::size_t>(nSeqs * nQHeads * k.headDim), 0x7777);
    RUN_OK(dOut.upload(sentinel));
    RUN_OK(dCtx.upload(k.contextLens));
    const std::size_t workBytes = hk::decodeAttentionWorkspaceBytes(nSeqs, nQHeads, k.headDim, k.maxContext);
    RUN_OK(dWork.alloc(workBytes));
    hk::DecodeAttentionArgs args;
    args.q = dQ.get();
    args.out = dOut.get();
    args.qStride = qStride;
    args.blockTables = c.dTables.as<std::int32_t>();
    args.maxPagesPerSeq = c.maxPagesPerSeq;
    args.contextLens = dCtx.as<std::int32_t>();
    args.nSeqs = nSeqs;
    args.nQHeads = nQHeads;
    args.maxContext = k.maxContext;
    args.scale = scale;
    args.cache = paged;
    args.workspace = dWork.get();
    args.workspaceBytes = workBytes;
    args.impl = k.impl;
    if (k.expectRefused) {
        const KernelStatus refused = hk::pagedAttentionDecode(args, nullptr);
        if (refused.ok || refused.describe().find("16-byte aligned") == std::string::npos)
            QTest::qFail(("expected a refusal naming the alignment, got: " + refused.describe()).c_str(), __FILE__,
                         __LINE__);
        return {};
    }
    if (k.inGraph) {
        // Captured while the device holds other lengths (1 token each), replayed with the real ones
        // (written in place: the graph holds the buffer's address).
        const std::vector<std::int32_t> ones(k.contextLens.size(), 1);
        const std::size_t lenBytes = ones.size() * sizeof(std::int32_t);
        RUN_OK(hk::copyToDevice(dCtx.get(), ones.data(), lenBytes));
        RUN_OK(launchInGraph(args, [&] { return hk::copyToDevice(dCtx.get(), k.contextLens.data(), lenBytes); }));
    } else {
        RUN_OK(hk::pagedAttentionDecode(args, nullptr));
    }
    std::vector<std::uint16_t> gotBits(sentinel.size());
    RUN_OK(dOut.download(gotBits));

    std::vector<float> ref(gotBits.size(), 0.0f);
    for (std::int64_t s = 0; s < nSeqs; ++s) {
        const std::int64_t n = std::min<std::int64_t>(k.contextLens[static_cast<std::size_t>(s)], k.maxContext);
        if (n <= 0)
            continue;  // zeros
        for (std::int64_t h = 0; h < nQHeads; ++h)
            c.reference(q.data() + s * qStride + h * k.headDim, s, h / k.ratio, n, scale,
                        ref.data() + (s * nQHeads + h) * k.headDim);
    }
    const Diff d = compare(::gputest::decode(gotBits, c.type), ref, toleranceFor(c.type, rms(ref)));
    if (d.nBad != 0 || !(d.nmse <= toleranceFor(c.type, rms(ref)).nmse)) {
        QTest::qFail(d.text.c_str(), __FILE__, __LINE__);
        return {};
    }
    return gotBits;
}

// One tensor-core case: `nSeqs` sequences, the first of `context` tokens, the others shorter
// (every third one empty), the grid sized for maxContext = context.
Case tensorCoreCase(ElemType type, int headDim, int ratio, int context, int nSeqs)
{
    Case k;
    k.type = type;
    k.headDim = headDim;
    k.nKvHeads = 2;
    k.ratio = ratio;
    for (int s = 0; s < nSeqs; ++s) {
        const int len = s == 0 ? context : (s % 3 == 2 ? 0 : 1 + (s * 389) % context);
        k.lengths.push_back(std::max(len, 1));
        k.contextLens.push_back(len);
    }
    k.maxContext = context;
    k.impl = hk::DecodeAttentionImpl::TensorCore;
    return k;
}

std::string shapeName(ElemType type, int headDim, int ratio, int context)
{
    return std::string(typeName(type)) + " hd " + std::to_string(headDim) + " gqa " + std::to_string(ratio) + " ctx " +
           std::to_string(context);
}

}  // namespace

class TestGpuDecodeAttention : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { GPU_REQUIRE_DEVICE(); }

    // First, so that the process's first tensor-core launch (the device check, the shared-memory
    // attribute) happens inside a capture, as it may in the engine (its warm-up decode is short).
    void tensorCoreInGraph()
    {
        Case k = tensorCoreCase(ElemType::BF16, 128, 7, 3000, 3);
        k.nKvHeads = 4;
        k.inGraph = true;
        k.impl = hk::DecodeAttentionImpl::Auto;  // the engine's choice at 7B's shape
        runCase(k, 3950u);
        k.impl = hk::DecodeAttentionImpl::TensorCore;
        k.maxContext = 200;  // one partition, direct write
        k.lengths = {200, 17, 1};
        k.contextLens = {200, 17, 0};
        runCase(k, 3951u);
    }

    void longContexts_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("context");
        for (int t : {0, 1})
            for (int context : {257, 1000, 5000, 9000, 32768}) {
                const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " ctx " + std::to_string(context) +
                                         " partition " + std::to_string(hk::decodeAttentionPartitionTokens(1, context));
                QTest::newRow(name.c_str()) << t << context;
            }
    }

    // Batch 1 at 7B's GQA (7 query heads per kv head), head_dim 128; the grid is sized for a
    // maxContext 100 tokens beyond the sequence, as a captured graph's would be.
    void longContexts()
    {
        QFETCH(int, type);
        QFETCH(int, context);
        Case k;
        k.type = static_cast<ElemType>(type);
        k.lengths = {context + 100};
        k.contextLens = {context};
        k.maxContext = context + 100;
        runCase(k, 900u + static_cast<unsigned>(context + type));
    }

    void unalignedCache_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("context");
        for (int t : {0, 1})
            for (int headDim : {64, 80, 96, 128})
                for (int context : {100, 700}) {
                    const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " hd " +
                                             std::to_string(headDim) + " ctx " + std::to_string(context);
                    QTest::newRow(name.c_str()) << t << headDim << context;
                }
    }

    // K/V rows start 4 bytes past a 16-byte boundary: the 4-byte-load path must give the same.
    void unalignedCache()
    {
        QFETCH(int, type);
        QFETCH(int, headDim);
        QFETCH(int, context);
        Case k;
        k.type = static_cast<ElemType>(type);
        k.headDim = headDim;
        k.nKvHeads = 2;
        k.ratio = 12;  // two group chunks per kv head
        k.lengths = {context, context / 3 + 1};
        k.contextLens = {context, context / 3 + 1};
        k.maxContext = context;
        k.shiftElements = 2;
        runCase(k, 1300u + static_cast<unsigned>(headDim + context + type));
    }

    // A length above maxContext is clamped to it: the table only addresses maxContext tokens
    // (the last column here is -1, which memcheck would flag if read).
    void contextBeyondMaxContext()
    {
        Case k;
        k.lengths = {600, 40};
        k.contextLens = {600 + 333, 40};
        k.maxContext = 600;
        runCase(k, 1700u);
        k.lengths = {200};
        k.contextLens = {250};
        k.maxContext = 200;  // single-partition (direct) path
        runCase(k, 1701u);
    }

    // The non-16-byte path of the kernel for big query-head groups (long contexts, where each
    // block takes 3-4 of the 7 query heads of its kv head).
    void unalignedCacheLongContext()
    {
        for (int t : {0, 1}) {
            Case k;
            k.type = static_cast<ElemType>(t);
            k.lengths = {5000};
            k.contextLens = {5000};
            k.maxContext = 5000;
            k.shiftElements = 2;
            runCase(k, 1400u + static_cast<unsigned>(t));
        }
    }

    // A big batch: blocks enough that each takes 3 of the 7 query heads (not 1 or 2 as at batch
    // 1), both in one partition and split, with lengths from 0 to the maximum.
    void largeBatch_data()
    {
        QTest::addColumn<int>("maxContext");
        QTest::newRow("direct") << 256;
        QTest::newRow("split") << 300;
    }

    void largeBatch()
    {
        QFETCH(int, maxContext);
        Case k;
        k.type = ElemType::BF16;
        for (int s = 0; s < 40; ++s) {
            const int len = s == 3 ? 0 : 1 + (s * 97) % maxContext;
            k.lengths.push_back(std::max(len, 1));
            k.contextLens.push_back(len);
        }
        k.maxContext = maxContext;
        runCase(k, 1900u + static_cast<unsigned>(maxContext));
    }

    // Batches with blocks enough that a block takes all 7 or 8 query heads of its kv head (the
    // 7-head kernel variant and the 8-head one), split and in one partition.
    void bigGroups_data()
    {
        QTest::addColumn<int>("ratio");
        QTest::addColumn<int>("nSeqs");
        QTest::addColumn<int>("maxContext");
        QTest::newRow("gqa 7 split") << 7 << 40 << 2000;
        QTest::newRow("gqa 8 split") << 8 << 40 << 2000;
        QTest::newRow("gqa 8 direct") << 8 << 140 << 64;
    }

    void bigGroups()
    {
        QFETCH(int, ratio);
        QFETCH(int, nSeqs);
        QFETCH(int, maxContext);
        Case k;
        k.nKvHeads = 1;
        k.ratio = ratio;
        for (int s = 0; s < nSeqs; ++s) {
            const int len = s == 0 ? maxContext : 1 + (s * 211) % maxContext;  // the table spans maxContext
            k.lengths.push_back(len);
            k.contextLens.push_back(len);
        }
        k.maxContext = maxContext;
        runCase(k, 2000u + static_cast<unsigned>(ratio * 7 + nSeqs + maxContext));
    }

    // An empty sequence inside a split batch gives zeros, the others their attention.
    void emptyContextInSplitBatch()
    {
        Case k;
        k.type = ElemType::BF16;
        k.lengths = {1, 700, 1};
        k.contextLens = {0, 700, 1};
        k.maxContext = 700;
        runCase(k, 1800u);
    }

    void tensorCoreShapes_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("ratio");
        QTest::addColumn<int>("context");
        for (int t : {0, 1})
            for (int headDim : {64, 80, 96, 128})
                for (int ratio : {1, 4, 7, 8, 16})
                    for (int context : {1, 17, 83, 769})
                        QTest::newRow(shapeName(static_cast<ElemType>(t), headDim, ratio, context).c_str())
                            << t << headDim << ratio << context;
    }

    // Every head_dim and GQA group one WMMA tile takes, in one partition (1, 17, 83 tokens: a
    // warp with one partly filled tile, the others with none) and split (769: three sequences,
    // one of them empty, the last partition partly filled).
    void tensorCoreShapes()
    {
        QFETCH(int, type);
        QFETCH(int, headDim);
        QFETCH(int, ratio);
        QFETCH(int, context);
        const Case k = tensorCoreCase(static_cast<ElemType>(type), headDim, ratio, context, context > 256 ? 3 : 1);
        runCase(k, 3000u + static_cast<unsigned>(type * 7919 + headDim * 31 + ratio * 101 + context));
    }

    void tensorCoreLong_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("ratio");
        for (int t : {0, 1})
            for (int headDim : {80, 128})
                for (int ratio : {7, 16})
                    QTest::newRow(shapeName(static_cast<ElemType>(t), headDim, ratio, 4097).c_str())
                        << t << headDim << ratio;
    }

    // 4097 tokens (256-token partitions, all four warps on four tiles each, one token in the last
    // partition) next to a shorter sequence.
    void tensorCoreLong()
    {
        QFETCH(int, type);
        QFETCH(int, headDim);
        QFETCH(int, ratio);
        const Case k = tensorCoreCase(static_cast<ElemType>(type), headDim, ratio, 4097, 2);
        runCase(k, 3500u + static_cast<unsigned>(type * 7 + headDim + ratio));
    }

    void tensorCoreBatch_data()
    {
        QTest::addColumn<int>("type");
        QTest::addColumn<int>("maxContext");
        for (int t : {0, 1})
            for (int maxContext : {200, 1000}) {
                const std::string name = std::string(typeName(static_cast<ElemType>(t))) + " maxContext " +
                                         std::to_string(maxContext);
                QTest::newRow(name.c_str()) << t << maxContext;
            }
    }

    // Batch 8 at GQA 7 with lengths from 0 to maxContext, in one partition and split.
    void tensorCoreBatch()
    {
        QFETCH(int, type);
        QFETCH(int, maxContext);
        const Case k = tensorCoreCase(static_cast<ElemType>(type), 128, 7, maxContext, 8);
        runCase(k, 3700u + static_cast<unsigned>(type + maxContext));
    }

    // Corners of the tensor-core kernel: more query heads than one tile (GQA 20: two blocks per
    // kv head of 10), 7-token pages (tiles span pages), a length past maxContext (clamped), the
    // engine's layout with 28 heads over 4 (the 7B shape) at 32K.
    void tensorCoreCorners()
    {
        Case k = tensorCoreCase(ElemType::BF16, 64, 20, 600, 2);
        runCase(k, 3800u);
        k = tensorCoreCase(ElemType::F16, 96, 4, 500, 3);
        k.pageTokens = 7;
        runCase(k, 3801u);
        k = tensorCoreCase(ElemType::F16, 128, 7, 600, 2);
        k.lengths = {600, 40};
        k.contextLens = {600 + 333, 40};
        runCase(k, 3802u);
        k = tensorCoreCase(ElemType::BF16, 128, 7, 32768, 1);
        k.nKvHeads = 4;
        k.lengths = {32768 + 100};
        k.maxContext = 32768 + 100;
        runCase(k, 3803u);
    }

    // Forced onto the tensor cores, a cache whose rows are off 16 bytes is refused, not misread.
    void tensorCoreRefusesUnalignedCache()
    {
        Case k = tensorCoreCase(ElemType::F16, 128, 7, 300, 1);
        k.shiftElements = 2;
        k.expectRefused = true;
        runCase(k, 3900u);
    }

    // Auto takes the tensor cores for GQA 4+ from 2048 context tokens in the batch and the
    // CUDA-core kernels otherwise, or for a cache off 16 bytes: its output is bit-identical to
    // the kernel it should have picked (each kernel is deterministic). Run with
    // HEARTH_DECODE_ATTN=simt or =tc, the same checks show the override.
    void autoPicksKernel()
    {
        const QByteArray forced = qgetenv("HEARTH_DECODE_ATTN");
        struct Pick {
            Case k;
            hk::DecodeAttentionImpl expected;
        };
        std::vector<Pick> picks;
        picks.push_back({tensorCoreCase(ElemType::BF16, 128, 7, 2500, 1), hk::DecodeAttentionImpl::TensorCore});
        picks.push_back({tensorCoreCase(ElemType::F16, 64, 4, 300, 8), hk::DecodeAttentionImpl::TensorCore});
        picks.push_back({tensorCoreCase(ElemType::BF16, 128, 7, 1500, 1), hk::DecodeAttentionImpl::Simt});
        picks.push_back({tensorCoreCase(ElemType::BF16, 128, 2, 2500, 1), hk::DecodeAttentionImpl::Simt});
        Pick unaligned{tensorCoreCase(ElemType::BF16, 128, 7, 2500, 1), hk::DecodeAttentionImpl::Simt};
        unaligned.k.shiftElements = 2;
        picks.push_back(unaligned);
        for (std::size_t i = 0; i < picks.size(); ++i) {
            Case k = picks[i].k;
            const auto seed = 4000u + static_cast<unsigned>(i);
            k.impl = hk::DecodeAttentionImpl::Auto;
            const auto got = runCase(k, seed);
            k.impl = picks[i].expected;
            if (forced == "simt" || (forced == "tc" && k.shiftElements == 0))
                k.impl = forced == "simt" ? hk::DecodeAttentionImpl::Simt : hk::DecodeAttentionImpl::TensorCore;
            const hk::DecodeAttentionImpl expected = k.impl;
            const auto want = runCase(k, seed);
            QVERIFY(!got.empty() && !want.empty());
            QVERIFY2(got == want, ("case " + std::to_string(i) + ": Auto is not the expected kernel").c_str());
            k.impl = expected == hk::DecodeAttentionImpl::Simt ? hk::DecodeAttentionImpl::TensorCore
                                                                : hk::DecodeAttentionImpl::Simt;
            if (k.shiftElements == 0)  // the kernels differ in their roundings: the check can tell them apart
                QVERIFY2(runCase(k, seed) != want, ("case " + std::to_string(i) + ": kernels agree bitwise").c_str());
        }
    }
};

QTEST_APPLESS_MAIN(TestGpuDecodeAttention)
#include "tst_gpu_decode_attention.moc"
