// Which compute backends this build has and which one a model would run on, with the reason.
// The app's first window and `hearth-cli info` show this; the engine uses it to pick a backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth {

struct GpuInfo {
    int index = 0;
    std::string name;
    int computeMajor = 0;
    int computeMinor = 0;
    std::uint64_t totalBytes = 0;
    std::uint64_t freeBytes = 0;
};

struct BackendReport {
    bool cudaBuilt = false;        // the CUDA backend was compiled into this build
    std::string cudaArchitectures; // what it was compiled for, e.g. "80;86;89;90"
    std::vector<GpuInfo> gpus;     // usable GPUs (empty without driver or device)
    std::string backend;           // "cuda" or "cpu"
    std::string reason;            // one sentence: why this backend

    // "CUDA on NVIDIA H100 80GB HBM3 (79.1 GiB free)" or "CPU (no CUDA device found)".
    std::string summary() const;
};

// Queries the CUDA runtime when built with it. Safe on machines without a driver or GPU.
BackendReport probeBackends();

}  // namespace hearth
