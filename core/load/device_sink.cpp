#include "load/device_sink.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace hearth {

namespace {

constexpr std::size_t kCarrySlot = 64;       // pinned bytes per ring buffer for a split element
constexpr std::size_t kScratchAlign = 16;    // every converted slice starts aligned in the scratch
constexpr std::size_t kPinnedAlign = 4096;   // what DeviceLoadOps::allocPinned promises

std::size_t roundUp(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

bool convertible(DType from, DType to)
{
    if (from == to)
        return true;
    const bool toHalf = to == DType::F16 || to == DType::BF16;
    return toHalf && (from == DType::F16 || from == DType::BF16 || from == DType::F32);
}

}  // namespace

DeviceSink::DeviceSink(DeviceSinkOptions options) : m_options(std::move(options)), m_ops(*m_options.ops) {}

DeviceSink::~DeviceSink() { abort(); }

Result<std::vector<StagingBuffer>> DeviceSink::allocateStaging(int count, std::size_t nBytes, std::size_t alignment)
{
    freeStaging();
    if (alignment > kPinnedAlign || kPinnedAlign % alignment != 0)
        return makeError(ErrorCode::Internal, "load: pinned staging cannot be aligned to " + std::to_string(alignment));
    m_stagingBytes = roundUp(std::max<std::size_t>(nBytes, 1), alignment);
    std::vector<StagingBuffer> out;
    for (int i = 0; i < count; ++i) {
        Result<void*> p = m_ops.allocPinned(m_stagingBytes);
        if (!p) {
            freeStaging();
            return makeError(p.error().code, "load: cannot allocate " + std::to_string(count) + " pinned staging buffers of " +
                                                 std::to_string(m_stagingBytes) + " bytes: " + p.error().message);
        }
        m_staging.push_back(*p);
        out.push_back(StagingBuffer{static_cast<std::uint8_t*>(*p), m_stagingBytes});
    }
    Result<void*> carry = m_ops.allocPinned(kCarrySlot * static_cast<std::size_t>(std::max(count, 1)));
    if (!carry) {
        freeStaging();
        return carry.error();
    }
    m_carryPinned = static_cast<std::uint8_t*>(*carry);
    return out;
}

Status DeviceSink::allocateDestinations(const LoadPlan& plan)
{
    if (m_options.destinations.size() != plan.tensors.size())
        return makeError(ErrorCode::Internal, "load: the device destination map has " +
                                                  std::to_string(m_options.destinations.size()) + " entries for " +
                                                  std::to_string(plan.tensors.size()) + " tensors");
    bool anyConversion = false;
    m_tensors.clear();
    for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
        const PlannedTensor& t = plan.tensors[i];
        const DeviceDestination& d = m_options.destinations[i];
        m_tensors.push_back(Tensor{&t, d});
        if (d.skip)
            continue;
        const std::string what = plan.files[static_cast<std::size_t>(t.fileIndex)].name + ": tensor '" + t.name + "'";
        if (!convertible(t.storedDtype, d.type))
            return makeError(ErrorCode::Unsupported, what + " is " + std::string(dtypeName(t.storedDtype)) +
                                                         "; the device loader cannot turn it into " + std::string(dtypeName(d.type)));
        const std::size_t inSize = dtypeSize(t.storedDtype);
        if (inSize == 0 || t.nBytes % inSize != 0)
            return makeError(ErrorCode::Corrupt, what + " has " + std::to_string(t.nBytes) +
                                                     " bytes, not a whole number of elements");
        const std::uint64_t outBytes = t.nBytes / inSize * dtypeSize(d.type);
        if (d.offset % dtypeSize(d.type) != 0 || d.offset + outBytes > m_options.deviceBytes)
            return makeError(ErrorCode::Internal, "load: " + what + " does not fit its device destination (offset " +
                                                      std::to_string(d.offset) + ", " + std::to_string(outBytes) +
                                                      " bytes, storage " + std::to_string(m_options.deviceBytes) + ")");
        anyConversion = anyConversion || d.type != t.storedDtype;
    }
    m_fileFirst.assign(plan.files.size() + 1, plan.tensors.size());
    for (std::size_t i = plan.tensors.size(); i-- > 0;)
        m_fileFirst[static_cast<std::size_t>(plan.tensors[i].fileIndex)] = i;
    for (std::size_t f = plan.files.size(); f-- > 0;)
        m_fileFirst[f] = std::min(m_fileFirst[f], m_fileFirst[f + 1]);

