// Memory bandwidth the benchmarks measure themselves, so a decode rate can be shown as a
// fraction of what this machine's memory actually delivers rather than of a datasheet figure.
#pragma once

#include <cstddef>

namespace hearth {
class ThreadPool;
}

namespace hearth::cli {

// Best of several multi-threaded streaming reads over a buffer of `nBytes` (use one much larger
// than the caches), in bytes per second.
double measureReadBandwidth(ThreadPool& pool, std::size_t nBytes);

}  // namespace hearth::cli
