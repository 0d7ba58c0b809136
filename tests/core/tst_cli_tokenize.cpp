// hearth-test-labels: tokenizer
// `hearth-cli tokenize` and `hearth-cli render-chat` run as scripts run them, checked against
// Hugging Face: token ids from fixtures/tokenizer-goldens (HF tokenizers), prompts from
// fixtures/chat-goldens/hf_chat_*.json (transformers' apply_chat_template with each fixture's own
// tokenizer_config.json template), prompt ids from fixtures/cli-goldens (HF tokenizers again,
// made by tests/reference/make_cli_goldens.py), SentencePiece ids from fixtures/sentencepiece.
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

using namespace Qt::StringLiterals;

namespace {

std::string fixture(const std::string& rel) { return std::string(HEARTH_FIXTURES_DIR) + "/" + rel; }

std::string readAll(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Run {
    int exitCode = -1;
    std::string out;
    std::string err;
};

Run runCli(const QStringList& args, const std::string& input)
{
    QProcess p;
    p.start(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli"), args);
    Run r;
    if (!p.waitForStarted(10000)) return r;
    p.write(input.data(), static_cast<qint64>(input.size()));
    p.closeWriteChannel();
    if (!p.waitForFinished(120000) || p.exitStatus() != QProcess::NormalExit) return r;
    r.exitCode = p.exitCode();
    r.out = p.readAllStandardOutput().toStdString();
    r.err = p.readAllStandardError().toStdString();
    return r;
}

std::vector<int> parseIds(const std::string& line)
{
    std::vector<int> ids;
    std::istringstream in(line);
    int id;
    while (in >> id) ids.push_back(id);
    return ids;
}

QString idsText(const std::vector<int>& ids)
{
    QStringList parts;
    for (int id : ids) parts << QString::number(id);
    return parts.join(u' ');
}

}  // namespace

class TestCliTokenize : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() { QVERIFY2(QFile::exists(QStringLiteral(HEARTH_BINARY_DIR "/bin/hearth-cli")), "build hearth-cli first"); }

    // A few strings per tokenizer, each in one of the flag combinations, so every flag meets
    // strings where it matters (special-token text, BOS) without a process per golden.
    void tokenize_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : {"qwen3", "llama3_1", "deepseek_v3", "llama2"}) QTest::newRow(name) << QString::fromLatin1(name);
    }

    void tokenize()
    {
        QFETCH(QString, name);
        nlohmann::json golden = nlohmann::json::parse(readAll(fixture("tokenizer-goldens/ids_" + name.toStdString() + ".json")));
        nlohmann::json tj = nlohmann::json::parse(readAll(fixture("tokenizers/" + name.toStdString() + "/tokenizer.json")));
        std::map<int, std::string> pieceOf;
        for (auto it = tj["model"]["vocab"].begin(); it != tj["model"]["vocab"].end(); ++it) pieceOf[it.value().get<int>()] = it.key();
        for (const auto& t : tj["added_tokens"]) pieceOf[t["id"].get<int>()] = t["content"].get<std::string>();

        std::vector<const nlohmann::json*> withSpecial, others;
        for (const auto& row : golden["rows"])
            (row["ids_special_noadd"] != row["ids_literal_noadd"] ? withSpecial : others).push_back(&row);
        QVERIFY(!withSpecial.empty());
        struct Check {
            const nlohmann::json* row;
            QStringList flags;
            const char* key;
        };
        std::vector<Check> checks = {
            {others[15], {}, "ids_special_noadd"},
            {withSpecial[0], {}, "ids_special_noadd"},
            {withSpecial[1 % withSpecial.size()], {u"--no-special"_s}, "ids_literal_noadd"},
            {others[40], {u"--add-special"_s}, "ids_special_add"},
            {withSpecial[2 % withSpecial.size()], {u"--no-special"_s, u"--add-special"_s}, "ids_literal_add"},
            {others[others.size() / 2], {u"--json"_s}, "ids_special_noadd"},
        };
        for (const Check& c : checks) {
            std::string text = (*c.row)["text"].get<std::string>();
            auto want = (*c.row)[c.key].get<std::vector<int>>();
            QStringList args{u"tokenize"_s, QString::fromStdString(fixture("tokenizers/" + name.toStdString()))};
            args += c.flags;
            Run r = runCli(args, text);
            QVERIFY2(r.exitCode == 0, r.err.c_str());
            if (c.flags.contains(u"--json"_s)) {
                nlohmann::json out = nlohmann::json::parse(r.out);
                QCOMPARE(out["ids"].get<std::vector<int>>(), want);
                QCOMPARE(out["pieces"].size(), want.size());
                for (std::size_t i = 0; i < want.size(); ++i) QCOMPARE(out["pieces"][i].get<std::string>(), pieceOf[want[i]]);
            } else {
                QVERIFY2(r.out.size() && r.out.back() == '\n', "ids end with a newline");
                QCOMPARE(idsText(parseIds(r.out)), idsText(want));
            }
        }
    }

    void tokenizeSentencePiece()
    {
        nlohmann::json golden = nlohmann::json::parse(readAll(fixture("sentencepiece/goldens_bpe.json")));
        const nlohmann::json& row = golden["rows"][14];
        Run r = runCli({u"tokenize"_s, QString::fromStdString(fixture("sentencepiece/bpe.model")), u"--add-special"_s},
                       row["text"].get<std::string>());
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        std::vector<int> want{golden["bos"].get<int>()};
        for (const auto& id : row["ids_special"]) want.push_back(id.get<int>());
        QCOMPARE(idsText(parseIds(r.out)), idsText(want));
    }

    void renderChat_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : {"qwen3", "llama3_1", "deepseek_v3"}) QTest::newRow(name) << QString::fromLatin1(name);
    }

    void renderChat()
    {
        QFETCH(QString, name);
        nlohmann::ordered_json cases = nlohmann::ordered_json::parse(readAll(fixture("chat-goldens/hf_chat_" + name.toStdString() + ".json")));
        nlohmann::json ids = nlohmann::json::parse(readAll(fixture("cli-goldens/render_ids.json")))["models"][name.toStdString()];
        QCOMPARE(ids.size(), cases.size());
        QString model = QString::fromStdString(fixture("tokenizers/" + name.toStdString()));
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const auto& c = cases[i];
            nlohmann::ordered_json input = {{"messages", c["messages"]}, {"add_generation_prompt", c["add_generation_prompt"]}};
            if (!c["tools"].is_null()) input["tools"] = c["tools"];
            Run r = runCli({u"render-chat"_s, model}, input.dump());
            QVERIFY2(r.exitCode == 0, r.err.c_str());
            QCOMPARE(QString::fromStdString(r.out), QString::fromStdString(c["prompt"].get<std::string>()));
            // Token ids for one case with tools and one without keep the test quick.
            if (i == 0 || i + 1 == cases.size()) {
                Run rIds = runCli({u"render-chat"_s, model, u"--ids"_s}, input.dump());
                QVERIFY2(rIds.exitCode == 0, rIds.err.c_str());
                QCOMPARE(idsText(parseIds(rIds.out)), idsText(ids[i].get<std::vector<int>>()));
            }
        }
    }

    // No template beside the model: ChatML, as transformers' fallback renders it; --template wins.
    void renderChatFallbackAndOverride()
    {
        nlohmann::ordered_json cases = nlohmann::ordered_json::parse(readAll(fixture("chat-goldens/chatml-fallback.json")));
        const auto& c = cases[0];
        QVERIFY(c["bos_token"].is_null() && c["eos_token"].is_null());
        nlohmann::ordered_json input = {{"messages", c["messages"]}, {"add_generation_prompt", c["add_generation_prompt"]}};
        QString spm = QString::fromStdString(fixture("sentencepiece/bpe.model"));
        Run r = runCli({u"render-chat"_s, spm}, input.dump());
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        QCOMPARE(QString::fromStdString(r.out), QString::fromStdString(c["prompt"].get<std::string>()));

        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QString templatePath = dir.filePath(u"t.jinja"_s);
        std::ofstream(templatePath.toStdString()) << "{% for m in messages %}[{{ m.role }}|{{ m.content }}|{{ greeting }}]{% endfor %}";
        input["greeting"] = "hi";
        r = runCli({u"render-chat"_s, spm, u"--template"_s, templatePath}, input.dump());
        QVERIFY2(r.exitCode == 0, r.err.c_str());
        QCOMPARE(QString::fromStdString(r.out), u"[user|Hello!|hi]"_s);
    }

    void errors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("message");
        QString qwen = QString::fromStdString(fixture("tokenizers/qwen3"));
        QTest::newRow("missing model") << QStringList{u"tokenize"_s, u"/no/such/model"_s} << u"x"_s << u"no such file"_s;
        QTest::newRow("not json") << QStringList{u"render-chat"_s, qwen} << u"hello"_s << u"not a JSON object"_s;
        QTest::newRow("no messages") << QStringList{u"render-chat"_s, qwen} << u"{}"_s << u"messages"_s;
        QTest::newRow("bad generation flag") << QStringList{u"render-chat"_s, qwen} << uR"({"messages": [], "add_generation_prompt": 1})"_s
                                             << u"add_generation_prompt"_s;
        QTest::newRow("bad template") << QStringList{u"render-chat"_s, qwen, u"--template"_s, u"/no/such.jinja"_s}
                                      << uR"({"messages": [{"role": "user", "content": "x"}]})"_s << u"such.jinja"_s;
    }

    void errors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, input);
        QFETCH(QString, message);
        Run r = runCli(args, input.toStdString());
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(QString::fromStdString(r.err).contains(message), r.err.c_str());
        QVERIFY(r.out.empty());
    }
};

QTEST_APPLESS_MAIN(TestCliTokenize)
#include "tst_cli_tokenize.moc"
