// The launchers' argument checks, which run before any CUDA call and so need no device: bad
// shapes, dtypes and sizes come back as a failed KernelStatus naming the condition and the
// file:line, never as a launch. Runs everywhere the CUDA backend is built (CI included).
#include <QtTest>

#include "gpu_test_util.h"

using namespace gputest;
namespace hk = hearth::kernels;

namespace {

// A non-null, suitably aligned address the checks accept; never dereferenced (they refuse first).
void* fakePointer() { return reinterpret_cast<void*>(std::uintptr_t{4096}); }

void expectRefused(const KernelStatus& s, const char* fragment)
{
    QVERIFY2(!s.ok, "the launcher accepted bad arguments");
    QVERIFY2(s.message.find(fragment) != std::string::npos, s.describe().c_str());
    QVERIFY2(s.file.find("kernels/") != std::string::npos && s.line > 0, s.describe().c_str());
}

hk::PagedKv validCache(std::int64_t headDim)
{
    hk::PagedKv c;
    c.kCache = c.vCache = fakePointer();
    c.pageStride = 2 * 16 * headDim;
    c.tokenStride = headDim;
    c.headStride = 16 * headDim;
    c.pageTokens = 16;
    c.nKvHeads = 1;
    c.headDim = headDim;
    return c;
}

}  // namespace

class TestGpuLaunchChecks : public QObject {
    Q_OBJECT

private slots:
    void describeNamesCallAndPlace()
    {
        const KernelStatus s = KernelStatus::failure("cudaMalloc(&p, n)", "out of memory", "kernels/x.cu", 12);
        QCOMPARE(QString::fromStdString(s.describe()), QStringLiteral("cudaMalloc(&p, n) failed: out of memory (kernels/x.cu:12)"));
        QVERIFY(KernelStatus::success().ok);
    }

    void gemvRows()
    {
        hk::GemvArgs a;
        a.weight = a.x = fakePointer();
        a.y = fakePointer();
        a.outDim = a.inDim = 8;
        a.nRows = 9;
        expectRefused(hk::gemv(a, nullptr), "1 to 8 rows");
        a.nRows = 0;
        expectRefused(hk::gemv(a, nullptr), "1 to 8 rows");
        a.nRows = 1;
        a.type = ElemType::F32;
        expectRefused(hk::gemv(a, nullptr), "fp16 or bf16");
    }

    void attentionHeadDimAndGqa()
    {
        hk::DecodeAttentionArgs d;
        d.q = d.out = fakePointer();
        d.nQHeads = 4;
        d.cache = validCache(112);
        expectRefused(hk::pagedAttentionDecode(d, nullptr), "head_dim");
        d.cache = validCache(128);
        d.cache.nKvHeads = 3;
        expectRefused(hk::pagedAttentionDecode(d, nullptr), "multiple of kv heads");

        hk::PrefillAttentionArgs p;
        p.nQHeads = 4;
        p.cache = validCache(128);
        p.cache.headStride = 16 * 128 + 1;
        expectRefused(hk::pagedAttentionPrefill(p, nullptr), "even");
    }

