// Turns "n more bytes of file f arrived" into throttled LoadProgress events with a recent rate
// (a sliding window, so a slow start does not drag the estimate for the whole load) and an ETA.
// Used by the load pipeline on its consumer thread only.
#pragma once

#include <chrono>
#include <deque>
#include <functional>

#include "engine/engine.h"
#include "load/load_plan.h"

namespace hearth {

class ProgressMeter {
public:
    using Clock = std::chrono::steady_clock;

    ProgressMeter(const LoadPlan& plan, Clock::time_point loadStart, std::vector<LoadStageTime> stagesBefore,
                  std::function<void(const LoadProgress&)> callback, double intervalS, std::uint64_t everyBytes);

    void add(int fileIndex, std::uint64_t nBytes);
    // Calls back when due (or always with `force`), with a fresh rate, ETA and elapsed time.
    void report(bool force);
    const LoadProgress& progress() const { return m_progress; }

private:
    void refresh(Clock::time_point now);

    std::function<void(const LoadProgress&)> m_callback;
    Clock::time_point m_loadStart;
    double m_intervalS;
    std::uint64_t m_everyBytes;
    LoadProgress m_progress;
    std::deque<std::pair<Clock::time_point, std::uint64_t>> m_window;  // (when, bytesDone)
    Clock::time_point m_lastReport{};
    std::uint64_t m_bytesAtLastReport = 0;
    bool m_reportedOnce = false;
};

}  // namespace hearth
