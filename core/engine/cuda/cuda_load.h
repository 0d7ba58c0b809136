// The device load path of the CUDA backend: the backend's device setup (context, memory plan,
// weight storage, then cuBLAS, KV pool and workspace) runs on its own thread from the start,
// while the load pipeline streams every weight through pinned staging straight into the fused
// device layout (engine/device_layout.h), converting on the GPU where asked. No host copy of the
// model is made. Compiled in CUDA builds only; no CUDA types here. Private to the engine room.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/engine.h"
#include "engine/model_weights.h"
#include "load/loader.h"

namespace hearth {

// The CUDA backend options that EngineOptions imply (device, KV budget, compute type, workspace).
CudaBackendOptions cudaBackendOptionsFor(const EngineOptions& options);

struct CudaLoadRequest {
    ModelConfig config;
    const LoadPlan* plan = nullptr;     // made with tensors as stored (the device converts)
    EngineOptions options;
    LoadPipelineOptions pipe;           // progress, cancel, readers, chunk size
    std::function<Status(Backend&)> warmUp;
};

struct CudaLoadResult {
    std::unique_ptr<Backend> backend;
    std::shared_ptr<const ModelWeights> weights;  // shapes and config; data pointers are device addresses
    LoadPipelineReport report;
    CudaSetupTimes setup;
    double contextWaitMs = 0.0;   // how long the reads waited for the context and weight storage
    double transferSetupMs = 0.0; // then for the copy streams and destinations (the pipeline's own opening excluded)
    double setupWaitMs = 0.0;     // how long the setup outlasted the transfer
    double finishMs = 0.0;        // RoPE table, pointers, synchronisation after the last byte
    double warmUpMs = 0.0;
    std::string describe;         // the backend's describe()
};

// Loads `request.plan` onto the device and returns the warmed-up backend. Errors: the device's
// (Unavailable, OutOfMemory with needed and free bytes), the files', or Cancelled; on any of them
// every device and pinned allocation made here is freed.
Result<CudaLoadResult> loadOnCudaDevice(const CudaLoadRequest& request);

}  // namespace hearth
