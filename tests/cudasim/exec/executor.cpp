// cudasim exec: launches, the block scheduler, block barriers, warp collectives and cp.async.
// A launch's blocks run one after another on the OS thread that runs the stream's queue; inside a
// block the threads are fibers switched cooperatively: a thread runs until it waits at a barrier
// or a warp primitive (or returns), then the next runnable one runs. All scheduler state lives in
// a thread_local worker, so two OS threads could each run a kernel (the runtime runs one at a time).
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cudasim.h"
#include "exec/exec.h"
#include "exec/fiber.h"

namespace cudasim::exec {

thread_local const ThreadInfo* tCurrentThread = nullptr;

namespace {

// Deep enough for the kernels' register arrays in a Debug or sanitizer build; only touched pages
// cost memory.
constexpr std::size_t kStackBytes = 256 * 1024;
constexpr std::size_t kSharedAlign = 1024;

enum class State { Runnable, AtBarrier, InWarpOp, Exited };

struct Job {
    LaunchConfig config;
    std::function<void()> body;
    const char* name;
};

struct PendingCopy {
    void* dst;
    unsigned char bytes[16];
    long group;  // -1 while not committed
};

struct SimThread {
    ThreadInfo info{};
    unsigned linear = 0;
    State state = State::Runnable;
    const char* barrierFile = nullptr;
    int barrierLine = 0;
    unsigned mask = 0;
    const char* what = nullptr;
    void* data = nullptr;
    WarpCombine combine = nullptr;
    std::vector<PendingCopy> copies;
    long nextGroup = 0;
    Fiber* fiber = nullptr;
};

struct SharedRegion {
    char* begin;
    std::size_t nBytes;
};

struct Worker {
    std::vector<std::unique_ptr<Fiber>> fibers;
    std::vector<SimThread> threads;
    const Job* job = nullptr;
    BlockInfo block{};
    int nLive = 0;
    int nAtBarrier = 0;
    const char* barrierFile = nullptr;
    int barrierLine = 0;
    std::vector<SharedRegion> shared;  // static __shared__ variables seen in this block
    std::vector<unsigned> warpExited;   // per warp: lanes that have returned
    std::vector<int> warpWaiting;       // per warp: lanes waiting in a warp collective
    char* dynShared = nullptr;
    std::size_t dynSharedBytes = 0;
    SimThread* current = nullptr;
    bool reverse = false;  // this block runs its threads last to first
};

thread_local Worker tWorker;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

std::string describe(const uint3& v) { return format("(%u,%u,%u)", v.x, v.y, v.z); }

std::string describeThread(const SimThread& t)
{
    return format("thread %s (warp %u lane %u)", describe(t.info.threadIdx).c_str(), t.linear / 32, t.info.lane);
}

std::string describeWait(const SimThread& t)
{
    switch (t.state) {
    case State::Runnable: return "is runnable";
    case State::Exited: return "has exited";
    case State::AtBarrier: return format("waits at __syncthreads (%s:%d)", t.barrierFile, t.barrierLine);
    case State::InWarpOp: return format("waits in %s (mask 0x%08x)", t.what, t.mask);
    }
    return "?";
}

[[noreturn]] void faultAt(const Worker& w, const SimThread* t, const std::string& message)
{
    std::string text = format("kernel %s, block %s", w.job ? w.job->name : "?", describe(w.block.blockIdx).c_str());
    if (t)
        text += ", " + describeThread(*t);
    text += ": " + message;
    cudasim::fault(text.c_str());
}

void landCopies(SimThread& t, long belowGroup, bool all)
{
    std::size_t kept = 0;
    for (PendingCopy& c : t.copies) {
        if (all || (c.group >= 0 && c.group < belowGroup))
            std::memcpy(c.dst, c.bytes, sizeof c.bytes);
        else
            t.copies[kept++] = c;
    }
    t.copies.resize(kept);
}

void releaseBarrier(Worker& w)
{
    for (SimThread& t : w.threads)
        if (t.state == State::AtBarrier)
            t.state = State::Runnable;
    w.nAtBarrier = 0;
}

// Completes the warp collective of the lanes in `mask` of the warp starting at `warpBase` when
// they have all arrived; faults when one of them can never arrive.
bool tryCompleteWarp(Worker& w, SimThread& caller, unsigned warpBase, unsigned mask)
{
    const auto nThreads = static_cast<unsigned>(w.threads.size());
    const unsigned warp = warpBase / 32;
    const unsigned existing = nThreads - warpBase >= 32 ? 0xffffffffu : (1u << (nThreads - warpBase)) - 1u;
    if (mask & ~existing)
        faultAt(w, &caller, format("%s with mask 0x%08x names lane %d, which does not exist (the block has %u threads)",
                                   caller.what, mask, __builtin_ctz(mask & ~existing), nThreads));
    if (mask & w.warpExited[warp])
        faultAt(w, &caller, format("%s with mask 0x%08x names lane %d, which has exited", caller.what, mask,
                                   __builtin_ctz(mask & w.warpExited[warp])));
    if (w.warpWaiting[warp] < __builtin_popcount(mask))
        return false;  // not everyone can be there yet
    for (unsigned lane = 0; lane < 32; ++lane) {
        if (!((mask >> lane) & 1u))
            continue;
        const SimThread& t = w.threads[warpBase + lane];
        if (t.state != State::InWarpOp || t.mask != mask || (t.what != caller.what && std::strcmp(t.what, caller.what) != 0))
            return false;
    }
    WarpGroup group{};
    group.mask = mask;
    for (unsigned lane = 0; lane < 32; ++lane)
        group.lanes[lane] = ((mask >> lane) & 1u) ? w.threads[warpBase + lane].data : nullptr;
    caller.combine(group);
    for (unsigned lane = 0; lane < 32; ++lane)
        if ((mask >> lane) & 1u)
            w.threads[warpBase + lane].state = State::Runnable;
    w.warpWaiting[warp] -= __builtin_popcount(mask);
    return true;
}

void threadEntry(void* arg)
{
    auto* t = static_cast<SimThread*>(arg);
    Worker& w = tWorker;
    w.job->body();
    landCopies(*t, 0, true);  // a thread's copies land even if it never waited for them
    t->state = State::Exited;
    --w.nLive;
    w.warpExited[t->linear / 32] |= 1u << t->info.lane;
    // Lanes waiting for this one in a warp primitive can never complete.
    const unsigned warpBase = t->linear - t->info.lane;
    for (unsigned lane = 0; lane < 32 && warpBase + lane < w.threads.size(); ++lane) {
        const SimThread& o = w.threads[warpBase + lane];
        if (o.state == State::InWarpOp && ((o.mask >> t->info.lane) & 1u))
            faultAt(w, &o, format("%s with mask 0x%08x waits for lane %u, which has exited", o.what, o.mask, t->info.lane));
    }
    if (w.nAtBarrier > 0 && w.nAtBarrier == w.nLive)
        releaseBarrier(w);  // exited threads are not waited for
    t->fiber->exit();
}

[[noreturn]] void deadlock(Worker& w)
{
    for (SimThread& t : w.threads) {
        if (t.state != State::InWarpOp)
            continue;
        const unsigned warpBase = t.linear - t.info.lane;
        for (unsigned lane = 0; lane < 32; ++lane) {
            if (!((t.mask >> lane) & 1u))
                continue;
            const SimThread& o = w.threads[warpBase + lane];
            if (o.state != State::InWarpOp || o.mask != t.mask || std::strcmp(o.what, t.what) != 0)
                faultAt(w, &t, format("deadlock: waits in %s (mask 0x%08x) for lane %u, which %s", t.what, t.mask, lane,
                                      describeWait(o).c_str()));
        }
    }
    for (SimThread& t : w.threads) {
        if (t.state != State::AtBarrier)
            continue;
        for (const SimThread& o : w.threads)
            if (o.state != State::AtBarrier && o.state != State::Exited)
                faultAt(w, &t, format("deadlock: waits at __syncthreads (%s:%d) with %d of %d live threads; %s %s",
                                      t.barrierFile, t.barrierLine, w.nAtBarrier, w.nLive, describeThread(o).c_str(),
                                      describeWait(o).c_str()));
    }
    faultAt(w, nullptr, "deadlock: no thread can run");
}

void runBlock(Worker& w, const uint3& blockIdx)
{
    const dim3& bd = w.job->config.block;
    w.block.blockIdx = blockIdx;
    w.nLive = static_cast<int>(w.threads.size());
    w.nAtBarrier = 0;
    w.shared.clear();
    w.warpExited.assign((w.threads.size() + 31) / 32, 0u);
    w.warpWaiting.assign((w.threads.size() + 31) / 32, 0);
    if (w.dynShared)
        std::memset(w.dynShared, 0xFF, w.dynSharedBytes);
    for (unsigned i = 0; i < w.threads.size(); ++i) {
        SimThread& t = w.threads[i];
        t.info.threadIdx = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
        t.info.block = &w.block;
        t.info.lane = i % 32;
        t.linear = i;
        t.state = State::Runnable;
        t.copies.clear();
        t.nextGroup = 0;
        t.fiber = w.fibers[i].get();
        t.fiber->reset(&threadEntry, &t);
    }
    // Odd blocks run their threads last to first, so that a read of another thread's write
    // without a barrier between them sees it in some blocks and not in others.
    const bool reverse = ((blockIdx.x + blockIdx.y + blockIdx.z) & 1u) != 0;
    w.reverse = reverse;
    const std::size_t n = w.threads.size();
    while (w.nLive > 0) {
        bool ran = false;
        for (std::size_t k = 0; k < n; ++k) {
            SimThread& t = w.threads[reverse ? n - 1 - k : k];
            if (t.state != State::Runnable)
                continue;
            w.current = &t;
            tCurrentThread = &t.info;
            t.fiber->resume();
            ran = true;
        }
        if (!ran)
            deadlock(w);
    }
    w.current = nullptr;
    tCurrentThread = nullptr;
}

void runGrid(const Job& job)
{
    Worker& w = tWorker;
    if (w.job) {
        std::fputs("cudasim: a kernel launched work that ran inside another kernel\n", stderr);
        std::abort();
    }
    const dim3& bd = job.config.block;
    const std::size_t nThreads = std::size_t{bd.x} * bd.y * bd.z;
    while (w.fibers.size() < nThreads)
        w.fibers.push_back(std::make_unique<Fiber>(kStackBytes));
    w.threads.assign(nThreads, SimThread{});
    w.job = &job;
    w.block.blockDim = job.config.block;
    w.block.gridDim = job.config.grid;
    // Sized exactly, so that a sanitizer build reports accesses past the dynamic shared memory.
    w.dynSharedBytes = job.config.sharedBytes;
    w.dynShared = w.dynSharedBytes ? static_cast<char*>(::operator new(w.dynSharedBytes, std::align_val_t{kSharedAlign})) : nullptr;
    const dim3& g = job.config.grid;
    for (unsigned z = 0; z < g.z; ++z)
        for (unsigned y = 0; y < g.y; ++y)
            for (unsigned x = 0; x < g.x; ++x)
                runBlock(w, uint3{x, y, z});
    if (w.dynShared)
        ::operator delete(w.dynShared, std::align_val_t{kSharedAlign});
    w.dynShared = nullptr;
    w.job = nullptr;
}

SimThread& currentSim(const char* what)
{
    Worker& w = tWorker;
    if (!w.current) {
        std::fprintf(stderr, "cudasim: %s called outside a kernel\n", what);
        std::abort();
    }
    return *w.current;
}

bool inShared(const Worker& w, const void* p, std::size_t n)
{
    const auto* c = static_cast<const char*>(p);
    if (w.dynShared && c >= w.dynShared && c + n <= w.dynShared + w.dynSharedBytes)
        return true;
    for (const SharedRegion& r : w.shared)
        if (c >= r.begin && c + n <= r.begin + r.nBytes)
            return true;
    return false;
}

// The calling thread waits: runs the next runnable thread of the scheduler's pass directly, or
// returns to the scheduler when there is none; comes back when the thread is runnable again.
void waitHere(Worker& w, SimThread& t)
{
    const std::size_t n = w.threads.size();
    const std::size_t pos = w.reverse ? n - 1 - t.linear : t.linear;
    for (std::size_t k = pos + 1; k < n; ++k) {
        SimThread& next = w.threads[w.reverse ? n - 1 - k : k];
        if (next.state != State::Runnable)
            continue;
        w.current = &next;
        tCurrentThread = &next.info;
        t.fiber->switchTo(*next.fiber);
        return;
    }
    t.fiber->suspend();
}

}  // namespace

cudaError_t launchKernel(const LaunchConfig& config, const void* kernel, const char* name, std::function<void()> body)
{
    const dim3& b = config.block;
    const dim3& g = config.grid;
    const unsigned long long nThreads = 1ull * b.x * b.y * b.z;
    cudaError_t err = cudaSuccess;
    if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 ||
        nThreads > static_cast<unsigned long long>(kMaxThreadsPerBlock))
        err = cudaErrorInvalidConfiguration;
    else if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 0x7fffffffu || g.y > 65535 || g.z > 65535)
        err = cudaErrorInvalidConfiguration;
    else if (config.sharedBytes > (kernel ? maxDynamicSharedBytes(kernel) : kSharedPerBlockDefault))
        err = cudaErrorInvalidValue;
    if (err != cudaSuccess) {
        setLastError(err);
        return err;
    }
    auto job = std::make_shared<Job>(Job{config, std::move(body), name});
    return enqueue(config.stream, [job] { runGrid(*job); }, name);
}

