#include "engine/request_handle.h"

namespace hearth {

void RequestChannel::push(GenerationEvent event)
{
    const bool final = !std::holds_alternative<TokenEvent>(event);
    {
        std::lock_guard lock(m_mutex);
        if (m_finished.load(std::memory_order_relaxed))
            return;
        m_events.push_back(std::move(event));
        if (final)
            m_finished.store(true, std::memory_order_release);
    }
    m_ready.notify_all();
}

std::optional<GenerationEvent> RequestChannel::pop(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(m_mutex);
    if (!m_ready.wait_for(lock, timeout, [&] { return !m_events.empty(); }))
        return std::nullopt;
    GenerationEvent event = std::move(m_events.front());
    m_events.pop_front();
    return event;
}

bool RequestChannel::drained() const
{
    std::lock_guard lock(m_mutex);
    return m_finished.load(std::memory_order_relaxed) && m_events.empty();
}

}  // namespace hearth
