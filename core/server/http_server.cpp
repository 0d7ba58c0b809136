// Routes, limits, CORS, auth and the server's lifetime. Route patterns accept the un-prefixed
// aliases, repeated slashes and a trailing slash (/v1//models, /models/), which clients produce
// from base URLs with or without /v1 and with a trailing slash.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <thread>

#include "server/generation.h"
#include "server/server_context.h"
#include "util/log.h"

namespace hearth {

namespace {

using server::ServerContext;

constexpr const char* kChatRoute = R"(/+(?:v1/+)?chat/+completions/*)";
constexpr const char* kCompletionsRoute = R"(/+(?:v1/+)?completions/*)";
constexpr const char* kModelsRoute = R"(/+(?:v1/+)?models/*)";
constexpr const char* kModelRoute = R"(/+(?:v1/+)?models/+(.+))";
constexpr const char* kHealthRoute = R"(/+(?:v1/+)?health/*)";
constexpr const char* kMetricsRoute = R"(/+metrics/*)";

std::string lower(std::string s)
{
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Compares in time that depends only on the key's length, not on where the strings differ.
bool constantTimeEquals(const std::string& given, const std::string& key)
{
    unsigned diff = given.size() == key.size() ? 0u : 1u;
    for (std::size_t i = 0; i < key.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= g ^ static_cast<unsigned char>(key[i]);
    }
    return diff == 0;
}

// "Bearer <key>" (scheme in any case), or the key alone in x-api-key / api-key.
bool authorized(const httplib::Request& request, const std::string& key)
{
    std::string auth = request.get_header_value("Authorization");
    if (auth.size() > 7 && lower(auth.substr(0, 7)) == "bearer ") {
        std::string token = auth.substr(7);
        while (!token.empty() && token.front() == ' ') token.erase(token.begin());
        if (constantTimeEquals(token, key)) return true;
    }
    for (const char* header : {"x-api-key", "api-key"}) {
        if (request.has_header(header) && constantTimeEquals(request.get_header_value(header), key)) return true;
    }
    return false;
}

// The Host header's name without its port ("[::1]:8080" -> "::1").
std::string hostName(const std::string& hostHeader)
{
    if (!hostHeader.empty() && hostHeader.front() == '[') {
        auto close = hostHeader.find(']');
        return close == std::string::npos ? hostHeader : hostHeader.substr(1, close - 1);
    }
    auto colon = hostHeader.find(':');
    return lower(colon == std::string::npos ? hostHeader : hostHeader.substr(0, colon));
}

std::string routeLabel(const std::string& path)
{
    if (path.find("chat") != std::string::npos) return "chat_completions";
    if (path.find("completions") != std::string::npos) return "completions";
    if (path.find("models") != std::string::npos) return "models";
    if (path.find("health") != std::string::npos) return "health";
    if (path.find("metrics") != std::string::npos) return "metrics";
    return "other";
}

}  // namespace

bool isLoopbackHost(const std::string& host)
{
    std::string h = host;
    if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (lower(h) == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
    in6_addr v6{};
    if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
    return false;
}

Status checkBindAllowed(const ServerOptions& options)
{
    if (isLoopbackHost(options.host) || !options.apiKey.empty()) return Status::ok();
    return makeError(ErrorCode::InvalidArgument,
                     "refusing to listen on " + options.host +
                         " without an API key: anyone who can reach that address could use the model; "
                         "set --api-key (clients then send 'Authorization: Bearer <key>') or bind to 127.0.0.1");
}

struct HttpServer::Impl {
    Impl(Engine& engine, ServerOptions options) : ctx(engine, std::move(options)) {}

    void configure();
    void addRoutes();
    httplib::Server::HandlerResponse preRoute(const httplib::Request& request, httplib::Response& response);

    ServerContext ctx;
    httplib::Server http;
    std::thread thread;
    int port = 0;
    int listenFd = -1;
    bool stopped = false;
};

void HttpServer::Impl::configure()
{
    const ServerOptions& options = ctx.options();
    int nThreads = std::max(options.nHttpThreads, 2);
    http.new_task_queue = [nThreads] { return new httplib::ThreadPool(static_cast<std::size_t>(nThreads)); };
    http.set_payload_max_length(options.maxBodyBytes);
    // Remember the listening socket so start() can widen httplib's backlog of 5 (compiled into
    // Debian's libcpp-httplib): 32 clients connecting at once overflowed it and some got resets.
    http.set_socket_options([this](socket_t sock) {
        httplib::default_socket_options(sock);
        listenFd = sock;
    });
    http.set_keep_alive_max_count(1000);
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    http.set_tcp_nodelay(true);
    http.set_pre_routing_handler([this](const httplib::Request& rq, httplib::Response& rs) { return preRoute(rq, rs); });
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& rq, httplib::Response& rs) {
        if (!rs.body.empty() || rs.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
        server::ApiError error;
        switch (rs.status) {
        case 404: error = server::routeNotFound(rq.method, rq.path); break;
        case 405: error = server::methodNotAllowed(rq.method, rq.path); break;
        case 413: error = server::payloadTooLarge(ctx.options().maxBodyBytes); break;
        default:
            error = server::invalidRequest("The HTTP request could not be handled (status " + std::to_string(rs.status) + ")");
            error.status = rs.status;
        }
        server::writeError(rs, error);
        return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& rs, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        server::writeError(rs, server::internalError("Internal server error: " + what));
    });
    http.set_logger([this](const httplib::Request& rq, const httplib::Response& rs) {
        ctx.metrics().recordRequest(routeLabel(rq.path), rs.status);
        logDebug("http " + rq.method + " " + rq.path + " -> " + std::to_string(rs.status));
    });
}

httplib::Server::HandlerResponse HttpServer::Impl::preRoute(const httplib::Request& request, httplib::Response& response)
{
    const ServerOptions& options = ctx.options();
    response.set_header("x-request-id", request.has_header("x-request-id") ? request.get_header_value("x-request-id")
                                                                           : server::randomId("req_"));
    // DNS rebinding: a web page on evil.example resolving to 127.0.0.1 sends its own Host.
    if (options.apiKey.empty() && isLoopbackHost(options.host) && request.has_header("Host")) {
        std::string host = hostName(request.get_header_value("Host"));
        if (!isLoopbackHost(host) && host != lower(options.host)) {
            server::ApiError error = server::invalidRequest("Host '" + host + "' is not allowed for a loopback server");
            error.status = 403;
            error.type = "permission_error";
            server::writeError(response, error);
            return httplib::Server::HandlerResponse::Handled;
        }
    }
    std::string origin = request.get_header_value("Origin");
    bool corsAllowed = !origin.empty() &&
                       std::find(options.corsOrigins.begin(), options.corsOrigins.end(), origin) != options.corsOrigins.end();
    if (corsAllowed) {
        response.set_header("Access-Control-Allow-Origin", origin);
        response.set_header("Vary", "Origin");
        response.set_header("Access-Control-Expose-Headers", "x-request-id");
    }
    if (request.method == "OPTIONS") {
        if (corsAllowed) {
            std::string wanted = request.get_header_value("Access-Control-Request-Headers");
            response.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
            // A wildcard does not cover Authorization, so echo what the browser asks for.
            response.set_header("Access-Control-Allow-Headers", wanted.empty() ? "authorization, content-type" : wanted);
            response.set_header("Access-Control-Allow-Private-Network", "true");
            response.set_header("Access-Control-Max-Age", "600");
        }
        response.status = 204;
        return httplib::Server::HandlerResponse::Handled;
    }
    static const std::regex healthRoute(kHealthRoute);
    bool isHealth = std::regex_match(request.path, healthRoute);
    if (!options.apiKey.empty() && !isHealth && !authorized(request, options.apiKey)) {
        server::writeError(response, server::unauthorized(request.has_header("Authorization") || request.has_header("x-api-key")
                                                              ? "Incorrect API key provided"
                                                              : "Missing API key: send 'Authorization: Bearer <key>'"));
        return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
}

void HttpServer::Impl::addRoutes()
{
    ServerContext* c = &ctx;
    auto bind = [c](void (*fn)(ServerContext&, const httplib::Request&, httplib::Response&)) {
        return [c, fn](const httplib::Request& rq, httplib::Response& rs) { fn(*c, rq, rs); };
    };
    http.Post(kChatRoute, bind(server::handleChatCompletions));
    http.Post(kCompletionsRoute, bind(server::handleCompletions));
    http.Get(kHealthRoute, bind(server::handleHealth));
    http.Get(kModelsRoute, bind(server::handleListModels));
    http.Get(kModelRoute, bind(server::handleGetModel));
    http.Get(kMetricsRoute, bind(server::handleMetrics));

    auto notAllowed = [](const httplib::Request& rq, httplib::Response& rs) {
        server::writeError(rs, server::methodNotAllowed(rq.method, rq.path));
    };
    for (const char* route : {kChatRoute, kCompletionsRoute}) {
        http.Get(route, notAllowed);
        http.Put(route, notAllowed);
        http.Patch(route, notAllowed);
        http.Delete(route, notAllowed);
    }
    for (const char* route : {kHealthRoute, kModelsRoute, kModelRoute, kMetricsRoute}) {
        http.Post(route, notAllowed);
        http.Put(route, notAllowed);
        http.Patch(route, notAllowed);
        http.Delete(route, notAllowed);
    }
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(Engine& engine, ServerOptions options)
{
    HEARTH_TRY_STATUS(checkBindAllowed(options));
    if (options.modelId.empty()) {
        std::string path = engine.state().modelPath;
        while (!path.empty() && path.back() == '/') path.pop_back();
        auto slash = path.find_last_of('/');
        options.modelId = slash == std::string::npos ? path : path.substr(slash + 1);
        if (options.modelId.empty()) options.modelId = "default";
    }
    std::string host = options.host;
    int port = options.port;
    auto impl = std::make_unique<Impl>(engine, std::move(options));
    impl->configure();
    impl->addRoutes();
    if (port == 0) {
        impl->port = impl->http.bind_to_any_port(host);
        if (impl->port <= 0) return makeError(ErrorCode::Io, "cannot listen on " + host + ": no free port");
    } else {
        if (!impl->http.bind_to_port(host, port)) {
            return makeError(ErrorCode::Io, "cannot listen on " + host + ":" + std::to_string(port) +
                                                " (is another server using the port, or is the address not on this machine?)");
        }
        impl->port = port;
    }
    // listen() again on a listening socket only changes its backlog (Linux, POSIX).
    if (impl->listenFd >= 0) ::listen(impl->listenFd, SOMAXCONN);
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->http.listen_after_bind(); });
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return m_impl->port; }

void HttpServer::stop()
{
    if (!m_impl || m_impl->stopped) return;
    m_impl->stopped = true;
    m_impl->ctx.setStopping();
    m_impl->http.stop();
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

}  // namespace hearth
