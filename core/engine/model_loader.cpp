#include "engine/model_loader.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <string>

#include "build_config.h"
#include "engine/backend_factory.h"
#if HEARTH_CUDA_BUILT
#include "engine/cuda/cuda_load.h"
#endif
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

// Steps on a scratch sequence that fault in the backend's scratch and the thread pool's stacks,
// run every weight through once and, on a GPU, make the one-time first uses (cuBLAS's GEMM set-up
// and lazily loaded kernels of the prefill path, the decode path with greedy on the device) happen
// here rather than in the first real request. On the CPU one decode step of one token, since a
// CPU prefill of a large model costs seconds; on CUDA a 128-token prefill (the GEMM path: decode
// steps of up to 8 rows use GEMV) and then a greedy decode step. The pages go back to the pool
// unpublished (free, not cached).
Status warmUp(Backend& backend)
{
    KvPagePool& pool = backend.kvPool();
    // A pool too small for the full warm-up (tests run with a few pages) gets a shorter prefill.
    const std::int64_t poolTokens = static_cast<std::int64_t>(pool.nAvailablePages()) * pool.layout().pageTokens;
    const bool gpu = std::string(backend.name()) != "cpu" && poolTokens >= 2;
    const auto prefillTokens = static_cast<std::int32_t>(gpu ? std::min<std::int64_t>(128, poolTokens - 1) : 1);
    BlockTable table;
    HEARTH_TRY_STATUS(pool.reserve(table, gpu ? prefillTokens + 1 : 1));
    const auto run = [&](std::int32_t first, std::int32_t count, bool argmaxOnly) -> Status {
        BatchPlan plan;
        SequenceStep step;
        for (std::int32_t i = 0; i < count; ++i) {
            step.tokenIds.push_back(0);
            step.positions.push_back(first + i);
        }
        step.blockTable = &table;
        step.logits = LogitsRows::Last;
        step.argmaxOnly = argmaxOnly;
        plan.sequences.push_back(std::move(step));
        Result<ForwardResult> result = backend.forward(plan);
        if (!result)
            return makeError(result.error().code, "warm-up step failed: " + result.error().message);
        return Status::ok();
    };
    Status status = run(0, prefillTokens, false);
    if (status && gpu)
        status = run(prefillTokens, 1, true);
    pool.release(table);
    return status;
}


// The tokenizer, parsed on its own thread while the weights stream in; shared by the device path
// and the host path it may fall back to. Its future is always waited for, also on error and cancel.
struct TokenizerJob {
    double ms = 0.0;
    std::shared_future<Result<std::shared_ptr<const Tokenizer>>> result;

    explicit TokenizerJob(const std::string& path)
    {
        result = std::async(std::launch::async, [path, this]() -> Result<std::shared_ptr<const Tokenizer>> {
                     const Clock::time_point t0 = Clock::now();
                     Result<std::unique_ptr<Tokenizer>> loaded = loadTokenizer(path);
                     ms = msBetween(t0, Clock::now());
                     if (!loaded)
                         return loaded.error();
                     return std::shared_ptr<const Tokenizer>(std::move(*loaded));
                 }).share();
    }
    TokenizerJob(const TokenizerJob&) = delete;
    TokenizerJob& operator=(const TokenizerJob&) = delete;
    ~TokenizerJob()
    {
        if (result.valid())
            result.wait();
    }
};

// How long a request may be: options, model and KV pool combined.
std::int64_t contextLengthFor(const ModelConfig& config, const EngineOptions& options, const KvPagePool& pool)
{
    std::int64_t context = config.maxPositions > 0 ? config.maxPositions : INT64_MAX;
    if (options.contextLength > 0)
        context = std::min(context, options.contextLength);
    // One sequence must fit the pool on its own, or preemption could not free enough for it.
    return std::min<std::int64_t>(context, static_cast<std::int64_t>(pool.nPages()) * pool.layout().pageTokens);
}

// The tokenizer's share of the breakdown: overlapped, plus what it took beyond the last byte.
void addTokenizerTimes(std::vector<LoadStageTime>& breakdown, const TokenizerJob& job, double waitMs)
{
    breakdown.push_back(LoadStageTime{kLoadStageTokenizer, job.ms - waitMs, true});
    if (waitMs >= 1.0)
        breakdown.push_back(LoadStageTime{kLoadStageTokenizer, waitMs, false});
}

