// Server counters and histograms for GET /metrics in the Prometheus text format: requests by
// route and status, prompt and generated tokens, time to first token and request latency,
// plus the engine's queue depth, KV use and load state read at scrape time.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace hearth {
struct EngineStats;
struct EngineState;
}  // namespace hearth

namespace hearth::server {

class Histogram {
public:
    static constexpr std::size_t kBuckets = 12;
    explicit Histogram(const std::array<double, kBuckets>& upperBoundsS) : m_bounds(upperBoundsS) {}
    void observe(double valueS);
    // Appends the _bucket/_sum/_count lines for `name`.
    void render(const std::string& name, std::string& out) const;

private:
    std::array<double, kBuckets> m_bounds;
    std::array<std::uint64_t, kBuckets> m_counts{};
    std::uint64_t m_count = 0;
    double m_sum = 0.0;
};

class Metrics {
public:
    Metrics();
    // One finished HTTP exchange; `route` is a fixed label such as "chat_completions".
    void recordRequest(const std::string& route, int status);
    void recordGeneration(std::int64_t promptTokens, std::int64_t completionTokens, double ttftS, double totalS);
    std::string render(const EngineStats& stats, const EngineState& state) const;

private:
    mutable std::mutex m_mutex;
    std::map<std::pair<std::string, int>, std::uint64_t> m_requests;
    std::uint64_t m_promptTokens = 0;
    std::uint64_t m_completionTokens = 0;
    Histogram m_ttft;
    Histogram m_latency;
};

}  // namespace hearth::server
