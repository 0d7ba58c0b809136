#include "model/memory_estimate.h"

#include <algorithm>

#include "model/model_config.h"

namespace hearth {

namespace {

std::uint64_t nonNegative(std::int64_t v) { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

}  // namespace

ModelShape shapeOf(const ModelConfig& config)
{
    ModelShape s;
    s.hiddenSize = config.hiddenSize;
    s.nLayers = config.nLayers;
    s.nHeads = config.nHeads;
    s.nKvHeads = config.nKvHeads;
    s.headDim = config.headDim;
    s.intermediateSize = config.intermediateSize;
    s.vocabSize = config.vocabSize;
    return s;
}

// The formula, in one place:
//   kvCache   = 2 (K and V) * nLayers * nKvHeads * headDim * contextLength * kvBytesPerElement
//   workspace = T * (2*hidden + (2*nHeads + 2*nKvHeads)*headDim + 3*intermediate) * 2   activations
//             + T * vocab * 4                                                          logits
//             + 512 MiB                                                                fixed
// with T = min(512, contextLength) tokens of one prefill chunk. The activation term counts, per
// token in fp16, the residual and normed hidden state, the q/k/v projections, the attention
// output, and the MLP gate, up and activated product; logits are fp32 for the whole chunk (an
// upper bound: the engine only needs the last token's, but sampling with logprobs may want
// more). The fixed term covers the CUDA context, cuBLAS(Lt) workspaces and CUDA graphs.
MemoryEstimate estimateMemory(const ModelShape& shape, std::uint64_t weightBytes, std::int64_t contextLength,
                              int kvBytesPerElement)
{
    const std::uint64_t nHeads = nonNegative(shape.nHeads);
    const std::uint64_t nKvHeads = shape.nKvHeads > 0 ? nonNegative(shape.nKvHeads) : nHeads;
    const std::uint64_t headDim = shape.headDim > 0 ? nonNegative(shape.headDim)
                                  : nHeads > 0      ? nonNegative(shape.hiddenSize) / nHeads
                                                    : 0;
    const std::uint64_t ctx = nonNegative(contextLength);
    const std::uint64_t chunk = std::min<std::uint64_t>(nonNegative(kPrefillChunkTokens), ctx);

    MemoryEstimate e;
    e.contextLength = static_cast<std::int64_t>(ctx);
    e.weightsBytes = weightBytes;
    e.kvBytesPerToken = 2 * nonNegative(shape.nLayers) * nKvHeads * headDim * nonNegative(kvBytesPerElement);
    e.kvCacheBytes = e.kvBytesPerToken * ctx;
    const std::uint64_t activationElementsPerToken = 2 * nonNegative(shape.hiddenSize) +
                                                     (2 * nHeads + 2 * nKvHeads) * headDim +
                                                     3 * nonNegative(shape.intermediateSize);
    const std::uint64_t activationBytes = chunk * activationElementsPerToken * 2;
    const std::uint64_t logitsBytes = chunk * nonNegative(shape.vocabSize) * 4;
    e.workspaceBytes = activationBytes + logitsBytes + kFixedWorkspaceBytes;
    e.totalBytes = e.weightsBytes + e.kvCacheBytes + e.workspaceBytes;
    return e;
}

MemoryEstimate estimateMemory(const ModelConfig& config, std::uint64_t weightBytes, std::int64_t contextLength,
                              int kvBytesPerElement)
{
    return estimateMemory(shapeOf(config), weightBytes, contextLength, kvBytesPerElement);
}

FitVerdict fitsIn(std::uint64_t totalBytes, std::uint64_t freeBytes)
{
    // 90% of free without overflowing: 9 * (free / 10) + 9 * (free % 10) / 10.
    const std::uint64_t ninetyPercent = 9 * (freeBytes / 10) + 9 * (freeBytes % 10) / 10;
    if (totalBytes <= ninetyPercent)
        return FitVerdict::Fits;
    if (totalBytes <= freeBytes)
        return FitVerdict::Tight;
    return FitVerdict::DoesNotFit;
}

const char* fitVerdictName(FitVerdict verdict)
{
    switch (verdict) {
    case FitVerdict::Fits: return "fits";
    case FitVerdict::Tight: return "tight";
    case FitVerdict::DoesNotFit: return "does-not-fit";
    }
    return "unknown";
}

}  // namespace hearth
