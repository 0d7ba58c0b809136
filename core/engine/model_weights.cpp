#include "engine/model_weights.h"

#include <filesystem>

#include "model/safetensors.h"

namespace hearth {

const char* linearModuleName(LinearKind kind)
{
    switch (kind) {
    case LinearKind::Q: return "q_proj";
    case LinearKind::K: return "k_proj";
    case LinearKind::V: return "v_proj";
    case LinearKind::O: return "o_proj";
    case LinearKind::Gate: return "gate_proj";
    case LinearKind::Up: return "up_proj";
    case LinearKind::Down: return "down_proj";
    }
    return "?";
}

namespace {

// Looks up tensors and turns every problem into an error that names the file and the tensor.
class TensorBinder {
public:
    TensorBinder(const TensorLookup& lookup, std::string missingWhere)
        : m_lookup(lookup), m_missingWhere(std::move(missingWhere))
    {
    }

    Result<WeightTensor> bind(const std::string& name, std::vector<std::int64_t> expected) const
    {
        const std::optional<NamedTensor> info = m_lookup(name);
        if (!info)
            return makeError(ErrorCode::NotFound, m_missingWhere + ": tensor '" + name + "' is missing");
        if (info->shape != expected)
            return makeError(ErrorCode::Corrupt, info->fileName + ": tensor '" + name + "' has shape " +
                                                     shapeText(info->shape) + ", expected " + shapeText(expected));
        if (info->dtype != DType::F32 && info->dtype != DType::F16 && info->dtype != DType::BF16)
            return makeError(ErrorCode::Unsupported, info->fileName + ": tensor '" + name + "' has dtype " +
                                                         std::string(dtypeName(info->dtype)) +
                                                         "; the engine reads F32, F16 and BF16");
        WeightTensor t;
        t.data = info->data;
        t.dtype = info->dtype;
        t.rows = expected.size() == 2 ? expected[0] : 1;
        t.cols = expected.back();
        return t;
    }

private:
    const TensorLookup& m_lookup;
    std::string m_missingWhere;
};

// The file a tensor of `model` lives in, or for a missing tensor the model's file (the folder's
// set when sharded: a missing tensor belongs to no file).
std::string safetensorsFileOf(const SafetensorsModel& model, const TensorInfo* info)
{
    const auto& files = model.files();
    if (files.empty())
        return "safetensors";
    const std::size_t index = info ? static_cast<std::size_t>(info->fileIndex) : 0;
    if (!info && files.size() > 1)
        return std::filesystem::path(files[0]).parent_path().filename().string() + " (sharded safetensors)";
    return std::filesystem::path(files[index < files.size() ? index : 0]).filename().string();
}

Status checkConfig(const ModelConfig& c)
{
    if (c.hiddenSize <= 0 || c.nLayers <= 0 || c.nHeads <= 0 || c.nKvHeads <= 0 || c.headDim <= 0 ||
        c.intermediateSize <= 0 || c.vocabSize <= 0)
        return makeError(ErrorCode::Corrupt, "config.json: sizes must be positive (hidden_size, num_hidden_layers, "
                                             "heads, head_dim, intermediate_size, vocab_size)");
    if (c.nHeads % c.nKvHeads != 0)
        return makeError(ErrorCode::Corrupt, "config.json: num_attention_heads (" + std::to_string(c.nHeads) +
                                                 ") is not a multiple of num_key_value_heads (" +
                                                 std::to_string(c.nKvHeads) + ")");
    if (c.headDim % 2 != 0)
        return makeError(ErrorCode::Unsupported, "config.json: head_dim " + std::to_string(c.headDim) +
                                                     " is odd; rotary embeddings need an even head_dim");
    if (c.mlpBias)
        return makeError(ErrorCode::Unsupported, "config.json: mlp_bias is not supported yet");
    if (c.hiddenAct != "silu")
        return makeError(ErrorCode::Unsupported, "config.json: hidden_act '" + c.hiddenAct + "' is not supported (silu only)");
    return Status::ok();
}

}  // namespace

Result<std::shared_ptr<const ModelWeights>> ModelWeights::load(const std::string& dir)
{
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(dir));
    HEARTH_TRY_ASSIGN(SafetensorsModel model, SafetensorsModel::open(dir));
    return fromSafetensors(config, std::make_shared<const SafetensorsModel>(std::move(model)));
}

Result<std::shared_ptr<const ModelWeights>> ModelWeights::fromSafetensors(const ModelConfig& config,
                                                                          std::shared_ptr<const SafetensorsModel> model)
{
    HEARTH_TRY_STATUS(checkConfig(config));
    auto w = std::make_shared<ModelWeights>();
    w->m_config = config;
    w->m_file = model;
    const TensorLookup lookup = [&model](const std::string& name) -> std::optional<NamedTensor> {
        const TensorInfo* info = model->find(name);
        if (!info)
            return std::nullopt;
        return NamedTensor{model->data(*info).data(), info->dtype, info->shape, safetensorsFileOf(*model, info)};
    };
    HEARTH_TRY_STATUS(w->bindTensors(lookup, safetensorsFileOf(*model, nullptr)));
    return std::shared_ptr<const ModelWeights>(std::move(w));
}

