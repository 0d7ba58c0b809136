// The CUDA backend's private state and per-step plan, shared by its sources (cuda_backend.cpp
// builds and uploads a step, cuda_layers.cpp runs the layers). No CUDA types: streams are the
// kernels' opaque handles. Private to engine/cuda.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_graphs.h"
#include "engine/cuda/cuda_lora.h"
#include "engine/cuda/cuda_util.h"
#include "engine/cuda/cuda_weights.h"
#include "engine/rope.h"
#include "kernels.h"

namespace hearth {

// `elems` 16-bit elements past `base`.
inline void* at16(void* base, std::int64_t elems) { return static_cast<std::uint8_t*>(base) + elems * 2; }
inline const void* at16(const void* base, std::int64_t elems)
{
    return static_cast<const std::uint8_t*>(base) + elems * 2;
}

// Widths of the model's activations, in elements per token row.
struct CudaDims {
    std::int64_t hidden = 0, qDim = 0, kvDim = 0, qkvDim = 0, inter = 0, vocab = 0;
    explicit CudaDims(const ModelConfig& c)
        : hidden(c.hiddenSize), qDim(c.nHeads * c.headDim), kvDim(c.nKvHeads * c.headDim),
          qkvDim(qDim + 2 * kvDim), inter(c.intermediateSize), vocab(c.vocabSize)
    {
    }
    // Bytes of the activation buffers for `rows` token rows (16-bit elements, each 256-byte aligned).
    std::size_t activationBytes(std::int64_t rows) const
    {
        std::size_t total = 0;
        for (std::int64_t width : {hidden, hidden, qkvDim, qDim, hidden, 2 * inter, inter})
            total += cuda::alignUp(static_cast<std::size_t>(rows * width) * 2, 256);
        return total;
    }
};

struct CudaBackend::State {
    int device = 0;
    std::string deviceName;
    bool programmaticLaunch = false;  // the decode kernels use PDL on this device (kernels::programmaticLaunch)
    kernels::StreamHandle stream = nullptr;
    std::unique_ptr<kernels::GemmContext> gemm;
    cuda::DeviceWeights weights;
    cuda::DeviceBuffer kv;  // [nPages][nLayers][K|V][pageTokens][nKvHeads][headDim], as the CPU backend
    RopeFrequencies rope;   // fixed frequencies (all scaling types but dynamic NTK)

    // Activations for up to rowCapacity token rows, carved from one buffer (see ensureRows).
    cuda::DeviceBuffer activations;
    std::int64_t rowCapacity = 0;
    void* residual = nullptr;  // [rows, hidden]
    void* xn = nullptr;        // [rows, hidden] normalised input of a projection
    void* qkv = nullptr;       // [rows, qDim + 2 kvDim]
    void* attn = nullptr;      // [rows, qDim]
    void* tmp = nullptr;       // [rows, hidden] projection outputs before the residual add
    void* gateUp = nullptr;    // [rows, 2 inter]
    void* act = nullptr;       // [rows, inter]

    cuda::DeviceBuffer loraShrunk;  // [rows, kLoraMaxRank] fp32
    cuda::DeviceBuffer logits;      // [nOut, vocab] fp32
    cuda::DeviceBuffer decodeWork;  // split-context decode attention scratch
    cuda::DeviceBuffer stepData;    // the packed per-step upload
    cuda::PinnedBuffer stepHost, logitsHost;
    cuda::LoraCache loras;

    std::uint64_t weightBytes = 0;
    std::uint64_t kvBytes = 0;

    ~State();  // waits for the stream, then destroys it (cuda_backend.cpp)

    // Makes the activation buffer hold `rows` token rows and carves it into the pointers above.
    Status reserveRows(const CudaDims& d, std::int64_t rows);

    // decode graphs (the graphs helper's block; cuda_graphs.h)
    cuda::DecodeGraphs graphs;
    // Runs a decode-only plan through its bucket's CUDA graph (captured on first use) into `out`;
    // false when the plan does not qualify or no graph can be had, and the step is to run eagerly.
    Result<bool> runDecodeGraph(CudaBackend& backend, const BatchPlan& plan, ForwardResult& out);
    // Enqueues `step` on the stream from the embedding to the logits of its nOut rows, with no
    // synchronisation, allocation or copy (so it can be captured); cuda_backend.cpp.
    Status enqueueForward(CudaBackend& backend, const Step& step);

