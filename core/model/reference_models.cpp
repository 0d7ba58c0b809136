// C++ implementation of gen_reference_models.py (tests/fixtures/reference-models/README.md).
// The bytes must match the Python script exactly, so the arithmetic mirrors numpy's: the uniform
// value is computed in float64 and rounded to float32 once; every scale is a float64 constant
// rounded to float32 and applied with one float32 multiply (numpy's "python scalar times float32
// array" rule), and norms add 1 in float32 after that multiply.
#include "model/reference_models.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>

#include "model/safetensors.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace hearth {

namespace {

struct ModelSpec {
    const char* name;
    std::int64_t vocab, hidden, nHeads, nKvHeads, intermediate, nLayers;
    bool tied;
    std::uint64_t seedBase;
    double ropeTheta;
};

constexpr ModelSpec kModels[] = {
    {kReferenceModelD64, 151936, 256, 4, 2, 512, 2, false, 2000, 1000000.0},
    {kReferenceModelD128, 151936, 256, 2, 1, 640, 2, true, 3000, 10000.0},
};

struct LoraSpec {
    const ModelSpec& base;
    std::int64_t rank;
    std::int64_t alpha;
    std::uint64_t seedBase;
};
constexpr LoraSpec kLora{kModels[0], 16, 32, 7000};
constexpr const char* kLoraModules[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

struct LinearDims {
    const char* block;  // "self_attn" or "mlp"
    std::int64_t inFeatures;
    std::int64_t outFeatures;
};

LinearDims linearDims(const ModelSpec& m, std::string_view module)
{
    const std::int64_t headDim = m.hidden / m.nHeads;
    if (module == "q_proj")
        return {"self_attn", m.hidden, m.nHeads * headDim};
    if (module == "k_proj" || module == "v_proj")
        return {"self_attn", m.hidden, m.nKvHeads * headDim};
    if (module == "o_proj")
        return {"self_attn", m.nHeads * headDim, m.hidden};
    if (module == "down_proj")
        return {"mlp", m.intermediate, m.hidden};
    return {"mlp", m.hidden, m.intermediate};  // gate_proj, up_proj
}

std::uint16_t bf16Bits(float f)
{
    std::uint32_t b = 0;
    std::memcpy(&b, &f, sizeof b);
    return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

// `volatile` keeps the compiler from fusing the multiply and the add into one FMA (it may on
// targets with FMA), which would round once where numpy rounds twice.
float mulThenRound(float a, float b)
{
    volatile float p = a * b;
    return p;
}

enum class Fill { Norm, Bias, Weight };

struct OwnedTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<std::uint16_t> bits;  // bf16, row-major
};

// bf16 bits of `scale` * u(seed, 1..n), plus 1 for norms.
std::vector<std::uint16_t> fillBf16(std::uint64_t seed, std::size_t n, float scale, bool addOne)
{
    const std::vector<float> u = referenceUniform(seed, n);
    std::vector<std::uint16_t> bits(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float v = addOne ? 1.0f + mulThenRound(scale, u[i]) : scale * u[i];
        bits[i] = bf16Bits(v);
    }
    return bits;
}

std::int64_t product(const std::vector<std::int64_t>& shape)
{
    std::int64_t n = 1;
    for (std::int64_t d : shape)
        n *= d;
    return n;
}

std::vector<OwnedTensor> modelTensors(const ModelSpec& m)
{
    std::map<std::string, std::vector<std::int64_t>> shapes;  // sorted by name, as Python's sorted()
    shapes["model.embed_tokens.weight"] = {m.vocab, m.hidden};
    shapes["model.norm.weight"] = {m.hidden};
    if (!m.tied)
        shapes["lm_head.weight"] = {m.vocab, m.hidden};
    for (std::int64_t i = 0; i < m.nLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        shapes[p + "input_layernorm.weight"] = {m.hidden};
        shapes[p + "post_attention_layernorm.weight"] = {m.hidden};
        for (const char* module : kLoraModules) {
            const LinearDims d = linearDims(m, module);
            const std::string prefix = p + d.block + "." + module + ".";
            shapes[prefix + "weight"] = {d.outFeatures, d.inFeatures};
            if (std::string_view(module) == "q_proj" || std::string_view(module) == "k_proj" ||
                std::string_view(module) == "v_proj")
                shapes[prefix + "bias"] = {d.outFeatures};
        }
    }
    const double s3 = std::pow(3.0, 0.5);
    std::vector<OwnedTensor> out;
    std::uint64_t t = 0;
    for (const auto& [name, shape] : shapes) {
        const std::size_t n = static_cast<std::size_t>(product(shape));
        const std::uint64_t seed = m.seedBase + t++;
        std::vector<std::uint16_t> bits;
        if (name.find("norm") != std::string::npos)
            bits = fillBf16(seed, n, static_cast<float>(0.1 * s3), true);
        else if (name.ends_with("bias"))
            bits = fillBf16(seed, n, static_cast<float>(0.1 * s3), false);
        else
            bits = fillBf16(seed, n, static_cast<float>(0.08 * s3), false);
        out.push_back({name, shape, std::move(bits)});
    }
    return out;
}

// In the order layer, module, A then B (insertion order, not sorted), with consecutive seeds.
std::vector<OwnedTensor> loraTensors(const LoraSpec& lora)
{
    const double s3 = std::pow(3.0, 0.5);
    std::vector<OwnedTensor> out;
    std::uint64_t seed = lora.seedBase;
    for (std::int64_t i = 0; i < lora.base.nLayers; ++i) {
        for (const char* module : kLoraModules) {
            const LinearDims d = linearDims(lora.base, module);
            const std::string p = "base_model.model.model.layers." + std::to_string(i) + "." + d.block + "." + module + ".";
            const float scaleA = static_cast<float>(s3 / std::pow(static_cast<double>(d.inFeatures), 0.5));
            out.push_back({p + "lora_A.weight", {lora.rank, d.inFeatures},
                           fillBf16(seed++, static_cast<std::size_t>(lora.rank * d.inFeatures), scaleA, false)});
            out.push_back({p + "lora_B.weight", {d.outFeatures, lora.rank},
                           fillBf16(seed++, static_cast<std::size_t>(d.outFeatures * lora.rank),
                                    static_cast<float>(0.05 * s3), false)});
        }
    }
    return out;
}

Status writeTensors(const std::string& path, const std::vector<OwnedTensor>& owned)
{
    std::vector<TensorToWrite> tensors;
    tensors.reserve(owned.size());
    for (const OwnedTensor& t : owned)
        tensors.push_back({t.name, DType::BF16, t.shape,
                           std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(t.bits.data()),
                                                         t.bits.size() * sizeof(std::uint16_t))});
    return writeSafetensors(path, tensors);
}

nlohmann::ordered_json modelConfigJson(const ModelSpec& m)
{
    return {{"architectures", {"Qwen2ForCausalLM"}},
            {"model_type", "qwen2"},
            {"vocab_size", m.vocab},
            {"hidden_size", m.hidden},
            {"intermediate_size", m.intermediate},
            {"num_hidden_layers", m.nLayers},
            {"num_attention_heads", m.nHeads},
            {"num_key_value_heads", m.nKvHeads},
            {"max_position_embeddings", 32768},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", m.ropeTheta},
            {"tie_word_embeddings", m.tied},
            {"bos_token_id", 151643},
            {"eos_token_id", 151645},
            {"hidden_act", "silu"},
            {"torch_dtype", "bfloat16"},
            {"use_sliding_window", false}};
}

nlohmann::ordered_json adapterConfigJson(const LoraSpec& lora)
{
    nlohmann::ordered_json modules = nlohmann::ordered_json::array();
    for (const char* module : kLoraModules)
        modules.push_back(module);
    return {{"peft_type", "LORA"},
            {"r", lora.rank},
            {"lora_alpha", lora.alpha},
            {"target_modules", modules},
            {"lora_dropout", 0.0},
            {"bias", "none"},
            {"fan_in_fan_out", false},
            {"use_rslora", false},
            {"use_dora", false},
            {"base_model_name_or_path", lora.base.name},
            {"task_type", "CAUSAL_LM"},
            {"inference_mode", true}};
}

Status copyFile(const std::string& from, const std::string& to)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(from, ec))
        return makeError(ErrorCode::NotFound, "reference models: tokenizer file " + from + " does not exist");
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec)
        return makeError(ErrorCode::Io, "reference models: cannot copy " + from + " to " + to + ": " + ec.message());
    return Status::ok();
}

}  // namespace

