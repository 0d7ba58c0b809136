// The LoadSink of the CPU backend: tensors land in owned host memory (one arena, each tensor
// 64-byte aligned), converted between fp16 and bf16 in place as the plan asks. Staging buffers
// are plain aligned host memory; nothing is asynchronous, so waitReusable returns at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "load/load_sink.h"

namespace hearth {

// One loaded tensor in host memory.
struct HostTensor {
    const void* data = nullptr;
    DType dtype = DType::F32;  // the planned target dtype
    std::vector<std::int64_t> shape;
    std::uint64_t nBytes = 0;
    std::string fileName;      // the file it came from, for messages
};

// The loaded tensors; owns their memory, which is freed with it.
class HostTensorSet {
public:
    ~HostTensorSet();
    HostTensorSet(const HostTensorSet&) = delete;
    HostTensorSet& operator=(const HostTensorSet&) = delete;

    const HostTensor* find(const std::string& name) const;
    const std::map<std::string, HostTensor>& tensors() const { return m_tensors; }

private:
    friend class HostSink;
    HostTensorSet() = default;
    std::map<std::string, HostTensor> m_tensors;
    std::vector<void*> m_blocks;
    std::uint64_t m_bytes = 0;  // allocated for the tensors
};

class HostSink final : public LoadSink {
public:
    HostSink() = default;
    ~HostSink() override;

    Result<std::vector<StagingBuffer>> allocateStaging(int count, std::size_t nBytes, std::size_t alignment) override;
    Status allocateDestinations(const LoadPlan& plan) override;
    Status consume(const FilledChunk& chunk) override;
    Status waitReusable(int bufferIndex) override;
    Status finish() override;
    void abort() override;

    // After finish: the tensors, handed over (the sink holds nothing afterwards).
    std::shared_ptr<const HostTensorSet> takeTensors();
    // Staging plus destination bytes the sink holds now; tests check it drops to 0 on abort.
    std::uint64_t liveBytes() const { return m_liveBytes.load(); }
    // Nanoseconds spent converting dtypes inside consume(), for the load breakdown.
    std::uint64_t convertNs() const { return m_convertNs; }

private:
    struct Destination {
        const PlannedTensor* planned = nullptr;
        std::uint8_t* data = nullptr;
    };
    void freeStaging();
    void stopPrefault();

    const LoadPlan* m_plan = nullptr;
    std::vector<std::uint8_t*> m_staging;
    std::vector<std::size_t> m_stagingBytes;
    std::vector<Destination> m_destinations;       // in plan order: by file, then offset
    std::vector<std::size_t> m_fileFirst;          // index of each file's first destination; one extra at the end
    std::unique_ptr<HostTensorSet> m_set;          // owns the destination blocks until takeTensors
    std::atomic<std::uint64_t> m_liveBytes{0};
    std::thread m_prefault;                 // faults the arena in ahead of consume()
    std::atomic<bool> m_stopPrefault{false};
    std::uint64_t m_convertNs = 0;
};

}  // namespace hearth
