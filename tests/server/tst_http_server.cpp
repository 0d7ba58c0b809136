// The HTTP surface over a fake engine: routes and aliases, the OpenAI error envelope with the
// right status for each failure, auth, CORS, the bind refusal, readiness and metrics.
#include <QtTest>

#include "server/server_fixture.h"

using namespace hearth;
using namespace hearth::test;
using nlohmann::json;

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

const char* kChatBody = R"({"model":"qwen-test","messages":[{"role":"user","content":"Hi"}]})";

}  // namespace

class TestHttpServer : public QObject {
    Q_OBJECT

private slots:
    void chatNonStreamShape();
    void chatParamsReachEngine();
    void routeAliases_data();
    void routeAliases();
    void errorStatuses_data();
    void errorStatuses();
    void unknownRouteAndMethod();
    void oversizeBody413();
    void busyGives429();
    void loadingGives503();
    void healthAndModels();
    void authRequired();
    void corsAllowList();
    void bindRefusedWithoutKey();
    void completionsEndpoint();
    void metricsText();
    void disconnectCancelsNonStream();
};

void TestHttpServer::chatNonStreamShape()
{
    ServerUnderTest s;
    QVERIFY2(s.server, s.error.c_str());
    auto res = s.client().Post("/v1/chat/completions", kChatBody, "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 200);
    QCOMPARE(qs(res->get_header_value("Content-Type")), QStringLiteral("application/json; charset=utf-8"));
    json body = parseJson(res->body);
    QCOMPARE(qs(body["object"]), QStringLiteral("chat.completion"));
    QVERIFY(body["id"].get<std::string>().rfind("chatcmpl-", 0) == 0);
    QCOMPARE(qs(body["model"]), QStringLiteral("qwen-test"));
    QCOMPARE(qs(body["choices"][0]["message"]["role"]), QStringLiteral("assistant"));
    QCOMPARE(qs(body["choices"][0]["message"]["content"]), QStringLiteral("Hello, world!"));
    QCOMPARE(qs(body["choices"][0]["finish_reason"]), QStringLiteral("stop"));
    QVERIFY(!body["choices"][0]["message"].contains("tool_calls"));
    QVERIFY(body["choices"][0]["logprobs"].is_null());
    // The prompt the engine got is the fixture template's ChatML rendering, written out by hand.
    auto record = s.engine->lastRecord();
    QVERIFY(record);
    std::string expected = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    QCOMPARE(qs(s.engine->tokenizer()->decode(record->request.promptIds)), qs(expected));
    QCOMPARE(body["usage"]["prompt_tokens"].get<int>(), int(record->request.promptIds.size()));
    QCOMPARE(body["usage"]["completion_tokens"].get<int>(), 4);
    QCOMPARE(body["usage"]["total_tokens"].get<int>(), int(record->request.promptIds.size()) + 4);
}

void TestHttpServer::chatParamsReachEngine()
{
    ServerOptions options;
    options.adapters.push_back({"sql-lora", "/nowhere", 0.5f});
    ServerUnderTest s(options);
    QVERIFY(s.server);
    json req = {{"model", "sql-lora"},
                {"messages", {{{"role", "developer"}, {"content", "Be brief."}}, {{"role", "user"}, {"content", "Hi"}}}},
                {"max_tokens", 100},
                {"max_completion_tokens", 7},
                {"temperature", 0.3},
                {"top_p", 0.9},
                {"top_k", 20},
                {"min_p", 0.05},
                {"presence_penalty", 0.5},
                {"frequency_penalty", -0.5},
                {"repetition_penalty", 1.1},
                {"seed", -1},
                {"stop", {"\n\n", "END"}},
                {"logit_bias", {{"42", -100}}},
                {"tools", json::array()},
                {"user", "ignored"},
                {"some_unknown_field", {1, 2}}};
    auto res = s.client().Post("/v1/chat/completions", req.dump(), "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 200);
    const GenerateRequest& g = s.engine->lastRecord()->request;
    QCOMPARE(g.maxTokens, 7);  // max_completion_tokens wins over max_tokens
    QCOMPARE(g.sampling.temperature, 0.3f);
    QCOMPARE(g.sampling.topP, 0.9f);
    QCOMPARE(g.sampling.topK, 20);
    QCOMPARE(g.sampling.minP, 0.05f);
    QCOMPARE(g.sampling.presencePenalty, 0.5f);
    QCOMPARE(g.sampling.frequencyPenalty, -0.5f);
    QCOMPARE(g.sampling.repetitionPenalty, 1.1f);
    QVERIFY(g.sampling.seed.has_value());
    QCOMPARE(*g.sampling.seed, std::uint64_t(-1));
    QCOMPARE(g.sampling.logitBias.at(42), -100.0f);
    QCOMPARE(int(g.stopStrings.size()), 2);
    QCOMPARE(qs(g.adapter), QStringLiteral("sql-lora"));
    QCOMPARE(g.adapterScale, 0.5f);
    // developer became a system message in the rendered prompt.
    std::string prompt = s.engine->tokenizer()->decode(g.promptIds);
    QVERIFY2(prompt.rfind("<|im_start|>system\nBe brief.<|im_end|>", 0) == 0, prompt.c_str());
    QCOMPARE(qs(parseJson(res->body)["model"]), QStringLiteral("sql-lora"));

    // The explicit field with a scale.
    json req2 = {{"model", "qwen-test"}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"lora", {{"name", "sql-lora"}, {"scale", 2.0}}}};
    res = s.client().Post("/v1/chat/completions", req2.dump(), "application/json");
    QCOMPARE(res->status, 200);
    QCOMPARE(qs(s.engine->lastRecord()->request.adapter), QStringLiteral("sql-lora"));
    QCOMPARE(s.engine->lastRecord()->request.adapterScale, 2.0f);
}

void TestHttpServer::routeAliases_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("path");
    QTest::newRow("models") << QStringLiteral("GET") << QStringLiteral("/v1/models");
    QTest::newRow("models unprefixed") << QStringLiteral("GET") << QStringLiteral("/models");
    QTest::newRow("double slash") << QStringLiteral("GET") << QStringLiteral("/v1//models");
    QTest::newRow("trailing slash") << QStringLiteral("GET") << QStringLiteral("/v1/models/");
    QTest::newRow("model by id") << QStringLiteral("GET") << QStringLiteral("/v1/models/qwen-test");
    QTest::newRow("chat unprefixed") << QStringLiteral("POST") << QStringLiteral("/chat/completions");
    QTest::newRow("chat double slash") << QStringLiteral("POST") << QStringLiteral("/v1//chat/completions");
    QTest::newRow("health") << QStringLiteral("GET") << QStringLiteral("/health");
}

