// checkBatchPlan (the plan checks every backend makes before touching its memory; the CPU
// backend's forward and the CUDA backend both call it) refuses what the CPU backend's forward
// refuses, with the same error code and message, and accepts what it accepts; neither changes the
// KV pool on a refusal. Runs without a GPU.
#include <QTemporaryDir>
#include <QtTest>

#include "engine/cpu/cpu_backend.h"
#include "engine/model_weights.h"
#include "engine/plan_check.h"
#include "support/tiny_model.h"

using namespace hearth;
using namespace hearth::test;

class TestPlanCheck : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    std::shared_ptr<const ModelWeights> m_weights;
    std::unique_ptr<CpuBackend> m_cpu;

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        const std::string dir = m_tmp.path().toStdString() + "/tiny";
        QVERIFY(writeTinyQwen2Model(dir).isOk());
        auto w = ModelWeights::load(dir);
        QVERIFY2(w.isOk(), w.isOk() ? "" : w.error().toString().c_str());
        m_weights = *w;
        auto cpu = CpuBackend::create(m_weights, {1ull << 20, 1, 16});
        QVERIFY(cpu.isOk());
        m_cpu = std::move(*cpu);
    }

    void sameVerdictAsCpu_data()
    {
        QTest::addColumn<int>("which");
        QTest::addColumn<bool>("valid");
        QTest::newRow("fine: prefill and decode") << 0 << true;
        QTest::newRow("no tokens") << 1 << false;
        QTest::newRow("positions count") << 2 << false;
        QTest::newRow("no block table") << 3 << false;
        QTest::newRow("shared block table") << 4 << false;
        QTest::newRow("token outside vocabulary") << 5 << false;
        QTest::newRow("negative token") << 6 << false;
        QTest::newRow("positions not increasing") << 7 << false;
        QTest::newRow("negative position") << 8 << false;
        QTest::newRow("beyond the table") << 9 << false;
        QTest::newRow("fine: gap in positions") << 10 << true;
        QTest::newRow("fine: empty plan") << 11 << true;
    }

    void sameVerdictAsCpu()
    {
        QFETCH(int, which);
        QFETCH(bool, valid);
        KvPagePool& pool = m_cpu->kvPool();
        BlockTable a, b;
        QVERIFY(pool.reserve(a, 20).isOk());
        QVERIFY(pool.reserve(b, 5).isOk());
        const std::int32_t used = pool.nUsedPages();
        BatchPlan plan;
        plan.sequences.push_back({{1, 2, 3}, {0, 1, 2}, &a, nullptr, 1.0f, LogitsRows::Last});
        plan.sequences.push_back({{4}, {4}, &b, nullptr, 1.0f, LogitsRows::All});
        SequenceStep& s0 = plan.sequences[0];
        SequenceStep& s1 = plan.sequences[1];
        switch (which) {
        case 1: s1.tokenIds.clear(); s1.positions.clear(); break;
        case 2: s0.positions.pop_back(); break;
        case 3: s1.blockTable = nullptr; break;
        case 4: s1.blockTable = &a; break;
        case 5: s0.tokenIds[1] = 64; break;
        case 6: s1.tokenIds[0] = -1; break;
        case 7: s0.positions = {0, 2, 2}; break;
        case 8: s1.positions = {-1}; break;
        case 9: s1.positions = {32}; break;
        case 10: s0.positions = {0, 5, 6}; break;
        case 11: plan.sequences.clear(); break;
        default: break;
        }
        const Status checked = checkBatchPlan(plan, *m_weights, pool);
        const Result<ForwardResult> cpu = m_cpu->forward(plan);
        QCOMPARE(checked.isOk(), valid);
        QCOMPARE(cpu.isOk(), valid);
        if (!valid) {
            QCOMPARE(checked.error().code, ErrorCode::InvalidArgument);
            QCOMPARE(cpu.error().code, checked.error().code);
            QCOMPARE(cpu.error().message, checked.error().message);
        }
        QCOMPARE(pool.nUsedPages(), used);
        pool.release(a);
        pool.release(b);
    }
};

QTEST_APPLESS_MAIN(TestPlanCheck)
#include "tst_plan_check.moc"
