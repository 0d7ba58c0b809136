// `hearth-cli bench` (without --load): generation speed through the public Engine API, on
// whichever backend the engine picks. Time to first token per prompt length, decode at batch 1
// and with N concurrent streams, decode after long prompts, memory in use, and batch-1 decode as
// a fraction of a bandwidth the tool measures itself (bytes read per token / time per token).
// Prompts are random token ids, fresh for every request, so the prefix cache never helps.
#include "cli/bench_generate.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "build_config.h"
#include "cli/bandwidth.h"
#include "engine/backend_probe.h"
#include "engine/engine.h"
#include "load/load_plan.h"
#include "model/model_config.h"
#include "util/thread_pool.h"
#if HEARTH_CUDA_BUILT
#include "device_memory.h"
#endif

namespace hearth::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// "128,512" -> {128, 512}; every entry must be a positive integer. An empty text is an empty list.
std::optional<std::vector<std::int64_t>> parseList(const std::string& text)
{
    std::vector<std::int64_t> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos || item.size() > 9)
            return std::nullopt;
        const std::int64_t v = std::stoll(item);
        if (v <= 0)
            return std::nullopt;
        out.push_back(v);
    }
    return out;
}

std::uint64_t processRssBytes()
{
    std::ifstream in("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::optional<std::uint64_t> gpuFreeBytes(int index)
{
    const BackendReport r = probeBackends();
    for (const GpuInfo& g : r.gpus)
        if (g.index == index)
            return g.freeBytes;
    return std::nullopt;
}

// Device-to-device copy of 1 GiB, best of 5, counting bytes read + written (as nvbandwidth does).
Result<double> measureDeviceCopyBandwidth()
{
#if HEARTH_CUDA_BUILT
    constexpr std::size_t kBytes = std::size_t(1) << 30;
    void* src = nullptr;
    void* dst = nullptr;
    auto release = [&] {
        (void)kernels::deviceFree(src);
        (void)kernels::deviceFree(dst);
    };
    if (auto s = kernels::deviceAlloc(&src, kBytes); !s) {
        release();
        return makeError(ErrorCode::Internal, "bench: " + s.describe());
    }
    if (auto s = kernels::deviceAlloc(&dst, kBytes); !s) {
        release();
        return makeError(ErrorCode::Internal, "bench: " + s.describe());
    }
    double best = 0.0;
    for (int rep = 0; rep < 6; ++rep) {
        const auto t0 = Clock::now();
        kernels::KernelStatus s = kernels::copyDeviceToDevice(dst, src, kBytes);
        if (s)
            s = kernels::deviceSynchronize();
        if (!s) {
            release();
            return makeError(ErrorCode::Internal, "bench: " + s.describe());
        }
        const double sec = msSince(t0) / 1e3;
        if (rep > 0)  // the first copy pays for page mapping
            best = std::max(best, 2.0 * static_cast<double>(kBytes) / sec);
    }
    release();
    return best;
#else
    return makeError(ErrorCode::Unsupported, "bench: this build has no CUDA");
#endif
}

struct RunResult {
    std::string error;          // non-empty: the request failed (FailedEvent or refused)
    double firstTokenWallMs = 0.0;  // submit to the first token, as the client saw it
    double finishWallMs = 0.0;      // submit to the finish
    GenerationStats stats;
    std::string finishReason;
};

struct Batch {
    std::vector<RunResult> runs;
    double wallMs = 0.0;  // first submit to last finish
};

// Submits every prompt at once and waits for all to finish; nullopt-like error on a timeout.
Result<Batch> runBatch(Engine& engine, const std::vector<std::vector<TokenId>>& prompts, int maxTokens, double timeoutS)
{
    std::vector<std::unique_ptr<RequestHandle>> handles;
    std::vector<Clock::time_point> submitted;
    Batch batch;
    batch.runs.resize(prompts.size());
    const auto start = Clock::now();
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        GenerateRequest req;
        req.promptIds = prompts[i];
        req.sampling.temperature = 0.0f;
        req.maxTokens = maxTokens;
        req.ignoreEos = true;
        submitted.push_back(Clock::now());
        auto h = engine.submit(std::move(req));
        if (!h) {
            for (auto& other : handles)
                if (other)
                    other->cancel();
            return makeError(ErrorCode::Internal, "bench: submit refused: " + h.error().toString());
        }
        handles.push_back(std::move(*h));
    }
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeoutS));
    for (std::size_t i = 0; i < handles.size(); ++i) {
        RunResult& r = batch.runs[i];
        bool gotToken = false, finished = false;
        while (!finished) {
            if (Clock::now() > deadline) {
                for (auto& h : handles)
                    h->cancel();
                return makeError(ErrorCode::Unavailable, "bench: no finish within " + std::to_string(static_cast<int>(timeoutS)) +
                                                          " s (see --timeout); the requests were cancelled");
            }
            auto ev = handles[i]->nextEvent(std::chrono::milliseconds(250));
            if (!ev)
                continue;
            if (std::holds_alternative<TokenEvent>(*ev)) {
                if (!gotToken)
                    r.firstTokenWallMs = msSince(submitted[i]);
                gotToken = true;
            } else if (const auto* f = std::get_if<FinishedEvent>(&*ev)) {
                r.stats = f->stats;
                r.finishReason = finishReasonName(f->reason);
                r.finishWallMs = msSince(submitted[i]);
                finished = true;
            } else if (const auto* e = std::get_if<FailedEvent>(&*ev)) {
                r.error = e->error.toString();
                r.finishWallMs = msSince(submitted[i]);
                finished = true;
            }
        }
    }
    batch.wallMs = msSince(start);
    return batch;
}

