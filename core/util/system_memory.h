// Host memory figures, for the CPU backend's fit verdict and for sizing host-side buffers.
#pragma once

#include <cstdint>

namespace hearth {

// MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read.
std::uint64_t availableSystemMemoryBytes();

}  // namespace hearth
