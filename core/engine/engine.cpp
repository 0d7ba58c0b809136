#include "engine/engine.h"

#include <atomic>
#include <bit>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "engine/backend_factory.h"
#include "engine/lora.h"
#include "engine/model_loader.h"
#include "engine/request_handle.h"
#include "engine/scheduler.h"

namespace hearth {

const char* finishReasonName(FinishReason reason)
{
    switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Eos: return "eos";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
    }
    return "error";
}

namespace {

struct AttachedAdapter {
    std::shared_ptr<const LoraAdapter> adapter;
    std::uint64_t id = 0;  // unique per attach, so a re-attached name never reuses stale cached K/V
};

class EngineImpl final : public Engine {
public:
    explicit EngineImpl(EngineOptions options) : m_options(options) {}
    ~EngineImpl() override;

    Status load(const std::string& modelPath) override;
    Status waitUntilLoaded() override;
    void cancelLoad() override { m_cancelLoad.store(true); }
    void unload() override;
    EngineState state() const override;
    std::shared_ptr<const Tokenizer> tokenizer() const override;
    std::optional<ModelInfo> modelInfo() const override;
    Result<std::unique_ptr<RequestHandle>> submit(GenerateRequest request) override;
    Status attachAdapter(const std::string& name, const std::string& path) override;
    Status detachAdapter(const std::string& name) override;
    EngineStats stats() const override;

private:
    void runLoad(std::string path);
    // Publishes the outcome; true when the model is now Ready.
    bool finishLoad(Result<LoadedModel> loaded, const std::string& backendReason);
    // Ends requests cancelled while waiting for the load (there are no scheduler steps yet).
    void sweepPendingLocked();
    void failPendingLocked(const Error& error);

    const EngineOptions m_options;
    std::atomic<bool> m_cancelLoad{false};
    std::atomic<std::uint64_t> m_nextRequestId{1};
    std::thread m_loader;

