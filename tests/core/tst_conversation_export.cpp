// Conversation export and import: JSON round trips keep every branch and setting, malformed
// files are refused with a reason and leave nothing behind, and the Markdown of a hand-written
// conversation matches a hand-written expected file.
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include "store/conversation_export.h"
#include "store/conversation_store.h"

using namespace hearth;
using nlohmann::json;

#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        const auto checkOk_ = (expr);                                                        \
        QVERIFY2(checkOk_.isOk(), checkOk_.isOk() ? "" : checkOk_.error().message.c_str()); \
    } while (0)

namespace {

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string fixture(const char* name) { return readFile(std::string(HEARTH_FIXTURES_DIR) + "/store/" + name); }

std::unique_ptr<ConversationStore> openStore(const std::string& path)
{
    auto store = ConversationStore::open(path);
    if (!store) {
        qWarning("%s", store.error().message.c_str());
        return nullptr;
    }
    return std::move(store).value();
}

NewMessage text(MessageRole role, std::string content)
{
    NewMessage m;
    m.role = role;
    m.content = std::move(content);
    return m;
}

}  // namespace

class TestConversationExport : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<ConversationStore> m_store;

private slots:
    void init()
    {
        const std::string path = m_dir.filePath(QStringLiteral("export.sqlite3")).toStdString();
        m_store.reset();
        QFile::remove(QString::fromStdString(path));
        m_store = openStore(path);
        QVERIFY(m_store);
    }

    void jsonRoundTrip()
    {
        ConversationStore& s = *m_store;
        NewConversation nc;
        nc.title = "往返 round trip";
        nc.modelPath = "/models/qwen";
        nc.systemPrompt = "Answer in \"quotes\".\nTwo lines.";
        nc.sampling.temperature = 0.25;
        nc.sampling.minP = 0.05;
        nc.sampling.repetitionPenalty = 1.1;
        nc.sampling.maxTokens = 64;
        nc.sampling.presetName = "custom";
        const ConversationId id = s.createConversation(nc).value();
        const MessageId u1 = s.addMessage(id, text(MessageRole::User, "first question")).value();
        const MessageId a1 = s.beginReply(id).value();
        CHECK_OK(s.appendDelta(a1, "first answer", "thinking…"));
        ReplyStats stats;
        stats.promptTokens = 10;
        stats.tokensPerS = 12.5;
        CHECK_OK(s.finishReply(a1, stats, R"([{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}])"));
        NewMessage tool = text(MessageRole::Tool, "tool output");
        tool.toolCallId = "c1";
        CHECK_OK(s.addMessage(id, tool));
        const MessageId regen = s.beginAlternativeReply(a1).value();
        CHECK_OK(s.appendDelta(regen, "half"));
        CHECK_OK(s.failReply(regen, MessageState::Error, "device lost"));
        CHECK_OK(s.addAlternative(u1, text(MessageRole::User, "edited question")));
        CHECK_OK(s.selectBranch(a1));

        const auto exported = exportConversationJson(s, id);
        QVERIFY(exported);
        const json doc = json::parse(exported.value());
        // The shape docs/STORAGE.md promises, checked field by field.
        QCOMPARE(doc["format"].get<std::string>(), std::string("hearth.conversation"));
        QCOMPARE(doc["version"].get<int>(), 1);
        QCOMPARE(doc["conversation"]["sampling"].dump(),
                 std::string(R"({"max_tokens":64,"min_p":0.05,"preset":"custom","repetition_penalty":1.1,"temperature":0.25})"));
        const json& messages = doc["messages"];
        QCOMPARE(messages.size(), size_t(5));  // every branch: u1, a1, tool, regen, edited
        QVERIFY(messages[0]["parent"].is_null());
        QCOMPARE(messages[1]["parent"].get<int>(), 1);
        QCOMPARE(messages[1]["reasoning_content"].get<std::string>(), std::string("thinking…"));
        QCOMPARE(messages[1]["tool_calls"][0]["function"]["name"].get<std::string>(), std::string("f"));
        QCOMPARE(messages[1]["stats"].dump(), std::string(R"({"prompt_tokens":10,"tokens_per_s":12.5})"));
        QCOMPARE(messages[2]["tool_call_id"].get<std::string>(), std::string("c1"));
        QCOMPARE(messages[3]["parent"].get<int>(), 1);
        QCOMPARE(messages[3]["state"].get<std::string>(), std::string("error"));
        QCOMPARE(messages[3]["error"].get<std::string>(), std::string("device lost"));
        QVERIFY(messages[4]["parent"].is_null());
        QCOMPARE(doc["active_message"].get<int>(), 3);  // selectBranch(a1) -> newest leaf under a1: the tool reply

        const auto imported = importConversationJson(s, exported.value(), "round.json");
        QVERIFY2(imported, imported ? "" : imported.error().message.c_str());
        QVERIFY(imported.value() != id);
        QCOMPARE(s.listConversations().value().size(), size_t(2));
        const auto again = exportConversationJson(s, imported.value());
        QVERIFY(again);
        QCOMPARE(again.value(), exported.value());

        const Conversation original = s.conversation(id).value();
        const Conversation copy = s.conversation(imported.value()).value();
        QCOMPARE(copy.messages.size(), original.messages.size());
        for (size_t i = 0; i < copy.messages.size(); ++i) {
            QCOMPARE(copy.messages[i].content, original.messages[i].content);
            QCOMPARE(copy.messages[i].role, original.messages[i].role);
            QCOMPARE(copy.messages[i].siblingCount, original.messages[i].siblingCount);
            QVERIFY(copy.messages[i].stats == original.messages[i].stats);
        }
        QVERIFY(copy.info.sampling == original.info.sampling);
        QCOMPARE(copy.info.systemPrompt, original.info.systemPrompt);
    }

    void fixtureImportsAndReexports()
    {
        const std::string source = fixture("conversation_v1.json");
        QVERIFY(!source.empty());
        const auto id = importConversationJson(*m_store, source, "conversation_v1.json");
        QVERIFY2(id, id ? "" : id.error().message.c_str());
        const ConversationInfo info = m_store->conversationInfo(id.value()).value();
        QCOMPARE(info.title, std::string("Sorting in Rust 排序"));
        QCOMPARE(info.createdAtMs, std::int64_t{1714564800000});
        QCOMPARE(info.sampling.topK.value(), std::int64_t{40});
        QVERIFY(info.pinned);
        const Conversation c = m_store->conversation(id.value()).value();
        QCOMPARE(c.messages.size(), size_t(7));  // the active branch skips the older reply (id 2)
        QCOMPARE(c.messages[1].siblingIndex, 1);
        QCOMPARE(c.messages[6].state, MessageState::Interrupted);
        // Export, import and export again: a fixed point.
        const std::string first = exportConversationJson(*m_store, id.value()).value();
        const auto second = importConversationJson(*m_store, first, "first.json");
        QVERIFY(second);
        QCOMPARE(exportConversationJson(*m_store, second.value()).value(), first);
    }

    void markdownMatchesHandWrittenFile()
    {
        const auto id = importConversationJson(*m_store, fixture("conversation_v1.json"), "conversation_v1.json");
        QVERIFY(id);
        const auto markdown = exportConversationMarkdown(*m_store, id.value());
        QVERIFY(markdown);
        const std::string expected = fixture("conversation_v1.md");
        QVERIFY(!expected.empty());
        QCOMPARE(markdown.value(), expected);
    }

    void malformedImportsAreRefused_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("messagePart");
        QTest::addColumn<int>("code");
        const int invalid = static_cast<int>(ErrorCode::InvalidArgument);
        const QByteArray head = R"({"format":"hearth.conversation","version":1,"conversation":{"title":"t"},)";
        QTest::newRow("not json") << QByteArray("{\"format\": ") << QByteArray("not valid JSON") << invalid;
        QTest::newRow("array") << QByteArray("[]") << QByteArray("not a Hearth conversation export") << invalid;
        QTest::newRow("other format") << QByteArray(R"({"format":"chatgpt","version":1})")
                                      << QByteArray("not a Hearth conversation export") << invalid;
        QTest::newRow("newer version")
            << QByteArray(R"({"format":"hearth.conversation","version":2,"conversation":{},"messages":[]})")
            << QByteArray("newer Hearth") << static_cast<int>(ErrorCode::Unsupported);
        QTest::newRow("version as text") << QByteArray(R"({"format":"hearth.conversation","version":"1"})")
                                         << QByteArray("version") << invalid;
        QTest::newRow("no conversation") << QByteArray(R"({"format":"hearth.conversation","version":1,"messages":[]})")
                                         << QByteArray("\"conversation\"") << invalid;
        QTest::newRow("no messages") << head + "\"x\":1}" << QByteArray("\"messages\"") << invalid;
        QTest::newRow("title not text")
            << QByteArray(R"({"format":"hearth.conversation","version":1,"conversation":{"title":5},"messages":[]})")
            << QByteArray("conversation.title") << invalid;
        QTest::newRow("sampling wrong type")
            << QByteArray(R"({"format":"hearth.conversation","version":1,"conversation":{"sampling":{"temperature":"hot"}},"messages":[]})")
            << QByteArray("temperature") << invalid;
        QTest::newRow("message not object") << head + R"("messages":[1]})" << QByteArray("messages[0]") << invalid;
        QTest::newRow("bad role") << head + R"("messages":[{"id":1,"role":"wizard"}]})"
                                  << QByteArray("messages[0].role") << invalid;
        QTest::newRow("bad state") << head + R"("messages":[{"id":1,"role":"user","state":"done"}]})"
                                   << QByteArray("messages[0].state") << invalid;
        QTest::newRow("content not text") << head + R"("messages":[{"id":1,"role":"user","content":5}]})"
                                          << QByteArray("messages[0].content") << invalid;
        QTest::newRow("parent later")
            << head + R"("messages":[{"id":1,"role":"user","parent":2},{"id":2,"role":"assistant"}]})"
            << QByteArray("messages[0].parent") << invalid;
        QTest::newRow("duplicate id") << head + R"("messages":[{"id":1,"role":"user"},{"id":1,"role":"user"}]})"
                                      << QByteArray("messages[1].id") << invalid;
        QTest::newRow("tool calls object") << head + R"("messages":[{"id":1,"role":"assistant","tool_calls":{}}]})"
                                           << QByteArray("messages[0].tool_calls") << invalid;
        QTest::newRow("stats wrong type")
            << head + R"("messages":[{"id":1,"role":"assistant","stats":{"ttft_ms":"fast"}}]})"
            << QByteArray("ttft_ms") << invalid;
        QTest::newRow("unknown active") << head + R"("messages":[{"id":1,"role":"user"}],"active_message":9})"
                                        << QByteArray("active_message") << invalid;
    }

    void malformedImportsAreRefused()
    {
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, messagePart);
        QFETCH(int, code);
        const auto result = importConversationJson(*m_store, text.toStdString(), "bad.json");
        QVERIFY(!result);
        QCOMPARE(static_cast<int>(result.error().code), code);
        const std::string& message = result.error().message;
        QVERIFY2(message.find("bad.json") != std::string::npos, message.c_str());
        QVERIFY2(message.find(messagePart.toStdString()) != std::string::npos, message.c_str());
        QVERIFY(m_store->listConversations(true).value().empty());  // nothing half-imported
    }

    void markdownClosesAFenceLeftOpen_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QByteArray>("expectedBody");
        QTest::newRow("closed") << QByteArray("```\ncode\n```") << QByteArray("```\ncode\n```\n");
        QTest::newRow("open backticks") << QByteArray("```py\nx = 1") << QByteArray("```py\nx = 1\n```\n");
        QTest::newRow("open tildes, inner backticks") << QByteArray("~~~~\n```\n~~~")
                                                      << QByteArray("~~~~\n```\n~~~\n~~~~\n");
        QTest::newRow("inline ticks only") << QByteArray("use `x` and ``y``") << QByteArray("use `x` and ``y``\n");
    }

    void markdownClosesAFenceLeftOpen()
    {
        QFETCH(QByteArray, content);
        QFETCH(QByteArray, expectedBody);
        NewConversation nc;
        nc.title = "fences";
        const ConversationId id = m_store->createConversation(nc).value();
        CHECK_OK(m_store->addMessage(id, text(MessageRole::User, content.toStdString())));
        const std::string markdown = exportConversationMarkdown(*m_store, id).value();
        const std::string marker = "## User\n\n";
        const auto at = markdown.find(marker);
        QVERIFY(at != std::string::npos);
        QCOMPARE(markdown.substr(at + marker.size()), expectedBody.toStdString());
    }
};

QTEST_APPLESS_MAIN(TestConversationExport)
#include "tst_conversation_export.moc"
