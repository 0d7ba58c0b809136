// Helpers for driving an Engine from tests: run a request to its end and collect what it streamed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace hearth::test {

// Everything one request streamed, up to its final event.
struct CollectedRun {
    std::vector<TokenId> tokens;
    std::string text;                  // token deltas plus the final delta
    std::optional<FinishedEvent> finished;
    std::optional<Error> failed;
    bool timedOut = false;
};

// Reads events until the final one (or until `timeout` passes without one).
CollectedRun collect(RequestHandle& handle, std::chrono::milliseconds timeout = std::chrono::seconds(120));
// Submits and collects; a submit error lands in `failed`.
CollectedRun runRequest(Engine& engine, GenerateRequest request);
// A greedy request for `ids` generating exactly `maxTokens` tokens (end-of-turn ids ignored).
GenerateRequest greedyRequest(std::vector<TokenId> ids, int maxTokens, std::string adapter = {});
// Creates an engine on the CPU and loads `modelDir`; an error says why not.
Result<std::unique_ptr<Engine>> loadedEngine(const std::string& modelDir, EngineOptions options = {});
// One line for test failure messages.
std::string describe(const CollectedRun& run);

}  // namespace hearth::test