void TestHttpServer::routeAliases()
{
    QFETCH(QString, method);
    QFETCH(QString, path);
    ServerUnderTest s;
    QVERIFY(s.server);
    auto c = s.client();
    auto res = method == QStringLiteral("GET") ? c.Get(path.toStdString().c_str())
                                               : c.Post(path.toStdString().c_str(), kChatBody, "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 200);
    QVERIFY(parseJson(res->body).is_object());
}

void TestHttpServer::errorStatuses_data()
{
    QTest::addColumn<QString>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("param");
    QTest::addColumn<QString>("code");
    auto row = [](const char* name, const char* body, int status, const char* param, const char* code) {
        QTest::newRow(name) << QString::fromUtf8(body) << status << QString::fromUtf8(param) << QString::fromUtf8(code);
    };
    row("malformed json", R"({"model": "qwen-test", "messages": [)", 400, "", "");
    row("empty body", "", 400, "", "");
    row("not an object", R"([1,2])", 400, "", "");
    row("no messages", R"({"model":"qwen-test"})", 400, "messages", "");
    row("empty messages", R"({"messages":[]})", 400, "messages", "");
    row("bad role", R"({"messages":[{"role":"wizard","content":"x"}]})", 400, "messages[0].role", "");
    row("temperature type", R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})", 400, "temperature", "");
    row("temperature range", R"({"messages":[{"role":"user","content":"x"}],"temperature":3})", 400, "temperature", "");
    row("n>1", R"({"messages":[{"role":"user","content":"x"}],"n":2})", 400, "n", "");
    row("max_tokens 0", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})", 400, "max_tokens", "");
    row("top_logprobs alone", R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", 400, "top_logprobs", "");
    row("json_object", R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})", 400, "response_format", "");
    row("stop type", R"({"messages":[{"role":"user","content":"x"}],"stop":5})", 400, "stop", "");
    row("image part", R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}]})", 400, "messages[0].content", "");
    row("unknown model", R"({"model":"gpt-5","messages":[{"role":"user","content":"x"}]})", 404, "model", "model_not_found");
    row("unknown lora", R"({"messages":[{"role":"user","content":"x"}],"lora":"nope"})", 404, "lora", "model_not_found");
}

