// PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors), checked against the base
// model they are attached to, applied unmerged (y += scale * B(A x), per request, base weights
// untouched) or merged into a copy of the weights (W + scale * B A, fp32) for speed or comparison.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_weights.h"
#include "util/result.h"

namespace hearth {

class SafetensorsModel;

// The low-rank pair of one projection, as stored.
struct LoraPair {
    WeightTensor a;  // [rank, in]
    WeightTensor b;  // [out, rank]
};

class LoraAdapter {
public:
    // Reads `dir`/adapter_config.json and `dir`/adapter_model.safetensors and checks every tensor
    // against `base` (layer count, module names, shapes). Errors name the file and the tensor.
    static Result<std::shared_ptr<const LoraAdapter>> load(const std::string& dir, const ModelConfig& base);

    std::int64_t rank() const { return m_rank; }
    double alpha() const { return m_alpha; }
    bool rsLora() const { return m_rsLora; }
    // PEFT's scaling: alpha / r, or alpha / sqrt(r) with use_rslora.
    float scale() const;
    // The pair adapting `kind` in `layer`, or nullptr when the adapter leaves it alone.
    const LoraPair* find(std::size_t layer, LinearKind kind) const;
    const std::string& path() const { return m_path; }

private:
    std::string m_path;
    std::int64_t m_rank = 0;
    double m_alpha = 0.0;
    bool m_rsLora = false;
    std::shared_ptr<const SafetensorsModel> m_file;
    std::vector<std::array<std::optional<LoraPair>, kLinearKindCount>> m_layers;
};

// Weights equal to `base` with every adapted projection replaced by fp32 W + userScale * scale * B A.
Result<std::shared_ptr<const ModelWeights>> mergeLora(const ModelWeights& base, const LoraAdapter& adapter,
                                                      float userScale = 1.0f);

// Parses "PATH" or "PATH:SCALE" (the CLI's --lora syntax) into path and scale (default 1).
Result<std::pair<std::string, float>> parseLoraSpec(const std::string& spec);

}  // namespace hearth
