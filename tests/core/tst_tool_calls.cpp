// Tool-call parsing: hand-written expectations for the Hermes/Qwen, Llama 3.1 and Mistral v0.3
// conventions (the reply texts are what those models' chat templates teach them to write), and
// the streaming parser fed every split of every reply, which must reassemble to the whole parse.
#include <QtTest>

#include <random>
#include <string>
#include <vector>

#include "chat/tool_calls.h"

using namespace hearth;

namespace {

struct ExpectedCall {
    std::string name;
    std::string arguments;
};

struct Case {
    ToolCallFormat format;
    std::string reply;
    std::string content;
    std::vector<ExpectedCall> calls;
    bool malformed;
};

std::vector<std::pair<const char*, Case>> makeCases()
{
    using F = ToolCallFormat;
    const std::string weather = R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}})";
    return {
        {"plain", {F::Auto, "Hello there, how can I help?", "Hello there, how can I help?", {}, false}},
        {"plain with angle brackets", {F::Hermes, "a < b and <tool is not a marker <tool_cal", "a < b and <tool is not a marker <tool_cal", {}, false}},
        {"hermes one", {F::Hermes, "<tool_call>\n" + weather + "\n</tool_call>", "", {{"get_weather", R"({"city":"Paris","unit":"celsius"})"}}, false}},
        {"hermes content before", {F::Hermes, "Let me check.\n<tool_call>\n" + weather + "\n</tool_call>", "Let me check.\n", {{"get_weather", R"({"city":"Paris","unit":"celsius"})"}}, false}},
        {"hermes two",
         {F::Hermes,
          "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"y\": [1, 2, {\"z\": null}]}}\n</tool_call>",
          "", {{"a", R"({"x":1})"}, {"b", R"({"y":[1,2,{"z":null}]})"}}, false}},
        {"hermes key order kept", {F::Hermes, "<tool_call>{\"name\": \"f\", \"arguments\": {\"zeta\": 1, \"alpha\": 2}}</tool_call>", "", {{"f", R"({"zeta":1,"alpha":2})"}}, false}},
        {"hermes unicode and escapes",
         {F::Hermes, "<tool_call>\n{\"name\": \"search\", \"arguments\": {\"q\": \"北京 天气 \\\"}\\\" 🌧️\"}}\n</tool_call>", "",
          {{"search", "{\"q\":\"北京 天气 \\\"}\\\" 🌧️\"}"}}, false}},
        {"hermes text after call", {F::Hermes, "<tool_call>{\"name\": \"f\"}</tool_call>\n\nDone.\n", "\n\nDone.", {{"f", "{}"}}, false}},
        {"hermes malformed json", {F::Hermes, "Hi <tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>", "Hi <tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>", {}, true}},
        {"hermes missing name", {F::Hermes, "<tool_call>{\"arguments\": {}}</tool_call>", "<tool_call>{\"arguments\": {}}</tool_call>", {}, true}},
        {"hermes unclosed but whole", {F::Hermes, "<tool_call>\n" + weather + "\n", "", {{"get_weather", R"({"city":"Paris","unit":"celsius"})"}}, false}},
        {"hermes unclosed and cut", {F::Hermes, "<tool_call>\n{\"name\": \"get_wea", "<tool_call>\n{\"name\": \"get_wea", {}, true}},
        {"hermes arguments as string", {F::Hermes, "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": true}\"}</tool_call>", "", {{"f", R"({"a":true})"}}, false}},
        {"llama bare", {F::Llama3, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "", {{"get_weather", R"({"city":"Paris"})"}}, false}},
        {"llama leading space", {F::Llama3, "  \n{\"name\": \"f\", \"parameters\": {}}", "", {{"f", "{}"}}, false}},
        {"llama python tag", {F::Llama3, "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"s\": \"{[\"}}", "", {{"f", R"({"s":"{["})"}}, false}},
        {"llama two calls", {F::Llama3, "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"k\": 2}}", "", {{"a", "{}"}, {"b", R"({"k":2})"}}, false}},
        {"llama json answer is content", {F::Llama3, "{\"answer\": 42}", "{\"answer\": 42}", {}, false}},
        {"llama prose", {F::Llama3, "The answer is {42}.", "The answer is {42}.", {}, false}},
        {"llama python tag code", {F::Llama3, "<|python_tag|>print(1)", "<|python_tag|>print(1)", {}, true}},
        {"llama cut json", {F::Llama3, "{\"name\": \"f\", \"parameters\": {", "{\"name\": \"f\", \"parameters\": {", {}, false}},
        {"mistral", {F::Mistral, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]", "", {{"get_weather", R"({"city":"Paris"})"}}, false}},
        {"mistral two and space",
         {F::Mistral, "[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": {\"q\": \"]\"}}]", "", {{"a", "{}"}, {"b", R"({"q":"]"})"}}, false}},
        {"mistral content first", {F::Mistral, "Sure. [TOOL_CALLS][{\"name\": \"a\", \"arguments\": {}}]", "Sure. ", {{"a", "{}"}}, false}},
        {"mistral not json", {F::Mistral, "[TOOL_CALLS] oops", "[TOOL_CALLS] oops", {}, true}},
        {"mistral bad element", {F::Mistral, "[TOOL_CALLS][{\"name\": \"a\"}, 3]", "[TOOL_CALLS][{\"name\": \"a\"}, 3]", {}, true}},
        {"auto hermes", {F::Auto, "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", "", {{"f", "{}"}}, false}},
        {"auto mistral", {F::Auto, "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]", "", {{"f", "{}"}}, false}},
        {"hermes ignores mistral marker", {F::Hermes, "[TOOL_CALLS][{\"name\": \"f\"}]", "[TOOL_CALLS][{\"name\": \"f\"}]", {}, false}},
        {"utf8 content split", {F::Hermes, "天气很好 🌤️ <tool_call>{\"name\": \"f\"}</tool_call>", "天气很好 🌤️ ", {{"f", "{}"}}, false}},
    };
}

const std::vector<std::pair<const char*, Case>>& cases()
{
    static const std::vector<std::pair<const char*, Case>> all = makeCases();
    return all;
}

ParsedReply streamParse(const std::vector<std::string>& pieces, const ToolCallOptions& options)
{
    ToolCallStreamParser parser(options);
    ParsedReply reply;
    for (const std::string& piece : pieces) appendReplyDelta(reply, parser.feed(piece));
    appendReplyDelta(reply, parser.finish());
    reply.malformed = parser.malformed();
    return reply;
}

void compareReplies(const ParsedReply& got, const ParsedReply& want, const QString& where)
{
    QVERIFY2(got.content == want.content, qPrintable(where + QStringLiteral(": content '") + QString::fromStdString(got.content) + QStringLiteral("'")));
    QVERIFY2(got.malformed == want.malformed, qPrintable(where + QStringLiteral(": malformed flag")));
    QVERIFY2(got.toolCalls.size() == want.toolCalls.size(), qPrintable(where + QStringLiteral(": number of calls")));
    for (std::size_t i = 0; i < got.toolCalls.size(); ++i) {
        QVERIFY2(got.toolCalls[i].id == want.toolCalls[i].id, qPrintable(where + QStringLiteral(": id")));
        QVERIFY2(got.toolCalls[i].name == want.toolCalls[i].name, qPrintable(where + QStringLiteral(": name")));
        QVERIFY2(got.toolCalls[i].arguments == want.toolCalls[i].arguments, qPrintable(where + QStringLiteral(": arguments")));
    }
}

}  // namespace

