#include "engine/model_loader.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "engine/backend_factory.h"
#include "load/host_sink.h"
#include "load/loader.h"
#include "util/system_memory.h"

namespace hearth {

namespace {

using Clock = std::chrono::steady_clock;

bool cancelled(const ModelLoadParams& p) { return p.cancel && p.cancel->load(std::memory_order_relaxed); }

Error cancelledError(const std::string& path)
{
    return makeError(ErrorCode::Cancelled, "loading " + path + " was cancelled");
}

double msBetween(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

std::uint64_t defaultKvBudget(const ModelConfig& config, const EngineOptions& options)
{
    // Enough for every batch slot to hold a full context, but no more than a quarter of free RAM.
    const std::uint64_t perToken = static_cast<std::uint64_t>(std::max<std::int64_t>(config.kvBytesPerToken(4), 1));
    const std::uint64_t positions = static_cast<std::uint64_t>(config.maxPositions > 0 ? config.maxPositions : 4096);
    const std::uint64_t want = perToken * positions * static_cast<std::uint64_t>(std::max(1, options.maxBatchSequences));
    const std::uint64_t available = availableSystemMemoryBytes();
    const std::uint64_t cap = available > 0 ? available / 4 : (1ull << 30);
    return std::max<std::uint64_t>(std::min(want, cap), 64ull << 20);
}

std::optional<DType> halfTarget(WeightDType d)
{
    switch (d) {
    case WeightDType::AsStored: return std::nullopt;
    case WeightDType::F16: return DType::F16;
    case WeightDType::BF16: return DType::BF16;
    }
    return std::nullopt;
}

// One decode step of one token on a scratch sequence: faults in the backend's scratch and the
// thread pool's stacks, and runs every weight through the cache once, so the first real request
// pays nothing extra. The page goes back to the pool unpublished (free, not cached).
Status warmUp(Backend& backend)
{
    KvPagePool& pool = backend.kvPool();
    BlockTable table;
    HEARTH_TRY_STATUS(pool.reserve(table, 1));
    BatchPlan plan;
    SequenceStep step;
    step.tokenIds = {0};
    step.positions = {0};
    step.blockTable = &table;
    step.logits = LogitsRows::Last;
    plan.sequences.push_back(std::move(step));
    Result<ForwardResult> result = backend.forward(plan);
    pool.release(table);
    if (!result)
        return makeError(result.error().code, "warm-up step failed: " + result.error().message);
    return Status::ok();
}

}  // namespace

Result<LoadedModel> loadModelForEngine(const ModelLoadParams& params)
{
    const Clock::time_point start = Clock::now();
    const auto elapsedS = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    LoadProgress opening;
    opening.stage = kLoadStageOpening;
    if (params.onProgress)
        params.onProgress(opening);
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(params.path));
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(params.path, halfTarget(params.options.weightDtype)));
    if (cancelled(params))
        return cancelledError(params.path);
    // The tokenizer (a large tokenizer.json takes a while to parse) loads while the weights
    // stream in; the future is always waited for, also on error and cancel.
    double tokenizerMs = 0.0;
    std::future<Result<std::unique_ptr<Tokenizer>>> tokenizerJob =
        std::async(std::launch::async, [path = params.path, &tokenizerMs] {
            const Clock::time_point t0 = Clock::now();
            Result<std::unique_ptr<Tokenizer>> loaded = loadTokenizer(path);
            tokenizerMs = msBetween(t0, Clock::now());
            return loaded;
        });
    LoadedModel out;

