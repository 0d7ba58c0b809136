// hearth-test-labels: model
// `hearth-cli inspect --json` on the synthetic reference models reports the shapes listed in the
// reference-models README table (the independent statement of what the generator writes).
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "support/reference_models.h"

namespace {

struct Expected {
    int vocab, hidden, heads, kvHeads, headDim, ffn, layers;
    bool tied;
    double ropeTheta;
    long long params;  // embeddings + layers + final norm (+ lm_head when not tied)
};

long long paramsOf(const Expected& e)
{
    const long long h = e.hidden, q = e.heads * e.headDim, kv = e.kvHeads * e.headDim;
    const long long layer = h * q + q + 2 * (h * kv + kv) + q * h + 3 * h * e.ffn + 2 * h;
    return static_cast<long long>(e.vocab) * h * (e.tied ? 1 : 2) + e.layers * layer + h;
}

nlohmann::json runInspect(const QString& path, int* exitCode)
{
    QProcess p;
    p.start(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli"), {QStringLiteral("inspect"), path, QStringLiteral("--json")});
    if (!p.waitForFinished(60000))
        return {};
    *exitCode = p.exitCode();
    return nlohmann::json::parse(p.readAllStandardOutput().toStdString(), nullptr, false);
}

}  // namespace

class TestCliInspectReference : public QObject {
    Q_OBJECT

private slots:
    void inspect_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("vocab");
        QTest::addColumn<int>("hidden");
        QTest::addColumn<int>("heads");
        QTest::addColumn<int>("kvHeads");
        QTest::addColumn<int>("headDim");
        QTest::addColumn<int>("ffn");
        QTest::addColumn<int>("layers");
        QTest::addColumn<bool>("tied");
        QTest::addColumn<double>("ropeTheta");
        // From ../shared/fixtures/reference-models/README.md.
        QTest::newRow("d64") << QStringLiteral("ref-qwen2-d64") << 151936 << 256 << 4 << 2 << 64 << 512 << 2 << false << 1e6;
        QTest::newRow("d128") << QStringLiteral("ref-qwen2-d128") << 151936 << 256 << 2 << 1 << 128 << 640 << 2 << true << 1e4;
    }

    void inspect()
    {
        QFETCH(QString, name);
        QFETCH(int, vocab);
        QFETCH(int, hidden);
        QFETCH(int, heads);
        QFETCH(int, kvHeads);
        QFETCH(int, headDim);
        QFETCH(int, ffn);
        QFETCH(int, layers);
        QFETCH(bool, tied);
        QFETCH(double, ropeTheta);
        const std::string dir = hearth::test::referenceModelsDir();
        QVERIFY(!dir.empty());

        int rc = -1;
        const nlohmann::json j = runInspect(QString::fromStdString(dir) + QLatin1Char('/') + name, &rc);
        QCOMPARE(rc, 0);
        QVERIFY(j.is_object());
        QCOMPARE(j["ok"].get<bool>(), true);
        QCOMPARE(j["format"].get<std::string>(), std::string("safetensors"));
        QCOMPARE(j["architecture"].get<std::string>(), std::string("Qwen2ForCausalLM"));
        QCOMPARE(j["dtype"].get<std::string>(), std::string("BF16"));
        QCOMPARE(j["has_tokenizer"].get<bool>(), true);
        const auto& c = j["config"];
        QCOMPARE(c["vocab_size"].get<int>(), vocab);
        QCOMPARE(c["hidden_size"].get<int>(), hidden);
        QCOMPARE(c["num_attention_heads"].get<int>(), heads);
        QCOMPARE(c["num_key_value_heads"].get<int>(), kvHeads);
        QCOMPARE(c["head_dim"].get<int>(), headDim);
        QCOMPARE(c["intermediate_size"].get<int>(), ffn);
        QCOMPARE(c["num_hidden_layers"].get<int>(), layers);
        QCOMPARE(c["tie_word_embeddings"].get<bool>(), tied);
        QCOMPARE(c["rope_theta"].get<double>(), ropeTheta);
        QCOMPARE(c["attention_bias"].get<bool>(), true);
        QCOMPARE(c["max_position_embeddings"].get<int>(), 32768);

        const Expected e{vocab, hidden, heads, kvHeads, headDim, ffn, layers, tied, ropeTheta, 0};
        QCOMPARE(j["parameter_count"].get<long long>(), paramsOf(e));
        QCOMPARE(j["weight_bytes"].get<long long>(), 2 * paramsOf(e));
    }

    void brokenModelExitsWithReason()
    {
        int rc = -1;
        const nlohmann::json j = runInspect(QStringLiteral(HEARTH_BINARY_DIR "/does-not-exist"), &rc);
        QCOMPARE(rc, 1);
        QVERIFY(j.is_object());
        QCOMPARE(j["ok"].get<bool>(), false);
        QVERIFY(!j["error"].get<std::string>().empty());
    }
};

QTEST_APPLESS_MAIN(TestCliInspectReference)
#include "tst_cli_inspect_reference.moc"
