// Streams, events and the deferred-work scheduler: work queues per stream and runs only when a
// host call waits for it. The legacy default stream follows CUDA's implicit synchronisation: its
// work waits for everything queued before it on blocking streams (those created without
// cudaStreamNonBlocking), and their work waits for what is queued before it on the legacy stream.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>

#include "cudasim.h"
#include "sim_state.h"

namespace cudasim::rt {
namespace {

thread_local cudaError_t t_lastError = cudaSuccess;

struct Registry {
    CUstream_st legacy;
    std::unordered_set<CUstream_st*> streams;  // created, not yet destroyed (not the legacy one)
    std::unordered_set<CUevent_st*> events;
    std::uint64_t seq = 0;
    unsigned long long captureIds = 0;
    Registry() { legacy.legacy = true; }
};

Registry& reg()
{
    static Registry* r = new Registry();  // never destroyed: other statics may sync at exit
    return *r;
}

// CUDASIM_TRACE=1 prints each work item as it runs, with its time (graph launches as one item).
bool traceEnabled()
{
    static const bool on = [] {
        const char* v = std::getenv("CUDASIM_TRACE");
        return v && *v && *v != '0';
    }();
    return on;
}

bool blocking(const CUstream_st* s) { return !s->legacy && !(s->flags & cudaStreamNonBlocking); }

void invalidate(CUstream_st* s)
{
    if (s->capture)
        s->capture->invalidated = true;
}

// The captures the legacy stream would join: a blocking stream's. Invalidated, as CUDA does.
bool legacyConflictsWithCapture()
{
    bool conflict = false;
    for (CUstream_st* s : reg().streams)
        if (blocking(s) && s->capture) {
            invalidate(s);
            conflict = true;
        }
    return conflict;
}

}  // namespace

std::recursive_mutex& mutex()
{
    static std::recursive_mutex* m = new std::recursive_mutex();
    return *m;
}

cudaError_t fail(cudaError_t e)
{
    if (e != cudaSuccess && e != cudaErrorNotReady)
        t_lastError = e;
    return e;
}

CUstream_st* legacyStream() { return &reg().legacy; }

CUstream_st* resolveStream(cudaStream_t s)
{
    if (s == nullptr || s == cudaStreamLegacy)
        return &reg().legacy;
    if (reg().streams.count(s))
        return s;
    return nullptr;  // cudaStreamPerThread is not simulated: it fails as an unknown handle
}

bool isLiveStream(const CUstream_st* s)
{
    return s == &reg().legacy || reg().streams.count(const_cast<CUstream_st*>(s)) != 0;
}

bool isLiveEvent(const CUevent_st* e) { return reg().events.count(const_cast<CUevent_st*>(e)) != 0; }

cudaError_t enqueueOn(CUstream_st* s, Node node)
{
    if (s->capture) {
        if (s->capture->invalidated)
            return cudaErrorStreamCaptureInvalidated;
        s->capture->graph->nodes.push_back(std::move(node));
        return cudaSuccess;
    }
    WorkItem item;
    if (s->legacy) {
        if (legacyConflictsWithCapture())
            return cudaErrorStreamCaptureImplicit;
        for (CUstream_st* other : reg().streams)
            if (blocking(other) && !other->queue.empty())
                item.after.emplace_back(other, other->lastSeq);
    } else if (blocking(s) && !reg().legacy.queue.empty()) {
        item.after.emplace_back(&reg().legacy, reg().legacy.lastSeq);
    }
    item.node = std::move(node);
    item.seq = ++reg().seq;
    s->lastSeq = item.seq;
    s->queue.push_back(std::move(item));
    return cudaSuccess;
}

void drainStream(CUstream_st* s, std::uint64_t seq)
{
    while (!s->queue.empty() && s->queue.front().seq <= seq) {
        // The items this one follows ran first; they are all older, so this cannot cycle.
        const auto after = s->queue.front().after;
        for (const auto& [other, otherSeq] : after)
            if (isLiveStream(other))
                drainStream(other, otherSeq);
        WorkItem item = std::move(s->queue.front());
        s->queue.pop_front();
        if (!traceEnabled()) {
            item.node.work();
            continue;
        }
        const auto started = std::chrono::steady_clock::now();
        item.node.work();
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        std::fprintf(stderr, "cudasim: ran %s (stream %p) in %.3f ms\n", item.node.what.c_str(), static_cast<void*>(s), ms);
    }
}

void drainAll()
{
    // In queueing order across streams: always an order CUDA could have run them in.
    for (;;) {
        CUstream_st* oldest = nullptr;
        auto consider = [&](CUstream_st* s) {
            if (!s->queue.empty() && (!oldest || s->queue.front().seq < oldest->queue.front().seq))
                oldest = s;
        };
        consider(&reg().legacy);
        for (CUstream_st* s : reg().streams)
            consider(s);
        if (!oldest)
            return;
        drainStream(oldest, oldest->queue.front().seq);
    }
}

cudaError_t checkCaptureSafe()
{
    cudaError_t result = cudaSuccess;
    const auto me = std::this_thread::get_id();
    for (CUstream_st* s : reg().streams) {
        if (!s->capture)
            continue;
        const Capture& c = *s->capture;
        if (c.mode == cudaStreamCaptureModeGlobal || (c.mode == cudaStreamCaptureModeThreadLocal && c.thread == me)) {
            invalidate(s);
            result = cudaErrorStreamCaptureUnsupported;
        }
    }
    return result;
}

}  // namespace cudasim::rt

