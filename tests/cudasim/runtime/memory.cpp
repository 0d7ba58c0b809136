// Device and pinned host allocations and the copies between them. Device memory is host memory
// here, filled with 0xFF bytes when fresh (NaN in every float type), and counted against the
// simulated device's size. Copies follow CUDA's documented host synchronisation: an async copy
// from pageable memory is staged at the call, one into pageable memory returns only when done,
// pinned memory is read and written when the copy runs.
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "cudasim.h"
#include "sim_state.h"

namespace cudasim::rt {
namespace {

struct Allocation {
    std::size_t bytes = 0;
    std::size_t countedBytes = 0;
    bool device = false;
};

struct Memory {
    std::map<std::uintptr_t, Allocation> allocations;  // by base address
    std::size_t usedBytes = 0;
};

Memory& mem()
{
    static Memory* m = new Memory();
    return *m;
}

std::size_t roundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// The allocation holding `p`, or end().
std::map<std::uintptr_t, Allocation>::iterator find(const void* p)
{
    auto& a = mem().allocations;
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    auto it = a.upper_bound(at);
    if (it == a.begin())
        return a.end();
    --it;
    return at < it->first + std::max<std::size_t>(it->second.bytes, 1) ? it : a.end();
}

// 0xFF unless CUDASIM_FILL names another byte: running a failing test with CUDASIM_FILL=0 tells
// whether it reads memory nobody wrote.
int freshByte()
{
    static const int value = [] {
        const char* v = std::getenv("CUDASIM_FILL");
        return v && *v ? static_cast<int>(std::strtol(v, nullptr, 0) & 0xFF) : 0xFF;
    }();
    return value;
}

void* allocate(std::size_t nBytes, std::size_t alignment, bool device)
{
    void* p = std::aligned_alloc(alignment, roundUp(std::max<std::size_t>(nBytes, 1), alignment));
    if (!p)
        return nullptr;
    Allocation a;
    a.bytes = nBytes;
    a.device = device;
    if (device) {
        std::memset(p, freshByte(), nBytes);
        a.countedBytes = roundUp(std::max<std::size_t>(nBytes, 1), 512);
        mem().usedBytes += a.countedBytes;
    }
    mem().allocations[reinterpret_cast<std::uintptr_t>(p)] = a;
    return p;
}

// Frees an allocation of the given kind starting exactly at `p`.
cudaError_t release(void* p, bool device)
{
    auto it = mem().allocations.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == mem().allocations.end() || it->second.device != device)
        return cudaErrorInvalidValue;
    mem().usedBytes -= it->second.countedBytes;
    mem().allocations.erase(it);
    std::free(p);
    return cudaSuccess;
}

bool deviceAccessible(MemKind k) { return k != MemKind::Pageable; }  // pinned memory is mapped (UVA)

// Checks a copy's pointers against its kind: the device side must be device (or mapped pinned)
// memory and lie inside its allocation.
cudaError_t checkCopy(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind, Span* d, Span* s)
{
    *d = classify(dst, n);
    *s = classify(src, n);
    if (n == 0)
        return cudaSuccess;
    if (!dst || !src || !d->inside || !s->inside)
        return cudaErrorInvalidValue;
    switch (kind) {
    case cudaMemcpyHostToHost: return cudaSuccess;
    case cudaMemcpyHostToDevice: return deviceAccessible(d->kind) ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToHost: return deviceAccessible(s->kind) ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDeviceToDevice:
        return deviceAccessible(d->kind) && deviceAccessible(s->kind) ? cudaSuccess : cudaErrorInvalidValue;
    case cudaMemcpyDefault: return cudaSuccess;
    default: return cudaErrorInvalidMemcpyDirection;
    }
}

// At run time: memory that was allocated when the work was queued must still be (a graph replayed
// after the buffers it points at were freed reads or writes freed memory: a device fault).
void checkStillAllocated(const void* p, std::size_t n, MemKind kindWhenQueued, const char* what)
{
    if (kindWhenQueued == MemKind::Pageable || n == 0)
        return;
    const Span now = classify(p, n);
    if (now.kind != kindWhenQueued || !now.inside) {
        const std::string message = std::string(what) + " memory freed since the work was queued (" +
                                    std::to_string(n) + " bytes): a graph replayed after cudaFree?";
        cudasim::fault(message.c_str());
    }
}

// Queues a copy on `s`. Pageable sources are staged now; returns whether the host must wait for
// it (a pageable destination, or both sides pageable).
cudaError_t queueCopy(CUstream_st* s, void* dst, const void* src, std::size_t n, const Span& d, const Span& sp,
                      bool* hostWaits)
{
    const bool capturing = s->capture != nullptr;
    *hostWaits = !capturing && (d.kind == MemKind::Pageable);
    Node node;
    node.what = "cudaMemcpy";
    const MemKind dstKind = d.kind, srcKind = sp.kind;
    if (sp.kind == MemKind::Pageable && !capturing) {
        auto staged = std::make_shared<std::string>(static_cast<const char*>(src), n);
        node.work = [dst, staged, dstKind] {
            checkStillAllocated(dst, staged->size(), dstKind, "cudaMemcpy writes");
            std::memcpy(dst, staged->data(), staged->size());
        };
    } else {
        // Pinned or device memory is read when the copy runs; so is anything in a graph node.
        node.work = [dst, src, n, dstKind, srcKind] {
            checkStillAllocated(dst, n, dstKind, "cudaMemcpy writes");
            checkStillAllocated(src, n, srcKind, "cudaMemcpy reads");
            std::memmove(dst, src, n);
        };
    }
    return enqueueOn(s, std::move(node));
}

}  // namespace

