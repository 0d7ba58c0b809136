#include "load/host_sink.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "load/half_convert.h"

namespace hearth {

namespace {

constexpr std::size_t kTensorAlignment = 64;  // a cache line: SIMD loads never split one
// The arena starts on a 2 MiB boundary and asks for transparent huge pages: filling a 1 GB model
// with 4 KiB pages costs a quarter of a million page faults, and the matmuls that read the
// weights later miss the TLB less.
constexpr std::size_t kHugePageBytes = 2u << 20;

std::size_t roundUp(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

}  // namespace

HostTensorSet::~HostTensorSet()
{
    for (void* block : m_blocks)
        std::free(block);
}

const HostTensor* HostTensorSet::find(const std::string& name) const
{
    const auto it = m_tensors.find(name);
    return it == m_tensors.end() ? nullptr : &it->second;
}

HostSink::~HostSink() { abort(); }

Result<std::vector<StagingBuffer>> HostSink::allocateStaging(int count, std::size_t nBytes, std::size_t alignment)
{
    freeStaging();
    std::vector<StagingBuffer> out;
    const std::size_t size = roundUp(std::max<std::size_t>(nBytes, 1), alignment);
    for (int i = 0; i < count; ++i) {
        // aligned_alloc wants the size to be a multiple of the alignment: rounded above.
        auto* p = static_cast<std::uint8_t*>(std::aligned_alloc(alignment, size));
        if (!p) {
            freeStaging();
            return makeError(ErrorCode::OutOfMemory, "load: cannot allocate " + std::to_string(count) +
                                                         " staging buffers of " + std::to_string(size) + " bytes");
        }
        m_staging.push_back(p);
        m_stagingBytes.push_back(size);
        m_liveBytes += size;
        out.push_back(StagingBuffer{p, size});
    }
    return out;
}

Status HostSink::allocateDestinations(const LoadPlan& plan)
{
    m_plan = &plan;
    m_set.reset(new HostTensorSet());
    m_destinations.clear();
    m_fileFirst.assign(plan.files.size() + 1, plan.tensors.size());
    for (std::size_t i = plan.tensors.size(); i-- > 0;)
        m_fileFirst[static_cast<std::size_t>(plan.tensors[i].fileIndex)] = i;
    // A file without tensors starts where the next one does, so its range is empty.
    for (std::size_t f = plan.files.size(); f-- > 0;)
        m_fileFirst[f] = std::min(m_fileFirst[f], m_fileFirst[f + 1]);
    // One arena for every tensor, each at a 64-byte aligned offset: one allocation to free, and
    // huge pages throughout (tensors below 2 MiB would never get them on their own).
    std::vector<std::size_t> offsets;
    std::size_t arenaBytes = 0;
    for (const PlannedTensor& t : plan.tensors) {
        offsets.push_back(arenaBytes);
        arenaBytes = roundUp(arenaBytes + static_cast<std::size_t>(t.nBytes), kTensorAlignment);
    }
    arenaBytes = std::max(arenaBytes, kTensorAlignment);
    const std::size_t alignment = arenaBytes >= kHugePageBytes ? kHugePageBytes : kTensorAlignment;
    // glibc takes sizes that are not a multiple of the alignment (C17 dropped that rule).
    auto* arena = static_cast<std::uint8_t*>(std::aligned_alloc(alignment, arenaBytes));
    if (!arena) {
        abort();
        return makeError(ErrorCode::OutOfMemory, "load: cannot allocate " + std::to_string(arenaBytes) +
                                                     " bytes of host memory for the weights");
    }
    if (alignment == kHugePageBytes)
        (void)::madvise(arena, arenaBytes, MADV_HUGEPAGE);  // advice: without it the pages are merely small
    // Fresh memory is zeroed by the kernel at first touch, which costs more than the copy
    // itself; a helper thread faults the arena in from the front while the readers wait on the
    // disk, so consume() mostly finds its pages ready. MADV_POPULATE_WRITE (Linux 5.14) keeps
    // what consume() already wrote; on older kernels the helper simply stops.
    m_stopPrefault = false;
    m_prefault = std::thread([this, arena, arenaBytes] {
        for (std::size_t off = 0; off < arenaBytes && !m_stopPrefault.load(std::memory_order_relaxed); off += kHugePageBytes) {
            const std::size_t n = std::min(kHugePageBytes, arenaBytes - off);
            const auto begin = reinterpret_cast<std::uintptr_t>(arena + off) & ~std::uintptr_t(4095);
            const std::size_t len = reinterpret_cast<std::uintptr_t>(arena + off + n) - begin;
            if (::madvise(reinterpret_cast<void*>(begin), len, MADV_POPULATE_WRITE) != 0)
                return;
        }
    });
    m_set->m_blocks.push_back(arena);
    m_set->m_bytes = arenaBytes;
    m_liveBytes += arenaBytes;
    for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
        const PlannedTensor& t = plan.tensors[i];
        std::uint8_t* p = arena + offsets[i];
        m_destinations.push_back(Destination{&t, p});
        HostTensor h;
        h.data = p;
        h.dtype = t.targetDtype;
        h.shape = t.shape;
        h.nBytes = t.nBytes;
        h.fileName = plan.files[static_cast<std::size_t>(t.fileIndex)].name;
        m_set->m_tensors[t.name] = std::move(h);
    }
    return Status::ok();
}

Status HostSink::consume(const FilledChunk& chunk)
{
    if (!m_set || static_cast<std::size_t>(chunk.fileIndex) >= m_fileFirst.size() - 1)
        return makeError(ErrorCode::Internal, "load: host sink got a chunk before its destinations");
    const std::uint64_t begin = chunk.fileOffset;
    const std::uint64_t end = begin + chunk.nBytes;
    const auto first = m_destinations.begin() + static_cast<std::ptrdiff_t>(m_fileFirst[static_cast<std::size_t>(chunk.fileIndex)]);
    const auto last = m_destinations.begin() + static_cast<std::ptrdiff_t>(m_fileFirst[static_cast<std::size_t>(chunk.fileIndex) + 1]);
    // The first tensor that ends after the chunk's start; tensors do not overlap, so ends are sorted too.
    auto it = std::upper_bound(first, last, begin, [](std::uint64_t offset, const Destination& d) {
        return offset < d.planned->fileOffset + d.planned->nBytes;
    });
    for (; it != last && it->planned->fileOffset < end; ++it) {
        const PlannedTensor& t = *it->planned;
        const std::uint64_t from = std::max(begin, t.fileOffset);
        const std::uint64_t to = std::min(end, t.fileOffset + t.nBytes);
        const std::uint64_t rel = from - t.fileOffset;  // byte offset inside the tensor
        std::memcpy(it->data + rel, chunk.data + (from - begin), to - from);
        if (t.targetDtype == t.storedDtype)
            continue;
        // Convert each element whose last byte arrived now: chunks come in order, so its first
        // byte is already there, and every element is converted exactly once.
        const auto start = std::chrono::steady_clock::now();
        const std::uint64_t e0 = rel / 2;
        const std::uint64_t e1 = (rel + (to - from)) / 2;
        auto* values = reinterpret_cast<std::uint16_t*>(it->data) + e0;
        if (t.targetDtype == DType::F16)
            convertBf16ToHalf(values, e1 - e0);
        else
            convertHalfToBf16(values, e1 - e0);
        m_convertNs += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    }
    return Status::ok();
}

Status HostSink::waitReusable(int) { return Status::ok(); }  // consume() copied synchronously

Status HostSink::finish()
{
    stopPrefault();
    freeStaging();
    return Status::ok();
}

void HostSink::abort()
{
    stopPrefault();
    freeStaging();
    m_destinations.clear();
    if (m_set) {
        m_liveBytes -= m_set->m_bytes;
        m_set.reset();
    }
}

std::shared_ptr<const HostTensorSet> HostSink::takeTensors()
{
    stopPrefault();
    m_destinations.clear();
    if (!m_set)
        return nullptr;
    m_liveBytes -= m_set->m_bytes;
    return std::shared_ptr<const HostTensorSet>(m_set.release());
}

void HostSink::stopPrefault()
{
    m_stopPrefault = true;
    if (m_prefault.joinable())
        m_prefault.join();
}

void HostSink::freeStaging()
{
    for (std::size_t i = 0; i < m_staging.size(); ++i) {
        std::free(m_staging[i]);
        m_liveBytes -= m_stagingBytes[i];
    }
    m_staging.clear();
    m_stagingBytes.clear();
}

}  // namespace hearth