    // Partition sizes: one partition up to 256 tokens; beyond, the largest of 256/128/64 that
    // gives >= 64 partitions over the batch (so batch 1 at 1K spreads over 64 blocks per kv head
    // group, and 32K keeps 256-token partitions with 128 of them).
    void decodePartitions()
    {
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 1), std::int64_t{256});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 256), std::int64_t{256});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 257), std::int64_t{64});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 1024), std::int64_t{64});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 8192), std::int64_t{128});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 16384), std::int64_t{256});
        QCOMPARE(hk::decodeAttentionPartitionTokens(1, 32768), std::int64_t{256});
        QCOMPARE(hk::decodeAttentionPartitionTokens(8, 1024), std::int64_t{128});
        QCOMPARE(hk::decodeAttentionPartitionTokens(64, 300), std::int64_t{256});
        QCOMPARE(hk::decodeAttentionWorkspaceBytes(1, 28, 128, 32768), std::size_t{28 * 128} * sizeof(float) * (128 + 2));
        QCOMPARE(hk::decodeAttentionWorkspaceBytes(1, 28, 128, 1024), std::size_t{28 * 16} * sizeof(float) * (128 + 2));
    }

    void decodeWorkspace()
    {
        QCOMPARE(hk::decodeAttentionWorkspaceBytes(3, 28, 128, hk::kDecodePartitionTokens), std::size_t{0});
        const std::size_t need = hk::decodeAttentionWorkspaceBytes(3, 28, 128, 3 * hk::kDecodePartitionTokens + 1);
        // 769 tokens over 3 sequences: even 64-token partitions give only 3 x 13 = 39, so 64 it is.
        QCOMPARE(need, std::size_t{3 * 28 * 13} * sizeof(float) * (128 + 2));
        hk::DecodeAttentionArgs d;
        d.q = d.out = fakePointer();
        d.blockTables = static_cast<const std::int32_t*>(fakePointer());
        d.contextLens = static_cast<const std::int32_t*>(fakePointer());
        d.nSeqs = 3;
        d.nQHeads = 28;
        d.cache = validCache(128);
        d.cache.nKvHeads = 4;
        d.maxPagesPerSeq = 100;
        d.maxContext = 3 * hk::kDecodePartitionTokens + 1;
        d.workspaceBytes = need - 1;
        d.workspace = fakePointer();
        expectRefused(hk::pagedAttentionDecode(d, nullptr), "workspace too small");
        d.maxPagesPerSeq = 2;
        expectRefused(hk::pagedAttentionDecode(d, nullptr), "block table");
        d.maxPagesPerSeq = 100;
        d.workspaceBytes = need;
        d.q = static_cast<const char*>(fakePointer()) + 2;
        expectRefused(hk::pagedAttentionDecode(d, nullptr), "4-byte aligned");
    }

    void samplingAndLora()
    {
        hk::SamplingArgs s;
        s.logits = static_cast<const float*>(fakePointer());
        s.tokens = static_cast<std::int32_t*>(fakePointer());
        s.nRows = 1;
        s.vocab = 10;
        s.nTop = 21;
        expectRefused(hk::sampleTokens(s, nullptr), "top-n");
        s.nTop = 0;
        s.temperature = static_cast<const float*>(fakePointer());
        expectRefused(hk::sampleTokens(s, nullptr), "uniforms");

        hk::LoraArgs l;
        l.inDim = l.outDim = 16;
        l.maxRank = hk::kLoraMaxRank + 1;
        expectRefused(hk::loraApply(l, nullptr), "rank");
    }

    void normAndRope()
    {
        hk::RmsNormArgs n;
        n.x = n.weight = fakePointer();
        n.out = fakePointer();
        n.nTokens = 1;
        n.n = 64;
        n.nHeads = 2;
        n.residual = fakePointer();
        expectRefused(hk::fusedAddRmsNorm(n, nullptr), "whole rows");
        hk::RopeArgs r;
        r.headDim = 63;
        expectRefused(hk::applyRope(r, nullptr), "even");
    }

    // The tensor-core prefill's 16-byte copies: asked for explicitly, it refuses q, cache or
    // strides off those boundaries (before any CUDA call); Auto takes the fp32 kernel instead.
    void prefillTensorCoreAlignment()
    {
        hk::PrefillAttentionArgs p;
        p.q = p.out = fakePointer();
        p.queryStart = p.contextLens = p.blockTables = static_cast<const std::int32_t*>(fakePointer());
        p.maxPagesPerSeq = 4;
        p.nSeqs = 1;
        p.nQHeads = 4;
        p.maxQueryLen = 1;
        p.cache = validCache(128);
        p.impl = hk::PrefillAttentionImpl::TensorCore;
        p.cache.tokenStride = 128 + 2;  // even, so the common checks pass, but not a multiple of 8
        expectRefused(hk::pagedAttentionPrefill(p, nullptr), "16-byte");
        p.cache = validCache(128);
        p.qStride = 4 * 128 + 4;
        expectRefused(hk::pagedAttentionPrefill(p, nullptr), "16-byte");
        p.qStride = 0;
        p.q = static_cast<const char*>(fakePointer()) + 4;
        expectRefused(hk::pagedAttentionPrefill(p, nullptr), "16-byte");
    }
};

QTEST_APPLESS_MAIN(TestGpuLaunchChecks)
#include "tst_gpu_launch_checks.moc"