Q_DECLARE_METATYPE(ToolCallFormat)

class TestToolCalls : public QObject {
    Q_OBJECT

private slots:
    void wholeReply_data()
    {
        QTest::addColumn<int>("index");
        int i = 0;
        for (const auto& [name, c] : cases()) QTest::newRow(name) << i++;
    }

    void wholeReply()
    {
        QFETCH(int, index);
        const Case& c = cases()[static_cast<std::size_t>(index)].second;
        ParsedReply reply = parseToolCalls(c.reply, {c.format, 7});
        QCOMPARE(QString::fromStdString(reply.content), QString::fromStdString(c.content));
        QCOMPARE(reply.malformed, c.malformed);
        QCOMPARE(reply.toolCalls.size(), c.calls.size());
        for (std::size_t k = 0; k < c.calls.size(); ++k) {
            QCOMPARE(QString::fromStdString(reply.toolCalls[k].name), QString::fromStdString(c.calls[k].name));
            QCOMPARE(QString::fromStdString(reply.toolCalls[k].arguments), QString::fromStdString(c.calls[k].arguments));
            const std::string& id = reply.toolCalls[k].id;
            bool mistral = c.reply.find("[TOOL_CALLS]") != std::string::npos;
            QCOMPARE(id.size(), mistral ? std::size_t{9} : std::size_t{29});
            QVERIFY(mistral || id.rfind("call_", 0) == 0);
            for (std::size_t j = mistral ? 0 : 5; j < id.size(); ++j) QVERIFY(std::isalnum(static_cast<unsigned char>(id[j])));
            for (std::size_t j = 0; j < k; ++j) QVERIFY(reply.toolCalls[j].id != id);
        }
    }

    // Every way of cutting the reply in two, and one byte at a time, gives the whole parse.
    void everySplit_data() { wholeReply_data(); }

