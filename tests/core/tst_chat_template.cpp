// Every real chat template over every conversation renders exactly what transformers'
// apply_chat_template(tokenize=False) produced (goldens by tests/reference/make_chat_goldens.py).
#include <QtTest>

#include <fstream>
#include <sstream>

#include "chat/chat_template.h"

using namespace hearth;
using Json = nlohmann::ordered_json;

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string fixture(const std::string& rel) { return std::string(HEARTH_FIXTURES_DIR) + "/" + rel; }

// The date transformers' strftime_now saw when the goldens were made: Fri 2025-03-14 15:09:26.
std::tm goldenTime()
{
    std::tm t{};
    t.tm_year = 125;
    t.tm_mon = 2;
    t.tm_mday = 14;
    t.tm_hour = 15;
    t.tm_min = 9;
    t.tm_sec = 26;
    t.tm_wday = 5;
    t.tm_yday = 72;
    return t;
}

Result<ChatTemplate> loadTemplate(const std::string& name)
{
    auto t = ChatTemplate::parse(readFile(fixture("chat-templates/" + name + ".jinja")), name);
    if (t)
        t->setClock(goldenTime);
    return t;
}

std::optional<std::string> optionalString(const Json& j)
{
    if (j.is_string())
        return j.get<std::string>();
    return std::nullopt;
}

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT

