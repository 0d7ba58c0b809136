// Immutable weights of a Llama-family decoder (Qwen2/Qwen2.5, Qwen3, Llama 2/3.x, Mistral),
// described from ModelConfig and checked tensor by tensor against it. Tensors stay as stored
// (F32/F16/BF16) and point either into the mapped safetensors files (fromSafetensors) or into
// host memory the load pipeline filled (fromHostTensors), kept alive with the weights.
// Per-session state (KV cache, scratch) lives elsewhere, so one ModelWeights serves many
// sequences and backends read it from several threads at once.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/dtype.h"
#include "model/model_config.h"
#include "util/result.h"

namespace hearth {

class SafetensorsModel;

// A weight as stored: row-major [rows, cols] (a vector is [1, n]), element type F32/F16/BF16.
struct WeightTensor {
    const void* data = nullptr;
    DType dtype = DType::F32;
    std::int64_t rows = 0;
    std::int64_t cols = 0;

    bool present() const { return data != nullptr; }
};

// The seven projections every Llama-family layer has; LoRA targets them by these names.
enum class LinearKind { Q, K, V, O, Gate, Up, Down };
inline constexpr int kLinearKindCount = 7;
// "q_proj", "k_proj", ... as in Hugging Face module names.
const char* linearModuleName(LinearKind kind);

// One decoder layer. q/k/v and gate/up are NOT fused at load on CPU: the tensors point into the
// mapped file and fusing would need a copy (twice the memory, or a conversion pass at load). The
// CPU backend gets the fusion's benefit anyway by running projections that share an input in one
// parallel pass over their concatenated rows (see cpu_ops.h, matmulMany).
struct LlamaLayerWeights {
    WeightTensor attnNorm;                              // [hidden] input_layernorm
    std::array<WeightTensor, kLinearKindCount> linear;  // by LinearKind: [out, in]
    WeightTensor qBias, kBias, vBias;                   // [nHeads*headDim], [nKv*headDim]; Qwen2 / attention_bias
    WeightTensor qNorm, kNorm;                          // [headDim]; Qwen3 only
    WeightTensor mlpNorm;                               // [hidden] post_attention_layernorm

    const WeightTensor& proj(LinearKind kind) const { return linear[static_cast<int>(kind)]; }
};

// A tensor found by name, for building weights from any storage.
struct NamedTensor {
    const void* data = nullptr;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::string fileName;  // where it came from, for messages
};
// Finds a tensor by name; nullopt when absent.
using TensorLookup = std::function<std::optional<NamedTensor>(const std::string& name)>;

class ModelWeights {
public:
    // Reads `dir`/config.json and the safetensors in `dir`, and checks every tensor.
    static Result<std::shared_ptr<const ModelWeights>> load(const std::string& dir);
    // Builds weights from an already opened model; every expected tensor must be present with
    // the shape the config implies and a float dtype.
    static Result<std::shared_ptr<const ModelWeights>> fromSafetensors(const ModelConfig& config,
                                                                       std::shared_ptr<const SafetensorsModel> model);
    // Builds weights from tensors already in memory (the load pipeline's host sink), with the
    // same checks; `keepAlive` owns that memory and lives as long as the weights (and clones).
    // `missingWhere` names the source in "tensor 'x' is missing" messages.
    static Result<std::shared_ptr<const ModelWeights>> fromHostTensors(const ModelConfig& config, const TensorLookup& lookup,
                                                                       std::shared_ptr<const void> keepAlive,
                                                                       const std::string& missingWhere);
    // Describes tensors that live in GPU memory (the CUDA load path): config and shapes are real,
    // the data pointers are device addresses. deviceResident() says so, and host code that would
    // read the data (the CPU backend, merging a LoRA) refuses such weights instead of faulting.
    static Result<std::shared_ptr<const ModelWeights>> describingDeviceTensors(const ModelConfig& config,
                                                                               const TensorLookup& lookup,
                                                                               const std::string& missingWhere);
    bool deviceResident() const { return m_deviceResident; }

    const ModelConfig& config() const { return m_config; }
    const WeightTensor& embedding() const { return m_embedding; }  // [vocab, hidden]
    const WeightTensor& finalNorm() const { return m_finalNorm; }  // [hidden]
    const WeightTensor& lmHead() const { return m_lmHead; }        // [vocab, hidden]; the embedding when tied
    const std::vector<LlamaLayerWeights>& layers() const { return m_layers; }

    // A copy sharing the mapped file, with one projection replaced by owned fp32 values
    // [rows*cols] of the same shape. Used to build merged-LoRA weights.
    std::shared_ptr<ModelWeights> clone() const;
    void replaceProjection(std::size_t layer, LinearKind kind, std::vector<float> values);

private:
    // Binds and checks every tensor the config implies.
    Status bindTensors(const TensorLookup& lookup, const std::string& missingWhere);

    ModelConfig m_config;
    std::shared_ptr<const SafetensorsModel> m_file;
    std::shared_ptr<const void> m_keepAlive;  // host tensors' memory (fromHostTensors)
    std::vector<std::shared_ptr<const std::vector<float>>> m_owned;  // replaced tensors
    WeightTensor m_embedding, m_finalNorm, m_lmHead;
    std::vector<LlamaLayerWeights> m_layers;
    bool m_deviceResident = false;
};

}  // namespace hearth