json runJson(const RunResult& r)
{
    json j = {{"promptTokens", r.stats.promptTokens}, {"cachedPromptTokens", r.stats.cachedPromptTokens},
              {"generatedTokens", r.stats.generatedTokens}, {"ttftMs", r.stats.timeToFirstTokenMs},
              {"decodeTokensPerS", r.stats.decodeTokensPerS}, {"totalMs", r.stats.totalMs},
              {"firstTokenWallMs", r.firstTokenWallMs}, {"finishWallMs", r.finishWallMs}, {"finishReason", r.finishReason}};
    if (!r.error.empty())
        j["error"] = r.error;
    return j;
}

struct Sizes {
    std::vector<std::int64_t> promptLengths, streams, longContexts;
    int decodeTokens = 0;
};

// The bytes one batch-1 decode step reads: every weight except the embedding, one embedding row
// (a tied model reads the whole matrix again as lm_head), plus the KV cache at `context`.
struct TokenBytes {
    std::uint64_t weightBytes = 0;
    std::uint64_t kvBytesPerContextToken = 0;
    bool tied = false;
};

Result<TokenBytes> bytesPerToken(const std::string& model, int kvElemBytes)
{
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(model));
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(model));
    TokenBytes b;
    bool hasLmHead = false;
    std::uint64_t embedBytes = 0, embedRows = 1;
    for (const PlannedTensor& t : plan.tensors) {
        if (t.name.find("embed_tokens") != std::string::npos) {
            embedBytes = t.nBytes;
            embedRows = t.shape.empty() ? 1 : static_cast<std::uint64_t>(std::max<std::int64_t>(1, t.shape[0]));
            continue;
        }
        hasLmHead = hasLmHead || t.name.find("lm_head") != std::string::npos;
        b.weightBytes += t.nBytes;
    }
    b.tied = !hasLmHead;
    b.weightBytes += embedBytes / embedRows + (b.tied ? embedBytes : 0);
    const std::int64_t kvHeads = config.nKvHeads > 0 ? config.nKvHeads : config.nHeads;
    const std::int64_t headDim = config.headDim > 0 ? config.headDim : config.hiddenSize / std::max<std::int64_t>(1, config.nHeads);
    b.kvBytesPerContextToken = static_cast<std::uint64_t>(2 * config.nLayers * kvHeads * headDim * kvElemBytes);
    return b;
}

// llama.cpp F16 on the same H100 with the same 7B-shaped model (../shared/device/README.md).
json llamaCppH100()
{
    return {{"note", "llama.cpp F16, Qwen2.5-7B-shaped model, NVIDIA H100 - measured elsewhere, not by this run"},
            {"decodeBatch1TokensPerS", 167}, {"prefill512TokensPerS", 15800},
            {"streamsTokensPerS", {{"4", 544}, {"16", 1920}, {"32", 3404}, {"64", 5864}}},
            {"decodeAtContextTokensPerS", {{"8192", 155}, {"32768", 140}}}};
}

