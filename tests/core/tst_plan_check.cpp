// checkBatchPlan (the plan checks every backend makes before touching its memory; the CPU
// backend's forward and the CUDA backend both call it) refuses what the CPU backend's forward
// refuses, with the same error code and message, and accepts what it accepts; neither changes the
// KV pool on a refusal. Runs without a GPU.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "engine/cpu/cpu_backend.h"
#include "engine/model_weights.h"
#include "engine/plan_check.h"
#include "model/reference_models.h"
#include "model/safetensors.h"

using namespace hearth;

namespace {

// A tiny Qwen2 model (vocab 64, hidden 16, 2 layers, head_dim 8), F32 weights.
void writeTinyModel(const std::string& dir)
{
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/config.json") << R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true, "torch_dtype": "float32"})";
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes = {
        {"model.embed_tokens.weight", {64, 16}}, {"model.norm.weight", {16}}};
    for (int l = 0; l < 2; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        shapes.push_back({p + "input_layernorm.weight", {16}});
        shapes.push_back({p + "post_attention_layernorm.weight", {16}});
        shapes.push_back({p + "self_attn.q_proj.weight", {16, 16}});
        shapes.push_back({p + "self_attn.q_proj.bias", {16}});
        shapes.push_back({p + "self_attn.k_proj.weight", {8, 16}});
        shapes.push_back({p + "self_attn.k_proj.bias", {8}});
        shapes.push_back({p + "self_attn.v_proj.weight", {8, 16}});
        shapes.push_back({p + "self_attn.v_proj.bias", {8}});
        shapes.push_back({p + "self_attn.o_proj.weight", {16, 16}});
        shapes.push_back({p + "mlp.gate_proj.weight", {24, 16}});
        shapes.push_back({p + "mlp.up_proj.weight", {24, 16}});
        shapes.push_back({p + "mlp.down_proj.weight", {16, 24}});
    }
    std::vector<std::vector<float>> storage;
    std::vector<TensorToWrite> tensors;
    for (auto& [name, shape] : shapes) {
        const auto n = static_cast<std::size_t>(std::accumulate(shape.begin(), shape.end(), std::int64_t(1), std::multiplies<>()));
        storage.push_back(referenceUniform(storage.size() + 1, n));
        tensors.push_back({name, DType::F32, shape,
                           {reinterpret_cast<const std::uint8_t*>(storage.back().data()), n * sizeof(float)}});
    }
    const Status s = writeSafetensors(dir + "/model.safetensors", tensors);
    if (!s)
        qWarning("%s", s.error().toString().c_str());
}

}  // namespace

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
        writeTinyModel(dir);
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