#if HEARTH_CUDA_BUILT
// The device path: weights stream straight into the CUDA backend's storage while it sets up.
Result<LoadedModel> loadOnDevice(const ModelLoadParams& params, const ModelConfig& config, TokenizerJob& tokenizerJob,
                                 Clock::time_point start)
{
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(params.path));  // as stored: the device converts
    const double openMs = msBetween(start, Clock::now());
    if (cancelled(params))
        return cancelledError(params.path);
    CudaLoadRequest request;
    request.config = config;
    request.plan = &plan;
    request.options = params.options;
    request.pipe.nReaders = params.nReaders;
    request.pipe.chunkBytes = params.readChunkBytes;
    request.pipe.cancel = params.cancel;
    request.pipe.onProgress = params.onProgress;
    request.pipe.loadStart = start;
    request.pipe.stagesBefore.push_back(LoadStageTime{kLoadStageOpening, openMs, false});
    // Warm-up is its own stage: reported before it starts, from the hook the loader calls.
    LoadProgress warming;
    request.warmUp = [&](Backend& backend) -> Status {
        warming.stage = kLoadStageWarmingUp;
        warming.bytesDone = warming.bytesTotal = plan.totalBytes;
        warming.elapsedS = std::chrono::duration<double>(Clock::now() - start).count();
        if (params.onProgress)
            params.onProgress(warming);
        return warmUp(backend);
    };
    Result<CudaLoadResult> loaded = loadOnCudaDevice(request);
    if (!loaded)
        return loaded.error().code == ErrorCode::Cancelled || cancelled(params) ? cancelledError(params.path) : loaded.error();
    const Clock::time_point readyAt = Clock::now();
    const Result<std::shared_ptr<const Tokenizer>>& tokenizer = tokenizerJob.result.get();
    const double tokenizerWaitMs = msBetween(readyAt, Clock::now());
    if (!tokenizer)
        return tokenizer.error();
    CudaLoadResult& r = *loaded;

    LoadedModel out;
    out.tokenizer = *tokenizer;
    out.weights = r.weights;
    out.readMode = r.report.readMode;
    out.backendReason = "running on CUDA: " + r.describe + " (weights streamed to the device)";
    // Before the first read: "opening" (config, headers, files), the wait for the context, the
    // memory plan and the weight storage ("CUDA context"), then the pinned staging ring and
    // destinations; the device setup that ran beside the transfer is listed as overlapped, and
    // any part of it that outlasted the transfer as time of its own.
    std::vector<LoadStageTime> breakdown = request.pipe.stagesBefore;
    breakdown[0].ms += r.report.openMs - r.report.stagingMs;
    breakdown.push_back(LoadStageTime{kLoadStageCudaContext, r.contextWaitMs, false});
    breakdown.push_back(LoadStageTime{kLoadStageStaging, r.transferSetupMs + r.report.stagingMs, false});
    breakdown.push_back(LoadStageTime{kLoadStageReading, r.report.readMs, false});
    breakdown.push_back(LoadStageTime{kLoadStageCublas, r.setup.cublasMs + r.setup.workspaceMs, true});
    breakdown.push_back(LoadStageTime{kLoadStageKvPool, r.setup.kvMs, true});
    if (r.setup.gemmTuneMs > 0.0)
        breakdown.push_back(LoadStageTime{kLoadStageGemmTuning, r.setup.gemmTuneMs, true});
    // What outlasted the transfer: the tuner when it ran (by far the longest set-up step), else the pool.
    if (r.setupWaitMs >= 1.0)
        breakdown.push_back(LoadStageTime{r.setup.gemmTuneMs > 0.0 ? kLoadStageGemmTuning : kLoadStageKvPool,
                                          r.setupWaitMs, false});
    breakdown.push_back(LoadStageTime{kLoadStageConverting, r.finishMs, false});
    addTokenizerTimes(breakdown, tokenizerJob, tokenizerWaitMs);
    breakdown.push_back(LoadStageTime{kLoadStageWarmingUp, r.warmUpMs, false});
    out.backend = std::move(r.backend);
    out.contextLength = contextLengthFor(config, params.options, out.backend->kvPool());
    out.finalProgress = r.report.lastProgress;
    out.finalProgress.stage = kLoadStageReady;
    out.finalProgress.rateBytesPerS = 0.0;
    out.finalProgress.etaS = 0.0;
    out.finalProgress.elapsedS = std::chrono::duration<double>(Clock::now() - start).count();
    out.finalProgress.breakdown = std::move(breakdown);
    return out;
}
#endif

