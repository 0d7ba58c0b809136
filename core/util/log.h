// Minimal leveled logging to stderr, thread-safe, with a level set once at start-up.
#pragma once

#include <string_view>

namespace hearth {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3, Off = 4 };

void setLogLevel(LogLevel level);
LogLevel logLevel();
void logMessage(LogLevel level, std::string_view message);

inline void logDebug(std::string_view m) { logMessage(LogLevel::Debug, m); }
inline void logInfo(std::string_view m) { logMessage(LogLevel::Info, m); }
inline void logWarning(std::string_view m) { logMessage(LogLevel::Warning, m); }
inline void logError(std::string_view m) { logMessage(LogLevel::Error, m); }

}  // namespace hearth
