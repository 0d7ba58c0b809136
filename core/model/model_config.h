// Hugging Face config.json (+ generation_config.json) as a typed ModelConfig for the
// Llama-family decoders Hearth runs: Qwen2/Qwen2.5, Qwen3, Llama 2/3.x, Mistral.
// Both transformers 4 (`rope_theta`, `rope_scaling`, `torch_dtype`) and transformers 5
// (`rope_parameters`, `dtype`) spellings are read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.h"
#include "util/result.h"

namespace hearth {

enum class ModelArch { Qwen2, Qwen3, Llama, Mistral };

enum class RopeScalingType { None, Linear, Dynamic, Yarn, Llama3 };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::None;
    double factor = 1.0;
    std::int64_t originalMaxPositions = 0;  // original_max_position_embeddings (yarn, llama3, dynamic)
    double lowFreqFactor = 1.0;             // llama3
    double highFreqFactor = 4.0;            // llama3
    double betaFast = 32.0;                 // yarn
    double betaSlow = 1.0;                  // yarn
    std::optional<double> attentionFactor;  // yarn: attention_factor, else derived from factor
    std::optional<double> mscale;           // yarn (DeepSeek-style), rarely set
    std::optional<double> mscaleAllDim;
};

// Sampling defaults a model ships in generation_config.json; all optional.
struct GenerationDefaults {
    std::optional<bool> doSample;
    std::optional<double> temperature;
    std::optional<double> topP;
    std::optional<std::int64_t> topK;
    std::optional<double> minP;
    std::optional<double> repetitionPenalty;
    std::optional<std::int64_t> maxNewTokens;
    std::vector<std::int32_t> eosTokenIds;  // may add end-of-turn ids to the config's
    std::optional<std::int32_t> bosTokenId;
    std::optional<std::int32_t> padTokenId;
};

struct ModelConfig {
    std::string architectureName;  // architectures[0], e.g. "Qwen2ForCausalLM"
    std::string modelType;         // model_type, e.g. "qwen2"
    ModelArch arch = ModelArch::Llama;

    std::int64_t hiddenSize = 0;
    std::int64_t nLayers = 0;
    std::int64_t nHeads = 0;
    std::int64_t nKvHeads = 0;       // defaults to nHeads
    std::int64_t headDim = 0;        // head_dim, else hiddenSize / nHeads
    std::int64_t intermediateSize = 0;
    std::int64_t vocabSize = 0;
    std::int64_t maxPositions = 0;   // max_position_embeddings
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    RopeScaling ropeScaling;
    bool tieWordEmbeddings = false;
    bool attentionBias = false;      // bias on q/k/v (always for Qwen2; attention_bias for Llama)
    bool qkNorm = false;             // RMSNorm on q and k per head (Qwen3)
    bool mlpBias = false;
    std::optional<std::int64_t> slidingWindow;  // only when enabled in the config
    DType dtype = DType::BF16;       // torch_dtype / dtype; F32 when absent
    std::optional<std::int32_t> bosTokenId;
    std::vector<std::int32_t> eosTokenIds;  // one or several
    std::optional<std::int32_t> padTokenId;
    std::string hiddenAct = "silu";

    GenerationDefaults generation;  // from generation_config.json when present

    // Parameters implied by the shapes (embeddings, layers, norms, lm_head unless tied).
    std::int64_t parameterCount() const;
    // KV cache bytes per token of context at `bytesPerElement` (2 for fp16).
    std::int64_t kvBytesPerToken(int bytesPerElement = 2) const;
};

const char* modelArchName(ModelArch arch);

// Parses config.json text. `sourceName` (usually the path) appears in every error.
// Unknown architectures are an Unsupported error naming them.
Result<ModelConfig> parseModelConfig(std::string_view json, std::string_view sourceName);
// Parses generation_config.json text.
Result<GenerationDefaults> parseGenerationConfig(std::string_view json, std::string_view sourceName);
// Reads `dir`/config.json and, when present, `dir`/generation_config.json (whose eos ids are
// merged into eosTokenIds).
Result<ModelConfig> loadModelConfig(const std::string& dir);

}  // namespace hearth
