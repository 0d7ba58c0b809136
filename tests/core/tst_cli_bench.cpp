// hearth-test-labels: model
// `hearth-cli bench` (the generation half) on the small reference model, CPU backend, --quick:
// the JSON has every section with the right counts and positive figures (no timing thresholds:
// they would only measure the machine), the roofline's weight bytes equal those summed from the
// safetensors header here, and bad options end with exit code 2 and a message, never a hang.
#include <QProcess>
#include <QtTest>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/reference_models.h"

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run cli(const QStringList& args)
{
    QProcess p;
    p.start(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli"), args);
    p.closeWriteChannel();
    Run r;
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished(5000);
        return r;
    }
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

// Bytes one decode step reads by the brief's rule, straight from the file's header: everything
// but the embedding, plus one embedding row, plus the whole embedding again when it is tied.
std::uint64_t weightBytesFromHeader(const std::string& file)
{
    std::ifstream in(file, std::ios::binary);
    std::uint64_t headerLen = 0;
    in.read(reinterpret_cast<char*>(&headerLen), sizeof headerLen);
    std::string header(headerLen, '\0');
    in.read(header.data(), static_cast<std::streamsize>(headerLen));
    const auto h = nlohmann::json::parse(header, nullptr, false);
    if (!h.is_object())
        return 0;
    std::uint64_t sum = 0, embed = 0, rows = 1;
    bool lmHead = false;
    for (const auto& [name, t] : h.items()) {
        if (name == "__metadata__")
            continue;
        const std::uint64_t n = t["data_offsets"][1].get<std::uint64_t>() - t["data_offsets"][0].get<std::uint64_t>();
        if (name == "model.embed_tokens.weight") {
            embed = n;
            rows = t["shape"][0].get<std::uint64_t>();
            continue;
        }
        lmHead = lmHead || name == "lm_head.weight";
        sum += n;
    }
    return sum + embed / rows + (lmHead ? 0 : embed);
}

// QStringList from plain literals (the tests build with QT_NO_CAST_FROM_ASCII).
QStringList args(std::initializer_list<const char*> items)
{
    QStringList out;
    for (const char* i : items)
        out << QString::fromUtf8(i);
    return out;
}

bool positive(const nlohmann::json& v) { return v.is_number() && v.get<double>() > 0.0; }

}  // namespace

class TestCliBench : public QObject {
    Q_OBJECT

private:
    QString m_model;

private slots:
    void initTestCase()
    {
        const std::string dir = hearth::test::referenceModelsDir();
        QVERIFY(!dir.empty());
        m_model = QString::fromStdString(dir + "/ref-qwen2-d64");
    }

    void quickJsonHasEverySection()
    {
        const Run r = cli(args({"bench", "--model"}) << m_model << args({"--backend", "cpu", "--quick", "--json", "--long-contexts", "40000"}));
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const auto j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY2(j.is_object(), r.out.constData());
        QCOMPARE(j["backend"].get<std::string>(), std::string("cpu"));
        QCOMPARE(j["decodeTokens"].get<int>(), 8);
        QVERIFY(!j.contains("llamaCppH100"));  // only with --compare-llamacpp-h100

        QVERIFY(positive(j["load"]["wallS"]));
        QVERIFY(j["load"]["breakdown"].is_array() && !j["load"]["breakdown"].empty());

        // One TTFT entry per prompt length, each a fresh prompt: nothing came from the prefix cache.
        QCOMPARE(j["ttft"].size(), std::size_t(2));
        const int lengths[] = {16, 64};
        for (std::size_t i = 0; i < 2; ++i) {
            const auto& t = j["ttft"][i];
            QCOMPARE(t["promptTokens"].get<int>(), lengths[i]);
            QVERIFY(positive(t["ttftMs"]));
            QVERIFY(positive(t["prefillTokensPerS"]));
            QCOMPARE(t["run"]["promptTokens"].get<int>(), lengths[i]);
            QCOMPARE(t["run"]["cachedPromptTokens"].get<int>(), 0);
        }

        QVERIFY(positive(j["decodeBatch1"]["decodeTokensPerS"]));

        // One entry per stream count, one raw run per stream, every stream decoded all 8 tokens.
        QCOMPARE(j["streams"].size(), std::size_t(2));
        const int counts[] = {1, 4};
        for (std::size_t i = 0; i < 2; ++i) {
            const auto& s = j["streams"][i];
            QCOMPARE(s["streams"].get<int>(), counts[i]);
            QCOMPARE(s["runs"].size(), std::size_t(counts[i]));
            QCOMPARE(s["generatedTokens"].get<int>(), counts[i] * 8);
            QVERIFY(positive(s["wallMs"]));
            QVERIFY(positive(s["totalTokensPerS"]));
            QVERIFY(positive(s["decodeTokensPerS"]));
            for (const auto& run : s["runs"]) {
                QCOMPARE(run["generatedTokens"].get<int>(), 8);
                QCOMPARE(run["cachedPromptTokens"].get<int>(), 0);
                QCOMPARE(run["finishReason"].get<std::string>(), std::string("length"));
            }
        }

        // 40000 tokens exceed the model's 32768-token context: skipped with a note.
        QCOMPARE(j["longContexts"].size(), std::size_t(1));
        QVERIFY(j["longContexts"][0]["skipped"].is_string());

        QVERIFY(positive(j["memory"]["inUseBytes"]));
        const auto& roof = j["roofline"];
        QCOMPARE(roof["weightBytesPerToken"].get<std::uint64_t>(), weightBytesFromHeader(m_model.toStdString() + "/model.safetensors"));
        QVERIFY(positive(roof["kvBytesPerToken"]));
        QVERIFY(positive(roof["bandwidthGBps"]));
        QVERIFY(positive(roof["fraction"]));
    }

    void badOptionsExitTwo_data()
    {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("message");
        QTest::addRow("zero streams") << args({"--streams", "0"}) << QStringLiteral("--streams");
        QTest::addRow("negative stream") << args({"--streams=1,-4"}) << QStringLiteral("--streams");
        QTest::addRow("negative length") << args({"--prompt-lengths=-5"}) << QStringLiteral("--prompt-lengths");
        QTest::addRow("not a number") << args({"--prompt-lengths", "abc"}) << QStringLiteral("--prompt-lengths");
        QTest::addRow("zero decode") << args({"--decode-tokens", "0"}) << QStringLiteral("--decode-tokens");
        QTest::addRow("longer than context") << args({"--prompt-lengths", "40000"}) << QStringLiteral("context");
    }

    void badOptionsExitTwo()
    {
        QFETCH(QStringList, extra);
        QFETCH(QString, message);
        const Run r = cli(args({"bench", "--model"}) << m_model << args({"--backend", "cpu", "--quick"}) << extra);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(message.toUtf8()), r.err.constData());
    }

    void missingModelFails()
    {
        const Run none = cli(args({"bench", "--backend", "cpu", "--quick"}));
        QCOMPARE(none.exitCode, 2);
        QVERIFY(none.err.contains("--model"));
        const Run missing = cli(args({"bench", "--model", "/nonexistent/hearth-model", "--backend", "cpu", "--quick"}));
        QCOMPARE(missing.exitCode, 1);
        QVERIFY(missing.err.contains("error:"));
    }
};

QTEST_APPLESS_MAIN(TestCliBench)
#include "tst_cli_bench.moc"
