// config.json / generation_config.json -> ModelConfig. Every value is type-checked before use
// (nlohmann::json throws on a wrong-typed get<>), and every error names the file and the key.
#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "util/mapped_file.h"

namespace hearth {

namespace {

using Json = nlohmann::json;

// Bounds that keep every product in parameterCount() inside int64 while staying far above any
// real model (the largest published decoders have hidden 16K-25K, 126 layers, vocab 256K).
constexpr std::int64_t kMaxHidden = std::int64_t(1) << 20;
constexpr std::int64_t kMaxLayers = std::int64_t(1) << 14;
constexpr std::int64_t kMaxHeads = std::int64_t(1) << 14;
constexpr std::int64_t kMaxHeadDim = std::int64_t(1) << 14;
constexpr std::int64_t kMaxProjection = std::int64_t(1) << 22;  // nHeads * headDim, intermediate
constexpr std::int64_t kMaxVocab = std::int64_t(1) << 30;
constexpr std::int64_t kMaxPositions = std::int64_t(1) << 40;

struct ArchEntry {
    const char* architecture;
    const char* modelType;
    ModelArch arch;
};
constexpr ArchEntry kArchs[] = {
    {"Qwen2ForCausalLM", "qwen2", ModelArch::Qwen2},
    {"Qwen3ForCausalLM", "qwen3", ModelArch::Qwen3},
    {"LlamaForCausalLM", "llama", ModelArch::Llama},
    {"MistralForCausalLM", "mistral", ModelArch::Mistral},
};

std::string supportedList()
{
    std::string s;
    for (const auto& a : kArchs) {
        if (!s.empty())
            s += ", ";
        s += a.architecture;
    }
    return s;
}

// Quotes a value from the file for an error message, cut short so a hostile file cannot make the
// message huge.
std::string quotedValue(std::string_view s)
{
    constexpr std::size_t kMax = 80;
    return "'" + std::string(s.substr(0, kMax)) + (s.size() > kMax ? "...'" : "'");
}

const char* typeName(const Json& v)
{
    return v.type_name();
}

// Reads typed fields of one JSON object; `where` is the file name plus, for nested objects, the
// path of the object ("config.json: rope_scaling.factor").
class Fields {
public:
    Fields(const Json& obj, std::string source, std::string prefix = {})
        : m_obj(obj), m_source(std::move(source)), m_prefix(std::move(prefix))
    {
    }

    // nullptr when absent or null: HF writes null for "not set" (head_dim, sliding_window).
    const Json* find(const char* key) const
    {
        auto it = m_obj.find(key);
        if (it == m_obj.end() || it->is_null())
            return nullptr;
        return &*it;
    }

    std::string keyName(const char* key) const { return m_prefix + key; }

    Error error(ErrorCode code, const char* key, const std::string& what) const
    {
        return makeError(code, m_source + ": '" + keyName(key) + "' " + what);
    }

    // "config.json: architecture 'Phi3ForCausalLM' is not supported (supported: ...)"
    Error unsupported(const std::string& what) const
    {
        return makeError(ErrorCode::Unsupported,
                         m_source + ": " + what + " is not supported (supported: " + supportedList() + ")");
    }

    Error wrongType(const char* key, const char* expected, const Json& v) const
    {
        return error(ErrorCode::Corrupt, key, std::string("must be ") + expected + ", not " + typeName(v));
    }

    Result<std::optional<std::int64_t>> optInt(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            return std::optional<std::int64_t>();
        return toInt(key, *v);
    }