void syncThreads(const char* file, int line)
{
    SimThread& t = currentSim("__syncthreads");
    Worker& w = tWorker;
    if (w.nAtBarrier > 0 && (line != w.barrierLine || std::strcmp(file, w.barrierFile) != 0)) {
        for (const SimThread& o : w.threads)
            if (o.state == State::AtBarrier)
                faultAt(w, &t, format("divergent barrier: reaches __syncthreads at %s:%d while %s waits at the one at %s:%d",
                                      file, line, describeThread(o).c_str(), w.barrierFile, w.barrierLine));
    }
    w.barrierFile = file;
    w.barrierLine = line;
    t.barrierFile = file;
    t.barrierLine = line;
    t.state = State::AtBarrier;
    if (++w.nAtBarrier == w.nLive) {
        releaseBarrier(w);
        return;
    }
    waitHere(w, t);
}

void warpCollective(unsigned mask, const char* what, void* laneData, WarpCombine combine)
{
    SimThread& t = currentSim(what);
    Worker& w = tWorker;
    t.what = what;
    if (!((mask >> t.info.lane) & 1u))
        faultAt(w, &t, format("%s with mask 0x%08x, which leaves out the calling lane", what, mask));
    t.state = State::InWarpOp;
    t.mask = mask;
    t.data = laneData;
    t.combine = combine;
    ++w.warpWaiting[t.linear / 32];
    if (tryCompleteWarp(w, t, t.linear - t.info.lane, mask))
        return;
    waitHere(w, t);
}

