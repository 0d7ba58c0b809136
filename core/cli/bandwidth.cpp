#include "cli/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include "util/thread_pool.h"

namespace hearth::cli {

double measureReadBandwidth(ThreadPool& pool, std::size_t nBytes)
{
    std::vector<std::uint64_t> buffer(nBytes / sizeof(std::uint64_t));
    std::iota(buffer.begin(), buffer.end(), std::uint64_t(1));
    double best = 0.0;
    std::vector<std::uint64_t> sums(static_cast<std::size_t>(pool.size()) * 8);
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.parallelFor(pool.size(), [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t part = begin; part < end; ++part) {
                const std::size_t from = buffer.size() * static_cast<std::size_t>(part) / static_cast<std::size_t>(pool.size());
                const std::size_t to = buffer.size() * static_cast<std::size_t>(part + 1) / static_cast<std::size_t>(pool.size());
                std::uint64_t a = 0, b = 0, c = 0, d = 0;
                std::size_t i = from;
                for (; i + 4 <= to; i += 4) {
                    a += buffer[i];
                    b += buffer[i + 1];
                    c += buffer[i + 2];
                    d += buffer[i + 3];
                }
                sums[static_cast<std::size_t>(part) * 8] = a + b + c + d;  // keeps the loop alive; one cache line each
            }
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        best = std::max(best, static_cast<double>(buffer.size() * sizeof(std::uint64_t)) / s);
    }
    return best;
}

}  // namespace hearth::cli
