// `hearth-cli bench-cpu`: CPU decode speed on a generated Qwen2.5-0.5B-shaped model (random bf16
// weights from the reference generator's formula; hidden 896, 24 layers, 14/2 heads, ffn 4864,
// vocab 151936, tied), next to the machine's measured memory bandwidth: batch-1 decode reads every
// weight once per token, so bandwidth / weight bytes is the bound the CPU backend is held to.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <string>

#include "cli/bandwidth.h"
#include "cli/commands.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/score.h"
#include "model/reference_models.h"
#include "model/safetensors.h"
#include "util/mapped_file.h"
#include "util/paths.h"
#include "util/thread_pool.h"

namespace hearth::cli {

namespace {

constexpr std::int64_t kVocab = 151936, kHidden = 896, kLayers = 24, kHeads = 14, kKvHeads = 2, kFfn = 4864;

std::uint16_t toBf16(float f)
{
    std::uint32_t b = 0;
    std::memcpy(&b, &f, sizeof b);
    return static_cast<std::uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

// Same value formula as the reference models (scale * uniform, norms 1 + scale * uniform).
Status writeBenchModel(const std::string& dir)
{
    HEARTH_TRY_STATUS(makeDirs(dir));
    const std::int64_t headDim = kHidden / kHeads;
    std::map<std::string, std::vector<std::int64_t>> shapes;
    shapes["model.embed_tokens.weight"] = {kVocab, kHidden};
    shapes["model.norm.weight"] = {kHidden};
    for (std::int64_t i = 0; i < kLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        shapes[p + "input_layernorm.weight"] = {kHidden};
        shapes[p + "post_attention_layernorm.weight"] = {kHidden};
        shapes[p + "self_attn.q_proj.weight"] = {kHeads * headDim, kHidden};
        shapes[p + "self_attn.q_proj.bias"] = {kHeads * headDim};
        shapes[p + "self_attn.k_proj.weight"] = {kKvHeads * headDim, kHidden};
        shapes[p + "self_attn.k_proj.bias"] = {kKvHeads * headDim};
        shapes[p + "self_attn.v_proj.weight"] = {kKvHeads * headDim, kHidden};
        shapes[p + "self_attn.v_proj.bias"] = {kKvHeads * headDim};
        shapes[p + "self_attn.o_proj.weight"] = {kHidden, kHeads * headDim};
        shapes[p + "mlp.gate_proj.weight"] = {kFfn, kHidden};
        shapes[p + "mlp.up_proj.weight"] = {kFfn, kHidden};
        shapes[p + "mlp.down_proj.weight"] = {kHidden, kFfn};
    }
    const float s3 = std::sqrt(3.0f);
    std::vector<std::vector<std::uint16_t>> storage;
    std::vector<TensorToWrite> tensors;
    std::uint64_t seed = 9000;
    for (const auto& [name, shape] : shapes) {
        const auto n = static_cast<std::size_t>(std::accumulate(shape.begin(), shape.end(), std::int64_t(1), std::multiplies<>()));
        const bool norm = name.find("norm") != std::string::npos;
        const float scale = norm || name.ends_with("bias") ? 0.1f * s3 : 0.08f * s3;
        const std::vector<float> u = referenceUniform(seed++, n);
        std::vector<std::uint16_t> bits(n);
        for (std::size_t i = 0; i < n; ++i)
            bits[i] = toBf16(norm ? 1.0f + scale * u[i] : scale * u[i]);
        storage.push_back(std::move(bits));
        tensors.push_back({name, DType::BF16, shape,
                           {reinterpret_cast<const std::uint8_t*>(storage.back().data()), n * sizeof(std::uint16_t)}});
    }
    HEARTH_TRY_STATUS(writeSafetensors(dir + "/model.safetensors", tensors));
    const std::string config = R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936,
  "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
  "num_key_value_heads": 2, "max_position_embeddings": 32768, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16", "use_sliding_window": false}
)";
    return writeFileAtomically(dir + "/config.json", config);
}

struct Options {
    std::string dir;
    int tokens = 32;
    int promptTokens = 16;
    int threads = 0;
};

Status runBench(const Options& o)
{
    const std::string dir = o.dir.empty() ? cacheDir() + "/bench-qwen2-0.5b" : o.dir;
    std::error_code ec;
    if (!std::filesystem::exists(dir + "/model.safetensors", ec) || !std::filesystem::exists(dir + "/config.json", ec)) {
        std::fprintf(stderr, "generating the 0.5B bench model in %s ...\n", dir.c_str());
        HEARTH_TRY_STATUS(writeBenchModel(dir));
    }
    HEARTH_TRY_ASSIGN(std::shared_ptr<const ModelWeights> weights, ModelWeights::load(dir));
    CpuBackendOptions bo;
    bo.nThreads = o.threads;
    bo.kvBudgetBytes = 64ull << 20;
    HEARTH_TRY_ASSIGN(std::unique_ptr<CpuBackend> backend, CpuBackend::create(weights, bo));

    ThreadPool pool(o.threads);
    const double bandwidth = measureReadBandwidth(pool, std::size_t(1) << 30);

    // Bytes one decode step must read: every layer matrix plus the (tied) vocabulary projection.
    std::uint64_t weightBytes = 0;
    for (const LlamaLayerWeights& l : weights->layers())
        for (const WeightTensor& t : l.linear)
            weightBytes += static_cast<std::uint64_t>(t.rows * t.cols) * dtypeSize(t.dtype);
    const WeightTensor& head = weights->lmHead();
    weightBytes += static_cast<std::uint64_t>(head.rows * head.cols) * dtypeSize(head.dtype);

    BlockTable table;
    HEARTH_TRY_STATUS(backend->kvPool().reserve(table, o.promptTokens + o.tokens));
    const auto step = [&](std::vector<std::int32_t> ids, std::int32_t first) -> Result<std::int32_t> {
        SequenceStep s;
        s.positions.resize(ids.size());
        std::iota(s.positions.begin(), s.positions.end(), first);
        s.tokenIds = std::move(ids);
        s.blockTable = &table;
        BatchPlan plan;
        plan.sequences.push_back(std::move(s));
        HEARTH_TRY_ASSIGN(ForwardResult out, backend->forward(plan));
        return argmax(out.logits.data(), out.vocabSize);
    };
    std::vector<std::int32_t> prompt(static_cast<std::size_t>(o.promptTokens));
    std::iota(prompt.begin(), prompt.end(), 1000);
    const auto t0 = std::chrono::steady_clock::now();
    HEARTH_TRY_ASSIGN(std::int32_t next, step(prompt, 0));
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < o.tokens; ++i) {
        HEARTH_TRY_ASSIGN(next, step({next}, o.promptTokens + i));
    }
    const auto t2 = std::chrono::steady_clock::now();
    backend->kvPool().release(table);

