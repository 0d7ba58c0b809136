#include "load/progress_meter.h"

namespace hearth {

namespace {

constexpr double kRateWindowS = 2.0;  // long enough to smooth chunk jitter, short enough to follow the disk

}  // namespace

ProgressMeter::ProgressMeter(const LoadPlan& plan, Clock::time_point loadStart, std::vector<LoadStageTime> stagesBefore,
                             std::function<void(const LoadProgress&)> callback, double intervalS,
                             std::uint64_t everyBytes)
    : m_callback(std::move(callback)), m_loadStart(loadStart), m_intervalS(intervalS), m_everyBytes(everyBytes)
{
    m_progress.stage = kLoadStageReading;
    m_progress.bytesTotal = plan.totalBytes;
    m_progress.breakdown = std::move(stagesBefore);
    for (std::size_t f = 0; f < plan.files.size(); ++f)
        m_progress.files.push_back(LoadFileProgress{plan.files[f].name, 0, plan.fileBytes(f)});
    if (!plan.files.empty())
        m_progress.file = plan.files.front().name;
    m_window.emplace_back(Clock::now(), 0);
}

void ProgressMeter::add(int fileIndex, std::uint64_t nBytes)
{
    LoadFileProgress& f = m_progress.files[static_cast<std::size_t>(fileIndex)];
    f.bytesDone += nBytes;
    m_progress.bytesDone += nBytes;
    m_progress.file = f.file;
}

void ProgressMeter::refresh(Clock::time_point now)
{
    m_window.emplace_back(now, m_progress.bytesDone);
    while (m_window.size() > 2 && std::chrono::duration<double>(now - m_window[1].first).count() >= kRateWindowS)
        m_window.pop_front();
    const double spanS = std::chrono::duration<double>(now - m_window.front().first).count();
    const std::uint64_t spanBytes = m_progress.bytesDone - m_window.front().second;
    m_progress.rateBytesPerS = spanS > 0.0 ? static_cast<double>(spanBytes) / spanS : 0.0;
    const std::uint64_t left = m_progress.bytesTotal - m_progress.bytesDone;
    m_progress.etaS = m_progress.rateBytesPerS > 0.0 ? static_cast<double>(left) / m_progress.rateBytesPerS : 0.0;
    m_progress.elapsedS = std::chrono::duration<double>(now - m_loadStart).count();
}

void ProgressMeter::report(bool force)
{
    const Clock::time_point now = Clock::now();
    const bool due = !m_reportedOnce ||
                     std::chrono::duration<double>(now - m_lastReport).count() >= m_intervalS ||
                     m_progress.bytesDone - m_bytesAtLastReport >= m_everyBytes;
    if (!force && !due)
        return;
    refresh(now);
    m_lastReport = now;
    m_bytesAtLastReport = m_progress.bytesDone;
    m_reportedOnce = true;
    if (m_callback)
        m_callback(m_progress);
}

}  // namespace hearth