    Result<std::optional<std::int64_t>> toInt(const char* key, const Json& v) const
    {
        if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u > std::uint64_t(std::numeric_limits<std::int64_t>::max()))
                return error(ErrorCode::Corrupt, key, "is out of range (" + std::to_string(u) + ")");
            return std::optional<std::int64_t>(static_cast<std::int64_t>(u));
        }
        if (v.is_number_integer())
            return std::optional<std::int64_t>(v.get<std::int64_t>());
        // A few hand-edited configs write sizes as 4096.0; accept integral floats only.
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
                return std::optional<std::int64_t>(static_cast<std::int64_t>(d));
        }
        return wrongType(key, "an integer", v);
    }

    // A size in [1, maxValue]; `fallback` when absent (nullopt means required).
    Result<std::int64_t> size(const char* key, std::int64_t maxValue, std::optional<std::int64_t> fallback = {}) const
    {
        HEARTH_TRY_ASSIGN(auto v, optInt(key));
        if (!v) {
            if (fallback)
                return *fallback;
            return error(ErrorCode::Corrupt, key, "is missing");
        }
        if (*v <= 0)
            return error(ErrorCode::Corrupt, key, "must be positive, got " + std::to_string(*v));
        if (*v > maxValue)
            return error(ErrorCode::Corrupt, key,
                         "is implausibly large (" + std::to_string(*v) + " > " + std::to_string(maxValue) + ")");
        return *v;
    }

    Result<std::optional<double>> optNumber(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            return std::optional<double>();
        if (!v->is_number())
            return wrongType(key, "a number", *v);
        const double d = v->get<double>();
        if (!std::isfinite(d))
            return error(ErrorCode::Corrupt, key, "must be finite");
        return std::optional<double>(d);
    }

    // A number > 0 (or >= 0 with allowZero), `fallback` when absent.
    Result<double> positive(const char* key, double fallback, bool allowZero = false) const
    {
        HEARTH_TRY_ASSIGN(auto v, optNumber(key));
        if (!v)
            return fallback;
        if (*v < 0 || (*v == 0 && !allowZero))
            return error(ErrorCode::Corrupt, key, std::string("must be ") + (allowZero ? "non-negative" : "positive") +
                                                      ", got " + Json(*v).dump());
        return *v;
    }

    Result<std::optional<bool>> optBool(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            return std::optional<bool>();
        if (!v->is_boolean())
            return wrongType(key, "true or false", *v);
        return std::optional<bool>(v->get<bool>());
    }

    Result<std::optional<std::string>> optString(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            return std::optional<std::string>();
        if (!v->is_string())
            return wrongType(key, "a string", *v);
        return std::optional<std::string>(v->get<std::string>());
    }

    Result<std::optional<std::int32_t>> tokenId(const Json& v, const char* key) const
    {
        HEARTH_TRY_ASSIGN(auto id, toInt(key, v));
        if (*id > std::numeric_limits<std::int32_t>::max())
            return error(ErrorCode::Corrupt, key, "is not a valid token id (" + std::to_string(*id) + ")");
        if (*id < 0)
            return std::optional<std::int32_t>();
        return std::optional<std::int32_t>(static_cast<std::int32_t>(*id));
    }

    // bos/pad: one id. Old LLaMA configs write -1 for "none", so negative reads as absent.
    Result<std::optional<std::int32_t>> optTokenId(const char* key) const
    {
        const Json* v = find(key);
        if (!v)
            return std::optional<std::int32_t>();
        return tokenId(*v, key);
    }

    // eos: one id or a list of ids (Llama 3.1 lists <|end_of_text|>, <|eom_id|>, <|eot_id|>).
    Result<std::vector<std::int32_t>> tokenIds(const char* key) const
    {
        std::vector<std::int32_t> ids;
        const Json* v = find(key);
        if (!v)
            return ids;
        if (!v->is_array() && !v->is_number())
            return wrongType(key, "a token id or a list of token ids", *v);
        const Json list = v->is_array() ? *v : Json::array({*v});
        for (const Json& e : list) {
            if (!e.is_number())
                return wrongType(key, "a token id or a list of token ids", e);
            HEARTH_TRY_ASSIGN(auto id, tokenId(e, key));
            if (!id)
                return error(ErrorCode::Corrupt, key, "holds a negative token id");
            if (std::find(ids.begin(), ids.end(), *id) == ids.end())
                ids.push_back(*id);
        }
        return ids;
    }

