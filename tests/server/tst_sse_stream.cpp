// SSE streaming over a fake engine: the exact bytes the SDKs parse, the usage chunk only when
// asked for, tool-call deltas with the name sent once, logprobs, UTF-8, keep-alive comments
// during a slow prefill, errors after the stream began, and a disconnect cancelling the
// generation within a second.
#include <QtTest>

#include "server/server_fixture.h"

using namespace hearth;
using namespace hearth::test;
using nlohmann::json;

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// The data payloads of an SSE body; fails the framing check on anything but "data: X\n\n"
// events and ": keep-alive\n\n" comments.
struct Sse {
    std::vector<std::string> data;
    int keepAlives = 0;
    bool wellFramed = true;
};

Sse parseSse(const std::string& body)
{
    Sse out;
    std::size_t pos = 0;
    while (pos < body.size()) {
        std::size_t end = body.find("\n\n", pos);
        if (end == std::string::npos) {
            out.wellFramed = false;
            break;
        }
        std::string event = body.substr(pos, end - pos);
        if (event == ": keep-alive") ++out.keepAlives;
        else if (event.rfind("data: ", 0) == 0 && event.find('\n') == std::string::npos) out.data.push_back(event.substr(6));
        else out.wellFramed = false;
        pos = end + 2;
    }
    return out;
}

std::string streamBody(const ServerUnderTest& s, const std::string& path, const json& request, httplib::Headers headers = {})
{
    auto res = s.client().Post(path.c_str(), headers, request.dump(), "application/json");
    return res ? res->body : std::string("<no response>");
}

json userChat(bool stream)
{
    return json{{"model", "qwen-test"}, {"stream", stream}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
}

}  // namespace

class TestSseStream : public QObject {
    Q_OBJECT

private slots:
    void chatStreamBytesExact();
    void usageChunkOnlyWhenAsked();
    void separateDeltasReassemble();
    void toolCallDeltas();
    void toolCallsNonStream();
    void logprobsStreamed();
    void utf8Intact();
    void keepAliveDuringSlowPrefill();
    void errorAfterStreamStarted();
    void noCompressionForSse();
    void completionsStream();
    void disconnectCancelsStream();
};

void TestSseStream::chatStreamBytesExact()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    json req = userChat(true);
    req["stream_options"] = {{"include_usage", true}};
    auto res = s.client().Post("/v1/chat/completions", req.dump(), "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 200);
    std::string body = res->body;
    QCOMPARE(qs(res->get_header_value("Content-Type")), QStringLiteral("text/event-stream"));
    QCOMPARE(qs(res->get_header_value("Cache-Control")), QStringLiteral("no-cache, no-transform"));
    QCOMPARE(qs(res->get_header_value("X-Accel-Buffering")), QStringLiteral("no"));
    Sse sse = parseSse(body);
    QVERIFY(!sse.data.empty());
    json first = parseJson(sse.data[0]);
    std::string id = first["id"], fp = first["system_fingerprint"];
    std::string created = std::to_string(first["created"].get<long long>());
    int promptTokens = int(s.engine->lastRecord()->request.promptIds.size());
    std::string head = R"({"id":")" + id + R"(","object":"chat.completion.chunk","created":)" + created +
                       R"(,"model":"qwen-test","system_fingerprint":")" + fp + R"(","choices":)";
    // The fake releases all four tokens at once, so they arrive as one coalesced delta.
    std::string expected =
        "data: " + head + R"([{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null})" + "\n\n" +
        "data: " + head + R"([{"index":0,"delta":{"content":"Hello, world!"},"logprobs":null,"finish_reason":null}],"usage":null})" + "\n\n" +
        "data: " + head + R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})" + "\n\n" +
        "data: " + head + R"([],"usage":{"prompt_tokens":)" + std::to_string(promptTokens) +
        R"(,"completion_tokens":4,"total_tokens":)" + std::to_string(promptTokens + 4) +
        R"(,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}})" + "\n\n" +
        "data: [DONE]\n\n";
    QCOMPARE(qs(body), qs(expected));
}

