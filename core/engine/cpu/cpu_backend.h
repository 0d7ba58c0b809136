// The CPU backend: the readable fp32 reference every CUDA kernel is checked against, and the
// engine on machines without an NVIDIA GPU. Weights are read in place from the mapped files;
// the KV cache is fp32 in host memory; matmul rows and attention heads are spread over a pool
// of threads (one per core by default).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/model_weights.h"
#include "engine/rope.h"

namespace hearth {

class ThreadPool;

struct CpuBackendOptions {
    std::uint64_t kvBudgetBytes = 256ull << 20;  // host memory for KV pages
    int nThreads = 0;                             // 0: one per hardware thread
    std::int64_t pageTokens = 16;
};

class CpuBackend final : public Backend {
public:
    static Result<std::unique_ptr<CpuBackend>> create(std::shared_ptr<const ModelWeights> weights,
                                                      const CpuBackendOptions& options = {});
    ~CpuBackend() override;

    const char* name() const override { return "cpu"; }
    const ModelConfig& config() const override { return m_weights->config(); }
    KvPagePool& kvPool() override { return m_pool; }
    Result<ForwardResult> forward(const BatchPlan& plan) override;

    const ModelWeights& weights() const { return *m_weights; }
    int nThreads() const;

private:
    CpuBackend() = default;
    struct Step;  // per-call row bookkeeping and scratch (cpu_backend.cpp)

    Status validate(const BatchPlan& plan) const;
    void runLayer(Step& step, std::size_t layer);
    void addLora(Step& step, std::size_t layer, LinearKind kind, const float* in, float* out);
    void attention(Step& step, std::size_t layer);

    std::shared_ptr<const ModelWeights> m_weights;
    KvPagePool m_pool;
    std::unique_ptr<float[]> m_kv;  // [nPages][nLayers][K,V][pageTokens][nKvHeads][headDim]
    std::unique_ptr<ThreadPool> m_threads;
    RopeFrequencies m_rope;  // fixed frequencies (all scaling types but dynamic NTK)
    std::vector<float> m_argmaxScratch;  // greedyToken's working row
};

}  // namespace hearth
