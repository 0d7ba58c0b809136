#include "engine/cuda/cuda_load.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <system_error>
#include <future>
#include <unordered_map>

#include "engine/cuda/cuda_load_ops.h"
#include "engine/device_layout.h"
#include "load/device_sink.h"
#include "util/paths.h"

namespace hearth {

namespace {

using Clock = std::chrono::steady_clock;

// GEMM tuning behind the transfer: a 7B model's ~60 shapes should take ~0.5 s on an H100; a
// warm (page-cached) load streams in ~0.6 s, and the plans are cached for the next one.
constexpr double kGemmTuneBudgetMs = 1500.0;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// Waits for the setup thread on every way out, before the backend it works on is destroyed.
struct SetupJoin {
    std::future<Status>& job;
    ~SetupJoin()
    {
        if (job.valid())
            job.wait();
    }
};

}  // namespace

CudaBackendOptions cudaBackendOptionsFor(const EngineOptions& options)
{
    CudaBackendOptions o;
    o.device = options.gpuIndex;
    o.kvBudgetBytes = options.kvBudgetBytes;
    o.compute = options.weightDtype == WeightDType::F16    ? CudaComputeType::F16
                : options.weightDtype == WeightDType::BF16 ? CudaComputeType::BF16
                                                           : CudaComputeType::Auto;
    o.workspaceTokens = static_cast<std::int64_t>(prefillChunkTokensFor(options, true)) +
                        std::max(1, options.maxBatchSequences);
    o.logitsRows = std::max(1, options.maxBatchSequences);
    const char* tuneEnv = std::getenv("HEARTH_GEMM_TUNE");  // "0": off (docs/CLI.md)
    if (options.tuneGemms && !(tuneEnv && std::string(tuneEnv) == "0")) {
        o.gemmTuneBudgetMs = kGemmTuneBudgetMs;
        o.gemmPlanCacheDir = cacheDir();
    }
    return o;
}

Result<CudaLoadResult> loadOnCudaDevice(const CudaLoadRequest& request)
{
    if (!request.plan)
        return makeError(ErrorCode::InvalidArgument, "CUDA load: no load plan");
    const LoadPlan& plan = *request.plan;
    const CudaBackendOptions options = cudaBackendOptionsFor(request.options);
    const DeviceLayout layout = planDeviceLayout(request.config);
    // A missing or misshapen tensor fails here, before the device is touched.
    HEARTH_TRY_STATUS(deviceDestinations(layout, plan, DType::F16).status());
    DType checkpoint = DType::BF16;
    for (const PlannedTensor& t : plan.tensors)
        if (t.name == "model.embed_tokens.weight")
            checkpoint = t.storedDtype;

    // Context, memory plan and weight storage first (the reads need the storage), then cuBLAS,
    // the KV pool and the workspace while the weights stream in.
    const Clock::time_point waitStart = Clock::now();
    std::promise<Result<std::unique_ptr<CudaBackend>>> begun;
    std::future<Result<std::unique_ptr<CudaBackend>>> begunResult = begun.get_future();
    // An exception (std::bad_alloc) must not leave `begun` unset: the wait below would never end.
    // It becomes an error here; the async state carries one from setUpRest to setup.get().
    const auto runSetup = [&begun, &request, &options, checkpoint]() -> Status {
        Result<std::unique_ptr<CudaBackend>> created = makeError(ErrorCode::Internal, "CUDA backend: set-up did not run");
        try {
            created = CudaBackend::beginCreate(request.config, checkpoint, options);
        } catch (const std::exception& e) {
            created = makeError(ErrorCode::Internal, std::string("CUDA backend: set-up failed: ") + e.what());
        }
        if (!created) {
            Error error = created.error();
            begun.set_value(std::move(created));
            return error;
        }
        CudaBackend* backend = created->get();
        begun.set_value(std::move(created));
        try {
            return backend->setUpRest();
        } catch (const std::exception& e) {
            return makeError(ErrorCode::Internal, std::string("CUDA backend: set-up failed: ") + e.what());
        }
    };
    std::future<Status> setup;
    try {
        setup = std::async(std::launch::async, runSetup);
    } catch (const std::system_error& e) {  // no thread to be had
        return makeError(ErrorCode::Internal, std::string("CUDA load: cannot start the set-up thread: ") + e.what());
    }
    Result<std::unique_ptr<CudaBackend>> created = begunResult.get();
    if (!created) {
        setup.wait();
        return created.error();
    }
    std::unique_ptr<CudaBackend> backend = std::move(*created);
    SetupJoin join{setup};  // declared after the backend: joins before it is destroyed
    CudaLoadResult out;
    out.contextWaitMs = msSince(waitStart);
    const Clock::time_point transferSetupStart = Clock::now();

    HEARTH_TRY_ASSIGN(std::vector<DeviceDestination> destinations,
                      deviceDestinations(layout, plan, backend->weightDType()));
    HEARTH_TRY_ASSIGN(std::unique_ptr<cuda::CudaLoadOps> ops, cuda::CudaLoadOps::create(options.device));
    if (request.pipe.cancel && request.pipe.cancel->load())
        return makeError(ErrorCode::Cancelled, "loading was cancelled");
    LoadPipelineOptions pipe = request.pipe;
    out.transferSetupMs = msSince(transferSetupStart);
    // Freeing the pinned staging (the sink's destructor, ops.reset) waits for the device, so for
    // the set-up's work in flight too: time of the set-up outlasting the transfer, not of the transfer.
    Clock::time_point transferEnd;
    Result<LoadPipelineReport> piped = [&] {
        DeviceSink sink(DeviceSinkOptions{ops.get(), destinations, backend->weightStorage(), backend->weightStorageBytes()});
        Result<LoadPipelineReport> report = runLoadPipeline(plan, sink, pipe);
        transferEnd = Clock::now();
        return report;
    }();
    ops.reset();
    const Status setUp = setup.get();
    out.setupWaitMs = msSince(transferEnd);
    if (!piped)
        return piped.error();
    if (!setUp)
        return setUp.error();
    out.report = *piped;

    // The tensors as the engine sees them: config and shapes, pointing at their device addresses.
    const Clock::time_point finishStart = Clock::now();
    std::unordered_map<std::string, const DeviceLayout::Piece*> pieces;
    for (const DeviceLayout::Piece& p : layout.pieces)
        pieces.emplace(p.name, &p);
    std::unordered_map<std::string, std::string> fileOf;
    for (const PlannedTensor& t : plan.tensors)
        fileOf.emplace(t.name, plan.files[static_cast<std::size_t>(t.fileIndex)].name);
    const auto* base = static_cast<const std::uint8_t*>(backend->weightStorage());
    const DType type = backend->weightDType();
    const TensorLookup lookup = [&](const std::string& name) -> std::optional<NamedTensor> {
        const auto it = pieces.find(name);
        if (it == pieces.end())
            return std::nullopt;
        return NamedTensor{base + it->second->offset, type, it->second->shape, fileOf[name]};
    };
    const std::string where = plan.files.size() == 1 ? plan.files.front().name : "the model's safetensors files";
    HEARTH_TRY_ASSIGN(out.weights, ModelWeights::describingDeviceTensors(request.config, lookup, where));
    HEARTH_TRY_STATUS(backend->completeLoad(out.weights));
    out.finishMs = msSince(finishStart);
    out.setup = backend->setupTimes();
    out.describe = backend->describe();

    if (request.warmUp) {
        const Clock::time_point warmStart = Clock::now();
        HEARTH_TRY_STATUS(request.warmUp(*backend));
        out.warmUpMs = msSince(warmStart);
    }
    out.backend = std::move(backend);
    return out;
}

}  // namespace hearth