void printHuman(const json& j, bool compare)
{
    std::printf("Generation benchmark: %s\n  backend %s%s\n", j["model"].get<std::string>().c_str(),
                j["backend"].get<std::string>().c_str(),
                j["backendReason"].get<std::string>().empty() ? "" : (" (" + j["backendReason"].get<std::string>() + ")").c_str());
    std::printf("  prompts: random token ids (seed %u), fresh for every request: the prefix cache does not help\n\n",
                j["seed"].get<unsigned>());
    std::printf("  load: %.3f s to ready", j["load"]["wallS"].get<double>());
    for (const auto& s : j["load"]["breakdown"])
        std::printf("%s %s %.0f ms%s", &s == &j["load"]["breakdown"][0] ? " -" : ",", s["stage"].get<std::string>().c_str(),
                    s["ms"].get<double>(), s["overlapped"].get<bool>() ? " (overlapped)" : "");
    std::printf("\n\n  %-14s %12s %16s%s\n", "prompt tokens", "TTFT (ms)", "prefill tok/s", compare ? "   llama.cpp H100 (elsewhere)" : "");
    for (const auto& t : j["ttft"]) {
        std::printf("  %-14lld %12.1f %16.1f", t["promptTokens"].get<long long>(), t["ttftMs"].get<double>(),
                    t["prefillTokensPerS"].get<double>());
        if (compare && t["promptTokens"].get<long long>() == 512)
            std::printf("   ~15800 tok/s");
        std::printf("\n");
    }
    std::printf("\n  decode, batch 1: %.1f tok/s (%d tokens after a %lld-token prompt)%s\n",
                j["decodeBatch1"]["decodeTokensPerS"].get<double>(), j["decodeTokens"].get<int>(),
                j["decodeBatch1"]["promptTokens"].get<long long>(), compare ? "   llama.cpp H100 (elsewhere): 167" : "");
    std::printf("\n  %-8s %14s %18s %16s%s\n", "streams", "wall (s)", "total tok/s", "decode tok/s", compare ? "   llama.cpp H100 (elsewhere)" : "");
    const json ref = llamaCppH100();
    for (const auto& s : j["streams"]) {
        const std::string n = std::to_string(s["streams"].get<int>());
        std::printf("  %-8s %14.3f %18.1f %16.1f", n.c_str(), s["wallMs"].get<double>() / 1e3, s["totalTokensPerS"].get<double>(),
                    s["decodeTokensPerS"].get<double>());
        if (compare && ref["streamsTokensPerS"].contains(n))
            std::printf("   %d", ref["streamsTokensPerS"][n].get<int>());
        std::printf("\n");
    }
    std::printf("  (total: all tokens / first submit to last finish, prefill included; decode: summed per-request decode rates)\n");
    if (!j["longContexts"].empty()) {
        std::printf("\n  %-10s %16s %12s\n", "context", "decode tok/s", "TTFT (ms)");
        for (const auto& c : j["longContexts"]) {
            const std::string n = std::to_string(c["contextTokens"].get<long long>());
            if (c.contains("skipped")) {
                std::printf("  %-10s skipped: %s\n", n.c_str(), c["skipped"].get<std::string>().c_str());
                continue;
            }
            std::printf("  %-10s %16.1f %12.1f", n.c_str(), c["decodeTokensPerS"].get<double>(), c["ttftMs"].get<double>());
            if (compare && ref["decodeAtContextTokensPerS"].contains(n))
                std::printf("   llama.cpp H100 (elsewhere): %d", ref["decodeAtContextTokensPerS"][n].get<int>());
            std::printf("\n");
        }
    }
    const json& m = j["memory"];
    std::printf("\n  memory: %s %.1f MiB in use (%s)\n", m["kind"].get<std::string>().c_str(), m["inUseBytes"].get<double>() / (1 << 20),
                m["how"].get<std::string>().c_str());
    const json& r = j["roofline"];
    std::printf("  roofline: %.1f MB read per token (weights %.1f MB + KV %.2f MB at %lld tokens) at %.1f tok/s = %.2f GB/s;\n"
                "            measured bandwidth %.2f GB/s (%s): %.1f%% of it\n",
                r["bytesPerToken"].get<double>() / 1e6, r["weightBytesPerToken"].get<double>() / 1e6, r["kvBytesPerToken"].get<double>() / 1e6,
                r["contextTokens"].get<long long>(), r["decodeTokensPerS"].get<double>(), r["achievedGBps"].get<double>(),
                r["bandwidthGBps"].get<double>(), r["bandwidthHow"].get<std::string>().c_str(), 100.0 * r["fraction"].get<double>());
    if (compare)
        std::printf("\n  llama.cpp figures: %s\n", ref["note"].get<std::string>().c_str());
}

