// hearth-test-labels: model
// The C++ reference-model generator against the independent reference: the sha256 sums published
// with the Python generator (tests/fixtures/reference-models/README.md), plus the shapes its table
// lists, read back through loadModelConfig and the safetensors reader. The generator runs fresh
// here (the shared copy from referenceModelsDir() may predate a change to it), and the shared copy
// is checked against the same sums.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "model/model_config.h"
#include "model/reference_models.h"
#include "model/safetensors.h"
#include "support/reference_models.h"
#include "util/mapped_file.h"
#include "util/sha256.h"

using namespace hearth;

class TestReferenceModels : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_tmp;
    std::string m_dir;

    void checkDigests(const std::string& root)
    {
        QFETCH(QString, file);
        QFETCH(QString, digest);
        auto actual = sha256File(root + "/" + file.toStdString());
        QVERIFY2(actual.isOk(), actual.isOk() ? "" : actual.error().toString().c_str());
        QCOMPARE(QString::fromStdString(*actual), digest);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_dir = m_tmp.path().toStdString();
        const Status written = writeReferenceModels(m_dir, std::string(HEARTH_FIXTURES_DIR) + "/tokenizers/qwen3");
        QVERIFY2(written.isOk(), written.isOk() ? "" : written.error().toString().c_str());
    }

    void uniformStream()
    {
        // First values of the script's uniform() for two seeds, printed by numpy 2.4 (exact hex).
        const std::vector<float> a = referenceUniform(2000, 3);
        QCOMPARE(a[0], float(-0x1.4a795cp-2));
        QCOMPARE(a[1], float(-0x1.4f9040p-1));
        QCOMPARE(a[2], float(-0x1.ca556ap-1));
        const std::vector<float> b = referenceUniform(7000, 3);
        QCOMPARE(b[0], float(0x1.a6d760p-1));
        QCOMPARE(b[1], float(0x1.43c774p-1));
        QCOMPARE(b[2], float(-0x1.d6b602p-1));
    }

    void publishedDigests_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("digest");
        QTest::newRow("d64") << QStringLiteral("ref-qwen2-d64/model.safetensors")
                             << QStringLiteral("a4e16ebdf88c38df54be052479ece67a01e7a4c6b85ad5c4af8d5217ca2dc08c");
        QTest::newRow("d128") << QStringLiteral("ref-qwen2-d128/model.safetensors")
                              << QStringLiteral("7dba609bd22587ba8e2bbb07de649686817e4853baa415b45a606a0dfb516f47");
        QTest::newRow("lora") << QStringLiteral("ref-qwen2-d64-lora/adapter_model.safetensors")
                              << QStringLiteral("6f4fa9b2205cf2fd46e3c58663fdeb3aec90ea83ad9a01945c3e7c179a44a9ef");
    }

    void publishedDigests() { checkDigests(m_dir); }

    void sharedCopy_data() { publishedDigests_data(); }

    void sharedCopy()
    {
        const std::string shared = test::referenceModelsDir();
        QVERIFY2(!shared.empty(), "the shared reference models could not be generated (see stderr)");
        checkDigests(shared);
    }

    void shapes_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<int>("nHeads");
        QTest::addColumn<int>("nKvHeads");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("intermediate");
        QTest::addColumn<bool>("tied");
        QTest::addColumn<double>("ropeTheta");
        QTest::addColumn<int>("nTensors");
        QTest::newRow("d64") << QStringLiteral("ref-qwen2-d64") << 4 << 2 << 64 << 512 << false << 1e6 << 27;
        QTest::newRow("d128") << QStringLiteral("ref-qwen2-d128") << 2 << 1 << 128 << 640 << true << 1e4 << 26;
    }

    void shapes()
    {
        QFETCH(QString, model);
        QFETCH(int, nHeads);
        QFETCH(int, nKvHeads);
        QFETCH(int, headDim);
        QFETCH(int, intermediate);
        QFETCH(bool, tied);
        QFETCH(double, ropeTheta);
        QFETCH(int, nTensors);
        const std::string dir = m_dir + "/" + model.toStdString();
        auto c = loadModelConfig(dir);
        QVERIFY2(c.isOk(), c.isOk() ? "" : c.error().toString().c_str());
        QCOMPARE(c->arch, ModelArch::Qwen2);
        QCOMPARE(c->vocabSize, std::int64_t(151936));
        QCOMPARE(c->hiddenSize, std::int64_t(256));
        QCOMPARE(c->nLayers, std::int64_t(2));
        QCOMPARE(c->nHeads, std::int64_t(nHeads));
        QCOMPARE(c->nKvHeads, std::int64_t(nKvHeads));
        QCOMPARE(c->headDim, std::int64_t(headDim));
        QCOMPARE(c->intermediateSize, std::int64_t(intermediate));
        QCOMPARE(c->tieWordEmbeddings, tied);
        QCOMPARE(c->ropeTheta, ropeTheta);
        QVERIFY(c->attentionBias);
        QCOMPARE(c->dtype, DType::BF16);
        QCOMPARE(c->maxPositions, std::int64_t(32768));
        QCOMPARE(c->bosTokenId, std::optional<std::int32_t>(151643));
        QCOMPARE(c->eosTokenIds, std::vector<std::int32_t>{151645});
        QVERIFY(!c->slidingWindow);

        auto st = SafetensorsModel::open(dir + "/model.safetensors");
        QVERIFY2(st.isOk(), st.isOk() ? "" : st.error().toString().c_str());
        QCOMPARE(int(st->tensors().size()), nTensors);
        std::int64_t nElements = 0;
        for (const TensorInfo& t : st->tensors()) {
            QCOMPARE(t.dtype, DType::BF16);
            nElements += t.nElements();
        }
        QCOMPARE(nElements, c->parameterCount());
        QVERIFY(st->find("model.layers.1.self_attn.k_proj.bias"));
        QCOMPARE(st->find("model.layers.1.self_attn.k_proj.bias")->shape, std::vector<std::int64_t>{nKvHeads * headDim});
        QCOMPARE(st->find("lm_head.weight") == nullptr, tied);

        for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
            QCOMPARE(std::filesystem::file_size(dir + "/" + file),
                     std::filesystem::file_size(std::string(HEARTH_FIXTURES_DIR) + "/tokenizers/qwen3/" + file));
    }

    void loraAdapter()
    {
        const std::string dir = m_dir + "/ref-qwen2-d64-lora";
        auto text = readTextFile(dir + "/adapter_config.json");
        QVERIFY(text.isOk());
        const auto j = nlohmann::json::parse(*text, nullptr, false);
        QVERIFY(j.is_object());
        QCOMPARE(j.value("peft_type", ""), std::string("LORA"));
        QCOMPARE(j.value("r", 0), 16);
        QCOMPARE(j.value("lora_alpha", 0), 32);
        QCOMPARE(j.value("base_model_name_or_path", ""), std::string("ref-qwen2-d64"));
        QCOMPARE(j["target_modules"], nlohmann::json({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}));

        auto st = SafetensorsModel::open(dir + "/adapter_model.safetensors");
        QVERIFY2(st.isOk(), st.isOk() ? "" : st.error().toString().c_str());
        QCOMPARE(int(st->tensors().size()), 2 * 7 * 2);
        const TensorInfo* downA = st->find("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight");
        const TensorInfo* qB = st->find("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight");
        QVERIFY(downA && qB);
        QCOMPARE(downA->shape, (std::vector<std::int64_t>{16, 512}));
        QCOMPARE(qB->shape, (std::vector<std::int64_t>{256, 16}));
    }
};

QTEST_APPLESS_MAIN(TestReferenceModels)
#include "tst_reference_models.moc"
