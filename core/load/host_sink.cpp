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
// Tensors this large start on a 2 MiB boundary and ask for transparent huge pages: filling a
// 1 GB model with 4 KiB pages costs a quarter of a million page faults, and the matmuls that
// read them later miss the TLB less.
constexpr std::size_t kHugePageBytes = 2u << 20;

std::size_t roundUp(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

std::size_t blockBytes(std::uint64_t nBytes)
{
    return roundUp(static_cast<std::size_t>(std::max<std::uint64_t>(nBytes, 1)), kTensorAlignment);
}

void* allocateTensor(std::uint64_t nBytes)
{
    const std::size_t size = blockBytes(nBytes);
    const std::size_t alignment = size >= kHugePageBytes ? kHugePageBytes : kTensorAlignment;
    // glibc takes sizes that are not a multiple of the alignment (C17 dropped that rule).
    void* p = std::aligned_alloc(alignment, size);
    if (p && alignment == kHugePageBytes)
        (void)::madvise(p, size, MADV_HUGEPAGE);  // advice: without it the pages are merely small
    return p;
}

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
    for (const PlannedTensor& t : plan.tensors) {
        const std::size_t size = blockBytes(t.nBytes);
        auto* p = static_cast<std::uint8_t*>(allocateTensor(t.nBytes));
        if (!p) {
            abort();
            return makeError(ErrorCode::OutOfMemory, "load: cannot allocate " + std::to_string(size) +
                                                         " bytes of host memory for tensor '" + t.name + "'");
        }
        m_set->m_blocks.push_back(p);
        m_liveBytes += size;
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
    freeStaging();
    return Status::ok();
}

void HostSink::abort()
{
    freeStaging();
    m_destinations.clear();
    if (m_set) {
        for (const auto& [name, t] : m_set->m_tensors)
            m_liveBytes -= blockBytes(t.nBytes);
        m_set.reset();
    }
}

std::shared_ptr<const HostTensorSet> HostSink::takeTensors()
{
    m_destinations.clear();
    if (!m_set)
        return nullptr;
    for (const auto& [name, t] : m_set->m_tensors)
        m_liveBytes -= blockBytes(t.nBytes);
    return std::shared_ptr<const HostTensorSet>(m_set.release());
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
