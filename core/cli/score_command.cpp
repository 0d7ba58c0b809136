// `hearth-cli score MODEL --ids 1,2,3`: the next-token top-k log-probabilities at every prompt
// position (log_softmax in double) and an optional greedy continuation, on the CPU backend. The
// scriptable form of the Hugging Face golden comparison; --json prints the golden.json shape.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/lora.h"
#include "engine/model_weights.h"
#include "engine/score.h"

namespace hearth::cli {

namespace {

Result<std::vector<std::int32_t>> parseIds(const std::string& text)
{
    std::vector<std::int32_t> ids;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        std::int32_t id = 0;
        const char* first = text.data() + start;
        const char* last = text.data() + comma;
        const auto [end, ec] = std::from_chars(first, last, id);
        if (ec != std::errc() || end != last || id < 0)
            return makeError(ErrorCode::InvalidArgument, "--ids: '" + std::string(first, last) +
                                                             "' is not a token id (expected comma-separated non-negative integers)");
        ids.push_back(id);
        start = comma + 1;
    }
    return ids;
}

struct Options {
    std::string model;
    std::string ids;
    std::string lora;
    int top = 10;
    int greedy = 0;
    int threads = 0;
    bool json = false;
    bool tokenByToken = false;
};

Status runScore(const Options& o)
{
    HEARTH_TRY_ASSIGN(std::vector<std::int32_t> ids, parseIds(o.ids));
    HEARTH_TRY_ASSIGN(std::shared_ptr<const ModelWeights> weights, ModelWeights::load(o.model));
    std::shared_ptr<const LoraAdapter> adapter;
    float adapterScale = 1.0f;
    if (!o.lora.empty()) {
        HEARTH_TRY_ASSIGN(auto spec, parseLoraSpec(o.lora));
        HEARTH_TRY_ASSIGN(adapter, LoraAdapter::load(spec.first, weights->config()));
        adapterScale = spec.second;
    }
    CpuBackendOptions bo;
    bo.nThreads = o.threads;
    bo.kvBudgetBytes = static_cast<std::uint64_t>(KvLayout::forModel(weights->config(), 4).bytesPerPage()) *
                       static_cast<std::uint64_t>((ids.size() + static_cast<std::size_t>(o.greedy)) / 16 + 2);
    HEARTH_TRY_ASSIGN(std::unique_ptr<CpuBackend> backend, CpuBackend::create(weights, bo));
    ScoreOptions so;
    so.topK = o.top;
    so.greedyTokens = o.greedy;
    so.tokenByToken = o.tokenByToken;
    so.adapter = adapter.get();
    so.adapterScale = adapterScale;
    HEARTH_TRY_ASSIGN(ScoreResult result, scoreSequence(*backend, ids, so));

    if (o.json) {
        nlohmann::json j;
        j["ids"] = ids;
        j["top_ids"] = nlohmann::json::array();
        j["top_logprobs"] = nlohmann::json::array();
        for (const TopLogprobs& p : result.positions) {
            j["top_ids"].push_back(p.ids);
            j["top_logprobs"].push_back(p.logprobs);
        }
        j["greedy"] = result.greedy;
        std::printf("%s\n", j.dump().c_str());
        return Status::ok();
    }
    for (std::size_t i = 0; i < result.positions.size(); ++i) {
        std::printf("%4zu %7d ->", i, ids[i]);
        for (std::size_t k = 0; k < result.positions[i].ids.size(); ++k)
            std::printf(" %d (%.5f)", result.positions[i].ids[k], result.positions[i].logprobs[k]);
        std::printf("\n");
    }
    if (!result.greedy.empty()) {
        std::printf("greedy:");
        for (std::int32_t id : result.greedy)
            std::printf(" %d", id);
        std::printf("\n");
    }
    return Status::ok();
}

}  // namespace

void registerScoreCommand(CLI::App& app, int& exitCode)
{
    auto* cmd = app.add_subcommand("score", "Top-k next-token log-probabilities at every position of a token sequence (CPU)");
    auto opts = std::make_shared<Options>();
    cmd->add_option("MODEL", opts->model, "Model folder (config.json + safetensors)")->required();
    cmd->add_option("--ids", opts->ids, "Comma-separated token ids, e.g. 1,2,3")->required();
    cmd->add_option("--lora", opts->lora, "PEFT LoRA adapter folder, optionally with a scale: PATH[:SCALE]");
    cmd->add_option("--top", opts->top, "How many ids to list per position")->capture_default_str()->check(CLI::Range(1, 1000));
    cmd->add_option("--greedy", opts->greedy, "Append a greedy continuation of N tokens")->check(CLI::Range(0, 100000));
    cmd->add_option("--threads", opts->threads, "CPU threads (0: one per core)")->check(CLI::Range(0, 1024));
    cmd->add_flag("--token-by-token", opts->tokenByToken, "Feed the prompt one token per forward (the decode path)");
    cmd->add_flag("--json", opts->json, "Print {ids, top_ids, top_logprobs, greedy} as JSON");
    cmd->callback([opts, &exitCode] {
        const Status s = runScore(*opts);
        if (!s) {
            std::fprintf(stderr, "hearth-cli score: %s\n", s.error().toString().c_str());
            exitCode = 1;
            return;
        }
        exitCode = 0;
    });
}

}  // namespace hearth::cli
