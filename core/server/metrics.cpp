// Prometheus text exposition (format 0.0.4): HELP/TYPE lines, cumulative histogram buckets.
#include "server/metrics.h"

#include <cstdio>

#include "engine/engine.h"

namespace hearth::server {

namespace {

std::string number(double value)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help)
{
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, double value)
{
    out += name + " " + number(value) + "\n";
}

}  // namespace

void Histogram::observe(double valueS)
{
    for (std::size_t i = 0; i < kBuckets; ++i) {
        if (valueS <= m_bounds[i]) ++m_counts[i];
    }
    ++m_count;
    m_sum += valueS;
}

void Histogram::render(const std::string& name, std::string& out) const
{
    for (std::size_t i = 0; i < kBuckets; ++i) {
        out += name + "_bucket{le=\"" + number(m_bounds[i]) + "\"} " + std::to_string(m_counts[i]) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(m_count) + "\n";
    sample(out, name + "_sum", m_sum);
    out += name + "_count " + std::to_string(m_count) + "\n";
}

Metrics::Metrics()
    : m_ttft({0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}),
      m_latency({0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600})
{
}

void Metrics::recordRequest(const std::string& route, int status)
{
    std::lock_guard lock(m_mutex);
    ++m_requests[{route, status}];
}

void Metrics::recordGeneration(std::int64_t promptTokens, std::int64_t completionTokens, double ttftS, double totalS)
{
    std::lock_guard lock(m_mutex);
    m_promptTokens += static_cast<std::uint64_t>(promptTokens);
    m_completionTokens += static_cast<std::uint64_t>(completionTokens);
    if (completionTokens > 0) m_ttft.observe(ttftS);
    m_latency.observe(totalS);
}

std::string Metrics::render(const EngineStats& stats, const EngineState& state) const
{
    std::string out;
    {
        std::lock_guard lock(m_mutex);
        header(out, "hearth_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        for (const auto& [key, count] : m_requests) {
            out += "hearth_http_requests_total{route=\"" + key.first + "\",status=\"" + std::to_string(key.second) +
                   "\"} " + std::to_string(count) + "\n";
        }
        header(out, "hearth_prompt_tokens_total", "counter", "Prompt tokens of finished generations.");
        sample(out, "hearth_prompt_tokens_total", static_cast<double>(m_promptTokens));
        header(out, "hearth_generated_tokens_total", "counter", "Tokens generated for HTTP clients.");
        sample(out, "hearth_generated_tokens_total", static_cast<double>(m_completionTokens));
        header(out, "hearth_time_to_first_token_seconds", "histogram", "From submit to the first generated token.");
        m_ttft.render("hearth_time_to_first_token_seconds", out);
        header(out, "hearth_request_duration_seconds", "histogram", "From submit to the end of a generation.");
        m_latency.render("hearth_request_duration_seconds", out);
    }
    header(out, "hearth_requests_running", "gauge", "Sequences the engine is advancing.");
    sample(out, "hearth_requests_running", stats.running);
    header(out, "hearth_queue_depth", "gauge", "Requests waiting for a slot.");
    sample(out, "hearth_queue_depth", stats.queued);
    header(out, "hearth_kv_pages_used", "gauge", "KV cache pages in use.");
    sample(out, "hearth_kv_pages_used", stats.kvPagesUsed);
    header(out, "hearth_kv_pages_total", "gauge", "KV cache pages in the pool.");
    sample(out, "hearth_kv_pages_total", stats.kvPagesTotal);
    header(out, "hearth_kv_usage_ratio", "gauge", "Fraction of KV cache pages in use.");
    sample(out, "hearth_kv_usage_ratio", stats.kvPagesTotal > 0 ? double(stats.kvPagesUsed) / stats.kvPagesTotal : 0.0);
    header(out, "hearth_model_state", "gauge", "1 for the engine's current load state.");
    const char* states[] = {"empty", "loading", "ready", "failed"};
    for (int i = 0; i < 4; ++i) {
        out += std::string("hearth_model_state{state=\"") + states[i] + "\"} " +
               (static_cast<int>(state.kind) == i ? "1" : "0") + "\n";
    }
    header(out, "hearth_model_load_bytes_done", "gauge", "Bytes read of the model being loaded.");
    sample(out, "hearth_model_load_bytes_done", static_cast<double>(state.progress.bytesDone));
    header(out, "hearth_model_load_bytes_total", "gauge", "Bytes to read for the model being loaded.");
    sample(out, "hearth_model_load_bytes_total", static_cast<double>(state.progress.bytesTotal));
    return out;
}

}  // namespace hearth::server
