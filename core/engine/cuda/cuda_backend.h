// The CUDA backend: the engine's fast path on NVIDIA GPUs, behind the same Backend interface as
// the CPU reference. It keeps the weights on the device as fp16 or bf16 (q/k/v and gate/up fused),
// the KV cache in device pages with the CPU backend's page layout and KvPagePool bookkeeping, and
// runs a step as a chain of kernels (kernels/) on one stream with a single synchronisation at the
// end. Compiled only in CUDA builds; this header has no CUDA types, so core stays free of CUDA
// headers outside engine/cuda's sources.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/model_weights.h"

namespace hearth {

enum class CudaComputeType {
    Auto,  // the checkpoint's half type: bf16 stays bf16, fp16 stays fp16, fp32 becomes bf16 (range)
    F16,
    BF16,
};

struct CudaBackendOptions {
    int device = 0;
    // Device memory for KV pages. 0: what is free after weights and workspace, minus a reserve of
    // max(1 GiB, 10% of the card); otherwise at most this much.
    std::uint64_t kvBudgetBytes = 0;
    std::int64_t pageTokens = 16;
    CudaComputeType compute = CudaComputeType::Auto;
    // Token rows of the largest step planned for at creation (the scheduler's prefill chunk plus
    // its decode batch); larger steps grow the workspace when they come.
    std::int64_t workspaceTokens = 512;
    // Logits rows planned for at creation (one per sequence of a decode batch).
    std::int64_t logitsRows = 16;
    // GEMM tuning in setUpRest (behind the weight transfer on the load path): cuBLAS's default,
    // cuBLASLt's algorithms and the skinny GEMM timed per shape of this model, for at most this
    // many milliseconds; 0 turns it off (every GEMM then runs cuBLAS's default).
    double gemmTuneBudgetMs = 0.0;
    // Where tuned plans are kept per card (gemm_plan_cache.h); empty: no cache.
    std::string gemmPlanCacheDir;
};

// Where the device setup's time went (milliseconds), for the load breakdown.
struct CudaSetupTimes {
    double contextMs = 0.0;    // device selection, context creation, memory plan, weight storage
    double cublasMs = 0.0;     // stream, cuBLAS handle and GEMM workspace
    double kvMs = 0.0;         // KV pool allocation and zeroing
    double workspaceMs = 0.0;  // activations and logits buffers
    double gemmTuneMs = 0.0;   // GEMM plans: read from the cache, tuned, written back
};

class CudaBackend final : public Backend {
public:
    // Uploads the weights and sizes the KV pool. Unavailable without a usable device;
    // OutOfMemory saying how much was needed and how much was free when the model does not fit.
    static Result<std::unique_ptr<CudaBackend>> create(std::shared_ptr<const ModelWeights> weights,
                                                       const CudaBackendOptions& options = {});

    // The device load path in three steps. beginCreate: device, context, memory plan and the
    // weight storage (empty; laid out by planDeviceLayout(config)), with `checkpointType` (the
    // embedding's stored dtype) resolving CudaComputeType::Auto. setUpRest: stream, cuBLAS, KV
    // pool and workspace; may run on another thread while the weights stream into
    // weightStorage(). completeLoad once every weight byte is there; `weights` describes the
    // tensors (config and shapes; its data pointers are device addresses inside the storage and
    // must never be read on the host). Destroying the backend after any step frees everything.
    static Result<std::unique_ptr<CudaBackend>> beginCreate(const ModelConfig& config, DType checkpointType,
                                                            const CudaBackendOptions& options = {});
    Status setUpRest();
    Status completeLoad(std::shared_ptr<const ModelWeights> weights);
    void* weightStorage() const;
    std::uint64_t weightStorageBytes() const;
    DType weightDType() const;  // F16 or BF16
    const CudaSetupTimes& setupTimes() const;
    ~CudaBackend() override;

    const char* name() const override { return "cuda"; }
    const ModelConfig& config() const override { return m_weights->config(); }
    KvPagePool& kvPool() override { return m_pool; }
    Result<ForwardResult> forward(const BatchPlan& plan) override;

    // "NVIDIA H100 80GB HBM3, bf16 weights (14.2 GiB), KV 60.1 GiB (123456 pages)".
    std::string describe() const;
    // "GEMM plans: 61 shapes (31 cuBLASLt, 9 skinny, 12 GEMV, 9 cuBLAS default; 49 timed now, 12
    // from the cache)", or "" when tuning was off.
    std::string gemmPlanSummary() const;

private:
    struct State;  // device buffers, stream, cuBLAS (cuda_backend.cpp)
    struct Step;   // one forward's host-side plan

    CudaBackend();
    Result<ForwardResult> runStep(const BatchPlan& plan);
    Status buildStep(const BatchPlan& plan, Step& step);
    Status runLayer(const Step& step, std::size_t layer);
    Status linear(const void* x, const void* w, const void* bias, void* y, std::int64_t nRows, std::int64_t outDim,
                  std::int64_t inDim);
    // Whether a projection of this shape runs on the GEMV (few rows, and no tuned plan against it).
    bool gemvServes(std::int64_t nRows, std::int64_t outDim, std::int64_t inDim) const;
    // The MLP's gate|up projection and SiLU-and-multiply, into the activation buffer.
    Status gateUpSilu(const Step& step, std::size_t layer);
    Status lora(const Step& step, std::size_t layer, LinearKind kind, const void* x, std::int64_t xStride, void* y,
                std::int64_t yStride);

    std::shared_ptr<const ModelWeights> m_weights;
    KvPagePool m_pool;
    std::unique_ptr<State> m;
};

}  // namespace hearth
