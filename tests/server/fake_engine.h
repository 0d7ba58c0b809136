// A test double of the Engine: a fixed tokenizer (the Qwen2.5 fixture) and scripted replies,
// so the HTTP server is tested without a model. Each handle replays the script's pieces as
// TokenEvents with a pause before the first and between tokens, honours maxTokens, and records
// when it was cancelled so tests can check that a disconnect reaches the engine.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace hearth::test {

struct FakeScript {
    std::vector<std::string> pieces{"Hello", ",", " world", "!"};
    FinishReason finish = FinishReason::Stop;
    std::chrono::milliseconds firstTokenDelay{0};
    std::chrono::milliseconds tokenDelay{0};
    std::optional<Error> failAfterPieces;  // emit the pieces, then a FailedEvent
};

struct FakeHandleRecord {
    GenerateRequest request;
    std::atomic<bool> cancelled{false};
    std::chrono::steady_clock::time_point cancelledAt;
    std::atomic<bool> finished{false};
};

class FakeHandle : public RequestHandle {
public:
    FakeHandle(std::uint64_t id, FakeScript script, std::shared_ptr<const Tokenizer> tokenizer,
               std::shared_ptr<FakeHandleRecord> record)
        : m_id(id), m_script(std::move(script)), m_tokenizer(std::move(tokenizer)), m_record(std::move(record)),
          m_next(std::chrono::steady_clock::now() + m_script.firstTokenDelay)
    {
    }
    std::uint64_t id() const override { return m_id; }
    void cancel() override
    {
        if (!m_record->cancelled.exchange(true)) m_record->cancelledAt = std::chrono::steady_clock::now();
    }
    bool done() const override { return m_record->finished; }

    std::optional<GenerationEvent> nextEvent(std::chrono::milliseconds timeout) override
    {
        if (m_record->finished) return std::nullopt;
        if (m_record->cancelled) return finish(FinishReason::Cancelled);
        auto now = std::chrono::steady_clock::now();
        if (m_next > now + timeout) {
            std::this_thread::sleep_for(timeout);
            return std::nullopt;
        }
        if (m_next > now) std::this_thread::sleep_for(m_next - now);
        if (m_record->cancelled) return finish(FinishReason::Cancelled);
        std::int32_t maxTokens = m_record->request.maxTokens;
        if (m_emitted < m_script.pieces.size() && std::int32_t(m_emitted) < maxTokens) {
            const std::string& piece = m_script.pieces[m_emitted++];
            m_next = std::chrono::steady_clock::now() + m_script.tokenDelay;
            TokenEvent token;
            auto ids = m_tokenizer->encode(piece, {.parseSpecial = true, .addSpecialTokens = false});
            token.token = ids.empty() ? 0 : ids[0];
            token.textDelta = piece;
            token.logprob = -0.25f * float(m_emitted);
            for (int i = 0; i < m_record->request.sampling.topLogprobs; ++i) {
                token.topLogprobs.push_back({token.token + i, token.logprob - float(i)});
            }
            return token;
        }
        if (m_script.failAfterPieces) {
            m_record->finished = true;
            return FailedEvent{*m_script.failAfterPieces};
        }
        return finish(std::int32_t(m_emitted) >= maxTokens && m_emitted < m_script.pieces.size() ? FinishReason::Length
                                                                                                 : m_script.finish);
    }

private:
    GenerationEvent finish(FinishReason reason)
    {
        m_record->finished = true;
        FinishedEvent f;
        f.reason = reason;
        f.stats.promptTokens = std::int32_t(m_record->request.promptIds.size());
        f.stats.generatedTokens = std::int32_t(m_emitted);
        return f;
    }

    std::uint64_t m_id;
    FakeScript m_script;
    std::shared_ptr<const Tokenizer> m_tokenizer;
    std::shared_ptr<FakeHandleRecord> m_record;
    std::chrono::steady_clock::time_point m_next;
    std::size_t m_emitted = 0;
};

class FakeEngine : public Engine {
public:
    explicit FakeEngine(std::string modelPath) : m_modelPath(std::move(modelPath))
    {
        m_tokenizer = sharedTokenizer(m_modelPath);
        m_state.kind = EngineStateKind::Ready;
        m_state.modelPath = m_modelPath;
        m_state.backendName = "fake";
    }

    Status load(const std::string&) override { return Status::ok(); }
    Status waitUntilLoaded() override { return Status::ok(); }
    void cancelLoad() override {}
    void unload() override {}
    EngineState state() const override
    {
        std::lock_guard lock(m_mutex);
        return m_state;
    }
    std::shared_ptr<const Tokenizer> tokenizer() const override
    {
        return state().kind == EngineStateKind::Ready ? m_tokenizer : nullptr;
    }
    std::optional<ModelInfo> modelInfo() const override
    {
        if (state().kind != EngineStateKind::Ready) return std::nullopt;
        ModelInfo info;
        info.path = m_modelPath;
        info.architecture = "fake";
        info.contextLength = m_contextLength;
        info.vocabSize = 151936;
        info.adapters = m_attached;
        return info;
    }
    Result<std::unique_ptr<RequestHandle>> submit(GenerateRequest request) override
    {
        std::lock_guard lock(m_mutex);
        if (m_busy) return makeError(ErrorCode::Busy, "fake queue is full");
        auto record = std::make_shared<FakeHandleRecord>();
        record->request = std::move(request);
        m_records.push_back(record);
        return std::unique_ptr<RequestHandle>(new FakeHandle(m_records.size(), m_script, m_tokenizer, record));
    }
    Status attachAdapter(const std::string& name, const std::string&) override
    {
        m_attached.push_back(name);
        return Status::ok();
    }
    Status detachAdapter(const std::string&) override { return Status::ok(); }
    EngineStats stats() const override
    {
        EngineStats s;
        s.queued = 3;
        s.kvPagesUsed = 10;
        s.kvPagesTotal = 40;
        return s;
    }

    // Test controls.
    void setState(EngineState state)
    {
        std::lock_guard lock(m_mutex);
        m_state = std::move(state);
    }
    void setScript(FakeScript script)
    {
        std::lock_guard lock(m_mutex);
        m_script = std::move(script);
    }
    void setBusy(bool busy)
    {
        std::lock_guard lock(m_mutex);
        m_busy = busy;
    }
    void setContextLength(std::int64_t n) { m_contextLength = n; }
    std::shared_ptr<FakeHandleRecord> lastRecord() const
    {
        std::lock_guard lock(m_mutex);
        return m_records.empty() ? nullptr : m_records.back();
    }
    std::size_t nSubmitted() const
    {
        std::lock_guard lock(m_mutex);
        return m_records.size();
    }

private:
    // Loading the 150k-entry vocabulary takes seconds in a Debug build: once per process.
    static std::shared_ptr<const Tokenizer> sharedTokenizer(const std::string& path)
    {
        static std::mutex mutex;
        static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
        std::lock_guard lock(mutex);
        auto& slot = cache[path];
        if (!slot) {
            auto loaded = loadTokenizer(path);
            if (loaded) slot = std::shared_ptr<const Tokenizer>(std::move(loaded).value());
        }
        return slot;
    }

    std::string m_modelPath;
    std::shared_ptr<const Tokenizer> m_tokenizer;
    mutable std::mutex m_mutex;
    EngineState m_state;
    FakeScript m_script;
    bool m_busy = false;
    std::int64_t m_contextLength = 4096;
    std::vector<std::string> m_attached;
    std::vector<std::shared_ptr<FakeHandleRecord>> m_records;
};

}  // namespace hearth::test
