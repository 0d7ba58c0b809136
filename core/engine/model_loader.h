// The load job behind Engine::load: open config, weights and tokenizer, pre-read the mapped weight
// files so the first request does not fault them in page by page, and build the backend, with
// progress reports and a cancel flag checked between chunks. Private to the engine room.
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
};

struct ModelLoadParams {
    std::string path;
    EngineOptions options;
    std::function<void(const LoadProgress&)> onProgress;  // called on the loading thread
    const std::atomic<bool>* cancel = nullptr;           // set by another thread to stop early
    std::uint64_t readChunkBytes = 16u << 20;
};

// Runs the whole load on the calling thread; Cancelled when `cancel` was seen set.
Result<LoadedModel> loadModelForEngine(const ModelLoadParams& params);

}  // namespace hearth