private:
    const Json& m_obj;
    std::string m_source;
    std::string m_prefix;
};

Result<Json> parseObject(std::string_view text, std::string_view sourceName)
{
    Json j = Json::parse(text, nullptr, false);
    if (j.is_discarded())
        return makeError(ErrorCode::Corrupt, std::string(sourceName) + ": not valid JSON");
    if (!j.is_object())
        return makeError(ErrorCode::Corrupt, std::string(sourceName) + ": expected a JSON object, found " +
                                                 j.type_name());
    return j;
}

Result<ModelArch> readArch(const Fields& f, ModelConfig& c)
{
    HEARTH_TRY_ASSIGN(auto modelType, f.optString("model_type"));
    c.modelType = modelType.value_or("");
    if (const Json* archs = f.find("architectures")) {
        if (!archs->is_array() || archs->empty() || !(*archs)[0].is_string())
            return f.wrongType("architectures", "a non-empty list of strings", *archs);
        c.architectureName = (*archs)[0].get<std::string>();
        for (const auto& a : kArchs) {
            if (c.architectureName == a.architecture) {
                if (c.modelType.empty())
                    c.modelType = a.modelType;
                return a.arch;
            }
        }
        return f.unsupported("architecture " + quotedValue(c.architectureName));
    }
    // Some older exports omit "architectures"; model_type alone identifies the family.
    if (c.modelType.empty())
        return f.error(ErrorCode::Corrupt, "architectures", "is missing (and there is no 'model_type' either)");
    for (const auto& a : kArchs) {
        if (c.modelType == a.modelType) {
            c.architectureName = a.architecture;
            return a.arch;
        }
    }
    return f.unsupported("model_type " + quotedValue(c.modelType));
}

Result<RopeScalingType> ropeTypeFromName(const Fields& f, const char* key, const std::string& name)
{
    if (name == "default" || name == "none")
        return RopeScalingType::None;
    if (name == "linear")
        return RopeScalingType::Linear;
    if (name == "dynamic")
        return RopeScalingType::Dynamic;
    if (name == "yarn")
        return RopeScalingType::Yarn;
    if (name == "llama3")
        return RopeScalingType::Llama3;
    return f.error(ErrorCode::Unsupported, key,
                   "names RoPE scaling type " + quotedValue(name) +
                       ", which is not supported (supported: default, linear, dynamic, yarn, llama3)");
}

// Reads a transformers-4 `rope_scaling` or transformers-5 `rope_parameters` object.
Status readRope(const Json& obj, const std::string& source, const std::string& objName, ModelConfig& c)
{
    const Fields f(obj, source, objName + ".");
    HEARTH_TRY_ASSIGN(auto ropeType, f.optString("rope_type"));
    const char* typeKey = "rope_type";
    if (!ropeType) {
        HEARTH_TRY_ASSIGN(ropeType, f.optString("type"));
        typeKey = "type";
    }
    RopeScaling& r = c.ropeScaling;
    r = RopeScaling();
    if (ropeType) {
        HEARTH_TRY_ASSIGN(r.type, ropeTypeFromName(f, typeKey, *ropeType));
    }
    HEARTH_TRY_ASSIGN(auto theta, f.optNumber("rope_theta"));
    if (theta) {
        if (*theta <= 0)
            return f.error(ErrorCode::Corrupt, "rope_theta", "must be positive");
        c.ropeTheta = *theta;
    }
    if (r.type == RopeScalingType::None)
        return Status::ok();
    HEARTH_TRY_ASSIGN(r.factor, f.positive("factor", 1.0));
    HEARTH_TRY_ASSIGN(auto original, f.optInt("original_max_position_embeddings"));
    if (original) {
        if (*original <= 0 || *original > kMaxPositions)
            return f.error(ErrorCode::Corrupt, "original_max_position_embeddings",
                           "must be a positive size, got " + std::to_string(*original));
        r.originalMaxPositions = *original;
    }
    HEARTH_TRY_ASSIGN(r.lowFreqFactor, f.positive("low_freq_factor", r.lowFreqFactor));
    HEARTH_TRY_ASSIGN(r.highFreqFactor, f.positive("high_freq_factor", r.highFreqFactor));
    HEARTH_TRY_ASSIGN(r.betaFast, f.positive("beta_fast", r.betaFast));
    HEARTH_TRY_ASSIGN(r.betaSlow, f.positive("beta_slow", r.betaSlow));
    HEARTH_TRY_ASSIGN(r.attentionFactor, f.optNumber("attention_factor"));
    HEARTH_TRY_ASSIGN(r.mscale, f.optNumber("mscale"));
    HEARTH_TRY_ASSIGN(r.mscaleAllDim, f.optNumber("mscale_all_dim"));
    if (r.type == RopeScalingType::Llama3 && (r.originalMaxPositions == 0 || r.highFreqFactor <= r.lowFreqFactor))
        return f.error(ErrorCode::Corrupt, "original_max_position_embeddings",
                       "is required for llama3 scaling, with high_freq_factor > low_freq_factor");
    return Status::ok();
}