void* dynamicShared()
{
    currentSim("extern __shared__");
    return tWorker.dynShared;
}

void sharedVariable(void* address, std::size_t nBytes)
{
    currentSim("__shared__");
    Worker& w = tWorker;
    for (const SharedRegion& r : w.shared)
        if (r.begin == address)
            return;
    std::memset(address, 0xFF, nBytes);
    w.shared.push_back(SharedRegion{static_cast<char*>(address), nBytes});
}

void copyAsync16(void* dst, const void* src, int srcBytes)
{
    SimThread& t = currentSim("cp.async");
    Worker& w = tWorker;
    if ((reinterpret_cast<std::uintptr_t>(dst) | reinterpret_cast<std::uintptr_t>(src)) & 15u)
        faultAt(w, &t, format("cp.async of 16 bytes with a misaligned address (dst %p, src %p)", dst, src));
    if (srcBytes < 0 || srcBytes > 16)
        faultAt(w, &t, format("cp.async with src-size %d (0..16)", srcBytes));
    if (!inShared(w, dst, 16))
        faultAt(w, &t, format("cp.async destination %p is not in the block's shared memory", dst));
    PendingCopy c{};
    c.dst = dst;
    std::memcpy(c.bytes, src, static_cast<std::size_t>(srcBytes));
    c.group = -1;
    t.copies.push_back(c);
}

void commitAsyncGroup()
{
    SimThread& t = currentSim("cp.async.commit_group");
    for (PendingCopy& c : t.copies)
        if (c.group < 0)
            c.group = t.nextGroup;
    ++t.nextGroup;
}

void waitAsyncGroups(int n)
{
    SimThread& t = currentSim("cp.async.wait_group");
    landCopies(t, t.nextGroup - n, false);
}

void kernelFault(const char* message)
{
    Worker& w = tWorker;
    faultAt(w, w.current, message);
}

}  // namespace cudasim::exec