void TestSseStream::usageChunkOnlyWhenAsked()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    Sse sse = parseSse(streamBody(s, "/v1/chat/completions", userChat(true)));
    QVERIFY(sse.wellFramed);
    QCOMPARE(qs(sse.data.back()), QStringLiteral("[DONE]"));
    for (std::size_t i = 0; i + 1 < sse.data.size(); ++i) {
        json chunk = parseJson(sse.data[i]);
        QCOMPARE(int(chunk["choices"].size()), 1);  // never an empty choices list unasked
        QVERIFY(chunk["usage"].is_null());
    }
}

void TestSseStream::separateDeltasReassemble()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript script;
    script.tokenDelay = std::chrono::milliseconds(40);
    s.engine->setScript(script);
    Sse sse = parseSse(streamBody(s, "/chat/completions", userChat(true)));
    QVERIFY(sse.wellFramed);
    std::string text;
    int contentChunks = 0;
    std::set<std::string> ids;
    for (const std::string& d : sse.data) {
        if (d == "[DONE]") continue;
        json chunk = parseJson(d);
        ids.insert(chunk["id"].get<std::string>());
        const json& delta = chunk["choices"][0]["delta"];
        if (delta.contains("content")) {
            text += delta["content"].get<std::string>();
            if (!delta["content"].get<std::string>().empty()) ++contentChunks;
        }
    }
    QCOMPARE(qs(text), QStringLiteral("Hello, world!"));
    QVERIFY2(contentChunks >= 2, "tokens 40 ms apart should not all be coalesced");
    QCOMPARE(int(ids.size()), 1);
}

