#include "support/tiny_model.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <utility>
#include <vector>

#include "model/reference_models.h"
#include "model/safetensors.h"

namespace hearth::test {

Status writeTinyQwen2Model(const std::string& dir, const std::string& drop, const std::string& reshape)
{
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return makeError(ErrorCode::Io, "cannot create " + dir + ": " + ec.message());
    std::ofstream(dir + "/config.json") << R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "vocab_size": 64, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
        "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128,
        "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true, "torch_dtype": "float32"})";
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> shapes = {
        {"model.embed_tokens.weight", {64, 16}}, {"model.norm.weight", {16}}};
    for (int l = 0; l < 2; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        shapes.push_back({p + "input_layernorm.weight", {16}});
        shapes.push_back({p + "post_attention_layernorm.weight", {16}});
        shapes.push_back({p + "self_attn.q_proj.weight", {16, 16}});
        shapes.push_back({p + "self_attn.q_proj.bias", {16}});
        shapes.push_back({p + "self_attn.k_proj.weight", {8, 16}});
        shapes.push_back({p + "self_attn.k_proj.bias", {8}});
        shapes.push_back({p + "self_attn.v_proj.weight", {8, 16}});
        shapes.push_back({p + "self_attn.v_proj.bias", {8}});
        shapes.push_back({p + "self_attn.o_proj.weight", {16, 16}});
        shapes.push_back({p + "mlp.gate_proj.weight", {24, 16}});
        shapes.push_back({p + "mlp.up_proj.weight", {24, 16}});
        shapes.push_back({p + "mlp.down_proj.weight", {16, 24}});
    }
    std::vector<std::vector<float>> storage;
    std::vector<TensorToWrite> tensors;
    for (auto& [name, shape] : shapes) {
        if (name == drop)
            continue;
        if (name == reshape)
            shape[0] /= 2;
        const auto n = static_cast<std::size_t>(std::accumulate(shape.begin(), shape.end(), std::int64_t(1), std::multiplies<>()));
        storage.push_back(referenceUniform(storage.size() + 1, n));
        tensors.push_back({name, DType::F32, shape,
                           {reinterpret_cast<const std::uint8_t*>(storage.back().data()), n * sizeof(float)}});
    }
    return writeSafetensors(dir + "/model.safetensors", tensors);
}

}  // namespace hearth::test