void TestHttpServer::errorStatuses()
{
    QFETCH(QString, body);
    QFETCH(int, status);
    QFETCH(QString, param);
    QFETCH(QString, code);
    ServerUnderTest s;
    QVERIFY(s.server);
    auto res = s.client().Post("/v1/chat/completions", body.toStdString(), "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, status);
    QCOMPARE(qs(res->get_header_value("Content-Type")), QStringLiteral("application/json; charset=utf-8"));
    json e = parseJson(res->body);
    QVERIFY2(isErrorEnvelope(e), res->body.c_str());
    if (!param.isEmpty()) QCOMPARE(qs(e["error"]["param"]), param);
    if (!code.isEmpty()) QCOMPARE(qs(e["error"]["code"]), code);
    if (status == 400) {
        QCOMPARE(qs(e["error"]["type"]), QStringLiteral("invalid_request_error"));
        QCOMPARE(qs(res->get_header_value("x-should-retry")), QStringLiteral("false"));
    }
    QCOMPARE(int(s.engine->nSubmitted()), 0);
}

void TestHttpServer::unknownRouteAndMethod()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    auto c = s.client();
    auto res = c.Get("/v1/nothing-here");
    QCOMPARE(res->status, 404);
    QVERIFY(isErrorEnvelope(parseJson(res->body)));
    res = c.Get("/v1/models/not-a-model");
    QCOMPARE(res->status, 404);
    QCOMPARE(qs(parseJson(res->body)["error"]["code"]), QStringLiteral("model_not_found"));
    res = c.Get("/v1/chat/completions");
    QCOMPARE(res->status, 405);
    QVERIFY(isErrorEnvelope(parseJson(res->body)));
    res = c.Delete("/v1/models");
    QCOMPARE(res->status, 405);
}

void TestHttpServer::oversizeBody413()
{
    ServerOptions options;
    options.maxBodyBytes = 1024;
    ServerUnderTest s(options);
    QVERIFY(s.server);
    std::string big = R"({"messages":[{"role":"user","content":")" + std::string(2000, 'x') + R"("}]})";
    auto res = s.client().Post("/v1/chat/completions", big, "application/json");
    QVERIFY(res);
    QCOMPARE(res->status, 413);
    QVERIFY2(isErrorEnvelope(parseJson(res->body)), res->body.c_str());
}

void TestHttpServer::busyGives429()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    s.engine->setBusy(true);
    auto res = s.client().Post("/v1/chat/completions", kChatBody, "application/json");
    QCOMPARE(res->status, 429);
    QVERIFY(res->has_header("Retry-After"));
    QCOMPARE(qs(parseJson(res->body)["error"]["type"]), QStringLiteral("rate_limit_error"));
    // Streaming requests too: the error comes before any SSE byte, as plain JSON.
    res = s.client().Post("/v1/chat/completions",
                          R"({"stream":true,"messages":[{"role":"user","content":"x"}]})", "application/json");
    QCOMPARE(res->status, 429);
    QVERIFY(isErrorEnvelope(parseJson(res->body)));
}

