#include "support/library_tree.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "model/gguf_writer.h"
#include "model/safetensors.h"
#include "util/paths.h"

namespace hearth::test {

namespace {

struct Tensor {
    std::string name;
    std::vector<std::int64_t> shape;
};

std::vector<Tensor> tinyTensors()
{
    std::vector<Tensor> t = {{"model.embed_tokens.weight", {32, 8}}};
    for (int l = 0; l < 2; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        t.push_back({p + "self_attn.q_proj.weight", {8, 8}});
        t.push_back({p + "self_attn.q_proj.bias", {8}});
        t.push_back({p + "self_attn.k_proj.weight", {4, 8}});
        t.push_back({p + "self_attn.k_proj.bias", {4}});
        t.push_back({p + "self_attn.v_proj.weight", {4, 8}});
        t.push_back({p + "self_attn.v_proj.bias", {4}});
        t.push_back({p + "self_attn.o_proj.weight", {8, 8}});
        t.push_back({p + "mlp.gate_proj.weight", {16, 8}});
        t.push_back({p + "mlp.up_proj.weight", {16, 8}});
        t.push_back({p + "mlp.down_proj.weight", {8, 16}});
        t.push_back({p + "input_layernorm.weight", {8}});
        t.push_back({p + "post_attention_layernorm.weight", {8}});
    }
    t.push_back({"model.norm.weight", {8}});
    t.push_back({"lm_head.weight", {32, 8}});
    return t;
}

std::string tinyConfig(const TinyFolderOptions& o)
{
    return std::string("{\n  \"architectures\": [\"") + o.architecture + "\"],\n  \"model_type\": \"" + o.modelType +
           "\",\n  \"hidden_size\": 8,\n  \"intermediate_size\": 16,\n  \"num_hidden_layers\": 2,\n"
           "  \"num_attention_heads\": 2,\n  \"num_key_value_heads\": 1,\n  \"vocab_size\": 32,\n"
           "  \"max_position_embeddings\": 128,\n  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": 10000.0,\n"
           "  \"tie_word_embeddings\": false,\n  \"torch_dtype\": \"bfloat16\",\n  \"bos_token_id\": 1,\n"
           "  \"eos_token_id\": 2\n}\n";
}

std::string f32Bytes(std::size_t n) { return std::string(n * 4, '\0'); }

}  // namespace

Status writeTextFile(const std::string& path, const std::string& contents)
{
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty())
        HEARTH_TRY_STATUS(makeDirs(parent.string()));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    out.close();
    if (!out)
        return makeError(ErrorCode::Io, "cannot write " + path);
    return Status::ok();
}

Status writeTinyFolderModel(const std::string& dir, const TinyFolderOptions& options)
{
    HEARTH_TRY_STATUS(makeDirs(dir));
    HEARTH_TRY_STATUS(writeTextFile(dir + "/config.json", tinyConfig(options)));
    if (options.tokenizer)
        HEARTH_TRY_STATUS(writeTextFile(dir + "/tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}\n"));

    const std::vector<Tensor> tensors = tinyTensors();
    std::vector<std::vector<std::uint8_t>> storage;
    storage.reserve(tensors.size());
    std::vector<std::vector<TensorToWrite>> shards(static_cast<std::size_t>(options.nShards));
    std::map<std::string, std::string> weightMap;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        std::int64_t n = 1;
        for (auto d : tensors[i].shape)
            n *= d;
        storage.emplace_back(static_cast<std::size_t>(n) * 2, std::uint8_t{0});
        const std::size_t shard = i * shards.size() / tensors.size();
        shards[shard].push_back({tensors[i].name, DType::BF16, tensors[i].shape, storage.back()});
        char name[64];
        std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", shard + 1, options.nShards);
        weightMap[tensors[i].name] = name;
    }
    if (options.nShards == 1)
        return writeSafetensors(dir + "/model.safetensors", shards[0]);

    std::string index = "{\"metadata\": {\"total_size\": " + std::to_string(kTinyFolderWeightBytes) +
                        "}, \"weight_map\": {";
    bool first = true;
    for (const auto& [tensor, file] : weightMap) {
        index += (first ? "\"" : ", \"") + tensor + "\": \"" + file + "\"";
        first = false;
    }
    index += "}}\n";
    HEARTH_TRY_STATUS(writeTextFile(dir + "/model.safetensors.index.json", index));
    for (std::size_t s = 0; s < shards.size(); ++s) {
        char name[64];
        std::snprintf(name, sizeof name, "/model-%05zu-of-%05d.safetensors", s + 1, options.nShards);
        HEARTH_TRY_STATUS(writeSafetensors(dir + name, shards[s]));
    }
    return Status::ok();
}

Status writeTinyGguf(const std::string& path, const TinyGgufOptions& options)
{
    const std::string a = options.architecture;
    GgufBuilder b;
    b.addString("general.architecture", a)
        .addString("general.name", "tiny")
        .addUint32(a + ".context_length", static_cast<std::uint32_t>(kTinyGgufContext))
        .addUint32(a + ".block_count", 2)
        .addUint32(a + ".embedding_length", 8)
        .addUint32(a + ".feed_forward_length", 16)
        .addUint32(a + ".attention.head_count", 2)
        .addUint32(a + ".attention.head_count_kv", 1);
    if (options.tokenizer) {
        std::vector<std::string> tokens;
        for (int i = 0; i < 32; ++i)
            tokens.push_back("t" + std::to_string(i));
        b.addString("tokenizer.ggml.model", "gpt2").add("tokenizer.ggml.tokens", ggufStringArray(tokens));
    }
    b.addFilledTensor("token_embd.weight", {8, 32}, 1)
        .addFilledTensor("blk.0.attn_q.weight", {8, 8}, 1)
        .addTensor("output_norm.weight", {8}, 0, f32Bytes(8));
    for (std::uint32_t i = 0; i < options.extraTensors; ++i)
        b.addTensor("extra." + std::to_string(i), {8}, 0, f32Bytes(8));
    HEARTH_TRY_ASSIGN(std::string bytes, b.serialize());
    return writeTextFile(path, bytes);
}

Status writeSplitGguf(const std::string& dir, const std::string& prefix, int nShards, const std::vector<int>& write)
{
    for (int shard : write) {
        GgufBuilder b;
        b.addUint32("split.no", static_cast<std::uint32_t>(shard - 1))
            .addUint32("split.count", static_cast<std::uint32_t>(nShards));
        if (shard == 1) {
            b.addString("general.architecture", "llama")
                .addUint32("llama.context_length", 2048)
                .addUint32("llama.block_count", 1)
                .addUint32("llama.embedding_length", 8)
                .addUint32("llama.attention.head_count", 2)
                .addFilledTensor("token_embd.weight", {8, 32}, 1);
        } else {
            b.addTensor("blk." + std::to_string(shard) + ".norm", {8}, 0, f32Bytes(8));
        }
        HEARTH_TRY_ASSIGN(std::string bytes, b.serialize());
        char name[64];
        std::snprintf(name, sizeof name, "-%05d-of-%05d.gguf", shard, nShards);
        HEARTH_TRY_STATUS(writeTextFile(dir + "/" + prefix + name, bytes));
    }
    return Status::ok();
}

}  // namespace hearth::test