    HostSink sink;
    LoadPipelineOptions pipe;
    pipe.nReaders = params.nReaders;
    pipe.chunkBytes = params.readChunkBytes;
    pipe.cancel = params.cancel;
    pipe.onProgress = params.onProgress;
    pipe.loadStart = start;
    pipe.stagesBefore.push_back(LoadStageTime{kLoadStageOpening, msBetween(start, Clock::now()), false});
    Result<LoadPipelineReport> piped = runLoadPipeline(plan, sink, pipe);
    const Clock::time_point readEnd = Clock::now();
    Result<std::unique_ptr<Tokenizer>> tokenizer = tokenizerJob.get();
    const double tokenizerWaitMs = msBetween(readEnd, Clock::now());
    if (!piped)
        return piped.error().code == ErrorCode::Cancelled ? cancelledError(params.path) : piped.error();
    if (!tokenizer)
        return tokenizer.error();
    out.tokenizer = std::move(*tokenizer);
    const LoadPipelineReport& report = *piped;
    out.readMode = report.readMode;
    std::shared_ptr<const HostTensorSet> tensors = sink.takeTensors();
    const TensorLookup lookup = [&tensors](const std::string& name) -> std::optional<NamedTensor> {
        const HostTensor* t = tensors->find(name);
        if (!t)
            return std::nullopt;
        return NamedTensor{t->data, t->dtype, t->shape, t->fileName};
    };
    const std::string where = plan.files.size() == 1 ? plan.files.front().name : params.path + " (sharded safetensors)";
    HEARTH_TRY_ASSIGN(out.weights, ModelWeights::fromHostTensors(config, lookup, tensors, where));

    // The pipeline's opening share (files, buffers) belongs to "opening"; "reading" is the
    // transfer. The tokenizer is an "opening" task run behind the transfer (overlapped); what it
    // took beyond the last byte is listed as opening time of its own, not overlapped.
    std::vector<LoadStageTime> breakdown = pipe.stagesBefore;
    breakdown[0].ms += report.openMs;
    breakdown.push_back(LoadStageTime{kLoadStageReading, report.readMs, false});
    breakdown.push_back(LoadStageTime{kLoadStageTokenizer, tokenizerMs - tokenizerWaitMs, true});
    if (tokenizerWaitMs >= 1.0)
        breakdown.push_back(LoadStageTime{kLoadStageTokenizer, tokenizerWaitMs, false});
    if (params.options.weightDtype != WeightDType::AsStored)
        breakdown.push_back(LoadStageTime{kLoadStageConverting, static_cast<double>(sink.convertNs()) / 1e6, true});

    LoadProgress warming = report.lastProgress;
    warming.stage = kLoadStageWarmingUp;
    warming.rateBytesPerS = 0.0;
    warming.etaS = 0.0;
    warming.elapsedS = elapsedS();
    warming.breakdown = breakdown;
    if (params.onProgress)
        params.onProgress(warming);
    const Clock::time_point warmStart = Clock::now();
    BackendRequest request;
    request.weights = out.weights;
    request.options = params.options;
    request.cpuKvBudgetBytes = params.options.kvBudgetBytes > 0 ? params.options.kvBudgetBytes
                                                                : defaultKvBudget(config, params.options);
    request.warmUp = warmUp;
    HEARTH_TRY_ASSIGN(CreatedBackend created, createBackend(request));
    std::unique_ptr<Backend> backend = std::move(created.backend);
    out.backendReason = std::move(created.reason);
    if (cancelled(params))
        return cancelledError(params.path);
    breakdown.push_back(LoadStageTime{kLoadStageWarmingUp, msBetween(warmStart, Clock::now()), false});

    const KvPagePool& pool = backend->kvPool();
    std::int64_t context = config.maxPositions > 0 ? config.maxPositions : INT64_MAX;
    if (params.options.contextLength > 0)
        context = std::min(context, params.options.contextLength);
    // One sequence must fit the pool on its own, or preemption could not free enough for it.
    context = std::min<std::int64_t>(context, static_cast<std::int64_t>(pool.nPages()) * pool.layout().pageTokens);
    out.contextLength = context;
    out.backend = std::move(backend);
    out.finalProgress = warming;
    out.finalProgress.stage = kLoadStageReady;
    out.finalProgress.elapsedS = elapsedS();
    out.finalProgress.breakdown = std::move(breakdown);
    return out;
}

}  // namespace hearth
