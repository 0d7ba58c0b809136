// Shared state of the server: model ids, readiness and the chat-template cache.
#include "server/server_context.h"

#include <ctime>

#include "build_config.h"
#include "chat/model_chat_template.h"
#include "server/request_params.h"

namespace hearth::server {

ServerContext::ServerContext(Engine& engine, ServerOptions options)
    : m_engine(engine), m_options(std::move(options)), m_createdS(static_cast<std::int64_t>(std::time(nullptr)))
{
}

std::string ServerContext::fingerprint() const
{
    EngineState state = m_engine.state();
    return std::string("fp_hearth_") + HEARTH_VERSION_STRING + (state.backendName.empty() ? "" : "_" + state.backendName);
}

std::optional<ModelTarget> ServerContext::resolveModel(const std::string& requested) const
{
    if (requested.empty() || requested == m_options.modelId) return ModelTarget{m_options.modelId, "", 1.0f};
    for (const ServedAdapter& adapter : m_options.adapters) {
        if (adapter.name == requested) return ModelTarget{adapter.name, adapter.name, adapter.scale};
    }
    // Adapters attached to the engine by another client (the GUI) are servable too.
    if (auto info = m_engine.modelInfo()) {
        for (const std::string& name : info->adapters) {
            if (name == requested) return ModelTarget{name, name, 1.0f};
        }
        if (requested == info->path) return ModelTarget{m_options.modelId, "", 1.0f};
    }
    return std::nullopt;
}

std::optional<ApiError> ServerContext::checkReady() const
{
    if (m_stopping) return modelNotLoaded("The server is shutting down");
    EngineState state = m_engine.state();
    switch (state.kind) {
    case EngineStateKind::Ready: return std::nullopt;
    case EngineStateKind::Loading: return modelLoading(m_options.retryAfterS);
    case EngineStateKind::Failed: return modelNotLoaded("The model failed to load: " + state.reason);
    case EngineStateKind::Empty: break;
    }
    return modelNotLoaded("No model is loaded");
}

Result<PreparedTemplate> ServerContext::chatTemplate(const std::string& modelPath, bool withTools)
{
    std::lock_guard lock(m_templateMutex);
    auto key = std::make_pair(modelPath, withTools);
    if (auto it = m_templates.find(key); it != m_templates.end()) return it->second;
    auto tokenizer = m_engine.tokenizer();
    HEARTH_TRY_ASSIGN(ModelChatTemplate found, findModelChatTemplate(modelPath, m_options.chatTemplatePath, withTools, tokenizer.get()));
    HEARTH_TRY_ASSIGN(ChatTemplate parsed, ChatTemplate::parse(found.source, found.name));
    PreparedTemplate prepared{std::make_shared<const ChatTemplate>(std::move(parsed)), found.bos, found.eos, found.source};
    m_templates.emplace(key, prepared);
    return prepared;
}

TargetOrError resolveTarget(const ServerContext& ctx, const CommonParams& params)
{
    TargetOrError out;
    out.target = ctx.resolveModel(params.model);
    if (!out.target) {
        out.apiError = modelNotFound(params.model);
        return out;
    }
    if (params.lora) {
        auto adapter = ctx.resolveModel(*params.lora);
        if (!adapter || adapter->adapter.empty()) {
            out.target.reset();
            out.apiError = modelNotFound(*params.lora);
            out.apiError.message = "The adapter '" + *params.lora + "' is not served; GET /v1/models lists the adapters";
            out.apiError.param = "lora";
            return out;
        }
        out.target->adapter = adapter->adapter;
        out.target->adapterScale = adapter->adapterScale;
    }
    if (params.loraScale) out.target->adapterScale = *params.loraScale;
    return out;
}

}  // namespace hearth::server
