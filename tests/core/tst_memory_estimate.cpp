// hearth-test-labels: model
// The memory estimate against numbers worked out by hand for a Qwen2.5-7B-shaped model, and the
// fit verdict's thresholds.
#include <QtTest>

#include "model/memory_estimate.h"
#include "model/model_config.h"

using namespace hearth;

namespace {

// Qwen2.5-7B-Instruct: 28 layers, hidden 3584, 28 heads / 4 KV heads, head_dim 128,
// FFN 18944, vocab 152064.
ModelShape qwen7bShape()
{
    ModelShape s;
    s.hiddenSize = 3584;
    s.nLayers = 28;
    s.nHeads = 28;
    s.nKvHeads = 4;
    s.headDim = 128;
    s.intermediateSize = 18944;
    s.vocabSize = 152064;
    return s;
}

// 7,615,616,512 parameters in bf16.
constexpr std::uint64_t kQwen7bWeightBytes = 15231233024ull;

}  // namespace

class TestMemoryEstimate : public QObject {
    Q_OBJECT

private slots:
    void qwen7b_data()
    {
        QTest::addColumn<qint64>("context");
        QTest::addColumn<quint64>("kvCacheBytes");
        QTest::addColumn<quint64>("workspaceBytes");
        // KV: 2 * 28 * 4 * 128 * 2 bytes = 57,344 bytes per token.
        // Workspace at a full 512-token chunk: activations 512 * (2*3584 + 64*128 + 3*18944) * 2
        // = 73,924,608 + logits 512 * 152064 * 4 = 311,427,072 + 512 MiB = 922,222,592.
        QTest::newRow("8192") << qint64(8192) << quint64(469762048ull) << quint64(922222592ull);
        QTest::newRow("32768") << qint64(32768) << quint64(57344ull * 32768) << quint64(922222592ull);
        // A context shorter than a chunk shrinks the chunk: 100 tokens.
        QTest::newRow("100") << qint64(100) << quint64(5734400ull) << quint64(612134912ull);
        QTest::newRow("0") << qint64(0) << quint64(0) << quint64(536870912ull);
    }

    void qwen7b()
    {
        QFETCH(qint64, context);
        QFETCH(quint64, kvCacheBytes);
        QFETCH(quint64, workspaceBytes);
        const MemoryEstimate e = estimateMemory(qwen7bShape(), kQwen7bWeightBytes, context);
        QCOMPARE(e.kvBytesPerToken, quint64(57344));
        QCOMPARE(e.weightsBytes, quint64(kQwen7bWeightBytes));
        QCOMPARE(e.kvCacheBytes, kvCacheBytes);
        QCOMPARE(e.workspaceBytes, workspaceBytes);
        QCOMPARE(e.totalBytes, kQwen7bWeightBytes + kvCacheBytes + workspaceBytes);
        QCOMPARE(e.contextLength, std::int64_t(context));
    }

    void qwen7bTotalAt8k()
    {
        // 15,231,233,024 + 469,762,048 + 922,222,592.
        QCOMPARE(estimateMemory(qwen7bShape(), kQwen7bWeightBytes, 8192).totalBytes, quint64(16623217664ull));
    }

    void fp8KvHalvesTheCache()
    {
        QCOMPARE(estimateMemory(qwen7bShape(), 0, 8192, 1).kvCacheBytes, quint64(469762048ull / 2));
    }

    void derivedHeadDimAndKvHeads()
    {
        // headDim 0 -> hidden / heads = 128; kvHeads 0 -> heads = 28: 2 * 28 * 28 * 128 * 2.
        ModelShape s = qwen7bShape();
        s.headDim = 0;
        s.nKvHeads = 0;
        QCOMPARE(estimateMemory(s, 0, 1).kvBytesPerToken, quint64(401408));
    }

    void fromCommittedConfig()
    {
        auto config = loadModelConfig(HEARTH_FIXTURES_DIR "/configs/qwen2.5-7b-instruct");
        QVERIFY2(config.isOk(), config.isOk() ? "" : config.error().message.c_str());
        const MemoryEstimate e = estimateMemory(*config, kQwen7bWeightBytes, 8192);
        QCOMPARE(e.kvBytesPerToken, quint64(57344));
        QCOMPARE(e.totalBytes, quint64(16623217664ull));
    }

    void verdicts_data()
    {
        QTest::addColumn<quint64>("total");
        QTest::addColumn<quint64>("free");
        QTest::addColumn<int>("verdict");
        const int fits = int(FitVerdict::Fits), tight = int(FitVerdict::Tight), no = int(FitVerdict::DoesNotFit);
        QTest::newRow("well under") << quint64(500) << quint64(1000) << fits;
        QTest::newRow("exactly 90%") << quint64(900) << quint64(1000) << fits;
        QTest::newRow("just over 90%") << quint64(901) << quint64(1000) << tight;
        QTest::newRow("exactly all") << quint64(1000) << quint64(1000) << tight;
        QTest::newRow("one byte over") << quint64(1001) << quint64(1000) << no;
        QTest::newRow("nothing free") << quint64(1) << quint64(0) << no;
        QTest::newRow("zero of zero") << quint64(0) << quint64(0) << fits;
        // 90% of 80 GiB is 77,309,411,328 bytes.
        QTest::newRow("80 GiB, at 90%") << quint64(77309411328ull) << quint64(80ull << 30) << fits;
        QTest::newRow("80 GiB, past 90%") << quint64(77309411329ull) << quint64(80ull << 30) << tight;
        QTest::newRow("huge free, no overflow") << quint64(1) << quint64(~0ull) << fits;
        // 16,623,217,664 of 17,179,869,184 bytes is 96.8%.
        QTest::newRow("7B at 8k on 16 GiB") << quint64(16623217664ull) << quint64(16ull << 30) << tight;
        QTest::newRow("7B at 8k on 15 GiB") << quint64(16623217664ull) << quint64(15ull << 30) << no;
        QTest::newRow("7B at 8k on 24 GiB") << quint64(16623217664ull) << quint64(24ull << 30) << fits;
    }

    void verdicts()
    {
        QFETCH(quint64, total);
        QFETCH(quint64, free);
        QFETCH(int, verdict);
        QCOMPARE(int(fitsIn(total, free)), verdict);
    }

    void verdictNames()
    {
        QCOMPARE(QByteArray(fitVerdictName(FitVerdict::Fits)), QByteArray("fits"));
        QCOMPARE(QByteArray(fitVerdictName(FitVerdict::Tight)), QByteArray("tight"));
        QCOMPARE(QByteArray(fitVerdictName(FitVerdict::DoesNotFit)), QByteArray("does-not-fit"));
    }
};

QTEST_APPLESS_MAIN(TestMemoryEstimate)
#include "tst_memory_estimate.moc"
