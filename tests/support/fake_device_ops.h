// A CPU stand-in for a GPU behind DeviceLoadOps (core/load/device_ops.h), for the device sink's
// tests: "device" memory is host memory, queued copies and conversions run in order on a worker
// thread after an optional delay (like a stream), and it counts live allocations, pointers outside
// pinned or device blocks, and staging bytes that changed between queueing and running a copy
// (a buffer refilled while its copy was in flight). Conversions use core/load/half_convert.h;
// tests compare against references of their own. Qt-free, header-only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "load/device_ops.h"
#include "load/half_convert.h"

namespace hearth::test {

class FakeDeviceOps final : public DeviceLoadOps {
public:
    std::chrono::microseconds opDelay{0};
    std::atomic<int> refilledWhileInFlight{0};  // a staging byte changed between queueing and running a copy
    std::atomic<int> badPointers{0};            // a copy from outside pinned memory or to outside device memory

    FakeDeviceOps() : m_worker([this] { run(); }) {}
    ~FakeDeviceOps() override
    {
        {
            std::lock_guard lock(m_mutex);
            m_quit = true;
        }
        m_changed.notify_all();
        m_worker.join();
    }

    int liveAllocations() const
    {
        std::lock_guard lock(m_mutex);
        return static_cast<int>(m_pinned.size() + m_device.size());
    }
    // True when a queued, unfinished copy reads [p, p + n).
    bool inFlightFrom(const void* p, std::size_t n) const
    {
        std::lock_guard lock(m_mutex);
        const auto* b = static_cast<const std::uint8_t*>(p);
        for (const Op& op : m_queue)
            if (op.src && op.src < b + n && b < op.src + op.nBytes)
                return true;
        return false;
    }

    Result<void*> allocPinned(std::size_t nBytes) override { return alloc(nBytes, 4096, m_pinned); }
    void freePinned(void* p) override { release(p, m_pinned); }
    Result<void*> allocDevice(std::size_t nBytes) override { return alloc(nBytes, 256, m_device); }
    void freeDevice(void* p) override { release(p, m_device); }

    Status copyToDevice(void* dst, const void* src, std::size_t nBytes, int) override
    {
        const auto* s = static_cast<const std::uint8_t*>(src);
        if (!inside(s, nBytes, m_pinned) || !inside(dst, nBytes, m_device))
            ++badPointers;
        std::vector<std::uint8_t> snapshot(s, s + nBytes);
        enqueue(Op{s, nBytes, [this, dst, s, nBytes, snapshot = std::move(snapshot)] {
                       if (std::memcmp(s, snapshot.data(), nBytes) != 0)
                           ++refilledWhileInFlight;
                       std::memcpy(dst, s, nBytes);
                   }});
        return Status::ok();
    }
    Status convert(void* dst, DType dstType, const void* src, DType srcType, std::size_t n, int) override
    {
        if (!inside(dst, n * dtypeSize(dstType), m_device) || !inside(src, n * dtypeSize(srcType), m_device))
            ++badPointers;
        enqueue(Op{nullptr, 0, [dst, dstType, src, srcType, n] {
                       const auto* in = static_cast<const std::uint8_t*>(src);
                       auto* out = static_cast<std::uint8_t*>(dst);
                       for (std::size_t i = 0; i < n; ++i) {
                           std::uint16_t v = 0;
                           if (srcType == DType::F32) {
                               std::uint32_t bits = 0;
                               std::memcpy(&bits, in + 4 * i, 4);
                               v = dstType == DType::F16 ? floatBitsToHalf(bits) : floatBitsToBf16(bits);
                           } else {
                               std::memcpy(&v, in + 2 * i, 2);
                               v = dstType == DType::F16 ? bf16ToHalf(v) : halfToBf16(v);
                           }
                           std::memcpy(out + 2 * i, &v, 2);
                       }
                   }});
        return Status::ok();
    }
    Status recordBufferDone(int bufferIndex) override
    {
        std::lock_guard lock(m_mutex);
        m_marker[bufferIndex] = m_queued;
        return Status::ok();
    }
    Status waitBufferDone(int bufferIndex) override
    {
        std::unique_lock lock(m_mutex);
        const std::uint64_t target = m_marker.count(bufferIndex) ? m_marker[bufferIndex] : 0;
        m_changed.wait(lock, [&] { return m_done >= target; });
        return Status::ok();
    }
    Status synchronize() override
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [&] { return m_done >= m_queued; });
        return Status::ok();
    }

private:
    struct Op {
        const std::uint8_t* src = nullptr;  // the pinned bytes a copy reads
        std::size_t nBytes = 0;
        std::function<void()> work;
    };
    using Blocks = std::map<std::uintptr_t, std::size_t>;

    Result<void*> alloc(std::size_t nBytes, std::size_t align, Blocks& blocks)
    {
        void* p = std::aligned_alloc(align, (std::max<std::size_t>(nBytes, 1) + align - 1) / align * align);
        if (!p)
            return makeError(ErrorCode::OutOfMemory, "fake: out of memory");
        std::lock_guard lock(m_mutex);
        blocks[reinterpret_cast<std::uintptr_t>(p)] = nBytes;
        return p;
    }
    void release(void* p, Blocks& blocks)
    {
        {
            std::lock_guard lock(m_mutex);
            if (blocks.erase(reinterpret_cast<std::uintptr_t>(p)) == 0)
                ++badPointers;  // double free or the wrong kind
        }
        std::free(p);
    }
    bool inside(const void* p, std::size_t n, const Blocks& blocks) const
    {
        std::lock_guard lock(m_mutex);
        const auto a = reinterpret_cast<std::uintptr_t>(p);
        auto it = blocks.upper_bound(a);
        if (it == blocks.begin())
            return false;
        --it;
        return a + n <= it->first + it->second;
    }
    void enqueue(Op op)
    {
        {
            std::lock_guard lock(m_mutex);
            m_queue.push_back(std::move(op));
            ++m_queued;
        }
        m_changed.notify_all();
    }
    void run()
    {
        std::unique_lock lock(m_mutex);
        for (;;) {
            m_changed.wait(lock, [&] { return m_quit || !m_queue.empty(); });
            if (m_queue.empty())
                return;
            std::function<void()> work = m_queue.front().work;
            lock.unlock();
            std::this_thread::sleep_for(opDelay);
            work();
            lock.lock();
            m_queue.pop_front();  // only now is its source free: inFlightFrom sees it until here
            ++m_done;
            m_changed.notify_all();
        }
    }

    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Op> m_queue;
    std::uint64_t m_queued = 0, m_done = 0;
    std::map<int, std::uint64_t> m_marker;
    Blocks m_pinned, m_device;
    bool m_quit = false;
    std::thread m_worker;
};

}  // namespace hearth::test