Result<DType> readDType(const Fields& f)
{
    // transformers 5 writes "dtype"; 4.x wrote "torch_dtype".
    const char* key = f.find("dtype") ? "dtype" : "torch_dtype";
    HEARTH_TRY_ASSIGN(auto name, f.optString(key));
    if (!name)
        return DType::F32;
    if (*name == "bfloat16")
        return DType::BF16;
    if (*name == "float16")
        return DType::F16;
    if (*name == "float32")
        return DType::F32;
    return f.error(ErrorCode::Unsupported, key,
                   "names dtype " + quotedValue(*name) + " (supported: bfloat16, float16, float32)");
}

Status readShapes(const Fields& f, ModelConfig& c)
{
    HEARTH_TRY_ASSIGN(c.hiddenSize, f.size("hidden_size", kMaxHidden));
    HEARTH_TRY_ASSIGN(c.nLayers, f.size("num_hidden_layers", kMaxLayers));
    HEARTH_TRY_ASSIGN(c.nHeads, f.size("num_attention_heads", kMaxHeads));
    HEARTH_TRY_ASSIGN(c.nKvHeads, f.size("num_key_value_heads", kMaxHeads, c.nHeads));
    if (c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads != 0)
        return f.error(ErrorCode::Corrupt, "num_key_value_heads",
                       "(" + std::to_string(c.nKvHeads) + ") must divide num_attention_heads (" +
                           std::to_string(c.nHeads) + ")");
    if (!f.find("head_dim") && c.hiddenSize % c.nHeads != 0)
        return f.error(ErrorCode::Corrupt, "head_dim",
                       "is missing and hidden_size (" + std::to_string(c.hiddenSize) +
                           ") is not a multiple of num_attention_heads (" + std::to_string(c.nHeads) + ")");
    HEARTH_TRY_ASSIGN(c.headDim, f.size("head_dim", kMaxHeadDim, c.hiddenSize / c.nHeads));
    if (c.headDim % 2 != 0)
        return f.error(ErrorCode::Corrupt, "head_dim", "must be even for rotary embeddings, got " +
                                                           std::to_string(c.headDim));
    if (c.headDim * c.nHeads > kMaxProjection)
        return f.error(ErrorCode::Corrupt, "head_dim",
                       "times num_attention_heads is implausibly large (" + std::to_string(c.headDim * c.nHeads) + ")");
    HEARTH_TRY_ASSIGN(c.intermediateSize, f.size("intermediate_size", kMaxProjection));
    HEARTH_TRY_ASSIGN(c.vocabSize, f.size("vocab_size", kMaxVocab));
    HEARTH_TRY_ASSIGN(c.maxPositions, f.size("max_position_embeddings", kMaxPositions, 2048));
    return Status::ok();
}

}  // namespace

