// How much device memory a model needs at a given context length, and whether that fits.
// The GUI's library view, `hearth-cli list` and the engine's admission check all call this one
// estimate so that what the user is told matches what the engine will try to allocate.
#pragma once

#include <cstdint>

namespace hearth {

struct ModelConfig;

// The few shape numbers the estimate needs; filled from a ModelConfig or from GGUF metadata.
struct ModelShape {
    std::int64_t hiddenSize = 0;
    std::int64_t nLayers = 0;
    std::int64_t nHeads = 0;
    std::int64_t nKvHeads = 0;  // 0 means nHeads
    std::int64_t headDim = 0;   // 0 means hiddenSize / nHeads
    std::int64_t intermediateSize = 0;
    std::int64_t vocabSize = 0;
};

struct MemoryEstimate {
    std::uint64_t weightsBytes = 0;
    std::uint64_t kvCacheBytes = 0;
    std::uint64_t workspaceBytes = 0;
    std::uint64_t totalBytes = 0;
    std::uint64_t kvBytesPerToken = 0;
    std::int64_t contextLength = 0;
};

// Tokens in one prefill chunk: the workspace is sized for this many tokens in flight.
inline constexpr std::int64_t kPrefillChunkTokens = 512;
// Fixed allowance for the CUDA context, cuBLAS(Lt) workspaces and graph memory.
inline constexpr std::uint64_t kFixedWorkspaceBytes = 512ull << 20;

// The shape numbers of a parsed config (nKvHeads and headDim resolved).
ModelShape shapeOf(const ModelConfig& config);

// Estimate for weights of `weightBytes` (as stored, or after conversion) with a KV cache for
// `contextLength` tokens at `kvBytesPerElement` bytes per element (2 for fp16).
MemoryEstimate estimateMemory(const ModelShape& shape, std::uint64_t weightBytes, std::int64_t contextLength,
                              int kvBytesPerElement = 2);
MemoryEstimate estimateMemory(const ModelConfig& config, std::uint64_t weightBytes, std::int64_t contextLength,
                              int kvBytesPerElement = 2);

enum class FitVerdict {
    Fits,        // needs at most 90% of the free memory
    Tight,       // needs more than 90% but at most all of it: may fail once other programs grow
    DoesNotFit,  // needs more than is free
};

// Verdict for `totalBytes` against `freeBytes` of free device memory.
FitVerdict fitsIn(std::uint64_t totalBytes, std::uint64_t freeBytes);
// "fits", "tight", "does-not-fit".
const char* fitVerdictName(FitVerdict verdict);

}  // namespace hearth
