// What every route handler shares: the engine, the options, metrics, the served ids and the
// parsed chat templates. Private to core/server.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "chat/chat_template.h"
#include "engine/engine.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_errors.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

// The template a model renders with, parsed once per (model path, tools or not).
struct PreparedTemplate {
    std::shared_ptr<const ChatTemplate> tmpl;
    std::optional<std::string> bos;
    std::optional<std::string> eos;
    std::string source;
};

// A request's "model" resolved to the base model or one of the served adapters.
struct ModelTarget {
    std::string id;          // echoed in responses
    std::string adapter;     // empty: the base model
    float adapterScale = 1.0f;
};

class ServerContext {
public:
    ServerContext(Engine& engine, ServerOptions options);

    Engine& engine() { return m_engine; }
    const ServerOptions& options() const { return m_options; }
    Metrics& metrics() { return m_metrics; }
    const std::string& baseModelId() const { return m_options.modelId; }
    std::int64_t createdS() const { return m_createdS; }
    std::string fingerprint() const;
    bool stopping() const { return m_stopping.load(); }
    void setStopping() { m_stopping = true; }

    // "model" from a request (empty: the base model); 404 for ids this server does not serve.
    std::optional<ModelTarget> resolveModel(const std::string& requested) const;
    // The chat template for the loaded model; an error names the template file.
    Result<PreparedTemplate> chatTemplate(const std::string& modelPath, bool withTools);
    // 503 unless the engine is Ready (loading: Retry-After; failed or empty: no retry).
    std::optional<ApiError> checkReady() const;

private:
    Engine& m_engine;
    ServerOptions m_options;
    Metrics m_metrics;
    std::int64_t m_createdS = 0;
    std::atomic<bool> m_stopping{false};
    std::mutex m_templateMutex;
    std::map<std::pair<std::string, bool>, PreparedTemplate> m_templates;
};

// The request's "model" plus its explicit "lora" field: 404 (param model or lora) for ids this
// server does not serve.
struct TargetOrError {
    std::optional<ModelTarget> target;
    ApiError apiError;
    explicit operator bool() const { return target.has_value(); }
    ModelTarget* operator->() { return &*target; }
    const ApiError& error() const { return apiError; }
};
struct CommonParams;
TargetOrError resolveTarget(const ServerContext& ctx, const CommonParams& params);

// Routes (one file each).
void handleChatCompletions(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);
void handleCompletions(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);
void handleHealth(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);
void handleListModels(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);
void handleGetModel(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);
void handleMetrics(ServerContext& ctx, const httplib::Request& request, httplib::Response& response);

}  // namespace hearth::server