void TestHttpServer::loadingGives503()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    EngineState loading;
    loading.kind = EngineStateKind::Loading;
    loading.modelPath = fixtureModelDir();
    loading.progress.stage = "reading";
    loading.progress.bytesDone = 300;
    loading.progress.bytesTotal = 1000;
    loading.progress.rateBytesPerS = 50.0;
    loading.progress.etaS = 14.0;
    loading.progress.file = "model.safetensors";
    s.engine->setState(loading);
    auto c = s.client();
    auto res = c.Post("/v1/chat/completions", kChatBody, "application/json");
    QCOMPARE(res->status, 503);
    QCOMPARE(qs(res->get_header_value("Retry-After")), QStringLiteral("5"));
    QCOMPARE(qs(parseJson(res->body)["error"]["code"]), QStringLiteral("model_loading"));
    res = c.Get("/health");
    QCOMPARE(res->status, 503);
    QVERIFY(res->has_header("Retry-After"));
    json health = parseJson(res->body);
    QVERIFY(isErrorEnvelope(health));
    QCOMPARE(qs(health["state"]), QStringLiteral("loading"));
    QCOMPARE(health["progress"]["bytes_done"].get<int>(), 300);
    QCOMPARE(health["progress"]["bytes_total"].get<int>(), 1000);
    QCOMPARE(qs(health["progress"]["stage"]), QStringLiteral("reading"));
    // The model stays listed, with its state.
    res = c.Get("/v1/models");
    QCOMPARE(res->status, 200);
    json models = parseJson(res->body);
    QCOMPARE(qs(models["data"][0]["id"]), QStringLiteral("qwen-test"));
    QCOMPARE(models["data"][0]["meta"]["loaded"].get<bool>(), false);
    QCOMPARE(qs(models["data"][0]["meta"]["state"]), QStringLiteral("loading"));

    EngineState failed;
    failed.kind = EngineStateKind::Failed;
    failed.reason = "disk on fire";
    s.engine->setState(failed);
    res = c.Post("/v1/chat/completions", kChatBody, "application/json");
    QCOMPARE(res->status, 503);
    QCOMPARE(qs(res->get_header_value("x-should-retry")), QStringLiteral("false"));
    QVERIFY(qs(parseJson(res->body)["error"]["message"]).contains(QStringLiteral("disk on fire")));
}

void TestHttpServer::healthAndModels()
{
    ServerOptions options;
    options.adapters.push_back({"sql-lora", "/nowhere", 1.0f});
    ServerUnderTest s(options);
    QVERIFY(s.server);
    auto c = s.client();
    auto res = c.Get("/health");
    QCOMPARE(res->status, 200);
    QCOMPARE(qs(parseJson(res->body)["status"]), QStringLiteral("ok"));
    res = c.Get("/v1/models");
    json models = parseJson(res->body);
    QCOMPARE(qs(models["object"]), QStringLiteral("list"));
    QCOMPARE(int(models["data"].size()), 2);
    QCOMPARE(qs(models["data"][0]["object"]), QStringLiteral("model"));
    QCOMPARE(qs(models["data"][0]["owned_by"]), QStringLiteral("hearth"));
    QVERIFY(models["data"][0]["created"].is_number_integer());
    QCOMPARE(models["data"][0]["meta"]["loaded"].get<bool>(), true);
    QCOMPARE(qs(models["data"][1]["id"]), QStringLiteral("sql-lora"));
    QCOMPARE(qs(models["data"][1]["parent"]), QStringLiteral("qwen-test"));
    QCOMPARE(models["data"][1]["meta"]["loaded"].get<bool>(), false);  // not attached to the engine
    res = c.Get("/v1/models/sql-lora");
    QCOMPARE(res->status, 200);
    QCOMPARE(qs(parseJson(res->body)["id"]), QStringLiteral("sql-lora"));
}

void TestHttpServer::authRequired()
{
    ServerOptions options;
    options.apiKey = "sk-secret-key";
    ServerUnderTest s(options);
    QVERIFY(s.server);
    auto c = s.client();
    auto res = c.Get("/v1/models");
    QCOMPARE(res->status, 401);
    json e = parseJson(res->body);
    QVERIFY(isErrorEnvelope(e));
    QCOMPARE(qs(e["error"]["code"]), QStringLiteral("invalid_api_key"));
    res = c.Get("/v1/models", {{"Authorization", "Bearer sk-secret-kez"}});
    QCOMPARE(res->status, 401);
    res = c.Get("/v1/models", {{"Authorization", "Bearer sk-secret-key-longer"}});
    QCOMPARE(res->status, 401);
    res = c.Get("/v1/models", {{"Authorization", "bearer sk-secret-key"}});
    QCOMPARE(res->status, 200);
    res = c.Get("/v1/models", {{"x-api-key", "sk-secret-key"}});
    QCOMPARE(res->status, 200);
    res = c.Post("/v1/chat/completions", {{"Authorization", "Bearer nope"}}, kChatBody, "application/json");
    QCOMPARE(res->status, 401);
    QCOMPARE(int(s.engine->nSubmitted()), 0);
    res = c.Get("/metrics");
    QCOMPARE(res->status, 401);
    res = c.Get("/health");  // public
    QCOMPARE(res->status, 200);

    // Without a configured key any Authorization header is ignored (the SDKs insist on one).
    ServerUnderTest open;
    res = open.client().Get("/v1/models", {{"Authorization", "Bearer sk-no-key-required"}});
    QCOMPARE(res->status, 200);
}