int fail(const std::string& message, int code)
{
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return code;
}

}  // namespace

void addBenchGenerateOptions(CLI::App* cmd, BenchGenerateArgs& a)
{
    cmd->add_option("--backend", a.backend, "Generation bench: auto, cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    a.promptLengthsOpt = cmd->add_option("--prompt-lengths", a.promptLengths, "Generation bench: prompt lengths for time to first token")
                             ->capture_default_str();
    a.streamsOpt = cmd->add_option("--streams", a.streams, "Generation bench: concurrent stream counts")->capture_default_str();
    a.decodeTokensOpt = cmd->add_option("--decode-tokens", a.decodeTokens, "Generation bench: tokens decoded per request")
                            ->capture_default_str();
    a.longContextsOpt = cmd->add_option("--long-contexts", a.longContexts,
                                        "Generation bench: decode measured after prompts this long (empty: none)")
                            ->capture_default_str();
    cmd->add_flag("--quick", a.quick, "Generation bench: small defaults for a CPU smoke run (16,64; streams 1,4; 8 tokens; no long contexts)");
    cmd->add_flag("--no-gemm-tune", a.noGemmTune,
                  "CUDA: skip the GEMM tuning at load and run every GEMM by cuBLAS's default (to measure what tuning gives)");
    cmd->add_flag("--compare-llamacpp-h100", a.compareLlamacpp,
                  "Generation bench: print llama.cpp's H100 figures (measured elsewhere) beside the results");
    cmd->add_option("--threads", a.threads, "Generation bench: CPU backend threads (0: one per core)");
    cmd->add_option("--seed", a.seed, "Generation bench: seed of the random prompts")->capture_default_str();
    cmd->add_option("--timeout", a.timeoutS, "Generation bench: seconds any one wait may take")->capture_default_str();
}

int runBenchGenerate(const BenchGenerateArgs& a, const std::string& model, bool asJson)
{
    if (model.empty())
        return fail("bench needs --model DIR", 2);
    Sizes z;
    const auto pick = [&](CLI::Option* o, const std::string& value, const char* quick) {
        return a.quick && !(o && o->count() > 0) ? std::string(quick) : value;
    };
    const auto prompts = parseList(pick(a.promptLengthsOpt, a.promptLengths, "16,64"));
    const auto streams = parseList(pick(a.streamsOpt, a.streams, "1,4"));
    const auto longs = parseList(pick(a.longContextsOpt, a.longContexts, ""));
    if (!prompts || prompts->empty())
        return fail("--prompt-lengths wants positive integers separated by commas, e.g. 128,512", 2);
    if (!streams || streams->empty())
        return fail("--streams wants positive integers (at least 1 stream) separated by commas, e.g. 1,4,16", 2);
    if (!longs)
        return fail("--long-contexts wants positive integers separated by commas, or nothing", 2);
    z.promptLengths = *prompts;
    z.streams = *streams;
    z.longContexts = *longs;
    z.decodeTokens = a.quick && !(a.decodeTokensOpt && a.decodeTokensOpt->count() > 0) ? 8 : a.decodeTokens;
    if (z.decodeTokens <= 0)
        return fail("--decode-tokens must be at least 1", 2);
    if (a.threads < 0 || a.timeoutS <= 0)
        return fail("--threads must be >= 0 and --timeout > 0", 2);
    const std::int64_t maxStreams = *std::max_element(z.streams.begin(), z.streams.end());
    if (maxStreams > 1024)
        return fail("--streams: at most 1024 concurrent streams", 2);

    const std::uint64_t rssBefore = processRssBytes();
    // The device copy runs before the load: afterwards the KV pool holds most of the free memory.
    std::optional<Result<double>> deviceBandwidth;
    if (a.backend != "cpu" && gpuFreeBytes(0))
        deviceBandwidth = measureDeviceCopyBandwidth();
    const std::optional<std::uint64_t> gpuFreeBefore = a.backend == "cpu" ? std::nullopt : gpuFreeBytes(0);
    EngineOptions options;
    options.backend = a.backend == "cpu" ? BackendChoice::Cpu : a.backend == "cuda" ? BackendChoice::Cuda : BackendChoice::Auto;
    options.nThreads = a.threads;
    options.tuneGemms = !a.noGemmTune;
    options.maxBatchSequences = static_cast<std::int32_t>(std::max<std::int64_t>(16, maxStreams));
    options.maxQueuedRequests = static_cast<std::int32_t>(std::max<std::int64_t>(64, maxStreams + 8));
    auto created = Engine::create(options);
    if (!created)
        return fail(created.error().toString(), 1);
    Engine& engine = **created;
    const auto loadStart = Clock::now();
    if (Status s = engine.load(model); !s)
        return fail(s.error().toString(), 1);
    while (engine.state().kind == EngineStateKind::Loading) {
        if (msSince(loadStart) > a.timeoutS * 1e3) {
            engine.cancelLoad();
            return fail("the model did not load within " + std::to_string(static_cast<int>(a.timeoutS)) + " s", 1);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double loadWallS = msSince(loadStart) / 1e3;
    if (Status s = engine.waitUntilLoaded(); !s)
        return fail("cannot load " + model + ": " + s.error().toString(), 1);
    const EngineState state = engine.state();
    const std::optional<ModelInfo> info = engine.modelInfo();
    if (!info || info->vocabSize <= 0)
        return fail("the loaded model reports no vocabulary", 1);
    const std::int64_t ctx = info->contextLength;
    const bool onCuda = state.backendName == "cuda";
    for (std::int64_t p : z.promptLengths)
        if (p + 1 > ctx)
            return fail("a prompt of " + std::to_string(p) + " tokens does not fit the engine's context of " + std::to_string(ctx) +
                            " tokens (the model's positions, capped by the KV pool; 1 token is generated)",
                        2);
    const std::int64_t streamPrompt = std::min<std::int64_t>(128, ctx - z.decodeTokens);
    if (streamPrompt < 1)
        return fail("--decode-tokens " + std::to_string(z.decodeTokens) + " does not fit the model's context of " + std::to_string(ctx), 2);

    std::mt19937 rng(a.seed);
    std::uniform_int_distribution<TokenId> pickId(0, static_cast<TokenId>(info->vocabSize - 1));
    const auto randomPrompt = [&](std::int64_t n) {
        std::vector<TokenId> ids(static_cast<std::size_t>(n));
        for (TokenId& id : ids)
            id = pickId(rng);
        return ids;
    };
    const auto one = [&](std::int64_t promptTokens, int maxTokens) { return runBatch(engine, {randomPrompt(promptTokens)}, maxTokens, a.timeoutS); };

    // Progress with each figure as it is measured goes to stderr in both modes: a run cut short (a
    // time limit on the GPU machine) still leaves what it measured in its log.
    std::fprintf(stderr, "loaded on %s in %.2f s; warming up ...\n", state.backendName.c_str(), loadWallS);
    if (auto w = one(std::min<std::int64_t>(8, ctx - 2), 2); !w)
        return fail(w.error().toString(), 1);

    json ttft = json::array();
    for (std::int64_t p : z.promptLengths) {
        auto b = one(p, 1);
        if (!b)
            return fail(b.error().toString(), 1);
        const RunResult& r = b->runs[0];
        if (!r.error.empty())
            return fail("a " + std::to_string(p) + "-token prompt failed: " + r.error, 1);
        const double t = r.stats.timeToFirstTokenMs > 0 ? r.stats.timeToFirstTokenMs : r.firstTokenWallMs;
        std::fprintf(stderr, "time to first token, %lld-token prompt: %.1f ms (%.0f tok/s)\n", static_cast<long long>(p), t,
                     t > 0 ? static_cast<double>(p) / (t / 1e3) : 0.0);
        ttft.push_back({{"promptTokens", p}, {"ttftMs", t}, {"prefillTokensPerS", t > 0 ? static_cast<double>(p) / (t / 1e3) : 0.0},
                        {"run", runJson(r)}});
    }

    std::fprintf(stderr, "decode ...\n");
    json streamsJ = json::array();
    json batch1;
    for (std::int64_t n : z.streams) {
        std::vector<std::vector<TokenId>> ps;
        for (std::int64_t i = 0; i < n; ++i)
            ps.push_back(randomPrompt(streamPrompt));
        auto b = runBatch(engine, ps, z.decodeTokens, a.timeoutS);
        if (!b)
            return fail(b.error().toString(), 1);
        double decodeSum = 0.0;
        std::int64_t generated = 0;
        json runs = json::array();
        for (const RunResult& r : b->runs) {
            if (!r.error.empty())
                return fail(std::to_string(n) + " streams: a request failed: " + r.error, 1);
            decodeSum += r.stats.decodeTokensPerS;
            generated += r.stats.generatedTokens;
            runs.push_back(runJson(r));
        }
        std::fprintf(stderr, "%lld streams: %.1f tok/s decode summed, %.1f tok/s over the wall time\n", static_cast<long long>(n), decodeSum,
                     b->wallMs > 0 ? static_cast<double>(generated) / (b->wallMs / 1e3) : 0.0);
        json s = {{"streams", n}, {"promptTokens", streamPrompt}, {"wallMs", b->wallMs}, {"generatedTokens", generated},
                  {"totalTokensPerS", b->wallMs > 0 ? static_cast<double>(generated) / (b->wallMs / 1e3) : 0.0},
                  {"decodeTokensPerS", decodeSum}, {"runs", runs}};
        if (n == 1)
            batch1 = {{"promptTokens", streamPrompt}, {"decodeTokensPerS", decodeSum}, {"run", runs[0]}};
        streamsJ.push_back(std::move(s));
    }
    if (batch1.is_null()) {
        auto b = one(streamPrompt, z.decodeTokens);
        if (!b)
            return fail(b.error().toString(), 1);
        if (!b->runs[0].error.empty())
            return fail("batch-1 decode failed: " + b->runs[0].error, 1);
        batch1 = {{"promptTokens", streamPrompt}, {"decodeTokensPerS", b->runs[0].stats.decodeTokensPerS}, {"run", runJson(b->runs[0])}};
    }

    json longJ = json::array();
    for (std::int64_t c : z.longContexts) {
        // "Decode at 32K" on a model of 32K positions: the prompt is shortened by the decoded
        // tokens so that the context ends at c (llama.cpp's tg at depth d does the same within n_ctx).
        const std::int64_t prompt = std::min<std::int64_t>(c, ctx - z.decodeTokens);
        if (c > ctx || prompt < 1) {
            longJ.push_back({{"contextTokens", c}, {"skipped", "does not fit the engine's context of " + std::to_string(ctx) +
                                                               " tokens (the model's positions, capped by the KV pool)"}});
            continue;
        }
        std::fprintf(stderr, "decode after %lld tokens ...\n", static_cast<long long>(prompt));
        auto b = one(prompt, z.decodeTokens);
        if (!b)
            return fail(b.error().toString(), 1);
        const RunResult& r = b->runs[0];
        if (!r.error.empty()) {
            longJ.push_back({{"contextTokens", c}, {"skipped", "the engine refused it (KV pool too small?): " + r.error}});
            continue;
        }
        std::fprintf(stderr, "  %.1f tok/s, time to first token %.1f ms\n", r.stats.decodeTokensPerS, r.stats.timeToFirstTokenMs);
        longJ.push_back({{"contextTokens", c}, {"promptTokens", prompt}, {"decodeTokensPerS", r.stats.decodeTokensPerS}, {"ttftMs", r.stats.timeToFirstTokenMs},
                         {"run", runJson(r)}});
    }

    json memory;
    if (onCuda) {
        const std::optional<std::uint64_t> after = gpuFreeBytes(0);
        const double used = gpuFreeBefore && after ? static_cast<double>(*gpuFreeBefore) - static_cast<double>(*after) : 0.0;
        memory = {{"kind", "GPU"}, {"inUseBytes", used}, {"freeBeforeBytes", gpuFreeBefore.value_or(0)}, {"freeAfterBytes", after.value_or(0)},
                  {"how", "device free memory before load minus after the runs"}};
    } else {
        const std::uint64_t rss = processRssBytes();
        memory = {{"kind", "host RSS"}, {"inUseBytes", static_cast<double>(rss)}, {"rssBeforeLoadBytes", rssBefore},
                  {"rssGrowthBytes", static_cast<double>(rss) - static_cast<double>(rssBefore)},
                  {"how", "process resident set after the runs (/proc/self/statm)"}};
    }

    // KV element bytes: fp32 pages on the CPU backend, 16-bit on CUDA.
    auto tb = bytesPerToken(model, onCuda ? 2 : 4);
    if (!tb)
        return fail(tb.error().toString(), 1);
    double bandwidth = 0.0;
    std::string bandwidthHow;
    if (onCuda) {
        if (deviceBandwidth && *deviceBandwidth) {
            bandwidth = **deviceBandwidth;
            bandwidthHow = "device-to-device copy of 1 GiB before the load, read + written bytes";
        } else {
            bandwidthHow = "not measured: " + (deviceBandwidth ? deviceBandwidth->error().toString() : std::string("no device before the load"));
        }
    } else {
        // --quick keeps the smoke run short; 256 MiB is still far beyond any CPU cache.
        ThreadPool pool(a.threads);
        const std::size_t mib = a.quick ? 256 : 1024;
        bandwidth = measureReadBandwidth(pool, mib << 20);
        bandwidthHow = "multi-threaded read of " + std::to_string(mib) + " MiB, " + std::to_string(pool.size()) + " threads";
    }
    const double decode1 = batch1["decodeTokensPerS"].get<double>();
    const std::int64_t avgContext = streamPrompt + z.decodeTokens / 2;
    const double kvBytes = static_cast<double>(tb->kvBytesPerContextToken) * static_cast<double>(avgContext);
    const double perToken = static_cast<double>(tb->weightBytes) + kvBytes;
    const double achieved = perToken * decode1;
    json roofline = {{"weightBytesPerToken", tb->weightBytes}, {"tiedEmbedding", tb->tied}, {"kvBytesPerContextToken", tb->kvBytesPerContextToken},
                     {"contextTokens", avgContext}, {"kvBytesPerToken", kvBytes}, {"bytesPerToken", perToken},
                     {"decodeTokensPerS", decode1}, {"achievedGBps", achieved / 1e9}, {"bandwidthGBps", bandwidth / 1e9},
                     {"bandwidthHow", bandwidthHow}, {"fraction", bandwidth > 0 ? achieved / bandwidth : 0.0},
                     {"weightsNote", "weights as stored; the embedding counts one row (a tied model reads it whole as lm_head)"}};

    json j = {{"model", model}, {"backend", state.backendName}, {"backendReason", state.reason}, {"contextLength", ctx},
              {"vocabSize", info->vocabSize}, {"seed", a.seed}, {"decodeTokens", z.decodeTokens}, {"quick", a.quick},
              {"gemmTuning", !a.noGemmTune},
              {"promptNote", "random token ids, fresh for every request: the prefix cache does not help"},
              {"load", {{"wallS", loadWallS}, {"engineElapsedS", state.progress.elapsedS}, {"bytes", state.progress.bytesTotal},
                        {"breakdown", json::array()}}},
              {"ttft", ttft}, {"decodeBatch1", batch1}, {"streams", streamsJ}, {"longContexts", longJ},
              {"memory", memory}, {"roofline", roofline}};
    for (const LoadStageTime& s : state.progress.breakdown)
        j["load"]["breakdown"].push_back({{"stage", s.stage}, {"ms", s.ms}, {"overlapped", s.overlapped}});
    if (a.compareLlamacpp)
        j["llamaCppH100"] = llamaCppH100();
    if (asJson)
        std::printf("%s\n", j.dump(2).c_str());
    else
        printHuman(j, a.compareLlamacpp);
    return 0;
}

}  // namespace hearth::cli
