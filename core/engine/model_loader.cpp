#include "engine/model_loader.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "engine/cpu/cpu_backend.h"
#include "model/safetensors.h"
#include "util/system_memory.h"

namespace hearth {

namespace {

using Clock = std::chrono::steady_clock;

bool cancelled(const ModelLoadParams& p) { return p.cancel && p.cancel->load(std::memory_order_relaxed); }

Error cancelledError(const std::string& path)
{
    return makeError(ErrorCode::Cancelled, "loading " + path + " was cancelled");
}

// Reads every tensor's bytes once, in file order, so the pages are resident before the first
// forward. madvise(WILLNEED) starts readahead for the chunk; touching one byte per page makes
// sure it arrived (readahead is only advice).
Status preReadWeights(const SafetensorsModel& model, const ModelLoadParams& params)
{
    std::vector<const TensorInfo*> order;
    for (const TensorInfo& t : model.tensors())
        order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->fileIndex != b->fileIndex ? a->fileIndex < b->fileIndex : a->fileOffset < b->fileOffset;
    });
    const auto pageBytes = static_cast<std::uintptr_t>(std::max(4096L, sysconf(_SC_PAGESIZE)));
    LoadProgress progress;
    progress.stage = "reading";
    progress.bytesTotal = model.totalTensorBytes();
    const auto start = Clock::now();
    const auto report = [&] {
        const double s = std::chrono::duration<double>(Clock::now() - start).count();
        progress.rateBytesPerS = s > 0.0 ? static_cast<double>(progress.bytesDone) / s : 0.0;
        progress.etaS = progress.rateBytesPerS > 0.0
                            ? static_cast<double>(progress.bytesTotal - progress.bytesDone) / progress.rateBytesPerS
                            : 0.0;
        if (params.onProgress)
            params.onProgress(progress);
    };
    if (!order.empty())
        progress.file = std::filesystem::path(model.files()[static_cast<std::size_t>(order.front()->fileIndex)]).filename().string();
    report();
    volatile std::uint8_t sink = 0;
    const std::uint64_t chunk = std::max<std::uint64_t>(params.readChunkBytes, pageBytes);
    for (const TensorInfo* t : order) {
        const std::span<const std::uint8_t> bytes = model.data(*t);
        progress.file = std::filesystem::path(model.files()[static_cast<std::size_t>(t->fileIndex)]).filename().string();
        for (std::uint64_t off = 0; off < bytes.size(); off += chunk) {
            if (cancelled(params))
                return cancelledError(params.path);
            const std::uint64_t n = std::min<std::uint64_t>(chunk, bytes.size() - off);
            const auto begin = reinterpret_cast<std::uintptr_t>(bytes.data() + off);
            const std::uintptr_t aligned = begin & ~(pageBytes - 1);
            // Advice only: a failure changes nothing but speed.
            (void)madvise(reinterpret_cast<void*>(aligned), n + (begin - aligned), MADV_WILLNEED);
            std::uint8_t acc = 0;
            for (std::uint64_t i = 0; i < n; i += pageBytes)
                acc ^= bytes[off + i];
            acc ^= bytes[off + n - 1];
            sink = sink ^ acc;
            progress.bytesDone += n;
            report();
        }
    }
    (void)sink;
    return Status::ok();
}

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

}  // namespace

Result<LoadedModel> loadModelForEngine(const ModelLoadParams& params)
{
    LoadProgress opening;
    opening.stage = "opening";
    if (params.onProgress)
        params.onProgress(opening);
    HEARTH_TRY_ASSIGN(ModelConfig config, loadModelConfig(params.path));
    HEARTH_TRY_ASSIGN(SafetensorsModel opened, SafetensorsModel::open(params.path));
    auto file = std::make_shared<const SafetensorsModel>(std::move(opened));
    LoadedModel out;
    HEARTH_TRY_ASSIGN(out.weights, ModelWeights::fromSafetensors(config, file));
    HEARTH_TRY_ASSIGN(std::unique_ptr<Tokenizer> tokenizer, loadTokenizer(params.path));
    out.tokenizer = std::move(tokenizer);
    if (cancelled(params))
        return cancelledError(params.path);

    HEARTH_TRY_STATUS(preReadWeights(*file, params));

    LoadProgress preparing;
    preparing.stage = kLoadStageWarmingUp;
    preparing.bytesDone = preparing.bytesTotal = file->totalTensorBytes();
    if (params.onProgress)
        params.onProgress(preparing);
    CpuBackendOptions cpu;
    cpu.kvBudgetBytes = params.options.kvBudgetBytes > 0 ? params.options.kvBudgetBytes
                                                         : defaultKvBudget(config, params.options);
    cpu.nThreads = params.options.nThreads;
    HEARTH_TRY_ASSIGN(std::unique_ptr<CpuBackend> backend, CpuBackend::create(out.weights, cpu));
    if (cancelled(params))
        return cancelledError(params.path);

    const KvPagePool& pool = backend->kvPool();
    std::int64_t context = config.maxPositions > 0 ? config.maxPositions : INT64_MAX;
    if (params.options.contextLength > 0)
        context = std::min(context, params.options.contextLength);
    // One sequence must fit the pool on its own, or preemption could not free enough for it.
    context = std::min<std::int64_t>(context, static_cast<std::int64_t>(pool.nPages()) * pool.layout().pageTokens);
    out.contextLength = context;
    out.backend = std::move(backend);
    return out;
}

}  // namespace hearth
