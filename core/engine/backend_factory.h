// Which backend runs a loaded model: the user's choice (BackendChoice), what this build has and
// what the machine offers, with the sentence EngineState.reason shows. A CUDA backend that fails
// to come up under Auto falls back to the CPU with the failure in that sentence. Private to the
// engine room (the model loader calls it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/model_weights.h"

namespace hearth {

struct BackendRequest {
    std::shared_ptr<const ModelWeights> weights;
    EngineOptions options;
    std::uint64_t cpuKvBudgetBytes = 0;        // host memory for the CPU backend's KV pages
    std::function<Status(Backend&)> warmUp;    // run on the new backend; a failure counts as the backend's
};

struct CreatedBackend {
    std::unique_ptr<Backend> backend;
    std::string reason;  // why this backend, e.g. "running on the CPU: no usable CUDA device: ..."
};

// Builds the backend the options ask for. Cuda: the CUDA backend or its error. Cpu: the CPU
// backend. Auto: CUDA when built and a device is usable, else CPU; a CUDA failure then falls back
// to the CPU with the reason.
Result<CreatedBackend> createBackend(const BackendRequest& request);

// True when createBackend would try CUDA first for `options` (Cuda in a CUDA build; Auto with a
// usable device): the model loader then streams weights to the device.
bool cudaWillBeTried(const EngineOptions& options);

// Empty when BackendChoice::Cuda can work in this build on this machine, else why not.
std::string cudaUnavailableReason();

}  // namespace hearth