void TestHttpServer::corsAllowList()
{
    ServerOptions options;
    options.corsOrigins = {"http://localhost:3000"};
    options.apiKey = "k";
    ServerUnderTest s(options);
    QVERIFY(s.server);
    auto c = s.client();
    auto res = c.Options("/v1/chat/completions", {{"Origin", "http://localhost:3000"},
                                                  {"Access-Control-Request-Method", "POST"},
                                                  {"Access-Control-Request-Headers", "authorization, content-type, x-stainless-os"}});
    QVERIFY(res);
    QCOMPARE(res->status, 204);  // preflight needs no key
    QCOMPARE(qs(res->get_header_value("Access-Control-Allow-Origin")), QStringLiteral("http://localhost:3000"));
    QVERIFY(qs(res->get_header_value("Access-Control-Allow-Methods")).contains(QStringLiteral("POST")));
    QVERIFY(qs(res->get_header_value("Access-Control-Allow-Headers")).contains(QStringLiteral("authorization")));
    QVERIFY(qs(res->get_header_value("Access-Control-Allow-Headers")).contains(QStringLiteral("x-stainless-os")));
    QCOMPARE(qs(res->get_header_value("Access-Control-Allow-Private-Network")), QStringLiteral("true"));

    res = c.Options("/v1/chat/completions", {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
    QVERIFY(!res->has_header("Access-Control-Allow-Origin"));
    res = c.Get("/v1/models", {{"Origin", "http://evil.example"}, {"Authorization", "Bearer k"}});
    QCOMPARE(res->status, 200);
    QVERIFY(!res->has_header("Access-Control-Allow-Origin"));
    res = c.Get("/v1/models", {{"Origin", "http://localhost:3000"}, {"Authorization", "Bearer k"}});
    QCOMPARE(qs(res->get_header_value("Access-Control-Allow-Origin")), QStringLiteral("http://localhost:3000"));

    // CORS off by default: no Access-Control headers for anyone.
    ServerUnderTest off;
    res = off.client().Options("/v1/models", {{"Origin", "http://localhost:3000"}});
    QVERIFY(!res->has_header("Access-Control-Allow-Origin"));
}

void TestHttpServer::bindRefusedWithoutKey()
{
    QVERIFY(isLoopbackHost("127.0.0.1"));
    QVERIFY(isLoopbackHost("127.8.9.1"));
    QVERIFY(isLoopbackHost("::1"));
    QVERIFY(isLoopbackHost("[::1]"));
    QVERIFY(isLoopbackHost("localhost"));
    QVERIFY(!isLoopbackHost("0.0.0.0"));
    QVERIFY(!isLoopbackHost("::"));
    QVERIFY(!isLoopbackHost("192.168.1.5"));
    QVERIFY(!isLoopbackHost("example.com"));
    ServerOptions options;
    options.host = "0.0.0.0";
    ServerUnderTest refused(options);
    QVERIFY(!refused.server);
    QVERIFY(qs(refused.error).contains(QStringLiteral("API key")));
    options.apiKey = "k";
    QVERIFY(checkBindAllowed(options).isOk());
    // DNS rebinding: a loopback server without a key refuses foreign Host headers.
    ServerUnderTest s;
    auto res = s.client().Get("/v1/models", {{"Host", "evil.example:8080"}});
    QCOMPARE(res->status, 403);
    QVERIFY(isErrorEnvelope(parseJson(res->body)));
}

void TestHttpServer::completionsEndpoint()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    auto c = s.client();
    auto res = c.Post("/v1/completions", R"({"model":"qwen-test","prompt":"Once upon","logprobs":2,"echo":true})", "application/json");
    QCOMPARE(res->status, 200);
    json body = parseJson(res->body);
    QCOMPARE(qs(body["object"]), QStringLiteral("text_completion"));
    QCOMPARE(qs(body["choices"][0]["text"]), QStringLiteral("Once uponHello, world!"));
    QCOMPARE(int(body["choices"][0]["logprobs"]["tokens"].size()), 4);
    QCOMPARE(int(body["choices"][0]["logprobs"]["top_logprobs"][0].size()), 2);
    QCOMPARE(body["choices"][0]["logprobs"]["text_offset"][1].get<int>(), 9 + 5);
    QCOMPARE(s.engine->lastRecord()->request.maxTokens, 16);  // OpenAI's legacy default
    QCOMPARE(qs(s.engine->tokenizer()->decode(s.engine->lastRecord()->request.promptIds)), QStringLiteral("Once upon"));

    res = c.Post("/v1/completions", R"({"prompt":[[40, 1079]],"max_tokens":2})", "application/json");
    QCOMPARE(res->status, 200);
    body = parseJson(res->body);
    QCOMPARE(qs(body["choices"][0]["text"]), QStringLiteral("Hello,"));
    QCOMPARE(qs(body["choices"][0]["finish_reason"]), QStringLiteral("length"));
    res = c.Post("/v1/completions", R"({"prompt":["a","b"]})", "application/json");
    QCOMPARE(res->status, 400);
    res = c.Post("/v1/completions", R"({"prompt":"a","suffix":"b"})", "application/json");
    QCOMPARE(res->status, 400);
    QCOMPARE(qs(parseJson(res->body)["error"]["param"]), QStringLiteral("suffix"));
}

void TestHttpServer::metricsText()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    auto c = s.client();
    c.Post("/v1/chat/completions", kChatBody, "application/json");
    c.Get("/v1/nothing");
    // httplib logs an exchange just after sending its response, so the count may trail a moment.
    auto res = c.Get("/metrics");
    auto counted = [&] {
        return res->body.find("route=\"chat_completions\",status=\"200\"} 1") != std::string::npos &&
               res->body.find("route=\"other\",status=\"404\"} 1") != std::string::npos;
    };
    for (int i = 0; i < 50 && !counted(); ++i) {
        QTest::qWait(20);
        res = c.Get("/metrics");
    }
    QCOMPARE(res->status, 200);
    QVERIFY(qs(res->get_header_value("Content-Type")).startsWith(QStringLiteral("text/plain")));
    QString text = qs(res->body);
    QVERIFY2(text.contains(QStringLiteral("hearth_http_requests_total{route=\"chat_completions\",status=\"200\"} 1")), res->body.c_str());
    QVERIFY(text.contains(QStringLiteral("hearth_http_requests_total{route=\"other\",status=\"404\"} 1")));
    QVERIFY(text.contains(QStringLiteral("hearth_generated_tokens_total 4")));
    QVERIFY(text.contains(QStringLiteral("hearth_time_to_first_token_seconds_count 1")));
    QVERIFY(text.contains(QStringLiteral("hearth_request_duration_seconds_bucket{le=\"+Inf\"} 1")));
    QVERIFY(text.contains(QStringLiteral("hearth_queue_depth 3")));
    QVERIFY(text.contains(QStringLiteral("hearth_kv_usage_ratio 0.25")));
    QVERIFY(text.contains(QStringLiteral("hearth_model_state{state=\"ready\"} 1")));
}

void TestHttpServer::disconnectCancelsNonStream()
{
    ServerUnderTest s;
    QVERIFY(s.server);
    FakeScript slow;
    slow.pieces.assign(200, "x");
    slow.tokenDelay = std::chrono::milliseconds(50);
    s.engine->setScript(slow);
    int fd = connectRaw(s.port());
    QVERIFY(fd >= 0);
    std::string request = rawPost("/v1/chat/completions", kChatBody);
    QCOMPARE(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
    QTRY_VERIFY_WITH_TIMEOUT(s.engine->nSubmitted() == 1, 5000);
    QTest::qWait(300);
    auto record = s.engine->lastRecord();
    QVERIFY(!record->cancelled);
    auto closedAt = std::chrono::steady_clock::now();
    ::close(fd);
    QTRY_VERIFY_WITH_TIMEOUT(record->cancelled.load(), 2000);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(record->cancelledAt - closedAt).count();
    QVERIFY2(ms < 1000, qPrintable(QStringLiteral("cancelled after %1 ms").arg(ms)));
}

QTEST_APPLESS_MAIN(TestHttpServer)
#include "tst_http_server.moc"
