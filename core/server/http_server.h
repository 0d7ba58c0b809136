// The OpenAI-compatible HTTP API over one Engine: /v1/chat/completions, /v1/completions,
// /v1/models, /health and /metrics (plus un-prefixed aliases), SSE streaming, API-key auth,
// CORS allow-list. This is the server room's public header; ../shared/API-COMPAT.md is its spec.
//
// Loopback by default; binding to any other address is refused unless an API key is set.
// The server answers at once, also while the engine loads (503 with progress), so a client
// never sees a refused connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "util/result.h"

namespace hearth {

class Engine;

struct ServedAdapter {
    std::string name;         // the id clients pass as "model" (listed by /v1/models) or "lora"
    std::string path;         // PEFT folder
    float scale = 1.0f;       // default scale when the request does not give one
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;                          // 0: any free port (see HttpServer::port())
    std::string apiKey;                       // empty: no auth (loopback only)
    std::vector<std::string> corsOrigins;     // exact origins allowed; empty: CORS off
    std::string modelId;                      // the served id; empty: the model path's last component
    std::vector<ServedAdapter> adapters;      // listed as models, vLLM-style
    std::string chatTemplatePath;             // a template file replacing the model's own
    std::size_t maxBodyBytes = 64u << 20;
    int nHttpThreads = 64;                    // concurrent connections served
    std::chrono::milliseconds keepAliveInterval{10000};  // SSE ": keep-alive" while nothing else is sent
    int retryAfterS = 5;                      // Retry-After on 503 (loading) and 429 (queue full)
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool isLoopbackHost(const std::string& host);
// Refuses a non-loopback bind without an API key, with a message saying how to fix it.
Status checkBindAllowed(const ServerOptions& options);

class HttpServer {
public:
    // Checks the options, binds and starts serving on background threads. `engine` must outlive
    // the server.
    static Result<std::unique_ptr<HttpServer>> start(Engine& engine, ServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // The bound port (the chosen one when options.port was 0).
    int port() const;
    // Stops accepting, cancels generations in flight and joins the threads. Idempotent.
    void stop();

    struct Impl;

private:
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace hearth
