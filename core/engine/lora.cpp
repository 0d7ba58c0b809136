#include "engine/lora.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdlib>
#include <cmath>
#include <filesystem>

#include "engine/cpu/cpu_ops.h"
#include "model/safetensors.h"
#include "util/mapped_file.h"

namespace hearth {

namespace {

struct AdapterConfig {
    std::int64_t rank = 0;
    double alpha = 0.0;
    bool rsLora = false;
};

Result<AdapterConfig> parseAdapterConfig(const std::string& path)
{
    HEARTH_TRY_ASSIGN(std::string text, readTextFile(path));
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return makeError(ErrorCode::Corrupt, path + ": not a JSON object");
    const auto field = [&](const char* key) -> const nlohmann::json* {
        const auto it = j.find(key);
        return it == j.end() || it->is_null() ? nullptr : &*it;
    };
    if (const auto* type = field("peft_type"); type && (!type->is_string() || type->get<std::string>() != "LORA"))
        return makeError(ErrorCode::Unsupported, path + ": peft_type " + type->dump() + " is not LORA");
    AdapterConfig c;
    const auto* r = field("r");
    if (!r || !r->is_number_integer() || r->get<std::int64_t>() <= 0)
        return makeError(ErrorCode::Corrupt, path + ": 'r' must be a positive integer");
    c.rank = r->get<std::int64_t>();
    const auto* alpha = field("lora_alpha");
    if (alpha && !alpha->is_number())
        return makeError(ErrorCode::Corrupt, path + ": 'lora_alpha' must be a number");
    c.alpha = alpha ? alpha->get<double>() : 8.0;  // PEFT's default
    if (const auto* rs = field("use_rslora")) {
        if (!rs->is_boolean())
            return makeError(ErrorCode::Corrupt, path + ": 'use_rslora' must be true or false");
        c.rsLora = rs->get<bool>();
    }
    for (const char* key : {"use_dora", "fan_in_fan_out"}) {
        const auto* flag = field(key);
        if (flag && flag->is_boolean() && flag->get<bool>())
            return makeError(ErrorCode::Unsupported, path + ": '" + key + "' adapters are not supported");
    }
    if (const auto* pattern = field("rank_pattern"); pattern && pattern->is_object() && !pattern->empty())
        return makeError(ErrorCode::Unsupported, path + ": per-module ranks (rank_pattern) are not supported");
    if (const auto* pattern = field("alpha_pattern"); pattern && pattern->is_object() && !pattern->empty())
        return makeError(ErrorCode::Unsupported, path + ": per-module alphas (alpha_pattern) are not supported");
    return c;
}

struct ParsedName {
    std::size_t layer = 0;
    LinearKind kind = LinearKind::Q;
    bool isA = true;
};

// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight" (optionally with the
// adapter name, "lora_A.default.weight", as some tools save it).
std::optional<ParsedName> parseTensorName(std::string_view name)
{
    constexpr std::string_view prefix = "base_model.model.model.layers.";
    if (!name.starts_with(prefix))
        return std::nullopt;
    name.remove_prefix(prefix.size());
    ParsedName p;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), p.layer);
    if (ec != std::errc() || end == name.data())
        return std::nullopt;
    name.remove_prefix(static_cast<std::size_t>(end - name.data()));
    for (int k = 0; k < kLinearKindCount; ++k) {
        const auto kind = static_cast<LinearKind>(k);
        const std::string block = k <= static_cast<int>(LinearKind::O) ? ".self_attn." : ".mlp.";
        const std::string stem = block + linearModuleName(kind) + ".";
        if (!name.starts_with(stem))
            continue;
        const std::string_view rest = name.substr(stem.size());
        for (const bool isA : {true, false}) {
            const std::string tag = isA ? "lora_A." : "lora_B.";
            if (rest == tag + "weight" || rest == tag + "default.weight") {
                p.kind = kind;
                p.isA = isA;
                return p;
            }
        }
    }
    return std::nullopt;
}

}  // namespace

