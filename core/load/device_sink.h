// The LoadSink of a GPU backend: staging buffers are pinned host memory, and every chunk is
// scattered straight into the device storage at the offsets a destination map gives (so fused
// q|k|v and gate|up parts land where the backend wants them, with no host copy of the model).
// A tensor kept as stored is copied from the staging buffer to its destination; a converted one
// is copied raw into a device scratch paired with the staging buffer and converted from there
// into its destination on the device. An element split across two chunks (a tensor whose file
// offset is not a multiple of its element size) is completed from bytes the sink carries over.
// All device work goes through DeviceLoadOps (device_ops.h), queued in order; a staging buffer
// is handed back for refilling once the work that reads it is done.
#pragma once

#include <cstdint>
#include <vector>

#include "load/device_ops.h"
#include "load/load_sink.h"

namespace hearth {

// Where one plan tensor goes on the device.
struct DeviceDestination {
    bool skip = true;          // not needed there (a tied lm_head, an unused tensor): read and dropped
    std::uint64_t offset = 0;  // bytes from the start of the device storage
    DType type = DType::F16;   // at the destination: as stored, or F16/BF16 converted from F16/BF16/F32
};

struct DeviceSinkOptions {
    DeviceLoadOps* ops = nullptr;
    std::vector<DeviceDestination> destinations;  // by plan tensor index
    // The device storage the offsets are in, owned by the caller; nullptr: the sink allocates
    // `deviceBytes` itself, frees it on abort and hands it over with takeDeviceStorage().
    void* deviceBase = nullptr;
    std::uint64_t deviceBytes = 0;
};

class DeviceSink final : public LoadSink {
public:
    explicit DeviceSink(DeviceSinkOptions options);
    ~DeviceSink() override;
    DeviceSink(const DeviceSink&) = delete;
    DeviceSink& operator=(const DeviceSink&) = delete;

    Result<std::vector<StagingBuffer>> allocateStaging(int count, std::size_t nBytes, std::size_t alignment) override;
    Status allocateDestinations(const LoadPlan& plan) override;
    Status consume(const FilledChunk& chunk) override;
    Status waitReusable(int bufferIndex) override;
    Status finish() override;
    void abort() override;

    // The storage the destinations are in (the caller's, or the sink's own once allocated).
    void* deviceBase() const { return m_base; }
    // After finish, when the sink allocated the storage: hands it over (free it with the ops).
    void* takeDeviceStorage();
    // Bytes queued for copying and elements queued for conversion, for the load breakdown.
    std::uint64_t bytesCopied() const { return m_bytesCopied; }
    std::uint64_t elementsConverted() const { return m_elementsConverted; }

private:
    struct Tensor {
        const PlannedTensor* planned = nullptr;
        DeviceDestination dest;
    };
    Status scatter(const Tensor& t, const FilledChunk& chunk, std::uint64_t from, std::uint64_t to,
                   std::size_t& scratchCursor);
    void freeStaging();

    DeviceSinkOptions m_options;
    DeviceLoadOps& m_ops;
    std::vector<void*> m_staging;            // pinned, one per ring buffer
    std::size_t m_stagingBytes = 0;
    std::vector<void*> m_scratch;            // device, one per ring buffer (only when something converts)
    std::size_t m_scratchBytes = 0;
    std::uint8_t* m_carryPinned = nullptr;   // kCarrySlot pinned bytes per ring buffer
    void* m_base = nullptr;
    bool m_ownsBase = false;

    std::vector<Tensor> m_tensors;           // plan order: by file, then offset
    std::vector<std::size_t> m_fileFirst;    // index of each file's first tensor; one extra at the end
    // The first bytes of an element whose rest comes with the next chunk.
    std::size_t m_carryTensor = SIZE_MAX;
    std::uint8_t m_carry[8] = {};
    std::size_t m_carryCount = 0;
    std::uint64_t m_bytesCopied = 0;
    std::uint64_t m_elementsConverted = 0;
};

}  // namespace hearth
