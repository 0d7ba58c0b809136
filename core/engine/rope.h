// Rotary position embedding frequencies for every scaling type ModelConfig knows (default,
// linear, dynamic NTK, YaRN, llama3), computed as transformers' _compute_*_parameters in
// modeling_rope_utils.py do (float32 results), so every backend rotates identically.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_config.h"

namespace hearth {

struct RopeFrequencies {
    std::vector<float> invFreq;  // [headDim / 2]
    float attentionScale = 1.0f; // multiplies cos and sin (YaRN's attention factor; 1 otherwise)
};

// `seqLen` matters only for dynamic NTK: transformers recomputes the base from the longest
// sequence seen, max(position) + 1 of the forward call, once it exceeds max_position_embeddings.
RopeFrequencies computeRopeFrequencies(const ModelConfig& config, std::int64_t seqLen);

}  // namespace hearth