float LoraAdapter::scale() const
{
    const double r = static_cast<double>(m_rank);
    return static_cast<float>(m_rsLora ? m_alpha / std::sqrt(r) : m_alpha / r);
}

const LoraPair* LoraAdapter::find(std::size_t layer, LinearKind kind) const
{
    if (layer >= m_layers.size())
        return nullptr;
    const auto& slot = m_layers[layer][static_cast<int>(kind)];
    return slot ? &*slot : nullptr;
}

Result<std::shared_ptr<const LoraAdapter>> LoraAdapter::load(const std::string& dir, const ModelConfig& base)
{
    const std::string where = "LoRA adapter " + dir;
    HEARTH_TRY_ASSIGN(AdapterConfig config, parseAdapterConfig(dir + "/adapter_config.json"));
    const std::string file = dir + "/adapter_model.safetensors";
    auto opened = SafetensorsModel::open(file);
    if (!opened)
        return makeError(opened.error().code, where + ": " + opened.error().message);
    auto adapter = std::make_shared<LoraAdapter>();
    adapter->m_path = dir;
    adapter->m_rank = config.rank;
    adapter->m_alpha = config.alpha;
    adapter->m_rsLora = config.rsLora;
    adapter->m_file = std::make_shared<const SafetensorsModel>(std::move(*opened));
    adapter->m_layers.resize(static_cast<std::size_t>(base.nLayers));

    const std::int64_t hidden = base.hiddenSize;
    const std::int64_t qDim = base.nHeads * base.headDim;
    const std::int64_t kvDim = base.nKvHeads * base.headDim;
    const std::int64_t ffn = base.intermediateSize;
    const std::int64_t outs[kLinearKindCount] = {qDim, kvDim, kvDim, hidden, ffn, ffn, hidden};
    const std::int64_t ins[kLinearKindCount] = {hidden, hidden, hidden, qDim, hidden, hidden, ffn};
    std::vector<std::array<int, kLinearKindCount>> seen(adapter->m_layers.size());  // bit 1: A, bit 2: B

    const SafetensorsModel& st = *adapter->m_file;
    for (const TensorInfo& info : st.tensors()) {
        const std::string named = "adapter_model.safetensors: tensor '" + info.name + "'";
        const auto parsed = parseTensorName(info.name);
        if (!parsed)
            return makeError(ErrorCode::Unsupported, where + ": " + named +
                                                         " is not a LoRA A/B matrix of a Llama-family projection "
                                                         "(only q/k/v/o/gate/up/down adapters are supported)");
        if (parsed->layer >= adapter->m_layers.size())
            return makeError(ErrorCode::InvalidArgument, where + ": " + named + " adapts layer " +
                                                             std::to_string(parsed->layer) + ", but the base model has " +
                                                             std::to_string(base.nLayers) +
                                                             " layers; is this adapter for another base model?");
        const int k = static_cast<int>(parsed->kind);
        const std::vector<std::int64_t> expected =
            parsed->isA ? std::vector<std::int64_t>{config.rank, ins[k]} : std::vector<std::int64_t>{outs[k], config.rank};
        if (info.shape != expected)
            return makeError(ErrorCode::InvalidArgument, where + ": " + named + " has shape " + shapeText(info.shape) +
                                                             ", expected " + shapeText(expected) +
                                                             " for rank " + std::to_string(config.rank) +
                                                             " on this base model; is this adapter for another base model?");
        if (info.dtype != DType::F32 && info.dtype != DType::F16 && info.dtype != DType::BF16)
            return makeError(ErrorCode::Unsupported, where + ": " + named + " has dtype " +
                                                         std::string(dtypeName(info.dtype)) + "; F32, F16 or BF16 expected");
        auto& slot = adapter->m_layers[parsed->layer][static_cast<std::size_t>(k)];
        if (!slot)
            slot = LoraPair{};
        WeightTensor& t = parsed->isA ? slot->a : slot->b;
        t.data = st.data(info).data();
        t.dtype = info.dtype;
        t.rows = expected[0];
        t.cols = expected[1];
        seen[parsed->layer][static_cast<std::size_t>(k)] |= parsed->isA ? 1 : 2;
    }
    bool any = false;
    for (std::size_t layer = 0; layer < seen.size(); ++layer) {
        for (int k = 0; k < kLinearKindCount; ++k) {
            const int bits = seen[layer][static_cast<std::size_t>(k)];
            if (bits == 0)
                continue;
            any = true;
            if (bits != 3)
                return makeError(ErrorCode::Corrupt, where + ": layer " + std::to_string(layer) + " " +
                                                         linearModuleName(static_cast<LinearKind>(k)) + " has lora_" +
                                                         (bits == 1 ? "A but no lora_B" : "B but no lora_A"));
        }
    }
    if (!any)
        return makeError(ErrorCode::Corrupt, where + ": adapter_model.safetensors holds no LoRA tensors");
    return std::shared_ptr<const LoraAdapter>(std::move(adapter));
}

