// GET /health, /v1/models, /v1/models/{id} and /metrics: answered from the HTTP thread without
// touching the engine's queue, so they stay fast while every slot is generating.
#include <httplib.h>

#include "server/server_context.h"

namespace hearth::server {

namespace {

using OJson = nlohmann::ordered_json;

const char* stateName(EngineStateKind kind)
{
    switch (kind) {
    case EngineStateKind::Empty: return "empty";
    case EngineStateKind::Loading: return "loading";
    case EngineStateKind::Ready: return "ready";
    case EngineStateKind::Failed: return "failed";
    }
    return "empty";
}

OJson progressJson(const LoadProgress& p)
{
    return OJson{{"stage", p.stage},
                 {"bytes_done", p.bytesDone},
                 {"bytes_total", p.bytesTotal},
                 {"fraction", p.bytesTotal > 0 ? double(p.bytesDone) / double(p.bytesTotal) : 0.0},
                 {"rate_bytes_per_s", p.rateBytesPerS},
                 {"eta_s", p.etaS},
                 {"file", p.file}};
}

// The model object with Hearth's state in "meta" (extra fields that SDKs and Open WebUI ignore).
OJson modelObject(ServerContext& ctx, const std::string& id, const std::string& adapter, const EngineState& state,
                  const std::optional<ModelInfo>& info)
{
    OJson meta;
    bool ready = state.kind == EngineStateKind::Ready;
    bool loaded = ready;
    if (!adapter.empty()) {
        loaded = ready && info && std::find(info->adapters.begin(), info->adapters.end(), adapter) != info->adapters.end();
    }
    meta["loaded"] = loaded;
    meta["state"] = stateName(state.kind);
    if (state.kind == EngineStateKind::Loading) meta["load_progress"] = progressJson(state.progress);
    if (state.kind == EngineStateKind::Failed) meta["error"] = state.reason;
    if (info) meta["context_length"] = info->contextLength;
    meta["capabilities"] = {{"vision", false}, {"tools", true}};
    OJson model{{"id", id}, {"object", "model"}, {"created", ctx.createdS()}, {"owned_by", "hearth"}};
    model["root"] = adapter.empty() ? id : adapter;
    model["parent"] = adapter.empty() ? OJson(nullptr) : OJson(ctx.baseModelId());
    model["meta"] = meta;
    return model;
}

std::vector<std::pair<std::string, std::string>> servedIds(ServerContext& ctx, const std::optional<ModelInfo>& info)
{
    std::vector<std::pair<std::string, std::string>> ids{{ctx.baseModelId(), ""}};
    for (const ServedAdapter& a : ctx.options().adapters) ids.emplace_back(a.name, a.name);
    if (info) {
        for (const std::string& name : info->adapters) {
            bool listed = std::any_of(ids.begin(), ids.end(), [&](const auto& p) { return p.first == name; });
            if (!listed) ids.emplace_back(name, name);
        }
    }
    return ids;
}

}  // namespace

void handleHealth(ServerContext& ctx, const httplib::Request&, httplib::Response& response)
{
    EngineState state = ctx.engine().state();
    EngineStats stats = ctx.engine().stats();
    if (auto error = ctx.checkReady()) {
        OJson body = errorBody(*error);
        body["state"] = ctx.stopping() ? "stopping" : stateName(state.kind);
        if (state.kind == EngineStateKind::Loading) body["progress"] = progressJson(state.progress);
        if (error->retryAfterS > 0) response.set_header("Retry-After", std::to_string(error->retryAfterS));
        response.status = 503;
        response.set_content(dumpJson(body), "application/json; charset=utf-8");
        return;
    }
    OJson body{{"status", "ok"},
               {"state", "ready"},
               {"model", ctx.baseModelId()},
               {"backend", state.backendName},
               {"running", stats.running},
               {"queue_depth", stats.queued}};
    response.status = 200;
    response.set_content(dumpJson(body), "application/json; charset=utf-8");
}

void handleListModels(ServerContext& ctx, const httplib::Request&, httplib::Response& response)
{
    EngineState state = ctx.engine().state();
    auto info = ctx.engine().modelInfo();
    OJson data = OJson::array();
    for (const auto& [id, adapter] : servedIds(ctx, info)) data.push_back(modelObject(ctx, id, adapter, state, info));
    response.status = 200;
    response.set_content(dumpJson(OJson{{"object", "list"}, {"data", data}}), "application/json; charset=utf-8");
}

void handleGetModel(ServerContext& ctx, const httplib::Request& request, httplib::Response& response)
{
    std::string wanted = request.matches.size() > 1 ? std::string(request.matches[1]) : std::string();
    while (!wanted.empty() && wanted.back() == '/') wanted.pop_back();
    EngineState state = ctx.engine().state();
    auto info = ctx.engine().modelInfo();
    for (const auto& [id, adapter] : servedIds(ctx, info)) {
        if (id == wanted) {
            response.status = 200;
            response.set_content(dumpJson(modelObject(ctx, id, adapter, state, info)), "application/json; charset=utf-8");
            return;
        }
    }
    writeError(response, modelNotFound(wanted));
}

void handleMetrics(ServerContext& ctx, const httplib::Request&, httplib::Response& response)
{
    response.status = 200;
    response.set_content(ctx.metrics().render(ctx.engine().stats(), ctx.engine().state()), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace hearth::server
