// Private to runtime/: the simulated device's state (streams, events, graphs, allocations) and the
// scheduler that runs deferred work when something waits. Every entry point takes g_mutex (a
// recursive mutex) for its whole body, including while work drains: only one work item runs at a
// time in the process, whichever host thread waits for it.
#pragma once

#include <cuda_runtime_api.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cudasim::rt {

// One closure in a stream's queue or in a captured graph.
struct Node {
    std::function<void()> work;
    std::string what;
};

}  // namespace cudasim::rt

// The opaque handle types of the CUDA headers, completed here (only this runtime defines them).
struct CUgraphNode_st {
    std::size_t index = 0;
};

struct CUgraph_st {
    std::vector<cudasim::rt::Node> nodes;
    std::vector<std::unique_ptr<CUgraphNode_st>> handles;  // what cudaGraphGetNodes hands out
};

struct CUgraphExec_st {
    std::shared_ptr<const std::vector<cudasim::rt::Node>> nodes;  // shared with pending launches
};

namespace cudasim::rt {

// Work waiting in a stream, with the items of other streams it must follow (the legacy default
// stream's implicit synchronisation with blocking streams).
struct WorkItem {
    Node node;
    std::uint64_t seq = 0;
    std::vector<std::pair<CUstream_st*, std::uint64_t>> after;
};

struct Capture {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
    std::thread::id thread;
    std::unique_ptr<CUgraph_st> graph;
    bool invalidated = false;
    unsigned long long id = 0;
};

// When an event's latest record ran (timing comes from the host's wall clock).
struct EventMark {
    bool done = false;
    std::chrono::steady_clock::time_point when;
};

}  // namespace cudasim::rt

struct CUstream_st {
    unsigned flags = 0;
    bool legacy = false;
    std::deque<cudasim::rt::WorkItem> queue;
    std::uint64_t lastSeq = 0;  // the newest item ever queued here (run or not)
    std::unique_ptr<cudasim::rt::Capture> capture;
};

struct CUevent_st {
    unsigned flags = 0;
    CUstream_st* stream = nullptr;  // where the latest record went (nullptr: never recorded)
    std::uint64_t seq = 0;          // the record's item there
    bool captured = false;          // last recorded inside a capture
    std::shared_ptr<cudasim::rt::EventMark> mark;
};

namespace cudasim::rt {

std::recursive_mutex& mutex();
using Lock = std::lock_guard<std::recursive_mutex>;

// Sets the thread's last error to `e` when it is a failure, and returns it.
cudaError_t fail(cudaError_t e);

// The stream behind a handle (0 and cudaStreamLegacy: the legacy default stream); nullptr when
// the handle is not a live stream.
CUstream_st* resolveStream(cudaStream_t s);
CUstream_st* legacyStream();
bool isLiveStream(const CUstream_st* s);
bool isLiveEvent(const CUevent_st* e);

// Queues `node` on `s` (or records it into the capture), following CUDA's ordering rules; the
// error CUDA would give (a legacy-stream use during a blocking stream's capture...).
cudaError_t enqueueOn(CUstream_st* s, Node node);

// Runs `s`'s queue up to and including item `seq` (with whatever other streams' items those
// depend on). drainAll runs every queue empty.
void drainStream(CUstream_st* s, std::uint64_t seq);
void drainAll();

// For the potentially unsafe calls (device-wide synchronisation, cudaFree, blocking copies): a
// capture that prohibits them (any Global-mode capture, or one in ThreadLocal mode on this
// thread) is invalidated and cudaErrorStreamCaptureUnsupported comes back; cudaSuccess otherwise.
cudaError_t checkCaptureSafe();

// Allocations: device memory (cudaMalloc) and pinned host memory (cudaMallocHost/HostAlloc).
enum class MemKind { Pageable, Pinned, Device };
struct Span {
    MemKind kind = MemKind::Pageable;
    bool inside = true;  // [p, p + n) lies within the allocation that holds p
};
Span classify(const void* p, std::size_t nBytes);

// The total device memory the simulator reports (kDefaultMemoryBytes or CUDASIM_MEMORY_MB).
std::size_t totalDeviceBytes();
std::size_t usedDeviceBytes();

}  // namespace cudasim::rt