// The host path: weights into host memory, then the backend over them (the CPU backend, or the
// CUDA backend uploading from the host when the device path was not taken).
Result<LoadedModel> loadOnHost(const ModelLoadParams& params, const ModelConfig& config, TokenizerJob& tokenizerJob,
                               Clock::time_point start, const std::string& fallbackReason)
{
    const auto elapsedS = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    HEARTH_TRY_ASSIGN(LoadPlan plan, makeLoadPlan(params.path, halfTarget(params.options.weightDtype)));
    const double openMs = msBetween(start, Clock::now());
    if (cancelled(params))
        return cancelledError(params.path);
    LoadedModel out;

    HostSink sink;
    LoadPipelineOptions pipe;
    pipe.nReaders = params.nReaders;
    pipe.chunkBytes = params.readChunkBytes;
    pipe.cancel = params.cancel;
    pipe.onProgress = params.onProgress;
    pipe.loadStart = start;
    pipe.stagesBefore.push_back(LoadStageTime{kLoadStageOpening, openMs, false});
    Result<LoadPipelineReport> piped = runLoadPipeline(plan, sink, pipe);
    const Clock::time_point readEnd = Clock::now();
    const Result<std::shared_ptr<const Tokenizer>>& tokenizer = tokenizerJob.result.get();
    const double tokenizerWaitMs = msBetween(readEnd, Clock::now());
    if (!piped)
        return piped.error().code == ErrorCode::Cancelled ? cancelledError(params.path) : piped.error();
    if (!tokenizer)
        return tokenizer.error();
    out.tokenizer = *tokenizer;
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
    addTokenizerTimes(breakdown, tokenizerJob, tokenizerWaitMs);
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
    if (!fallbackReason.empty())
        request.options.backend = BackendChoice::Cpu;
    request.cpuKvBudgetBytes = params.options.kvBudgetBytes > 0 ? params.options.kvBudgetBytes
                                                                : defaultKvBudget(config, params.options);
    request.warmUp = warmUp;
    HEARTH_TRY_ASSIGN(CreatedBackend created, createBackend(request));
    std::unique_ptr<Backend> backend = std::move(created.backend);
    out.backendReason = fallbackReason.empty() ? std::move(created.reason) : fallbackReason;
    if (cancelled(params))
        return cancelledError(params.path);
    breakdown.push_back(LoadStageTime{kLoadStageWarmingUp, msBetween(warmStart, Clock::now()), false});

    out.contextLength = contextLengthFor(config, params.options, backend->kvPool());
    out.backend = std::move(backend);
    out.finalProgress = warming;
    out.finalProgress.stage = kLoadStageReady;
    out.finalProgress.elapsedS = elapsedS();
    out.finalProgress.breakdown = std::move(breakdown);
    return out;
}

}  // namespace

Result<LoadedModel> loadModelForEngine(const ModelLoadParams& params)
{
    const Clock::time_point start = Clock::now();
    LoadProgress opening;
    opening.stage = kLoadStageOpening;
    if (params.onProgress)
        params.onProgress(opening);
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(params.path));
    if (cancelled(params))
        return cancelledError(params.path);
    TokenizerJob tokenizerJob(params.path);
    std::string fallbackReason;
#if HEARTH_CUDA_BUILT
    if (cudaWillBeTried(params.options)) {
        Result<LoadedModel> device = loadOnDevice(params, config, tokenizerJob, start);
        // Only the device's own failures fall back; a file that cannot be read fails either way.
        const auto deviceFailure = [](ErrorCode code) {
            return code == ErrorCode::Unavailable || code == ErrorCode::OutOfMemory || code == ErrorCode::Internal ||
                   code == ErrorCode::Unsupported || code == ErrorCode::InvalidArgument;
        };
        if (device || params.options.backend == BackendChoice::Cuda || !deviceFailure(device.error().code) ||
            cancelled(params))
            return device;
        fallbackReason = "running on the CPU: the CUDA backend failed: " + device.error().message;
    }
#endif
    return loadOnHost(params, config, tokenizerJob, start, fallbackReason);
}

}  // namespace hearth
