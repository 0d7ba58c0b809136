// The engine facade: one loaded model, one scheduler thread, many concurrent requests.
// Thread-safe: any thread may submit, cancel or read state; events come back through each
// request's handle. The GUI's controller and the HTTP server are both clients of one Engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace hearth {

enum class BackendChoice { Auto, Cpu, Cuda };

// The stages of a load, in order; LoadProgress::stage is one of these (the GUI translates them).
inline constexpr const char* kLoadStageOpening = "opening";      // config, headers, tokenizer
inline constexpr const char* kLoadStageReading = "reading";      // weights: read, staged, uploaded
inline constexpr const char* kLoadStageConverting = "converting";  // dtype conversion / fusion left after the last byte
inline constexpr const char* kLoadStageWarmingUp = "warming up";  // backend setup and one warm-up step
inline constexpr const char* kLoadStageReady = "ready";
// A breakdown-only entry: parsing the tokenizer, which runs behind the weight reads.
inline constexpr const char* kLoadStageTokenizer = "tokenizer";
// Breakdown-only entries of the CUDA load path: device setup run while the weights stream in.
inline constexpr const char* kLoadStageCudaContext = "CUDA context";
// What the reads wait for on the CUDA path: the pinned staging ring and the device destinations.
inline constexpr const char* kLoadStageStaging = "staging buffers";
inline constexpr const char* kLoadStageCublas = "cuBLAS and workspace";
inline constexpr const char* kLoadStageKvPool = "KV cache";
inline constexpr const char* kLoadStageGemmTuning = "GEMM tuning";

// One weight file's share of a load.
struct LoadFileProgress {
    std::string file;                // file name (no folder)
    std::uint64_t bytesDone = 0;
    std::uint64_t bytesTotal = 0;
};

// Where a finished (or failed) load spent its time, stage by stage, in order. Stages that ran
// behind the transfer (overlapped) are listed with overlapped = true and do not add to the total.
struct LoadStageTime {
    std::string stage;
    double ms = 0.0;
    bool overlapped = false;
};

// Progress of a model load: the GUI panel, `/health` and the CLI show this.
struct LoadProgress {
    std::string stage;               // one of kLoadStage*
    std::uint64_t bytesDone = 0;
    std::uint64_t bytesTotal = 0;
    double rateBytesPerS = 0.0;      // recent rate (a sliding window), not the average since start
    double etaS = 0.0;
    double elapsedS = 0.0;           // since the load started
    std::string file;                // the file being read, when reading
    std::vector<LoadFileProgress> files;     // every weight file, in read order
    std::vector<LoadStageTime> breakdown;    // stages finished so far; complete once stage is "ready"
};

// How weights are kept in memory after loading. AsStored keeps the checkpoint's dtype; F16/BF16
// convert while loading (bf16 values beyond fp16's range saturate to +-65504).
enum class WeightDType { AsStored, F16, BF16 };

// Default prefill chunks. The CPU's is small so decoding streams are not stalled long by a
// prompt; on a GPU a 2048-token chunk keeps the GEMMs near their peak (a 512-token chunk reads
// every weight once per 512 tokens) while a concurrent decode step waits at most ~0.1 s.
inline constexpr std::int32_t kCpuPrefillChunkTokens = 256;
inline constexpr std::int32_t kCudaPrefillChunkTokens = 2048;

struct EngineOptions {
    BackendChoice backend = BackendChoice::Auto;
    int gpuIndex = 0;                  // the CUDA device the CUDA backend runs on
    std::uint64_t kvBudgetBytes = 0;   // 0: a default from free memory
    int nThreads = 0;                  // CPU backend threads; 0 = one per core
    std::int32_t maxQueuedRequests = 64;     // beyond this, submit() answers Busy
    std::int32_t maxBatchSequences = 16;     // sequences advanced together in one step
    // A long prompt is prefilled in chunks this size (all prefilling prompts together, per step);
    // 0: the backend's own (kCpuPrefillChunkTokens, kCudaPrefillChunkTokens).
    std::int32_t prefillChunkTokens = 0;
    std::int64_t contextLength = 0;          // 0: the model's max positions, capped by memory
    // Called on the loading thread at each progress step (the same values state() shows).
    std::function<void(const LoadProgress&)> onLoadProgress;
    std::uint64_t loadReadChunkBytes = 16u << 20;  // weights are read (and progress reported) in chunks this size
    WeightDType weightDtype = WeightDType::AsStored;
    // CUDA: time the GEMM methods for this model's shapes while the weights load, and keep the
    // fastest (cached per card under cacheDir(), so a later load of the same shapes skips it).
    bool tuneGemms = true;
};