    void everySplit()
    {
        QFETCH(int, index);
        const Case& c = cases()[static_cast<std::size_t>(index)].second;
        ToolCallOptions options{c.format, 99};
        ParsedReply whole = parseToolCalls(c.reply, options);
        for (std::size_t cut = 0; cut <= c.reply.size(); ++cut) {
            ParsedReply split = streamParse({c.reply.substr(0, cut), c.reply.substr(cut)}, options);
            compareReplies(split, whole, QStringLiteral("cut at %1").arg(cut));
        }
        std::vector<std::string> bytes;
        for (char ch : c.reply) bytes.emplace_back(1, ch);
        compareReplies(streamParse(bytes, options), whole, QStringLiteral("byte by byte"));
        std::mt19937 rng(static_cast<unsigned>(index));
        for (int round = 0; round < 50; ++round) {
            std::vector<std::string> pieces;
            for (std::size_t at = 0; at < c.reply.size();) {
                std::size_t n = 1 + rng() % 7;
                pieces.push_back(c.reply.substr(at, n));
                at += n;
            }
            compareReplies(streamParse(pieces, options), whole, QStringLiteral("random pieces, round %1").arg(round));
        }
    }

    // The delta shape clients rely on, and text held back only while it may be a marker.
    void streamingShape()
    {
        ToolCallStreamParser parser({ToolCallFormat::Hermes, 3});
        ReplyDelta d = parser.feed("Checking <tool");
        QCOMPARE(QString::fromStdString(d.content), QStringLiteral("Checking "));
        d = parser.feed("_ca");
        QVERIFY(d.empty());
        d = parser.feed("ll>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n");
        QVERIFY(d.empty());
        d = parser.feed("</tool_call><tool_call>{\"name\": \"g\"}</tool_call>");
        QCOMPARE(d.toolCalls.size(), std::size_t{4});
        QCOMPARE(d.toolCalls[0].index, 0);
        QVERIFY(!d.toolCalls[0].id.empty());
        QCOMPARE(QString::fromStdString(d.toolCalls[0].name), QStringLiteral("f"));
        QVERIFY(d.toolCalls[0].arguments.empty());
        QCOMPARE(d.toolCalls[1].index, 0);
        QVERIFY(d.toolCalls[1].id.empty() && d.toolCalls[1].name.empty());
        QCOMPARE(QString::fromStdString(d.toolCalls[1].arguments), QStringLiteral("{\"a\":1}"));
        QCOMPARE(d.toolCalls[2].index, 1);
        QCOMPARE(QString::fromStdString(d.toolCalls[2].name), QStringLiteral("g"));
        d = parser.feed(" <tool");
        QVERIFY(d.empty());
        d = parser.feed("box>");
        QCOMPARE(QString::fromStdString(d.content), QStringLiteral(" <toolbox>"));
        QVERIFY(parser.finish().empty());
        QVERIFY(!parser.malformed());
    }

    void templateDetection()
    {
        QCOMPARE(toolCallFormatForTemplate("{{- '<tool_call>\\n' }}"), ToolCallFormat::Hermes);
        QCOMPARE(toolCallFormatForTemplate("{{- '[TOOL_CALLS]' }}"), ToolCallFormat::Mistral);
        QCOMPARE(toolCallFormatForTemplate("{{- '<|python_tag|>' }}"), ToolCallFormat::Llama3);
        QCOMPARE(toolCallFormatForTemplate("{{ messages }}"), ToolCallFormat::Auto);
    }

    // Hostile output: deep nesting, a huge unclosed call, random bytes. No crash, no hang.
    void hostileOutput()
    {
        std::string deep = "<tool_call>" + std::string(100000, '[') + "</tool_call>";
        ParsedReply r = parseToolCalls(deep, {ToolCallFormat::Hermes, 1});
        QVERIFY(r.malformed);
        QCOMPARE(r.content.size(), deep.size());
        std::string deepMistral = "[TOOL_CALLS]" + std::string(100000, '{');
        r = parseToolCalls(deepMistral, {ToolCallFormat::Mistral, 1});
        QVERIFY(r.malformed);
        QCOMPARE(r.content, deepMistral);
        std::mt19937 rng(5);
        const char alphabet[] = "<>{}[]\"\\:;, |_tool_call/TOOLS_CALLpython_tagname\n\xE4\xBD\xA0\xFF";
        for (int round = 0; round < 300; ++round) {
            std::string text;
            std::size_t n = rng() % 200;
            for (std::size_t i = 0; i < n; ++i) text += alphabet[rng() % (sizeof(alphabet) - 1)];
            for (ToolCallFormat f : {ToolCallFormat::Auto, ToolCallFormat::Hermes, ToolCallFormat::Llama3, ToolCallFormat::Mistral}) {
                ParsedReply whole = parseToolCalls(text, {f, 11});
                std::vector<std::string> bytes;
                for (char ch : text) bytes.emplace_back(1, ch);
                compareReplies(streamParse(bytes, {f, 11}), whole, QStringLiteral("random text %1").arg(round));
            }
        }
    }
};

QTEST_APPLESS_MAIN(TestToolCalls)
#include "tst_tool_calls.moc"
