#include "util/thread_pool.h"

#include <algorithm>

namespace hearth {

ThreadPool::ThreadPool(int nThreads)
{
    if (nThreads <= 0)
        nThreads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    m_nThreads = nThreads;
    for (int i = 1; i < m_nThreads; ++i)
        m_workers.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_wake.notify_all();
    for (std::thread& t : m_workers)
        t.join();
}

void ThreadPool::runShare(int index)
{
    const std::int64_t begin = m_n * index / m_nThreads;
    const std::int64_t end = m_n * (index + 1) / m_nThreads;
    if (begin < end)
        (*m_fn)(begin, end);
}

void ThreadPool::workerLoop(int index)
{
    std::uint64_t seen = 0;
    for (;;) {
        {
            std::unique_lock lock(m_mutex);
            m_wake.wait(lock, [&] { return m_stop || m_generation != seen; });
            if (m_stop)
                return;
            seen = m_generation;
        }
        runShare(index);
        std::lock_guard lock(m_mutex);
        if (--m_pending == 0)
            m_done.notify_one();
    }
}

void ThreadPool::parallelFor(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn)
{
    if (n <= 0)
        return;
    if (m_nThreads == 1 || n == 1) {
        fn(0, n);
        return;
    }
    std::lock_guard callLock(m_callMutex);
    {
        std::lock_guard lock(m_mutex);
        m_fn = &fn;
        m_n = n;
        m_pending = m_nThreads - 1;
        ++m_generation;
    }
    m_wake.notify_all();
    runShare(0);
    std::unique_lock lock(m_mutex);
    m_done.wait(lock, [&] { return m_pending == 0; });
    m_fn = nullptr;
}

}  // namespace hearth