namespace cudasim {

using namespace rt;

cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    return fail(enqueueOn(s, Node{std::move(work), what ? what : "work"}));
}

void setLastError(cudaError_t error) { t_lastError = error; }

[[noreturn]] void fault(const char* message)
{
    std::fprintf(stderr, "cudasim: device fault: %s\n", message);
    std::fflush(stderr);
    std::abort();
}

}  // namespace cudasim

using namespace cudasim::rt;

cudaError_t cudaGetLastError(void)
{
    const cudaError_t e = t_lastError;
    t_lastError = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return t_lastError; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags)
{
    Lock lock(mutex());
    if (!pStream || (flags & ~unsigned{cudaStreamNonBlocking}))
        return fail(cudaErrorInvalidValue);
    auto* s = new CUstream_st();
    s->flags = flags;
    reg().streams.insert(s);
    *pStream = s;
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* pStream) { return cudaStreamCreateWithFlags(pStream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s || s->legacy)
        return fail(cudaErrorInvalidResourceHandle);
    if (s->capture) {
        invalidate(s);
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    // CUDA lets queued work finish after the handle is gone; running it now is the same to a host
    // that can no longer wait for it.
    drainStream(s, s->lastSeq);
    reg().streams.erase(s);
    delete s;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    if (s->capture) {
        invalidate(s);
        return fail(cudaErrorStreamCaptureUnsupported);
    }
    if (s->legacy) {
        if (legacyConflictsWithCapture())
            return fail(cudaErrorStreamCaptureImplicit);
        // Conservative: the legacy stream's sync also waits for the blocking streams' work.
        const std::uint64_t now = reg().seq;
        drainStream(s, now);
        for (CUstream_st* other : reg().streams)
            if (blocking(other))
                drainStream(other, now);
        return cudaSuccess;
    }
    drainStream(s, s->lastSeq);
    return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream)
{
    // A query is a wait here: the queue runs, and the stream is then idle.
    return cudaStreamSynchronize(stream);
}

cudaError_t cudaDeviceSynchronize(void)
{
    Lock lock(mutex());
    if (const cudaError_t e = checkCaptureSafe(); e != cudaSuccess)
        return fail(e);
    drainAll();
    return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags)
{
    Lock lock(mutex());
    const unsigned known = cudaEventBlockingSync | cudaEventDisableTiming;
    if (!event || (flags & ~known))
        return fail(cudaErrorInvalidValue);
    auto* e = new CUevent_st();
    e->flags = flags;
    reg().events.insert(e);
    *event = e;
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    Lock lock(mutex());
    if (!isLiveEvent(event))
        return fail(cudaErrorInvalidResourceHandle);
    reg().events.erase(event);
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!isLiveEvent(event) || !s)
        return fail(cudaErrorInvalidResourceHandle);
    if (s->capture) {
        if (const cudaError_t e = enqueueOn(s, Node{[] {}, "cudaEventRecord (captured)"}); e != cudaSuccess)
            return fail(e);
        event->captured = true;
        event->stream = nullptr;
        event->mark.reset();
        return cudaSuccess;
    }
    auto mark = std::make_shared<EventMark>();
    const cudaError_t e = enqueueOn(s, Node{[mark] {
                                                 mark->done = true;
                                                 mark->when = std::chrono::steady_clock::now();
                                             },
                                             "cudaEventRecord"});
    if (e != cudaSuccess)
        return fail(e);
    event->captured = false;
    event->stream = s;
    event->seq = s->lastSeq;
    event->mark = std::move(mark);
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    Lock lock(mutex());
    if (!isLiveEvent(event))
        return fail(cudaErrorInvalidResourceHandle);
    if (event->captured)
        return fail(cudaErrorCapturedEvent);
    if (event->stream && isLiveStream(event->stream))
        drainStream(event->stream, event->seq);
    return cudaSuccess;  // never recorded: complete, as in CUDA
}

