// Continuous batching on one thread that owns the backend: requests wait in a bounded FIFO,
// join the running set between steps when KV pages allow (reusing cached prefix pages), and each
// step forwards the decode tokens of every running sequence plus prefill chunks of the oldest
// prefilling ones, up to prefillChunkTokens prompt tokens in all, so a long prompt never stalls
// the others and prompts arriving together are prefilled together. When the pool runs dry
// mid-decode the youngest sequence is preempted (its pages released, requeued at the front to
// recompute later). Private to the engine room; Engine (engine.cpp) is its only user.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/request_handle.h"

namespace hearth {

class LoraAdapter;

struct SchedulerOptions {
    std::int32_t maxQueuedRequests = 64;
    std::int32_t maxBatchSequences = 16;
    std::int32_t prefillChunkTokens = 256;  // prompt tokens per step, over all prefilling sequences
    std::int64_t contextLength = 0;  // prompt + maxTokens may not exceed it
};

// A request between submit() and the scheduler, with its adapter already resolved by name.
struct PendingRequest {
    std::shared_ptr<RequestChannel> channel;
    GenerateRequest request;
    std::shared_ptr<const LoraAdapter> adapter;
    std::uint64_t adapterSalt = 0;  // separates prefix-cache entries made with other adapters/scales
    std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();
};

// The checks that need no model (empty prompt, maxTokens), then, when `vocabSize` > 0, those that
// do (token ids, context length, sampling parameters). Messages say what is allowed.
Status validateGenerateRequest(const GenerateRequest& request, std::int64_t vocabSize, std::int64_t contextLength);

struct SchedulerStats {
    std::int32_t running = 0;
    std::int32_t queued = 0;
    std::int32_t kvPagesUsed = 0;
    std::int32_t kvPagesCached = 0;
    std::int32_t kvPagesFree = 0;
    std::int32_t kvPagesTotal = 0;
    std::uint64_t requestsServed = 0;
    std::uint64_t tokensGenerated = 0;
    std::uint64_t promptTokensCached = 0;
    std::uint64_t preemptions = 0;
    std::uint64_t steps = 0;
};

class Scheduler {
public:
    Scheduler(std::unique_ptr<Backend> backend, std::shared_ptr<const Tokenizer> tokenizer, SchedulerOptions options);
    // Stops the thread; requests still queued or running end with a FailedEvent (Unavailable).
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    // Queues a request; Busy when maxQueuedRequests are already waiting.
    Status enqueue(std::unique_ptr<PendingRequest> request);
    // Queues requests accepted while the model was loading (already counted against the bound).
    void adopt(std::deque<std::unique_ptr<PendingRequest>> requests);
    // A snapshot taken after the last step.
    SchedulerStats stats() const;
    const ModelConfig& config() const { return m_config; }

private:
    struct Sequence;

    void run();
    void step();
    void sweepCancelled();
    void admit();
    bool growForDecode();
    void preempt(std::unique_ptr<Sequence> victim);
    // Emits the sequence's next token (sampled from its logits, or picked by the backend).
    void handleToken(Sequence& seq, SampledToken sampled);
    void finish(Sequence& seq, FinishReason reason);
    void failSequence(Sequence& seq, const Error& error);
    void removeFinished();
    void publishStats();
    std::unique_ptr<Sequence> makeSequence(std::unique_ptr<PendingRequest> request);

    std::unique_ptr<Backend> m_backend;
    std::shared_ptr<const Tokenizer> m_tokenizer;
    const ModelConfig m_config;
    const SchedulerOptions m_options;
    std::vector<TokenId> m_endIds;  // eos and end-of-turn ids of the model

    // Scheduler thread only.
    std::vector<std::unique_ptr<Sequence>> m_running;  // in admission order
    std::uint64_t m_admitCounter = 0;

    mutable std::mutex m_mutex;  // guards everything below
    std::condition_variable m_wake;
    std::deque<std::unique_ptr<Sequence>> m_queue;  // preempted ones at the front
    SchedulerStats m_stats;
    bool m_stop = false;

    std::thread m_thread;  // last: starts after everything above exists
};

}  // namespace hearth
