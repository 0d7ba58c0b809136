// The load job behind Engine::load: open config, weight headers and tokenizer, stream the weights
// through the load pipeline (core/load), build the backend and run one warm-up step, with
// progress reports, a cancel flag and a breakdown of where the time went. When the CUDA backend
// will run, the weights stream straight into its device storage while it sets up (the device
// path, engine/cuda/cuda_load.h); otherwise, or after a device failure under Auto, they go to
// host memory for the CPU backend. Private to the engine room.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/model_weights.h"

namespace hearth {

struct LoadedModel {
    std::shared_ptr<const ModelWeights> weights;
    std::shared_ptr<const Tokenizer> tokenizer;
    std::unique_ptr<Backend> backend;
    std::int64_t contextLength = 0;  // what requests may use: options, model and KV pool combined
    LoadProgress finalProgress;      // stage "ready", every byte done, the whole breakdown
    std::string readMode;            // how the weight files were read: "direct", "buffered", "mixed"
    std::string backendReason;       // why this backend (EngineState.reason once ready)
};

struct ModelLoadParams {
    std::string path;
    EngineOptions options;
    std::function<void(const LoadProgress&)> onProgress;  // called on the loading thread
    const std::atomic<bool>* cancel = nullptr;           // set by another thread to stop early
    std::uint64_t readChunkBytes = 16u << 20;
    int nReaders = 0;  // load pipeline reader threads; 0: its default
};

// Runs the whole load on the calling thread; Cancelled when `cancel` was seen set.
Result<LoadedModel> loadModelForEngine(const ModelLoadParams& params);

}  // namespace hearth
