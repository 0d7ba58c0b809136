// hearth-test-labels: model
// `hearth-cli run` and `chat` drive the engine end to end: greedy ids equal Hugging Face's
// continuations in golden.json (with and without the LoRA adapter), bad input exits 1 with a
// reason, and a chat's second turn reuses the first turn's KV pages.
#include <QProcess>
#include <QtTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/reference_models.h"

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run cli(const QStringList& args, const QByteArray& stdinData = {})
{
    QProcess p;
    p.start(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli"), args);
    if (!stdinData.isEmpty())
        p.write(stdinData);
    p.closeWriteChannel();
    Run r;
    if (!p.waitForFinished(120000))
        return r;
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    return r;
}

QString joinIds(const nlohmann::json& ids)
{
    QStringList parts;
    for (const auto& id : ids)
        parts << QString::number(id.get<int>());
    return parts.join(QLatin1Char(','));
}

}  // namespace

class TestCliGenerate : public QObject {
    Q_OBJECT

private:
    QString m_models;
    nlohmann::json m_golden;

private slots:
    void initTestCase()
    {
        m_models = QString::fromStdString(hearth::test::referenceModelsDir());
        QVERIFY(!m_models.isEmpty());
        std::ifstream in(HEARTH_FIXTURES_DIR "/reference-models/golden.json");
        m_golden = nlohmann::json::parse(in, nullptr, false);
        QVERIFY(m_golden.is_object());
    }

    void greedyMatchesGolden_data()
    {
        QTest::addColumn<QString>("goldenKey");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("lora");
        QTest::addColumn<int>("prompt");
        for (int p : {0, 2}) {
            QTest::addRow("d64-%d", p) << QStringLiteral("ref-qwen2-d64") << QStringLiteral("ref-qwen2-d64") << QString() << p;
            QTest::addRow("d128-%d", p) << QStringLiteral("ref-qwen2-d128") << QStringLiteral("ref-qwen2-d128") << QString() << p;
            QTest::addRow("lora-%d", p) << QStringLiteral("ref-qwen2-d64+ref-qwen2-d64-lora") << QStringLiteral("ref-qwen2-d64")
                                        << QStringLiteral("ref-qwen2-d64-lora") << p;
        }
    }

    void greedyMatchesGolden()
    {
        QFETCH(QString, goldenKey);
        QFETCH(QString, model);
        QFETCH(QString, lora);
        QFETCH(int, prompt);
        const nlohmann::json& g = m_golden[goldenKey.toStdString()][static_cast<std::size_t>(prompt)];
        QStringList args{QStringLiteral("run"), m_models + QLatin1Char('/') + model, QStringLiteral("--prompt-ids"),
                         joinIds(g["ids"]), QStringLiteral("--greedy"), QStringLiteral("-n"), QStringLiteral("24"),
                         QStringLiteral("--json")};
        if (!lora.isEmpty())
            args << QStringLiteral("--lora") << m_models + QLatin1Char('/') + lora;
        const Run r = cli(args);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const nlohmann::json j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY(j.is_object());
        const auto ids = j["ids"].get<std::vector<int>>();
        const auto expected = g["greedy"].get<std::vector<int>>();
        // The run may stop early on an end-of-turn id; every id it produced must match HF's.
        QVERIFY(!ids.empty());
        QCOMPARE(std::vector<int>(expected.begin(), expected.begin() + static_cast<long>(ids.size())), ids);
        if (j["finish_reason"] == "length")
            QCOMPARE(ids.size(), std::size_t(24));
        QCOMPARE(j["stats"]["prompt_tokens"].get<std::size_t>(), g["ids"].size());
    }

    void badInput_data()
    {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<QString>("reason");
        QTest::newRow("zero max tokens") << QStringList{QStringLiteral("-n"), QStringLiteral("0")} << QStringLiteral("max");
        QTest::newRow("nan temperature") << QStringList{QStringLiteral("--temperature"), QStringLiteral("nan")}
                                         << QStringLiteral("temperature");
        QTest::newRow("top_p > 1") << QStringList{QStringLiteral("--top-p"), QStringLiteral("1.5")} << QStringLiteral("top_p");
        QTest::newRow("bad ids") << QStringList{QStringLiteral("--prompt-ids"), QStringLiteral("1,x")} << QStringLiteral("token id");
        QTest::newRow("id past vocab") << QStringList{QStringLiteral("--prompt-ids"), QStringLiteral("999999999")}
                                       << QStringLiteral("vocab");
        QTest::newRow("corrupt adapter") << QStringList{QStringLiteral("--lora"), QStringLiteral(HEARTH_BINARY_DIR)}
                                         << QStringLiteral("adapter");
    }

    void badInput()
    {
        QFETCH(QStringList, extra);
        QFETCH(QString, reason);
        QStringList args{QStringLiteral("run"), m_models + QStringLiteral("/ref-qwen2-d64")};
        if (!extra.contains(QStringLiteral("--prompt-ids")))
            args << QStringLiteral("--prompt-ids") << QStringLiteral("1,2,3");
        args << extra;
        const Run r = cli(args);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(QString::fromUtf8(r.err).contains(reason, Qt::CaseInsensitive), r.err.constData());
        QVERIFY2(r.err.contains("error:"), r.err.constData());
    }

    void chatKeepsTheConversation()
    {
        const Run r = cli({QStringLiteral("chat"), m_models + QStringLiteral("/ref-qwen2-d64"), QStringLiteral("--greedy"),
                           QStringLiteral("-n"), QStringLiteral("8"), QStringLiteral("--system"),
                           QStringLiteral("You are a helpful assistant.")},
                          QByteArrayLiteral("Hello there, how are you today?\nAnd what about tomorrow?\n"));
        QVERIFY2(r.exitCode == 0, r.err.constData());
        // Two replies, the second one's prompt starting with the whole first turn from the cache.
        const QList<QByteArray> stats = [&] {
            QList<QByteArray> s;
            for (const QByteArray& line : r.err.split('\n'))
                if (line.contains("prompt tokens from cache"))
                    s << line;
            return s;
        }();
        QCOMPARE(stats.size(), 2);
        QRegularExpression cached(QStringLiteral("(\\d+) prompt tokens from cache"));
        const int secondCached = cached.match(QString::fromUtf8(stats[1])).captured(1).toInt();
        QVERIFY2(secondCached >= 16, stats[1].constData());
    }
};

QTEST_APPLESS_MAIN(TestCliGenerate)
#include "tst_cli_generate.moc"
