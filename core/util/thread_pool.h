// A small fixed-size thread pool for data-parallel loops (matmul rows, attention heads).
// The calling thread works too, so a pool of N threads keeps N cores busy with N-1 workers.
// One parallelFor runs at a time per pool; calls from several threads are serialised.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hearth {

class ThreadPool {
public:
    // `nThreads` <= 0 means one per hardware thread.
    explicit ThreadPool(int nThreads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return m_nThreads; }

    // Splits [0, n) into size() contiguous ranges and runs fn(begin, end) on each, in parallel;
    // returns when all are done. The split depends only on n and size(), never on timing.
    void parallelFor(std::int64_t n, const std::function<void(std::int64_t begin, std::int64_t end)>& fn);

private:
    void workerLoop(int index);
    void runShare(int index);

    int m_nThreads = 1;
    std::vector<std::thread> m_workers;
    std::mutex m_callMutex;  // serialises parallelFor callers
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::condition_variable m_done;
    const std::function<void(std::int64_t, std::int64_t)>* m_fn = nullptr;
    std::int64_t m_n = 0;
    std::uint64_t m_generation = 0;
    int m_pending = 0;
    bool m_stop = false;
};

}  // namespace hearth