Span classify(const void* p, std::size_t nBytes)
{
    Span span;
    auto it = find(p);
    if (it == mem().allocations.end())
        return span;
    span.kind = it->second.device ? MemKind::Device : MemKind::Pinned;
    const auto at = reinterpret_cast<std::uintptr_t>(p);
    span.inside = at + nBytes <= it->first + it->second.bytes;
    return span;
}

std::size_t totalDeviceBytes()
{
    static const std::size_t total = [] {
        if (const char* mb = std::getenv("CUDASIM_MEMORY_MB"); mb && *mb) {
            char* end = nullptr;
            const unsigned long long v = std::strtoull(mb, &end, 10);
            if (end && *end == '\0' && v > 0)
                return static_cast<std::size_t>(v) << 20;
        }
        return cudasim::kDefaultMemoryBytes;
    }();
    return total;
}

std::size_t usedDeviceBytes() { return mem().usedBytes; }

}  // namespace cudasim::rt

using namespace cudasim::rt;

cudaError_t cudaMalloc(void** devPtr, size_t size)
{
    Lock lock(mutex());
    if (!devPtr)
        return fail(cudaErrorInvalidValue);
    if (size == 0) {
        *devPtr = nullptr;
        return cudaSuccess;
    }
    // cudaMalloc is allowed during capture: it is not stream work (and is not captured).
    if (size > totalDeviceBytes() || usedDeviceBytes() + size > totalDeviceBytes())
        return fail(cudaErrorMemoryAllocation);
    void* p = allocate(size, 256, true);
    if (!p)
        return fail(cudaErrorMemoryAllocation);
    *devPtr = p;
    return cudaSuccess;
}

cudaError_t cudaFree(void* devPtr)
{
    Lock lock(mutex());
    if (!devPtr)
        return cudaSuccess;  // initialises the context in CUDA; nothing to do here
    if (const cudaError_t e = checkCaptureSafe(); e != cudaSuccess)
        return fail(e);
    if (!classify(devPtr, 0).inside || classify(devPtr, 0).kind != MemKind::Device)
        return fail(cudaErrorInvalidValue);
    drainAll();  // cudaFree synchronises the device
    return fail(release(devPtr, true));
}

cudaError_t cudaMallocHost(void** ptr, size_t size)
{
    Lock lock(mutex());
    if (!ptr)
        return fail(cudaErrorInvalidValue);
    void* p = allocate(size, 4096, false);
    if (!p)
        return fail(cudaErrorMemoryAllocation);
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** pHost, size_t size, unsigned int flags)
{
    const unsigned known = cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined;
    if (flags & ~known) {
        Lock lock(mutex());
        return fail(cudaErrorInvalidValue);
    }
    return cudaMallocHost(pHost, size);
}

cudaError_t cudaFreeHost(void* ptr)
{
    Lock lock(mutex());
    if (!ptr)
        return cudaSuccess;
    if (const cudaError_t e = checkCaptureSafe(); e != cudaSuccess)
        return fail(e);
    drainAll();  // like cudaFree, it waits for the device (queued copies may still read it)
    return fail(release(ptr, false));
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total)
{
    Lock lock(mutex());
    if (!free || !total)
        return fail(cudaErrorInvalidValue);
    *total = totalDeviceBytes();
    *free = totalDeviceBytes() - std::min(usedDeviceBytes(), totalDeviceBytes());
    return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind, cudaStream_t stream)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    Span d, sp;
    if (const cudaError_t e = checkCopy(dst, src, count, kind, &d, &sp); e != cudaSuccess)
        return fail(e);
    if (count == 0)
        return cudaSuccess;
    bool hostWaits = false;
    if (const cudaError_t e = queueCopy(s, dst, src, count, d, sp, &hostWaits); e != cudaSuccess)
        return fail(e);
    if (hostWaits)
        drainStream(s, s->lastSeq);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, enum cudaMemcpyKind kind)
{
    Lock lock(mutex());
    Span d, sp;
    if (const cudaError_t e = checkCopy(dst, src, count, kind, &d, &sp); e != cudaSuccess)
        return fail(e);
    const bool deviceToDevice = d.kind != MemKind::Pageable && sp.kind != MemKind::Pageable &&
                                (d.kind == MemKind::Device || sp.kind == MemKind::Device) &&
                                (kind == cudaMemcpyDeviceToDevice || kind == cudaMemcpyDefault);
    // Every other direction blocks the host: a potentially unsafe call during capture.
    if (!deviceToDevice)
        if (const cudaError_t e = checkCaptureSafe(); e != cudaSuccess)
            return fail(e);
    if (count == 0)
        return cudaSuccess;
    CUstream_st* s = legacyStream();
    bool hostWaits = false;
    if (const cudaError_t e = queueCopy(s, dst, src, count, d, sp, &hostWaits); e != cudaSuccess)
        return fail(e);
    if (!deviceToDevice)
        drainStream(s, s->lastSeq);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream)
{
    Lock lock(mutex());
    CUstream_st* s = resolveStream(stream);
    if (!s)
        return fail(cudaErrorInvalidResourceHandle);
    if (count == 0)
        return cudaSuccess;
    const Span d = classify(devPtr, count);
    if (!devPtr || d.kind == MemKind::Pageable || !d.inside)
        return fail(cudaErrorInvalidValue);
    const MemKind kind = d.kind;
    return fail(enqueueOn(s, Node{[devPtr, value, count, kind] {
                                      checkStillAllocated(devPtr, count, kind, "cudaMemset writes");
                                      std::memset(devPtr, value, count);
                                  },
                                  "cudaMemset"}));
}

cudaError_t cudaMemset(void* devPtr, int value, size_t count)
{
    // Asynchronous to the host for device memory, as documented: a plain legacy-stream memset.
    return cudaMemsetAsync(devPtr, value, count, nullptr);
}