    if (m_options.deviceBase) {
        m_base = m_options.deviceBase;
    } else {
        HEARTH_TRY_ASSIGN(m_base, m_ops.allocDevice(std::max<std::size_t>(m_options.deviceBytes, 1)));
        m_ownsBase = true;
    }
    if (anyConversion) {
        // A slice never exceeds a chunk, and a chunk never exceeds its staging buffer; the carried
        // bytes and the alignment fit in the extra.
        m_scratchBytes = m_stagingBytes + kScratchAlign + kCarrySlot;
        for (std::size_t i = 0; i < m_staging.size(); ++i) {
            Result<void*> s = m_ops.allocDevice(m_scratchBytes);
            if (!s)
                return makeError(s.error().code, "load: cannot allocate the device conversion scratch: " + s.error().message);
            m_scratch.push_back(*s);
        }
    }
    m_carryTensor = SIZE_MAX;
    m_carryCount = 0;
    return Status::ok();
}

Status DeviceSink::scatter(const Tensor& t, const FilledChunk& chunk, std::uint64_t from, std::uint64_t to,
                           std::size_t& scratchCursor)
{
    const PlannedTensor& p = *t.planned;
    const std::uint64_t rel = from - p.fileOffset;  // byte offset inside the stored tensor
    const std::size_t len = static_cast<std::size_t>(to - from);
    const std::uint8_t* src = chunk.data + (from - chunk.fileOffset);
    auto* dst = static_cast<std::uint8_t*>(m_base) + t.dest.offset;
    const int b = chunk.bufferIndex;
    if (t.dest.type == p.storedDtype) {
        m_bytesCopied += len;
        return m_ops.copyToDevice(dst + rel, src, len, b);
    }
    const std::size_t inSize = dtypeSize(p.storedDtype);
    const std::size_t outSize = dtypeSize(t.dest.type);
    const std::size_t tensorIndex = static_cast<std::size_t>(&t - m_tensors.data());
    const std::size_t carried = m_carryTensor == tensorIndex ? m_carryCount : 0;
    if (rel % inSize != carried)
        return makeError(ErrorCode::Internal, "load: tensor '" + p.name + "' continues at byte " + std::to_string(rel) +
                                                  " with " + std::to_string(carried) + " bytes carried over");
    const std::size_t total = carried + len;
    const std::size_t nWhole = total / inSize;
    const std::size_t rest = total % inSize;
    if (nWhole == 0) {  // the element is still incomplete: keep gathering
        std::memcpy(m_carry + carried, src, len);
        m_carryTensor = tensorIndex;
        m_carryCount = total;
        return Status::ok();
    }
    std::size_t at = roundUp(scratchCursor, kScratchAlign);
    if (at + total > m_scratchBytes) {
        // Many small slices in one chunk filled the scratch: let the queued conversions drain.
        HEARTH_TRY_STATUS(m_ops.recordBufferDone(b));
        HEARTH_TRY_STATUS(m_ops.waitBufferDone(b));
        at = 0;
    }
    auto* scratch = static_cast<std::uint8_t*>(m_scratch[static_cast<std::size_t>(b)]);
    if (carried > 0) {
        // From pinned memory of this buffer's own, untouched until the buffer is done.
        std::uint8_t* slot = m_carryPinned + static_cast<std::size_t>(b) * kCarrySlot;
        std::memcpy(slot, m_carry, carried);
        HEARTH_TRY_STATUS(m_ops.copyToDevice(scratch + at, slot, carried, b));
    }
    if (len > rest)
        HEARTH_TRY_STATUS(m_ops.copyToDevice(scratch + at + carried, src, len - rest, b));
    const std::uint64_t firstElem = (rel - carried) / inSize;
    HEARTH_TRY_STATUS(m_ops.convert(dst + firstElem * outSize, t.dest.type, scratch + at, p.storedDtype, nWhole, b));
    m_bytesCopied += total - rest;
    m_elementsConverted += nWhole;
    scratchCursor = at + total - rest;
    std::memcpy(m_carry, src + (len - rest), rest);
    m_carryTensor = rest > 0 ? tensorIndex : SIZE_MAX;
    m_carryCount = rest;
    return Status::ok();
}

