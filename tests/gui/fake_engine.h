// A scripted Engine for the GUI tests: load() stays Loading until becomeReady() (or is Ready at
// once), and every request streams the configured tokens with a fixed delay between them on its
// own thread, honouring cancel() at each step. Independent of the real engine.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "engine/engine.h"

namespace hearth::test {

struct FakeScript {
    std::vector<std::string> tokens;
    std::chrono::microseconds delay{1000};
    GenerationStats stats;  // sent with the FinishedEvent (generatedTokens is filled in)
};

class FakeHandle : public RequestHandle {
public:
    FakeHandle(std::uint64_t id, FakeScript script) : m_id(id)
    {
        m_thread = std::thread([this, script = std::move(script)] { run(script); });
    }
    ~FakeHandle() override
    {
        m_cancel = true;
        m_thread.join();
    }
    std::uint64_t id() const override { return m_id; }
    std::optional<GenerationEvent> nextEvent(std::chrono::milliseconds timeout) override
    {
        std::unique_lock lock(m_mutex);
        if (!m_cv.wait_for(lock, timeout, [this] { return !m_events.empty(); })) return std::nullopt;
        GenerationEvent event = std::move(m_events.front());
        m_events.pop_front();
        if (!std::holds_alternative<TokenEvent>(event)) m_done = true;
        return event;
    }
    void cancel() override { m_cancel = true; }
    bool done() const override { return m_done; }

private:
    void push(GenerationEvent event)
    {
        {
            std::lock_guard lock(m_mutex);
            m_events.push_back(std::move(event));
        }
        m_cv.notify_all();
    }
    void run(const FakeScript& script)
    {
        std::int32_t n = 0;
        for (const std::string& token : script.tokens) {
            std::this_thread::sleep_for(script.delay);
            if (m_cancel) break;
            push(TokenEvent{.token = n, .textDelta = token});
            ++n;
        }
        FinishedEvent finished;
        finished.reason = m_cancel ? FinishReason::Cancelled : FinishReason::Eos;
        finished.stats = script.stats;
        finished.stats.generatedTokens = n;
        push(std::move(finished));
    }

    std::uint64_t m_id;
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::deque<GenerationEvent> m_events;
    std::atomic<bool> m_cancel{false};
    std::atomic<bool> m_done{false};
    std::thread m_thread;
};

class FakeEngine : public Engine {
public:
    explicit FakeEngine(bool readyAtOnce = true) : m_readyAtOnce(readyAtOnce) {}

    void setScript(FakeScript script)
    {
        std::lock_guard lock(m_mutex);
        m_script = std::move(script);
    }
    void becomeReady()
    {
        std::lock_guard lock(m_mutex);
        m_state.kind = EngineStateKind::Ready;
        m_state.backendName = "fake";
    }
    // Replaces what state() reports as the load's progress (kept when it becomes ready).
    void setLoadProgress(LoadProgress progress)
    {
        std::lock_guard lock(m_mutex);
        m_state.progress = std::move(progress);
    }
    // Ends the load in progress as failed with `reason`.
    void fail(const std::string& reason)
    {
        std::lock_guard lock(m_mutex);
        m_state.kind = EngineStateKind::Failed;
        m_state.reason = reason;
    }
    std::vector<GenerateRequest> submitted() const
    {
        std::lock_guard lock(m_mutex);
        return m_submitted;
    }

    Status load(const std::string& modelPath) override
    {
        std::lock_guard lock(m_mutex);
        m_state.modelPath = modelPath;
        m_state.kind = m_readyAtOnce ? EngineStateKind::Ready : EngineStateKind::Loading;
        m_state.backendName = "fake";
        m_state.progress = LoadProgress{.stage = "reading", .bytesDone = 10, .bytesTotal = 100,
                                        .rateBytesPerS = 50, .etaS = 1.8, .file = "model.safetensors"};
        return {};
    }
    Status waitUntilLoaded() override { return {}; }
    void cancelLoad() override
    {
        std::lock_guard lock(m_mutex);
        if (m_state.kind == EngineStateKind::Loading) m_state.kind = EngineStateKind::Empty;
    }
    void unload() override
    {
        std::lock_guard lock(m_mutex);
        m_state = {};
    }
    EngineState state() const override
    {
        std::lock_guard lock(m_mutex);
        return m_state;
    }
    std::shared_ptr<const Tokenizer> tokenizer() const override { return nullptr; }
    std::optional<ModelInfo> modelInfo() const override { return std::nullopt; }
    Result<std::unique_ptr<RequestHandle>> submit(GenerateRequest request) override
    {
        std::lock_guard lock(m_mutex);
        m_submitted.push_back(request);
        return std::unique_ptr<RequestHandle>(std::make_unique<FakeHandle>(++m_nextId, m_script));
    }
    Status attachAdapter(const std::string&, const std::string&) override
    {
        return makeError(ErrorCode::Unsupported, "fake engine: no adapters");
    }
    Status detachAdapter(const std::string&) override { return {}; }
    EngineStats stats() const override { return {}; }

private:
    mutable std::mutex m_mutex;
    bool m_readyAtOnce;
    EngineState m_state;
    FakeScript m_script;
    std::vector<GenerateRequest> m_submitted;
    std::uint64_t m_nextId = 0;
};

}  // namespace hearth::test