Result<std::shared_ptr<const ModelWeights>> ModelWeights::fromHostTensors(const ModelConfig& config,
                                                                          const TensorLookup& lookup,
                                                                          std::shared_ptr<const void> keepAlive,
                                                                          const std::string& missingWhere)
{
    HEARTH_TRY_STATUS(checkConfig(config));
    auto w = std::make_shared<ModelWeights>();
    w->m_config = config;
    w->m_keepAlive = std::move(keepAlive);
    HEARTH_TRY_STATUS(w->bindTensors(lookup, missingWhere));
    return std::shared_ptr<const ModelWeights>(std::move(w));
}

Result<std::shared_ptr<const ModelWeights>> ModelWeights::describingDeviceTensors(const ModelConfig& config,
                                                                                  const TensorLookup& lookup,
                                                                                  const std::string& missingWhere)
{
    HEARTH_TRY_STATUS(checkConfig(config));
    auto w = std::make_shared<ModelWeights>();
    w->m_config = config;
    w->m_deviceResident = true;
    HEARTH_TRY_STATUS(w->bindTensors(lookup, missingWhere));
    return std::shared_ptr<const ModelWeights>(std::move(w));
}

Status ModelWeights::bindTensors(const TensorLookup& lookup, const std::string& missingWhere)
{
    const TensorBinder binder(lookup, missingWhere);
    const ModelConfig& config = m_config;
    auto* w = this;
    const std::int64_t hidden = config.hiddenSize;
    const std::int64_t qDim = config.nHeads * config.headDim;
    const std::int64_t kvDim = config.nKvHeads * config.headDim;
    const std::int64_t ffn = config.intermediateSize;

    HEARTH_TRY_ASSIGN(w->m_embedding, binder.bind("model.embed_tokens.weight", {config.vocabSize, hidden}));
    HEARTH_TRY_ASSIGN(w->m_finalNorm, binder.bind("model.norm.weight", {hidden}));
    if (config.tieWordEmbeddings) {
        w->m_lmHead = w->m_embedding;
    } else {
        HEARTH_TRY_ASSIGN(w->m_lmHead, binder.bind("lm_head.weight", {config.vocabSize, hidden}));
    }
    for (std::int64_t i = 0; i < config.nLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        LlamaLayerWeights L;
        HEARTH_TRY_ASSIGN(L.attnNorm, binder.bind(p + "input_layernorm.weight", {hidden}));
        HEARTH_TRY_ASSIGN(L.mlpNorm, binder.bind(p + "post_attention_layernorm.weight", {hidden}));
        const std::int64_t outs[kLinearKindCount] = {qDim, kvDim, kvDim, hidden, ffn, ffn, hidden};
        const std::int64_t ins[kLinearKindCount] = {hidden, hidden, hidden, qDim, hidden, hidden, ffn};
        for (int k = 0; k < kLinearKindCount; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            const std::string block = k <= static_cast<int>(LinearKind::O) ? "self_attn." : "mlp.";
            HEARTH_TRY_ASSIGN(L.linear[k], binder.bind(p + block + linearModuleName(kind) + ".weight", {outs[k], ins[k]}));
        }
        if (config.attentionBias) {
            HEARTH_TRY_ASSIGN(L.qBias, binder.bind(p + "self_attn.q_proj.bias", {qDim}));
            HEARTH_TRY_ASSIGN(L.kBias, binder.bind(p + "self_attn.k_proj.bias", {kvDim}));
            HEARTH_TRY_ASSIGN(L.vBias, binder.bind(p + "self_attn.v_proj.bias", {kvDim}));
        }
        if (config.qkNorm) {
            HEARTH_TRY_ASSIGN(L.qNorm, binder.bind(p + "self_attn.q_norm.weight", {config.headDim}));
            HEARTH_TRY_ASSIGN(L.kNorm, binder.bind(p + "self_attn.k_norm.weight", {config.headDim}));
        }
        w->m_layers.push_back(L);
    }
    return Status::ok();
}

std::shared_ptr<ModelWeights> ModelWeights::clone() const
{
    return std::make_shared<ModelWeights>(*this);
}

void ModelWeights::replaceProjection(std::size_t layer, LinearKind kind, std::vector<float> values)
{
    WeightTensor& t = m_layers.at(layer).linear[static_cast<int>(kind)];
    auto owned = std::make_shared<const std::vector<float>>(std::move(values));
    t.data = owned->data();
    t.dtype = DType::F32;
    m_owned.push_back(std::move(owned));
}

}  // namespace hearth