cudaError_t cudaEventQuery(cudaEvent_t event)
{
    // A query is a wait here (the sim has no background progress): it never says cudaErrorNotReady.
    return cudaEventSynchronize(event);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end)
{
    Lock lock(mutex());
    if (!ms)
        return fail(cudaErrorInvalidValue);
    if (!isLiveEvent(start) || !isLiveEvent(end))
        return fail(cudaErrorInvalidResourceHandle);
    if ((start->flags | end->flags) & cudaEventDisableTiming)
        return fail(cudaErrorInvalidResourceHandle);
    if (start->captured || end->captured)
        return fail(cudaErrorCapturedEvent);
    if (!start->mark || !end->mark)
        return fail(cudaErrorInvalidResourceHandle);
    if (!start->mark->done || !end->mark->done)
        return fail(cudaErrorNotReady);
    *ms = std::chrono::duration<float, std::milli>(end->mark->when - start->mark->when).count();
    return cudaSuccess;
}

// ---- stream capture -----------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    if (s->legacy)
        return fail(cudaErrorStreamCaptureUnsupported);
    if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
        mode != cudaStreamCaptureModeRelaxed)
        return fail(cudaErrorInvalidValue);
    if (s->capture)
        return fail(cudaErrorIllegalState);
    auto c = std::make_unique<Capture>();
    c->mode = mode;
    c->thread = std::this_thread::get_id();
    c->graph = std::make_unique<CUgraph_st>();
    c->id = ++reg().captureIds;
    s->capture = std::move(c);
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    if (!pGraph)
        return fail(cudaErrorInvalidValue);
    if (!s->capture)
        return fail(cudaErrorIllegalState);
    if (s->capture->mode != cudaStreamCaptureModeRelaxed && s->capture->thread != std::this_thread::get_id())
        return fail(cudaErrorStreamCaptureWrongThread);
    std::unique_ptr<Capture> c = std::move(s->capture);
    if (c->invalidated) {
        *pGraph = nullptr;
        return fail(cudaErrorStreamCaptureInvalidated);
    }
    *pGraph = c->graph.release();
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus* pCaptureStatus)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    if (!pCaptureStatus)
        return fail(cudaErrorInvalidValue);
    if (s->legacy && std::any_of(reg().streams.begin(), reg().streams.end(),
                                 [](const CUstream_st* o) { return blocking(o) && o->capture; }))
        return fail(cudaErrorStreamCaptureImplicit);
    *pCaptureStatus = !s->capture               ? cudaStreamCaptureStatusNone
                      : s->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                                : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}
