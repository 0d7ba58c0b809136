#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace hearth {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Warning)};
std::mutex g_mutex;
}  // namespace

void setLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel logLevel() { return static_cast<LogLevel>(g_level.load()); }

void logMessage(LogLevel level, std::string_view message)
{
    if (static_cast<int>(level) < g_level.load())
        return;
    static const char* const names[] = {"debug", "info", "warning", "error"};
    std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "hearth %s: %.*s\n", names[static_cast<int>(level)],
                 static_cast<int>(message.size()), message.data());
}

}  // namespace hearth