    mutable std::mutex m_mutex;  // guards everything below
    std::condition_variable m_stateChanged;
    EngineState m_state;
    std::optional<Error> m_lastLoadError;
    std::deque<std::unique_ptr<PendingRequest>> m_pending;  // submitted while loading
    std::unique_ptr<Scheduler> m_scheduler;
    std::shared_ptr<const Tokenizer> m_tokenizer;
    std::shared_ptr<const ModelWeights> m_weights;
    std::int64_t m_contextLength = 0;
    std::map<std::string, AttachedAdapter> m_adapters;
    std::uint64_t m_adapterCounter = 0;
};

EngineImpl::~EngineImpl()
{
    m_cancelLoad.store(true);
    if (m_loader.joinable())
        m_loader.join();
    std::unique_ptr<Scheduler> scheduler;
    {
        std::lock_guard lock(m_mutex);
        failPendingLocked(makeError(ErrorCode::Unavailable, "the engine was shut down"));
        scheduler = std::move(m_scheduler);
    }
    scheduler.reset();  // fails what it still holds
}

Status EngineImpl::load(const std::string& modelPath)
{
    std::unique_ptr<Scheduler> previous;
    {
        std::lock_guard lock(m_mutex);
        if (m_state.kind == EngineStateKind::Loading)
            return makeError(ErrorCode::Busy, "a model is already loading (" + m_state.modelPath + ")");
        if (m_loader.joinable())
            m_loader.join();  // the last load finished; its thread is at most returning
        previous = std::move(m_scheduler);
        m_tokenizer.reset();
        m_weights.reset();
        m_adapters.clear();
        m_lastLoadError.reset();
        m_cancelLoad.store(false);
        m_state = EngineState{};
        m_state.kind = EngineStateKind::Loading;
        m_state.modelPath = modelPath;
        m_state.progress.stage = "opening";
        m_loader = std::thread([this, modelPath] { runLoad(modelPath); });
    }
    m_stateChanged.notify_all();
    previous.reset();
    return Status::ok();
}

void EngineImpl::runLoad(std::string path)
{
    ModelLoadParams params;
    params.path = path;
    params.options = m_options;
    params.cancel = &m_cancelLoad;
    params.readChunkBytes = m_options.loadReadChunkBytes;
    params.onProgress = [this](const LoadProgress& progress) {
        {
            std::lock_guard lock(m_mutex);
            m_state.progress = progress;
            sweepPendingLocked();
        }
        if (m_options.onLoadProgress)
            m_options.onLoadProgress(progress);
    };
    Result<LoadedModel> loaded = loadModelForEngine(params);
    // Why this backend (the loader chose it, falling back to the CPU with the CUDA failure).
    const std::string why = loaded ? loaded.value().backendReason : std::string();
    std::optional<LoadProgress> ready;
    if (loaded)
        ready = loaded.value().finalProgress;
    const bool nowReady = finishLoad(std::move(loaded), why);
    // The final event goes out once state() says Ready, so a client reacting to it sees the model.
    if (nowReady && ready && m_options.onLoadProgress)
        m_options.onLoadProgress(*ready);
}

bool EngineImpl::finishLoad(Result<LoadedModel> loaded, const std::string& backendReason)
{
    std::unique_lock lock(m_mutex);
    // Checked under the lock: a cancel that arrives after the last check still wins, so a
    // cancelled load is never marked Ready.
    if (m_cancelLoad.load() && (loaded.isOk() || loaded.error().code == ErrorCode::Cancelled)) {
        const Error error = makeError(ErrorCode::Cancelled, "loading " + m_state.modelPath + " was cancelled");
        m_lastLoadError = error;
        failPendingLocked(error);
        m_state = EngineState{};
    } else if (!loaded) {
        m_lastLoadError = loaded.error();
        failPendingLocked(makeError(ErrorCode::Unavailable, "the model failed to load: " + loaded.error().message));
        m_state.kind = EngineStateKind::Failed;
        m_state.reason = loaded.error().toString();
    } else {
        LoadedModel& model = loaded.value();
        SchedulerOptions so;
        so.maxQueuedRequests = m_options.maxQueuedRequests;
        so.maxBatchSequences = m_options.maxBatchSequences;
        so.prefillChunkTokens = prefillChunkTokensFor(m_options, model.backend->name() == std::string("cuda"));
        so.contextLength = model.contextLength;
        m_state.kind = EngineStateKind::Ready;
        m_state.backendName = model.backend->name();
        m_contextLength = model.contextLength;
        m_weights = model.weights;
        m_tokenizer = model.tokenizer;
        m_scheduler = std::make_unique<Scheduler>(std::move(model.backend), model.tokenizer, so);
        m_scheduler->adopt(std::move(m_pending));
        m_pending.clear();
        // The loader's last word: every byte done and the breakdown of where the time went.
        m_state.progress = model.finalProgress;
        m_state.progress.stage = kLoadStageReady;
        m_state.reason = backendReason;
    }
    const bool ready = m_state.kind == EngineStateKind::Ready;
    lock.unlock();
    m_stateChanged.notify_all();
    return ready;
}

Status EngineImpl::waitUntilLoaded()
{
    std::unique_lock lock(m_mutex);
    m_stateChanged.wait(lock, [&] { return m_state.kind != EngineStateKind::Loading; });
    if (m_state.kind == EngineStateKind::Ready)
        return Status::ok();
    if (m_lastLoadError)
        return *m_lastLoadError;
    return makeError(ErrorCode::Unavailable, "no model is loaded or loading");
}

void EngineImpl::unload()
{
    m_cancelLoad.store(true);
    std::unique_ptr<Scheduler> scheduler;
    {
        std::unique_lock lock(m_mutex);
        m_stateChanged.wait(lock, [&] { return m_state.kind != EngineStateKind::Loading; });
        scheduler = std::move(m_scheduler);
        m_tokenizer.reset();
        m_weights.reset();
        m_adapters.clear();
        m_state = EngineState{};
    }
    m_stateChanged.notify_all();
    scheduler.reset();
}

EngineState EngineImpl::state() const
{
    std::lock_guard lock(m_mutex);
    return m_state;
}

std::shared_ptr<const Tokenizer> EngineImpl::tokenizer() const
{
    std::lock_guard lock(m_mutex);
    return m_tokenizer;
}

std::optional<ModelInfo> EngineImpl::modelInfo() const
{
    std::lock_guard lock(m_mutex);
    if (m_state.kind != EngineStateKind::Ready || !m_weights)
        return std::nullopt;
    ModelInfo info;
    info.path = m_state.modelPath;
    info.architecture = m_weights->config().architectureName;
    info.contextLength = m_contextLength;
    info.vocabSize = m_weights->config().vocabSize;
    for (const auto& [name, entry] : m_adapters)
        info.adapters.push_back(name);
    return info;
}

void EngineImpl::sweepPendingLocked()
{
    for (auto it = m_pending.begin(); it != m_pending.end();) {
        if ((*it)->channel->cancelled()) {
            FinishedEvent event;
            event.reason = FinishReason::Cancelled;
            event.stats.promptTokens = static_cast<std::int32_t>((*it)->request.promptIds.size());
            (*it)->channel->push(std::move(event));
            it = m_pending.erase(it);
        } else {
            ++it;
        }
    }
}

void EngineImpl::failPendingLocked(const Error& error)
{
    for (auto& request : m_pending)
        request->channel->fail(error);
    m_pending.clear();
}

Result<std::unique_ptr<RequestHandle>> EngineImpl::submit(GenerateRequest request)
{
    HEARTH_TRY_STATUS(validateGenerateRequest(request, 0, 0));
    auto pending = std::make_unique<PendingRequest>();
    pending->channel = std::make_shared<RequestChannel>(m_nextRequestId.fetch_add(1));
    std::shared_ptr<RequestChannel> channel = pending->channel;

    std::lock_guard lock(m_mutex);
    switch (m_state.kind) {
    case EngineStateKind::Empty:
        return makeError(ErrorCode::Unavailable, "no model is loaded; load one before submitting requests");
    case EngineStateKind::Failed:
        return makeError(ErrorCode::Unavailable, "no model is loaded: the last load failed (" + m_state.reason + ")");
    case EngineStateKind::Loading:
        if (!request.adapter.empty())
            return makeError(ErrorCode::InvalidArgument, "request: unknown adapter '" + request.adapter +
                                                             "' (adapters are attached once the model has loaded)");
        sweepPendingLocked();
        if (static_cast<std::int32_t>(m_pending.size()) >= m_options.maxQueuedRequests)
            return makeError(ErrorCode::Busy, "engine busy: " + std::to_string(m_pending.size()) + " requests queued");
        pending->request = std::move(request);
        m_pending.push_back(std::move(pending));
        break;
    case EngineStateKind::Ready: {
        HEARTH_TRY_STATUS(validateGenerateRequest(request, m_weights->config().vocabSize, m_contextLength));
        if (!request.adapter.empty()) {
            const auto it = m_adapters.find(request.adapter);
            if (it == m_adapters.end())
                return makeError(ErrorCode::InvalidArgument, "request: unknown adapter '" + request.adapter +
                                                                 "'; attach it first");
            pending->adapter = it->second.adapter;
            // Same adapter at another scale gives other K/V, so the scale is part of the cache key.
            pending->adapterSalt = it->second.id * 0x9e3779b97f4a7c15ull ^ std::bit_cast<std::uint32_t>(request.adapterScale);
        }
        pending->request = std::move(request);
        HEARTH_TRY_STATUS(m_scheduler->enqueue(std::move(pending)));
        break;
    }
    }
    return std::unique_ptr<RequestHandle>(std::make_unique<ChannelRequestHandle>(channel));
}

Status EngineImpl::attachAdapter(const std::string& name, const std::string& path)
{
    if (name.empty())
        return makeError(ErrorCode::InvalidArgument, "adapter: the name is empty");
    std::shared_ptr<const ModelWeights> weights;
    {
        std::lock_guard lock(m_mutex);
        if (m_state.kind != EngineStateKind::Ready)
            return makeError(ErrorCode::Unavailable, "adapter " + path + ": no model is loaded to attach it to");
        if (m_adapters.count(name))
            return makeError(ErrorCode::InvalidArgument, "adapter: the name '" + name + "' is already attached");
        weights = m_weights;
    }
    // Reading the adapter can take a while; requests keep running meanwhile.
    HEARTH_TRY_ASSIGN(std::shared_ptr<const LoraAdapter> adapter, LoraAdapter::load(path, weights->config()));
    std::lock_guard lock(m_mutex);
    if (m_weights != weights)
        return makeError(ErrorCode::Unavailable, "adapter " + path + ": the model changed while the adapter was loading");
    if (m_adapters.count(name))
        return makeError(ErrorCode::InvalidArgument, "adapter: the name '" + name + "' is already attached");
    m_adapters[name] = AttachedAdapter{std::move(adapter), ++m_adapterCounter};
    return Status::ok();
}

Status EngineImpl::detachAdapter(const std::string& name)
{
    std::lock_guard lock(m_mutex);
    // Requests already using it hold their own reference and finish with it.
    if (m_adapters.erase(name) == 0)
        return makeError(ErrorCode::NotFound, "adapter: no adapter named '" + name + "' is attached");
    return Status::ok();
}

EngineStats EngineImpl::stats() const
{
    std::lock_guard lock(m_mutex);
    EngineStats out;
    out.queued = static_cast<std::int32_t>(m_pending.size());
    if (m_scheduler) {
        const SchedulerStats s = m_scheduler->stats();
        out.running = s.running;
        out.queued += s.queued;
        out.kvPagesUsed = s.kvPagesUsed;
        out.kvPagesCached = s.kvPagesCached;
        out.kvPagesTotal = s.kvPagesTotal;
        out.requestsServed = s.requestsServed;
        out.tokensGenerated = s.tokensGenerated;
        out.promptTokensCached = s.promptTokensCached;
        out.preemptions = s.preemptions;
    }
    return out;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(EngineOptions options)
{
    if (options.backend == BackendChoice::Cuda) {
        // Outside any engine lock: in a CUDA build this initialises the driver.
        const std::string why = cudaUnavailableReason();
        if (!why.empty())
            return makeError(ErrorCode::Unavailable, "the CUDA backend cannot run: " + why +
                                                         "; choose the CPU backend (--backend cpu or auto)");
    }
    if (options.maxQueuedRequests < 0 || options.maxBatchSequences <= 0 || options.prefillChunkTokens < 0 ||
        options.contextLength < 0 || options.nThreads < 0)
        return makeError(ErrorCode::InvalidArgument, "engine options: queue size, batch size, prefill chunk, context "
                                                     "length and thread count must not be negative (batch > 0)");
    return std::unique_ptr<Engine>(std::make_unique<EngineImpl>(options));
}

}  // namespace hearth