    // load path (the load helper's block; cuda_backend_create.cpp)
    ModelConfig loadConfig;            // from beginCreate, for setUpRest and completeLoad
    CudaBackendOptions createOptions;
    DeviceLayout layout;               // where the weights sit in weights.storage
    CudaSetupTimes setupTimes;
    // GEMM plans (cuda_backend_create.cpp): every planned shape, and how many came from the cache.
    std::vector<kernels::GemmPlan> gemmPlans;
    int gemmPlansCached = 0;
    int gemmPlansTimed = 0;
    // Reads cached plans, times the missing shapes (the KV pool, before it is zeroed, is the
    // tuner's scratch) and writes the cache back; a failure leaves GEMMs on cuBLAS's default.
    void tuneGemms(const CudaDims& d);

    // device argmax (greedy tokens picked on the device, SequenceStep::argmaxOnly; cuda_backend.cpp)
    cuda::DeviceBuffer argmaxOut;   // [n] int32 ids, then [n] fp32 raw log-probabilities
    cuda::PinnedBuffer argmaxHost;  // its download
    // Sizes argmaxOut and argmaxHost for `nRows` rows (before any launch of the step).
    Status reserveArgmax(std::int64_t nRows);
    // Enqueues the argmax of logits rows [firstRow, firstRow + nRows) into argmaxOut (n = nRows):
    // a kernel launch only, so the graph path can capture it.
    Status enqueueArgmax(std::int64_t firstRow, std::int64_t nRows, std::int64_t vocab);
    // Enqueues the copy of argmaxOut (n = nRows) into argmaxHost.
    Status downloadArgmax(std::int64_t nRows);
    // After the step's synchronisation: argmaxHost's ids from row `first` on (n = nRows), in
    // order, to the wantsArgmax sequences of `plan`.
    void readArgmax(const BatchPlan& plan, std::int64_t nRows, std::int64_t first, ForwardResult& out) const;
};

// One forward's plan: counts and device pointers into State::stepData.
struct CudaBackend::Step {
    std::int64_t nRows = 0;
    std::int64_t nPrefillRows = 0;  // rows [0, nPrefillRows) belong to prefill query groups
    std::int64_t nGroups = 0;       // prefill query groups
    std::int64_t maxQueryLen = 0;
    std::int64_t maxPagesPrefill = 0;
    std::int64_t nDecode = 0;       // rows [nPrefillRows, nRows), one per decoding sequence
    std::int64_t maxPagesDecode = 0;
    std::int64_t maxContextDecode = 0;
    std::int64_t nOut = 0;

    const std::int32_t* tokenIds = nullptr;       // [nRows]
    const std::int32_t* positions = nullptr;      // [nRows]
    const std::int32_t* slotMapping = nullptr;    // [nRows]
    const std::int32_t* queryStart = nullptr;     // [nGroups + 1]
    const std::int32_t* prefillContext = nullptr; // [nGroups]
    const std::int32_t* prefillTables = nullptr;  // [nGroups, maxPagesPrefill]
    const std::int32_t* decodeContext = nullptr;  // [nDecode]
    const std::int32_t* decodeTables = nullptr;   // [nDecode, maxPagesDecode]
    const std::int32_t* gatherRows = nullptr;     // [nOut] rows to project, in plan order

    struct RopeCall {
        std::int64_t firstRow = 0;
        std::int64_t nRows = 0;
        const float* invFreq = nullptr;
        float attentionScale = 1.0f;
    };
    std::vector<RopeCall> rope;  // one call for fixed frequencies; one per sequence for dynamic NTK

    // LoRA: slot = one (adapter, scale) pair of the step.
    std::int64_t nSlots = 0;
    const std::int32_t* adapterIndex = nullptr;   // [nRows] slot or -1
    const void* const* loraA = nullptr;           // [nLayers, 7, nSlots]
    const void* const* loraB = nullptr;           // [nLayers, 7, nSlots]
    const std::int32_t* loraRanks = nullptr;      // [nLayers, 7, nSlots]
    const float* loraScales = nullptr;            // [nSlots]
    std::vector<std::int32_t> loraMaxRank;        // [nLayers * 7]; 0: no slot adapts it

    std::vector<std::int64_t> firstRow;           // ForwardResult::firstRow
};

}  // namespace hearth