void TestSseStream::toolCallDeltas()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript script;
    script.pieces = {"<tool_call>", "\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}", "\n</tool_call>"};
    script.tokenDelay = std::chrono::milliseconds(20);
    s.engine->setScript(script);
    json req = userChat(true);
    req["tools"] = json::array({{{"type", "function"},
                                 {"function", {{"name", "get_weather"}, {"parameters", {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
    Sse sse = parseSse(streamBody(s, "/v1/chat/completions", req));
    QVERIFY(sse.wellFramed);
    int namesSeen = 0;
    std::string arguments, content, finish;
    bool firstHadIdAndType = false;
    bool sawCall = false;
    for (const std::string& d : sse.data) {
        if (d == "[DONE]") continue;
        json choice = parseJson(d)["choices"][0];
        if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
        const json& delta = choice["delta"];
        if (delta.contains("content") && delta["content"].is_string()) content += delta["content"].get<std::string>();
        if (!delta.contains("tool_calls")) continue;
        for (const json& call : delta["tool_calls"]) {
            QVERIFY(call.contains("index"));
            QCOMPARE(call["index"].get<int>(), 0);
            if (!sawCall) firstHadIdAndType = call.contains("id") && call["type"] == "function" && call["function"].contains("name");
            sawCall = true;
            if (call["function"].contains("name")) ++namesSeen;
            arguments += call["function"]["arguments"].get<std::string>();
        }
    }
    QVERIFY(firstHadIdAndType);
    QCOMPARE(namesSeen, 1);
    QCOMPARE(parseJson(arguments), json({{"city", "Paris"}}));
    QCOMPARE(qs(content), QString());
    QCOMPARE(qs(finish), QStringLiteral("tool_calls"));
    // The tools reached the template: the prompt carries the function signature.
    std::string prompt = s.engine->tokenizer()->decode(s.engine->lastRecord()->request.promptIds);
    QVERIFY(prompt.find("get_weather") != std::string::npos);
}

void TestSseStream::toolCallsNonStream()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript script;
    script.pieces = {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"};
    s.engine->setScript(script);
    json req = userChat(false);
    req["tools"] = json::array({{{"type", "function"}, {"function", {{"name", "get_weather"}}}}});
    auto res = s.client().Post("/v1/chat/completions", req.dump(), "application/json");
    QCOMPARE(res->status, 200);
    json choice = parseJson(res->body)["choices"][0];
    QCOMPARE(qs(choice["finish_reason"]), QStringLiteral("tool_calls"));
    QVERIFY(choice["message"]["content"].is_null());
    QCOMPARE(qs(choice["message"]["tool_calls"][0]["function"]["name"]), QStringLiteral("get_weather"));
    QCOMPARE(qs(choice["message"]["tool_calls"][0]["type"]), QStringLiteral("function"));
    QCOMPARE(parseJson(choice["message"]["tool_calls"][0]["function"]["arguments"].get<std::string>()), json({{"city", "Paris"}}));

    // A tool round trip: the assistant's call (arguments as a JSON string) and the tool's answer render.
    json followUp = {{"messages",
                      {{{"role", "user"}, {"content", "Weather?"}},
                       {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", choice["message"]["tool_calls"]}},
                       {{"role", "tool"}, {"tool_call_id", choice["message"]["tool_calls"][0]["id"]}, {"content", "22C"}}}},
                     {"tools", req["tools"]}};
    res = s.client().Post("/v1/chat/completions", followUp.dump(), "application/json");
    QVERIFY2(res->status == 200, res->body.c_str());
    std::string prompt = s.engine->tokenizer()->decode(s.engine->lastRecord()->request.promptIds);
    QVERIFY2(prompt.find(R"({"name": "get_weather", "arguments": {"city": "Paris"}})") != std::string::npos, prompt.c_str());
    QVERIFY(prompt.find("<tool_response>\n22C\n</tool_response>") != std::string::npos);
}

void TestSseStream::logprobsStreamed()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    json req = userChat(true);
    req["logprobs"] = true;
    req["top_logprobs"] = 3;
    Sse sse = parseSse(streamBody(s, "/v1/chat/completions", req));
    QCOMPARE(s.engine->lastRecord()->request.sampling.topLogprobs, 3);
    std::vector<json> entries;
    for (const std::string& d : sse.data) {
        if (d == "[DONE]") continue;
        json lp = parseJson(d)["choices"][0]["logprobs"];
        if (lp.is_object()) {
            for (const json& e : lp["content"]) entries.push_back(e);
        }
    }
    QCOMPARE(int(entries.size()), 4);
    QCOMPARE(qs(entries[0]["token"]), QStringLiteral("Hello"));
    QCOMPARE(entries[0]["logprob"].get<double>(), -0.25);
    QCOMPARE(entries[0]["bytes"], json({72, 101, 108, 108, 111}));
    QCOMPARE(int(entries[0]["top_logprobs"].size()), 3);
    QCOMPARE(entries[2]["logprob"].get<double>(), -0.75);
    QCOMPARE(qs(entries[2]["token"]), QStringLiteral(" world"));
}

void TestSseStream::utf8Intact()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript script;
    script.pieces = {"你好", "，", "世界", " 🌍", "\n\"quoted\""};
    script.tokenDelay = std::chrono::milliseconds(10);
    s.engine->setScript(script);
    Sse sse = parseSse(streamBody(s, "/v1/chat/completions", userChat(true)));
    QVERIFY(sse.wellFramed);  // newlines inside content are escaped, one line per event
    std::string text;
    for (const std::string& d : sse.data) {
        if (d == "[DONE]") continue;
        json delta = parseJson(d)["choices"][0]["delta"];
        if (delta.contains("content")) text += delta["content"].get<std::string>();
    }
    QCOMPARE(qs(text), QStringLiteral("你好，世界 🌍\n\"quoted\""));
}

void TestSseStream::keepAliveDuringSlowPrefill()
{
    ServerOptions options;
    options.keepAliveInterval = std::chrono::milliseconds(100);
    ServerUnderTest s(options);
    QVERIFY(s.server);
    FakeScript script;
    script.firstTokenDelay = std::chrono::milliseconds(700);
    s.engine->setScript(script);
    std::string body = streamBody(s, "/v1/chat/completions", userChat(true));
    Sse sse = parseSse(body);
    QVERIFY(sse.wellFramed);
    QVERIFY2(sse.keepAlives >= 3, body.c_str());
    // The comments come after the role chunk and before the first content.
    QVERIFY(body.find(": keep-alive") > body.find("\"role\":\"assistant\""));
    QVERIFY(body.find(": keep-alive") < body.find("Hello"));
}

void TestSseStream::errorAfterStreamStarted()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript script;
    script.pieces = {"partial"};
    script.failAfterPieces = makeError(ErrorCode::Internal, "backend exploded");
    s.engine->setScript(script);
    Sse sse = parseSse(streamBody(s, "/v1/chat/completions", userChat(true)));
    QVERIFY(sse.wellFramed);
    json last = parseJson(sse.data.back());
    QVERIFY2(isErrorEnvelope(last), sse.data.back().c_str());
    QVERIFY(qs(last["error"]["message"]).contains(QStringLiteral("backend exploded")));
    auto res = s.client().Post("/v1/chat/completions", userChat(false).dump(), "application/json");
    QCOMPARE(res->status, 500);
    QVERIFY(isErrorEnvelope(parseJson(res->body)));
}

void TestSseStream::noCompressionForSse()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    auto c = s.client();
    c.set_decompress(false);
    auto res = c.Post("/v1/chat/completions", {{"Accept-Encoding", "gzip, deflate, br"}}, userChat(true).dump(), "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 200);
    QVERIFY(!res->has_header("Content-Encoding"));
    QVERIFY(res->body.find("data: [DONE]\n\n") != std::string::npos);
}

void TestSseStream::completionsStream()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    json req = {{"prompt", "Once"}, {"stream", true}, {"max_tokens", 3}, {"stream_options", {{"include_usage", true}}}};
    Sse sse = parseSse(streamBody(s, "/v1/completions", req));
    QVERIFY(sse.wellFramed);
    QCOMPARE(qs(sse.data.back()), QStringLiteral("[DONE]"));
    std::string text, finish;
    json usage;
    for (const std::string& d : sse.data) {
        if (d == "[DONE]") continue;
        json chunk = parseJson(d);
        QCOMPARE(qs(chunk["object"]), QStringLiteral("text_completion"));
        if (chunk["choices"].empty()) {
            usage = chunk["usage"];
            continue;
        }
        text += chunk["choices"][0]["text"].get<std::string>();
        if (!chunk["choices"][0]["finish_reason"].is_null()) finish = chunk["choices"][0]["finish_reason"];
    }
    QCOMPARE(qs(text), QStringLiteral("Hello, world"));
    QCOMPARE(qs(finish), QStringLiteral("length"));
    QCOMPARE(usage["completion_tokens"].get<int>(), 3);
}

void TestSseStream::disconnectCancelsStream()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript slow;
    slow.pieces.assign(500, "x");
    slow.tokenDelay = std::chrono::milliseconds(300);  // slower than a write-failure detection would notice
    s.engine->setScript(slow);
    int fd = connectRaw(s.port());
    QVERIFY(fd >= 0);
    std::string request = rawPost("/v1/chat/completions", userChat(true).dump());
    QCOMPARE(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
    std::string received;
    char buf[4096];
    while (received.find("\"content\":\"x\"") == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        QVERIFY(n > 0);
        received.append(buf, std::size_t(n));
    }
    auto record = s.engine->lastRecord();
    QVERIFY(!record->cancelled);
    auto closedAt = std::chrono::steady_clock::now();
    ::close(fd);
    QTRY_VERIFY_WITH_TIMEOUT(record->cancelled.load(), 2000);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(record->cancelledAt - closedAt).count();
    QVERIFY2(ms < 1000, qPrintable(QStringLiteral("cancelled after %1 ms").arg(ms)));
}

QTEST_APPLESS_MAIN(TestSseStream)
#include "tst_sse_stream.moc"