std::vector<float> referenceUniform(std::uint64_t seed, std::size_t n)
{
    constexpr std::uint64_t kGold = 0x9E3779B97F4A7C15ull;
    constexpr std::uint64_t kM1 = 0xBF58476D1CE4E5B9ull;
    constexpr std::uint64_t kM2 = 0x94D049BB133111EBull;
    const std::uint64_t offset = seed * 0x100000001B3ull;  // mod 2^64, as the script masks it
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t x = static_cast<std::uint64_t>(i + 1) * kGold + offset;
        x = (x ^ (x >> 30)) * kM1;
        x = (x ^ (x >> 27)) * kM2;
        x = x ^ (x >> 31);
        const double u = static_cast<double>(x >> 11) * 0x1p-53 * 2.0 - 1.0;
        out[i] = static_cast<float>(u);
    }
    return out;
}

Status writeReferenceModels(const std::string& outDir, const std::string& tokenizerDir)
{
    const std::filesystem::path root(outDir);
    // Check the tokenizer before writing ~250 MB of weights that would be left without it.
    for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
        std::error_code ec;
        const std::string path = (std::filesystem::path(tokenizerDir) / file).string();
        if (!std::filesystem::is_regular_file(path, ec))
            return makeError(ErrorCode::NotFound, "reference models: tokenizer file " + path + " does not exist");
    }
    for (const ModelSpec& m : kModels) {
        const std::string dir = (root / m.name).string();
        HEARTH_TRY_STATUS(makeDirs(dir));
        HEARTH_TRY_STATUS(writeFileAtomically(dir + "/config.json", modelConfigJson(m).dump(2) + "\n"));
        HEARTH_TRY_STATUS(writeTensors(dir + "/model.safetensors", modelTensors(m)));
        for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
            HEARTH_TRY_STATUS(copyFile((std::filesystem::path(tokenizerDir) / file).string(), dir + "/" + file));
    }
    const std::string loraDir = (root / kReferenceLoraD64).string();
    HEARTH_TRY_STATUS(makeDirs(loraDir));
    HEARTH_TRY_STATUS(writeFileAtomically(loraDir + "/adapter_config.json", adapterConfigJson(kLora).dump(2) + "\n"));
    HEARTH_TRY_STATUS(writeTensors(loraDir + "/adapter_model.safetensors", loraTensors(kLora)));
    return Status::ok();
}

}  // namespace hearth
