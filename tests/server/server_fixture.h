// Starts an HttpServer on a free loopback port over a FakeEngine, and small client helpers:
// JSON requests through httplib's client and raw sockets for the cases a client library hides
// (dropping the connection mid-request).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "server/fake_engine.h"
#include "server/http_server.h"

namespace hearth::test {

inline std::string fixtureModelDir() { return std::string(HEARTH_FIXTURES_DIR) + "/tokenizers/qwen3"; }

struct ServerUnderTest {
    std::unique_ptr<FakeEngine> engine;
    std::unique_ptr<HttpServer> server;
    std::string error;

    explicit ServerUnderTest(ServerOptions options = {})
    {
        engine = std::make_unique<FakeEngine>(fixtureModelDir());
        options.port = 0;
        if (options.modelId.empty()) options.modelId = "qwen-test";
        auto started = HttpServer::start(*engine, std::move(options));
        if (started) server = std::move(started).value();
        else error = started.error().toString();
    }
    int port() const { return server ? server->port() : -1; }
    httplib::Client client() const
    {
        httplib::Client c("127.0.0.1", port());
        c.set_read_timeout(20, 0);
        return c;
    }
};

inline nlohmann::json parseJson(const std::string& text)
{
    return nlohmann::json::parse(text, nullptr, false);
}

// The {"error": {...}} envelope with all four keys present, or a discarded value.
inline bool isErrorEnvelope(const nlohmann::json& body)
{
    if (!body.is_object() || !body.contains("error") || !body["error"].is_object()) return false;
    const auto& e = body["error"];
    return e.contains("message") && e["message"].is_string() && !e["message"].get<std::string>().empty() &&
           e.contains("type") && e["type"].is_string() && e.contains("param") && e.contains("code");
}

// A connected raw TCP socket to the server (-1 on failure).
inline int connectRaw(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

inline std::string rawPost(const std::string& path, const std::string& body)
{
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace hearth::test