private slots:
    void goldens_data()
    {
        QTest::addColumn<QString>("templateName");
        QTest::addColumn<int>("index");
        const char* const names[] = {"qwen3", "qwen2_5-instruct", "llama3_1-npm", "llama3_1-instruct", "llama3_2-instruct",
                                     "deepseek_v3", "deepseek-r1-distill", "mistral-v0_3-instruct", "gemma2-it", "gemma3-it",
                                     "chatml-fallback"};
        for (const char* name : names) {
            const Json cases = Json::parse(readFile(fixture(std::string("chat-goldens/") + name + ".json")), nullptr, false);
            QVERIFY2(cases.is_array() && !cases.empty(), name);
            for (size_t i = 0; i < cases.size(); ++i) {
                const std::string row = std::string(name) + "/" + cases[i]["case"].get<std::string>() +
                                        (cases[i]["add_generation_prompt"].get<bool>() ? "/gen" : "/nogen");
                QTest::newRow(row.c_str()) << QString::fromUtf8(name) << static_cast<int>(i);
            }
        }
    }

    void goldens()
    {
        QFETCH(QString, templateName);
        QFETCH(int, index);
        const std::string name = templateName.toStdString();
        const Json c = Json::parse(readFile(fixture("chat-goldens/" + name + ".json")))[static_cast<size_t>(index)];
        auto tmpl = loadTemplate(name);
        QVERIFY2(tmpl.isOk(), tmpl.isOk() ? "" : tmpl.error().toString().c_str());

        ChatRenderRequest req;
        req.messages = c["messages"];
        req.tools = c["tools"];
        req.addGenerationPrompt = c["add_generation_prompt"].get<bool>();
        req.bosToken = optionalString(c["bos_token"]);
        req.eosToken = optionalString(c["eos_token"]);
        req.extraVariables = c["extra"];
        const Result<std::string> out = renderChat(*tmpl, req);
        if (c.contains("error")) {
            const std::string expected = c["error"].get<std::string>();
            QVERIFY2(!out.isOk(), ("expected an error like: " + expected).c_str());
            // A template's own raise_exception message must come through unchanged.
            if (out.error().message.find("raise_exception: ") != std::string::npos)
                QVERIFY2(out.error().message.find(expected) != std::string::npos, out.error().message.c_str());
            return;
        }
        QVERIFY2(out.isOk(), out.isOk() ? "" : out.error().toString().c_str());
        QCOMPARE(QString::fromStdString(*out), QString::fromStdString(c["prompt"].get<std::string>()));
    }

    // The first goldens of the tokenizer issue (transformers 5.17, npm tokenizer configs).
    void sharedGoldens_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("templateName");
        QTest::addColumn<QString>("bos");
        QTest::addColumn<QString>("eos");
        QTest::newRow("qwen3") << "hf_chat_qwen3" << "qwen3" << QString() << "<|im_end|>";
        QTest::newRow("llama3_1") << "hf_chat_llama3_1" << "llama3_1-npm" << "<|begin_of_text|>" << "<|eot_id|>";
        QTest::newRow("deepseek_v3") << "hf_chat_deepseek_v3" << "deepseek_v3" << QString::fromUtf8("<｜begin▁of▁sentence｜>")
                                     << QString::fromUtf8("<｜end▁of▁sentence｜>");
    }

    void sharedGoldens()
    {
        QFETCH(QString, file);
        QFETCH(QString, templateName);
        QFETCH(QString, bos);
        QFETCH(QString, eos);
        auto tmpl = loadTemplate(templateName.toStdString());
        QVERIFY(tmpl.isOk());
        const Json cases = Json::parse(readFile(fixture("chat-goldens/" + file.toStdString() + ".json")));
        QVERIFY(cases.size() >= 8);
        for (const Json& c : cases) {
            ChatRenderRequest req;
            req.messages = c["messages"];
            req.tools = c["tools"];
            req.addGenerationPrompt = c["add_generation_prompt"].get<bool>();
            if (!bos.isEmpty())
                req.bosToken = bos.toStdString();
            req.eosToken = eos.toStdString();
            const Result<std::string> out = renderChat(*tmpl, req);
            QVERIFY2(out.isOk(), out.isOk() ? "" : out.error().toString().c_str());
            QCOMPARE(QString::fromStdString(*out), QString::fromStdString(c["prompt"].get<std::string>()));
        }
    }

    void chatmlFallbackMatchesFixture()
    {
        QCOMPARE(QString::fromUtf8(ChatTemplate::chatmlFallbackSource()),
                 QString::fromStdString(readFile(fixture("chat-templates/chatml-fallback.jinja"))));
    }

    void raiseExceptionCarriesMessage()
    {
        auto tmpl = loadTemplate("gemma2-it");
        QVERIFY(tmpl.isOk());
        ChatRenderRequest req;
        req.messages = Json::parse(R"([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])");
        const auto out = renderChat(*tmpl, req);
        QVERIFY(!out.isOk());
        QVERIFY2(out.error().message.find("System role not supported") != std::string::npos, out.error().message.c_str());
        QVERIFY2(out.error().message.find("gemma2-it") != std::string::npos, out.error().message.c_str());
    }

    void emptyConversationIsAnError()
    {
        auto tmpl = ChatTemplate::parse(ChatTemplate::chatmlFallbackSource(), "chatml");
        QVERIFY(tmpl.isOk());
        ChatRenderRequest req;
        QVERIFY(!renderChat(*tmpl, req).isOk());
        req.messages = Json::parse(R"([42])");
        QVERIFY(!renderChat(*tmpl, req).isOk());
    }

    void tokenizerConfigTemplates()
    {
        const Json plain = Json::parse(R"({"chat_template": "abc"})");
        QCOMPARE(QString::fromStdString(*templateFromTokenizerConfig(plain, false)), QStringLiteral("abc"));
        const Json named = Json::parse(R"({"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
        QCOMPARE(QString::fromStdString(*templateFromTokenizerConfig(named, false)), QStringLiteral("D"));
        QCOMPARE(QString::fromStdString(*templateFromTokenizerConfig(named, true)), QStringLiteral("T"));
        const auto missing = templateFromTokenizerConfig(Json::parse(R"({"eos_token": "x"})"), false);
        QVERIFY(!missing.isOk());
        QCOMPARE(missing.error().code, ErrorCode::NotFound);
        QVERIFY(!templateFromTokenizerConfig(Json::parse(R"({"chat_template": [{"name": 1}]})"), false).isOk());
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "tst_chat_template.moc"
