// The shared state between a request's handle (any thread) and the scheduler thread: an event
// queue with a condition variable, and the cancel flag the scheduler checks every step.
// Private to the engine room.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "engine/engine.h"

namespace hearth {

class RequestChannel {
public:
    explicit RequestChannel(std::uint64_t id) : m_id(id) {}

    std::uint64_t id() const { return m_id; }
    // Called by the scheduler: queue an event for the handle. Events after the final one are dropped.
    void push(GenerationEvent event);
    // Convenience: ends the stream with a FailedEvent.
    void fail(Error error) { push(FailedEvent{std::move(error)}); }
    // Called by the handle.
    std::optional<GenerationEvent> pop(std::chrono::milliseconds timeout);
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return m_cancelled.load(std::memory_order_relaxed); }
    // The final event has been queued (not necessarily read).
    bool finished() const { return m_finished.load(std::memory_order_acquire); }
    // The final event has been queued and read.
    bool drained() const;

private:
    const std::uint64_t m_id;
    std::atomic<bool> m_cancelled{false};
    std::atomic<bool> m_finished{false};
    mutable std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<GenerationEvent> m_events;
};

// The RequestHandle given to callers; destroying it cancels the request.
class ChannelRequestHandle final : public RequestHandle {
public:
    explicit ChannelRequestHandle(std::shared_ptr<RequestChannel> channel) : m_channel(std::move(channel)) {}
    ~ChannelRequestHandle() override { m_channel->cancel(); }

    std::uint64_t id() const override { return m_channel->id(); }
    std::optional<GenerationEvent> nextEvent(std::chrono::milliseconds timeout) override { return m_channel->pop(timeout); }
    void cancel() override { m_channel->cancel(); }
    bool done() const override { return m_channel->drained(); }

private:
    std::shared_ptr<RequestChannel> m_channel;
};

}  // namespace hearth