// The prefill chunk the engine runs with on the chosen backend (options' own when set).
inline std::int32_t prefillChunkTokensFor(const EngineOptions& options, bool onCuda)
{
    if (options.prefillChunkTokens > 0)
        return options.prefillChunkTokens;
    return onCuda ? kCudaPrefillChunkTokens : kCpuPrefillChunkTokens;
}

enum class EngineStateKind { Empty, Loading, Ready, Failed };

struct EngineState {
    EngineStateKind kind = EngineStateKind::Empty;
    LoadProgress progress;      // while Loading
    std::string modelPath;      // Loading / Ready
    std::string backendName;    // Ready: "cpu" or "cuda"
    std::string reason;         // Failed: what went wrong; Ready on CPU: why not CUDA
};

enum class FinishReason { Stop, Length, Eos, Cancelled, Error };
const char* finishReasonName(FinishReason reason);  // "stop", "length", "eos", "cancelled", "error"

struct GenerateRequest {
    std::vector<TokenId> promptIds;          // already rendered and tokenized
    SamplingParams sampling;
    std::int32_t maxTokens = 256;            // > 0
    std::vector<std::string> stopStrings;    // text before the stop is emitted, the stop is not
    std::vector<TokenId> stopIds;            // in addition to the model's end-of-turn ids
    bool ignoreEos = false;
    std::string adapter;                     // an attached adapter's name; empty for the base model
    float adapterScale = 1.0f;
};

struct GenerationStats {
    std::int32_t promptTokens = 0;
    std::int32_t cachedPromptTokens = 0;     // reused from the prefix cache
    std::int32_t generatedTokens = 0;
    double timeToFirstTokenMs = 0.0;
    double decodeTokensPerS = 0.0;
    double totalMs = 0.0;
};

// Every generated token, including the end-of-turn or stop id that ends the request (whose
// textDelta is empty: it is not part of the reply's text).
struct TokenEvent {
    TokenId token = 0;
    std::string textDelta;                   // final UTF-8 text this token released (may be empty)
    float logprob = 0.0f;
    std::vector<TokenLogprob> topLogprobs;
};
struct FinishedEvent {
    FinishReason reason = FinishReason::Stop;
    std::string textDelta;                   // text held back until the end (flushed on finish)
    std::optional<std::string> matchedStop;
    GenerationStats stats;
};
struct FailedEvent {
    Error error;
};
using GenerationEvent = std::variant<TokenEvent, FinishedEvent, FailedEvent>;

// A submitted request. Events arrive in order and end with exactly one FinishedEvent or
// FailedEvent. cancel() works from any thread at any time; the request then finishes with
// FinishReason::Cancelled within one scheduler step.
class RequestHandle {
public:
    virtual ~RequestHandle() = default;
    virtual std::uint64_t id() const = 0;
    // Waits up to `timeout` for the next event; nullopt on timeout.
    virtual std::optional<GenerationEvent> nextEvent(std::chrono::milliseconds timeout) = 0;
    virtual void cancel() = 0;
    virtual bool done() const = 0;
};

struct EngineStats {
    std::int32_t running = 0;
    std::int32_t queued = 0;
    std::int32_t kvPagesUsed = 0;            // held by running sequences
    std::int32_t kvPagesCached = 0;          // released but kept for prefix reuse (reclaimable)
    std::int32_t kvPagesTotal = 0;
    std::uint64_t requestsServed = 0;
    std::uint64_t tokensGenerated = 0;
    std::uint64_t promptTokensCached = 0;
    std::uint64_t preemptions = 0;           // sequences whose K/V was dropped to make room
};

struct ModelInfo {
    std::string path;
    std::string architecture;
    std::int64_t contextLength = 0;
    std::int64_t vocabSize = 0;
    std::vector<std::string> adapters;       // attached adapter names
};

class Engine {
public:
    static Result<std::unique_ptr<Engine>> create(EngineOptions options = {});
    virtual ~Engine() = default;

    // Starts loading a model folder in the background; progress through state().
    // Requests submitted while loading wait in line (bounded by maxQueuedRequests).
    virtual Status load(const std::string& modelPath) = 0;
    // Blocks until the load in progress ends; returns its outcome.
    virtual Status waitUntilLoaded() = 0;
    virtual void cancelLoad() = 0;
    virtual void unload() = 0;
    virtual EngineState state() const = 0;

    // The model's tokenizer (valid while a model is loaded); nullptr otherwise.
    virtual std::shared_ptr<const Tokenizer> tokenizer() const = 0;
    virtual std::optional<ModelInfo> modelInfo() const = 0;

    virtual Result<std::unique_ptr<RequestHandle>> submit(GenerateRequest request) = 0;

    // PEFT adapters attached by name without reloading the base model.
    virtual Status attachAdapter(const std::string& name, const std::string& path) = 0;
    virtual Status detachAdapter(const std::string& name) = 0;

    virtual EngineStats stats() const = 0;
};

}  // namespace hearth