    const double prefillS = std::chrono::duration<double>(t1 - t0).count();
    const double decodeS = std::chrono::duration<double>(t2 - t1).count();
    const double tokensPerS = o.tokens / decodeS;
    const double boundTokensPerS = bandwidth / static_cast<double>(weightBytes);
    std::printf("threads              %d\n", backend->nThreads());
    std::printf("read bandwidth       %.2f GB/s (best of 5 streaming reads of 1 GiB)\n", bandwidth / 1e9);
    std::printf("weights read/token   %.1f MB (bf16)\n", static_cast<double>(weightBytes) / 1e6);
    std::printf("bandwidth bound      %.2f tokens/s\n", boundTokensPerS);
    std::printf("prefill              %d tokens in %.2f s (%.1f tokens/s)\n", o.promptTokens, prefillS, o.promptTokens / prefillS);
    std::printf("decode               %d tokens in %.2f s: %.2f tokens/s (%.0f%% of the bound)\n", o.tokens, decodeS,
                tokensPerS, 100.0 * tokensPerS / boundTokensPerS);
    return Status::ok();
}

}  // namespace

void registerBenchCpuCommand(CLI::App& app, int& exitCode)
{
    auto* cmd = app.add_subcommand("bench-cpu", "CPU decode tokens/s on a generated Qwen2.5-0.5B-shaped model, next to memory bandwidth");
    auto opts = std::make_shared<Options>();
    cmd->add_option("--dir", opts->dir, "Where the generated model lives (default: the cache folder)");
    cmd->add_option("--tokens", opts->tokens, "Decode steps to time")->capture_default_str()->check(CLI::Range(1, 4096));
    cmd->add_option("--prompt", opts->promptTokens, "Prompt tokens prefilled first")->capture_default_str()->check(CLI::Range(1, 4096));
    cmd->add_option("--threads", opts->threads, "CPU threads (0: one per core)")->check(CLI::Range(0, 1024));
    cmd->callback([opts, &exitCode] {
        const Status s = runBench(*opts);
        if (!s) {
            std::fprintf(stderr, "hearth-cli bench-cpu: %s\n", s.error().toString().c_str());
            exitCode = 1;
            return;
        }
        exitCode = 0;
    });
}

}  // namespace hearth::cli