const char* modelArchName(ModelArch arch)
{
    switch (arch) {
    case ModelArch::Qwen2: return "qwen2";
    case ModelArch::Qwen3: return "qwen3";
    case ModelArch::Llama: return "llama";
    case ModelArch::Mistral: return "mistral";
    }
    return "unknown";
}

std::int64_t ModelConfig::parameterCount() const
{
    const std::int64_t qDim = nHeads * headDim;
    const std::int64_t kvDim = nKvHeads * headDim;
    std::int64_t attn = hiddenSize * qDim + 2 * hiddenSize * kvDim + qDim * hiddenSize;
    if (attentionBias)
        attn += qDim + 2 * kvDim;
    // Qwen2 puts bias on q/k/v only; Llama and Qwen3's attention_bias also covers o_proj.
    if (attentionBias && arch != ModelArch::Qwen2)
        attn += hiddenSize;
    if (qkNorm)
        attn += 2 * headDim;
    std::int64_t mlp = 3 * hiddenSize * intermediateSize;
    if (mlpBias)
        mlp += 2 * intermediateSize + hiddenSize;
    const std::int64_t perLayer = attn + mlp + 2 * hiddenSize;
    const std::int64_t embed = vocabSize * hiddenSize;
    return embed + nLayers * perLayer + hiddenSize + (tieWordEmbeddings ? 0 : embed);
}

std::int64_t ModelConfig::kvBytesPerToken(int bytesPerElement) const
{
    return 2 * nLayers * nKvHeads * headDim * bytesPerElement;
}

Result<ModelConfig> parseModelConfig(std::string_view json, std::string_view sourceName)
{
    const std::string source(sourceName);
    HEARTH_TRY_ASSIGN(const Json j, parseObject(json, sourceName));
    const Fields f(j, source);
    ModelConfig c;
    HEARTH_TRY_ASSIGN(c.arch, readArch(f, c));
    HEARTH_TRY_STATUS(readShapes(f, c));
    HEARTH_TRY_ASSIGN(c.rmsNormEps, f.positive("rms_norm_eps", 1e-6));
    HEARTH_TRY_ASSIGN(c.ropeTheta, f.positive("rope_theta", 10000.0));
    if (const Json* params = f.find("rope_parameters")) {
        if (!params->is_object())
            return f.wrongType("rope_parameters", "an object", *params);
        HEARTH_TRY_STATUS(readRope(*params, source, "rope_parameters", c));
    } else if (const Json* scaling = f.find("rope_scaling")) {
        if (!scaling->is_object())
            return f.wrongType("rope_scaling", "an object", *scaling);
        HEARTH_TRY_STATUS(readRope(*scaling, source, "rope_scaling", c));
    }
    HEARTH_TRY_ASSIGN(auto tied, f.optBool("tie_word_embeddings"));
    c.tieWordEmbeddings = tied.value_or(false);
    HEARTH_TRY_ASSIGN(auto attnBias, f.optBool("attention_bias"));
    HEARTH_TRY_ASSIGN(auto mlpBias, f.optBool("mlp_bias"));
    c.attentionBias = c.arch == ModelArch::Qwen2 || (attnBias.value_or(false) && c.arch != ModelArch::Mistral);
    c.mlpBias = c.arch == ModelArch::Llama && mlpBias.value_or(false);
    c.qkNorm = c.arch == ModelArch::Qwen3;

    // Qwen gates sliding_window with use_sliding_window; Mistral has no switch, so a non-null
    // sliding_window is in force (v0.1 used 4096, v0.3 writes null).
    HEARTH_TRY_ASSIGN(auto useSliding, f.optBool("use_sliding_window"));
    const bool slidingApplies = useSliding ? *useSliding : c.arch == ModelArch::Mistral;
    if (slidingApplies && f.find("sliding_window")) {
        HEARTH_TRY_ASSIGN(c.slidingWindow, f.size("sliding_window", kMaxPositions));
    }
    HEARTH_TRY_ASSIGN(c.dtype, readDType(f));
    HEARTH_TRY_ASSIGN(c.bosTokenId, f.optTokenId("bos_token_id"));
    HEARTH_TRY_ASSIGN(c.eosTokenIds, f.tokenIds("eos_token_id"));
    HEARTH_TRY_ASSIGN(c.padTokenId, f.optTokenId("pad_token_id"));
    HEARTH_TRY_ASSIGN(auto act, f.optString("hidden_act"));
    c.hiddenAct = act.value_or("silu");
    return c;
}