Status DeviceSink::consume(const FilledChunk& chunk)
{
    if (!m_base || static_cast<std::size_t>(chunk.fileIndex) + 1 >= m_fileFirst.size() || chunk.bufferIndex < 0 ||
        static_cast<std::size_t>(chunk.bufferIndex) >= m_staging.size())
        return makeError(ErrorCode::Internal, "load: device sink got a chunk it cannot place");
    const std::uint64_t begin = chunk.fileOffset;
    const std::uint64_t end = begin + chunk.nBytes;
    const auto first = m_tensors.begin() + static_cast<std::ptrdiff_t>(m_fileFirst[static_cast<std::size_t>(chunk.fileIndex)]);
    const auto last = m_tensors.begin() + static_cast<std::ptrdiff_t>(m_fileFirst[static_cast<std::size_t>(chunk.fileIndex) + 1]);
    // The first tensor that ends after the chunk's start; tensors do not overlap, so ends are sorted too.
    auto it = std::upper_bound(first, last, begin, [](std::uint64_t offset, const Tensor& t) {
        return offset < t.planned->fileOffset + t.planned->nBytes;
    });
    std::size_t scratchCursor = 0;
    for (; it != last && it->planned->fileOffset < end; ++it) {
        if (it->dest.skip)
            continue;
        const std::uint64_t from = std::max(begin, it->planned->fileOffset);
        const std::uint64_t to = std::min(end, it->planned->fileOffset + it->planned->nBytes);
        HEARTH_TRY_STATUS(scatter(*it, chunk, from, to, scratchCursor));
    }
    return m_ops.recordBufferDone(chunk.bufferIndex);
}

Status DeviceSink::waitReusable(int bufferIndex) { return m_ops.waitBufferDone(bufferIndex); }

Status DeviceSink::finish()
{
    HEARTH_TRY_STATUS(m_ops.synchronize());
    if (m_carryCount != 0)
        return makeError(ErrorCode::Internal, "load: tensor '" + m_tensors[m_carryTensor].planned->name +
                                                  "' ended in the middle of an element");
    // The staging stays until the sink is destroyed: freeing pinned memory waits for the whole
    // device, including work of others (the CUDA set-up beside the load), which is not the
    // transfer's time.
    return Status::ok();
}

void DeviceSink::abort()
{
    // Nothing queued may still read or write what is about to be freed; an error here (a dead
    // device) leaves nothing better to do than to free anyway.
    if (!m_staging.empty() || m_base)
        (void)m_ops.synchronize();
    freeStaging();
    if (m_ownsBase && m_base)
        m_ops.freeDevice(m_base);
    m_base = nullptr;
    m_ownsBase = false;
    m_tensors.clear();
    m_carryCount = 0;
    m_carryTensor = SIZE_MAX;
}

void* DeviceSink::takeDeviceStorage()
{
    if (!m_ownsBase)
        return nullptr;
    m_ownsBase = false;
    void* base = m_base;
    m_base = nullptr;
    return base;
}

void DeviceSink::freeStaging()
{
    for (void* p : m_staging)
        m_ops.freePinned(p);
    m_staging.clear();
    for (void* p : m_scratch)
        m_ops.freeDevice(p);
    m_scratch.clear();
    if (m_carryPinned)
        m_ops.freePinned(m_carryPinned);
    m_carryPinned = nullptr;
}

}  // namespace hearth
