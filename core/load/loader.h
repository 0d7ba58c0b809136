// The pipelined weight loader. N reader threads take chunks of the weight files in file order
// and pread each into a free buffer of a ring of M staging buffers (O_DIRECT where the file
// system allows, buffered otherwise); the calling thread hands filled buffers, in order, to a
// LoadSink, which scatters them into the tensors' destinations (host memory for the CPU backend,
// device memory later). Nothing is mapped, and no copy of the whole model exists besides the
// destination. Progress is reported from the calling thread; a cancel flag or any failure stops
// every thread promptly, and the sink is told to free everything.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "load/file_reader.h"
#include "load/load_plan.h"
#include "load/load_sink.h"

namespace hearth {

struct LoadPipelineOptions {
    int nReaders = 0;                     // 0: min(4, hardware threads)
    int nBuffers = 0;                     // staging buffers in the ring; 0: nReaders + 2
    std::uint64_t chunkBytes = 16u << 20;  // rounded up to kDirectIoAlignment
    bool tryDirect = true;                // O_DIRECT where the file system takes it
    FileReader* reader = nullptr;         // nullptr: pread on the real files
    const std::atomic<bool>* cancel = nullptr;
    // Called on the calling thread: after a chunk, at most every progressIntervalS unless
    // progressEveryBytes arrived since the last call, and once at the end (bytesDone == total).
    std::function<void(const LoadProgress&)> onProgress;
    double progressIntervalS = 0.05;
    std::uint64_t progressEveryBytes = 0;  // 0: max(chunkBytes, 1 MiB)
    // For progress events: when the whole load started, and the stages it already finished.
    std::chrono::steady_clock::time_point loadStart = std::chrono::steady_clock::now();
    std::vector<LoadStageTime> stagesBefore;
};

struct LoadPipelineReport {
    std::uint64_t bytesLoaded = 0;     // tensor bytes handed to the sink
    std::uint64_t bytesFromDisk = 0;   // including the alignment slack of direct reads
    double openMs = 0.0;               // opening the files, allocating staging and destinations
    double stagingMs = 0.0;            // of openMs: the staging ring and the destinations (pinned, device)
    double readMs = 0.0;               // first read to the sink's finish (every byte in place)
    double sinkMs = 0.0;               // time the sink spent in consume (overlapped with reading)
    int nReaders = 0;
    int nBuffers = 0;
    std::uint64_t chunkBytes = 0;
    std::vector<std::string> fileModes;  // per plan file: "direct", "buffered", "buffered (why)"
    std::string readMode;              // "direct", "buffered" or "mixed"
    LoadProgress lastProgress;         // the final event (bytesDone == bytesTotal)
};

// Streams every tensor of `plan` into `sink`. On success the sink has finished; on error or
// cancel (ErrorCode::Cancelled) it has been aborted and holds nothing.
Result<LoadPipelineReport> runLoadPipeline(const LoadPlan& plan, LoadSink& sink, const LoadPipelineOptions& options);

}  // namespace hearth