Result<std::shared_ptr<const ModelWeights>> mergeLora(const ModelWeights& base, const LoraAdapter& adapter, float userScale)
{
    if (base.deviceResident())
        return makeError(ErrorCode::InvalidArgument, "cannot merge a LoRA adapter into weights held in GPU memory");
    std::shared_ptr<ModelWeights> merged = base.clone();
    const float scale = adapter.scale() * userScale;
    const std::int64_t rank = adapter.rank();
    for (std::size_t layer = 0; layer < base.layers().size(); ++layer) {
        for (int k = 0; k < kLinearKindCount; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            const LoraPair* pair = adapter.find(layer, kind);
            if (!pair)
                continue;
            const WeightTensor& w = base.layers()[layer].proj(kind);
            if (pair->a.cols != w.cols || pair->b.rows != w.rows)
                return makeError(ErrorCode::InvalidArgument, "LoRA merge: " + adapter.path() +
                                                                 " does not fit the base model's " +
                                                                 linearModuleName(kind) + " in layer " + std::to_string(layer));
            std::vector<float> values(static_cast<std::size_t>(w.rows * w.cols));
            cpu::widen(w, 0, w.rows * w.cols, values.data());
            std::vector<float> a(static_cast<std::size_t>(rank * w.cols));
            std::vector<float> b(static_cast<std::size_t>(w.rows * rank));
            cpu::widen(pair->a, 0, rank * w.cols, a.data());
            cpu::widen(pair->b, 0, w.rows * rank, b.data());
            // W += (B @ A) * scale, as PEFT's merge does; the product is summed in double.
            for (std::int64_t o = 0; o < w.rows; ++o) {
                for (std::int64_t i = 0; i < w.cols; ++i) {
                    double delta = 0.0;
                    for (std::int64_t r = 0; r < rank; ++r)
                        delta += static_cast<double>(b[static_cast<std::size_t>(o * rank + r)]) *
                                 a[static_cast<std::size_t>(r * w.cols + i)];
                    values[static_cast<std::size_t>(o * w.cols + i)] += static_cast<float>(delta) * scale;
                }
            }
            merged->replaceProjection(layer, kind, std::move(values));
        }
    }
    return std::shared_ptr<const ModelWeights>(std::move(merged));
}

Result<std::pair<std::string, float>> parseLoraSpec(const std::string& spec)
{
    const std::size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon + 1 == spec.size())
        return std::pair<std::string, float>(spec, 1.0f);
    const std::string tail = spec.substr(colon + 1);
    char* end = nullptr;
    const float scale = std::strtof(tail.c_str(), &end);
    // A colon inside a path with no number after it is part of the path.
    if (end != tail.c_str() + tail.size())
        return std::pair<std::string, float>(spec, 1.0f);
    if (!std::isfinite(scale))
        return makeError(ErrorCode::InvalidArgument, "--lora " + spec + ": the scale must be a finite number");
    return std::pair<std::string, float>(spec.substr(0, colon), scale);
}

}  // namespace hearth
