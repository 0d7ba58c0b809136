// Where the load pipeline's bytes go. The host sink (host_sink.h) keeps them in host memory
// for the CPU backend; a CUDA sink will stage them in pinned memory and upload them. The
// pipeline calls, in order: allocateStaging, allocateDestinations, then consume (one thread,
// chunks in file order) and waitReusable (reader threads, before a buffer is refilled), and
// at the end finish (all bytes arrived) or abort (cancel or error: free everything).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "load/load_plan.h"
#include "util/result.h"

namespace hearth {

struct StagingBuffer {
    std::uint8_t* data = nullptr;
    std::size_t nBytes = 0;
};

// Bytes [fileOffset, fileOffset + nBytes) of plan file `fileIndex`, sitting in a staging buffer.
struct FilledChunk {
    int fileIndex = 0;
    std::uint64_t fileOffset = 0;
    const std::uint8_t* data = nullptr;
    std::size_t nBytes = 0;
    int bufferIndex = 0;
};

class LoadSink {
public:
    virtual ~LoadSink() = default;
    // `count` buffers of `nBytes`, each aligned to `alignment` (O_DIRECT needs it).
    virtual Result<std::vector<StagingBuffer>> allocateStaging(int count, std::size_t nBytes, std::size_t alignment) = 0;
    // Room for every tensor of the plan at its target dtype.
    virtual Status allocateDestinations(const LoadPlan& plan) = 0;
    // Scatters the chunk into every tensor it overlaps, converting as planned. Chunks arrive in
    // file order, each exactly once, so a sink may finish an element split across two chunks.
    virtual Status consume(const FilledChunk& chunk) = 0;
    // Returns once the sink no longer reads the buffer (an upload finished); then it may be refilled.
    virtual Status waitReusable(int bufferIndex) = 0;
    // Every byte has arrived: finish pending work (the staging buffers may stay until abort or
    // destruction).
    virtual Status finish() = 0;
    // Frees staging and destinations; nothing loaded stays usable.
    virtual void abort() = 0;
};

}  // namespace hearth