Result<GenerationDefaults> parseGenerationConfig(std::string_view json, std::string_view sourceName)
{
    HEARTH_TRY_ASSIGN(const Json j, parseObject(json, sourceName));
    const Fields f(j, std::string(sourceName));
    GenerationDefaults g;
    HEARTH_TRY_ASSIGN(g.doSample, f.optBool("do_sample"));
    HEARTH_TRY_ASSIGN(g.temperature, f.optNumber("temperature"));
    if (g.temperature && *g.temperature < 0)
        return f.error(ErrorCode::Corrupt, "temperature", "must not be negative");
    HEARTH_TRY_ASSIGN(g.topP, f.optNumber("top_p"));
    if (g.topP && (*g.topP < 0 || *g.topP > 1))
        return f.error(ErrorCode::Corrupt, "top_p", "must be between 0 and 1");
    HEARTH_TRY_ASSIGN(g.topK, f.optInt("top_k"));
    if (g.topK && *g.topK < 0)
        g.topK.reset();  // -1 is a common spelling of "no top-k"
    HEARTH_TRY_ASSIGN(g.minP, f.optNumber("min_p"));
    if (g.minP && (*g.minP < 0 || *g.minP > 1))
        return f.error(ErrorCode::Corrupt, "min_p", "must be between 0 and 1");
    HEARTH_TRY_ASSIGN(g.repetitionPenalty, f.optNumber("repetition_penalty"));
    if (g.repetitionPenalty && *g.repetitionPenalty <= 0)
        return f.error(ErrorCode::Corrupt, "repetition_penalty", "must be positive");
    HEARTH_TRY_ASSIGN(g.maxNewTokens, f.optInt("max_new_tokens"));
    if (g.maxNewTokens && *g.maxNewTokens < 0)
        return f.error(ErrorCode::Corrupt, "max_new_tokens", "must not be negative");
    HEARTH_TRY_ASSIGN(g.eosTokenIds, f.tokenIds("eos_token_id"));
    HEARTH_TRY_ASSIGN(g.bosTokenId, f.optTokenId("bos_token_id"));
    HEARTH_TRY_ASSIGN(g.padTokenId, f.optTokenId("pad_token_id"));
    return g;
}

Result<ModelConfig> loadModelConfig(const std::string& dir)
{
    const std::filesystem::path root(dir);
    const std::string configPath = (root / "config.json").string();
    HEARTH_TRY_ASSIGN(const std::string text, readTextFile(configPath, 16u << 20));
    HEARTH_TRY_ASSIGN(ModelConfig c, parseModelConfig(text, configPath));

    const std::string genPath = (root / "generation_config.json").string();
    std::error_code ec;
    if (!std::filesystem::exists(genPath, ec))
        return c;
    HEARTH_TRY_ASSIGN(const std::string genText, readTextFile(genPath, 16u << 20));
    HEARTH_TRY_ASSIGN(c.generation, parseGenerationConfig(genText, genPath));
    for (std::int32_t id : c.generation.eosTokenIds)
        if (std::find(c.eosTokenIds.begin(), c.eosTokenIds.end(), id) == c.eosTokenIds.end())
            c.eosTokenIds.push_back(id);
    if (!c.bosTokenId)
        c.bosTokenId = c.generation.bosTokenId;
    if (!c.padTokenId)
        c.padTokenId = c.generation.padTokenId;
    return c;
}

}  // namespace hearth
