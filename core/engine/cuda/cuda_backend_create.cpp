// Creating the CUDA backend: the device, the memory plan (weights, workspace, a reserve and KV
// pages from what is left), the stream and cuBLAS, the weights' upload and the activation,
// logits and step buffers. In phases, so the device load path can stream the weights into
// their storage while cuBLAS and the KV pool are set up (beginCreate, setUpRest, completeLoad).
// The step itself is in cuda_backend.cpp, the layers in cuda_layers.cpp.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "engine/cuda/cuda_state.h"
#include "engine/cuda/gemm_plan_cache.h"
#include "util/log.h"

namespace hearth {

using cuda::alignUp;
using cuda::formatBytes;
using kernels::ElemType;

namespace {

constexpr std::size_t kGemmWorkspaceBytes = std::size_t{32} << 20;

cudaStream_t asStream(kernels::StreamHandle s) { return static_cast<cudaStream_t>(s); }

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

ElemType resolveType(DType checkpoint, CudaComputeType want)
{
    if (want == CudaComputeType::F16)
        return ElemType::F16;
    if (want == CudaComputeType::BF16)
        return ElemType::BF16;
    // The embedding's dtype speaks for the checkpoint; fp32 runs as bf16 for its range.
    return checkpoint == DType::F16 ? ElemType::F16 : ElemType::BF16;
}

// The GEMM shapes this model's steps run, most important first: decode batches as the decode
// graphs pad them (to their batch buckets 1, 2, 4, 8, 16, 24, ...; up to 8 rows the GEMV is the
// baseline), the vocabulary projection, then prefill chunks (the warm-up's 128 rows, 512, 2048 and
// the largest step planned for).
std::vector<kernels::GemmProblem> gemmProblems(const CudaDims& d, ElemType type, const CudaBackendOptions& o)
{
    std::vector<std::int64_t> decodeRows;
    const std::int64_t maxBatch = std::min<std::int64_t>(o.logitsRows, cuda::kGraphMaxBatch);
    for (std::int64_t n = 1; n <= maxBatch; ++n)
        if (decodeRows.empty() || cuda::graphBatchBucket(n) != decodeRows.back())
            decodeRows.push_back(cuda::graphBatchBucket(n));
    std::vector<std::int64_t> prefillRows;
    for (std::int64_t rows : {128, 512, 2048})
        if (rows < o.workspaceTokens && (decodeRows.empty() || rows > decodeRows.back()))
            prefillRows.push_back(rows);
    if (decodeRows.empty() || o.workspaceTokens > decodeRows.back())
        prefillRows.push_back(o.workspaceTokens);
    const std::tuple<std::int64_t, std::int64_t> linears[] = {
        {d.qkvDim, d.hidden}, {d.hidden, d.qDim}, {2 * d.inter, d.hidden}, {d.hidden, d.inter}};
    std::vector<kernels::GemmProblem> out;
    const auto add = [&](std::int64_t m, std::int64_t n, std::int64_t k, ElemType outType) {
        kernels::GemmProblem p;
        p.m = m;
        p.n = n;
        p.k = k;
        p.inType = type;
        p.outType = outType;
        for (const kernels::GemmProblem& q : out)
            if (q.m == m && q.n == n && q.k == k && q.outType == outType)
                return;
        out.push_back(p);
    };
    for (std::int64_t m : decodeRows)
        for (const auto& [n, k] : linears)
            add(m, n, k, type);
    for (std::int64_t m : decodeRows)
        add(m, d.vocab, d.hidden, ElemType::F32);
    for (std::int64_t m : prefillRows)
        for (const auto& [n, k] : linears)
            add(m, n, k, type);
    return out;
}

bool sameProblem(const kernels::GemmProblem& a, const kernels::GemmProblem& b)
{
    return a.m == b.m && a.n == b.n && a.k == b.k && a.inType == b.inType && a.outType == b.outType;
}

}  // namespace

CudaBackend::State::~State()
{
    // Nothing may still run on buffers about to be freed; errors here have no one to go to. The
    // current device is per thread and the backend may be destroyed on any thread: make ours
    // current first, so the stream, cuBLAS and the buffers are released in their own context.
    cudaSetDevice(device);
    if (stream) {
        cudaStreamSynchronize(asStream(stream));
        kernels::destroyStream(stream);
    }
}

Status CudaBackend::State::reserveRows(const CudaDims& d, std::int64_t rows)
{
    if (rows <= rowCapacity)
        return Status::ok();
    const std::int64_t cap = std::max(rows, rowCapacity + rowCapacity / 2);
    // reserve() frees the old block before allocating: should it fail, no slice may still
    // point into it, or a later smaller step would run on freed memory.
    void** slots[] = {&residual, &xn, &qkv, &attn, &tmp, &gateUp, &act};
    rowCapacity = 0;
    for (void** slot : slots)
        *slot = nullptr;
    HEARTH_TRY_STATUS(activations.reserve(d.activationBytes(cap), "activations"));
    auto* p = activations.as<std::uint8_t>();
    const std::int64_t widths[] = {d.hidden, d.hidden, d.qkvDim, d.qDim, d.hidden, 2 * d.inter, d.inter};
    for (std::size_t i = 0; i < 7; ++i) {
        *slots[i] = p;
        p += alignUp(static_cast<std::size_t>(cap * widths[i]) * 2, 256);
    }
    rowCapacity = cap;
    return Status::ok();
}

CudaBackend::CudaBackend() : m(std::make_unique<State>()) {}
CudaBackend::~CudaBackend() = default;

Result<std::unique_ptr<CudaBackend>> CudaBackend::create(std::shared_ptr<const ModelWeights> weights,
                                                         const CudaBackendOptions& options)
{
    if (!weights)
        return makeError(ErrorCode::InvalidArgument, "CUDA backend: no weights");
    HEARTH_TRY_ASSIGN(std::unique_ptr<CudaBackend> b, beginCreate(weights->config(), weights->embedding().dtype, options));
    HEARTH_TRY_STATUS(b->setUpRest());
    State& s = *b->m;
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));
    HEARTH_TRY_STATUS(cuda::uploadWeights(*weights, s.weights.type, s.rope.invFreq, s.weights));
    HEARTH_CUDA_TRY(cudaDeviceSynchronize());
    b->m_weights = std::move(weights);
    return b;
}

Result<std::unique_ptr<CudaBackend>> CudaBackend::beginCreate(const ModelConfig& c, DType checkpointType,
                                                              const CudaBackendOptions& options)
{
    const auto start = Clock::now();
    if (c.headDim != 64 && c.headDim != 80 && c.headDim != 96 && c.headDim != 128)
        return makeError(ErrorCode::Unsupported, "CUDA backend: head_dim " + std::to_string(c.headDim) +
                                                     " is not supported by the attention kernels (64, 80, 96 or 128)");
    if (options.pageTokens < 1 || options.workspaceTokens < 1 || options.logitsRows < 1)
        return makeError(ErrorCode::InvalidArgument, "CUDA backend: page size, workspace tokens and logits rows must be positive");

    int nDevices = 0;
    const cudaError_t counted = cudaGetDeviceCount(&nDevices);
    if (counted != cudaSuccess || nDevices == 0) {
        cudaGetLastError();
        return makeError(ErrorCode::Unavailable, std::string("CUDA backend: no usable CUDA device (") +
                                                     (counted != cudaSuccess ? cudaGetErrorString(counted) : "none found") + ")");
    }
    if (options.device < 0 || options.device >= nDevices)
        return makeError(ErrorCode::InvalidArgument, "CUDA backend: device " + std::to_string(options.device) +
                                                         " does not exist (" + std::to_string(nDevices) + " found)");
    std::unique_ptr<CudaBackend> b(new CudaBackend());
    State& s = *b->m;
    s.device = options.device;
    s.loadConfig = c;
    s.createOptions = options;
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));
    // The first runtime call that needs the context creates it: the slow part of this phase.
    HEARTH_CUDA_TRY(cudaFree(nullptr));
    cudaDeviceProp prop{};
    HEARTH_CUDA_TRY(cudaGetDeviceProperties(&prop, s.device));
    s.deviceName = prop.name;
    s.programmaticLaunch = kernels::programmaticLaunch();

    // The memory plan: weights, workspace, a reserve for the driver, cuBLAS and fragmentation,
    // and KV pages from what is left.
    const CudaDims d(c);
    s.weights.type = resolveType(checkpointType, options.compute);
    s.layout = planDeviceLayout(c);
    s.weightBytes = s.layout.bytes;
    const std::size_t workspaceBytes =
        d.activationBytes(options.workspaceTokens) + kGemmWorkspaceBytes +
        static_cast<std::size_t>(options.logitsRows * d.vocab) * sizeof(float) +
        kernels::decodeAttentionWorkspaceBytes(options.logitsRows, c.nHeads, c.headDim,
                                               std::max<std::int64_t>(c.maxPositions, 4096));
    std::size_t freeBytes = 0, totalBytes = 0;
    HEARTH_CUDA_TRY(cudaMemGetInfo(&freeBytes, &totalBytes));
    const std::uint64_t reserveBytes = std::max<std::uint64_t>(1ull << 30, totalBytes / 10);
    const KvLayout layout = KvLayout::forModel(c, 2, options.pageTokens);
    const std::uint64_t fixedBytes = s.weightBytes + workspaceBytes;
    const std::uint64_t minimum = fixedBytes + static_cast<std::uint64_t>(layout.bytesPerPage()) + reserveBytes;
    if (minimum > freeBytes)
        return makeError(ErrorCode::OutOfMemory,
                         "CUDA backend: the model needs " + formatBytes(minimum) + " on " + s.deviceName + " (weights " +
                             formatBytes(s.weightBytes) + ", workspace " + formatBytes(workspaceBytes) +
                             ", a reserve of " + formatBytes(reserveBytes) + " and at least one KV page), but only " +
                             formatBytes(freeBytes) + " of " + formatBytes(totalBytes) + " is free");
    std::uint64_t kvBytes = freeBytes - fixedBytes - reserveBytes;
    if (options.kvBudgetBytes > 0)
        kvBytes = std::min<std::uint64_t>(kvBytes, options.kvBudgetBytes);
    HEARTH_TRY_ASSIGN(b->m_pool, KvPagePool::create(layout, kvBytes));
    s.kvBytes = static_cast<std::uint64_t>(b->m_pool.nPages()) * static_cast<std::uint64_t>(layout.bytesPerPage());
    s.rope = computeRopeFrequencies(c, 0);
    HEARTH_TRY_STATUS(s.weights.storage.reserve(s.weightBytes, "the model's weights"));
    s.setupTimes.contextMs = msSince(start);
    return b;
}

Status CudaBackend::setUpRest()
{
    State& s = *m;
    const CudaDims d(s.loadConfig);
    const CudaBackendOptions& options = s.createOptions;
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));  // this may be another thread than beginCreate's
    auto t = Clock::now();
    HEARTH_KERNEL_CALL(kernels::createStream(&s.stream));
    HEARTH_KERNEL_CALL(kernels::GemmContext::create(&s.gemm, kGemmWorkspaceBytes));
    HEARTH_KERNEL_CALL(kernels::prepareDecodeAttention());  // outside any graph capture
    s.setupTimes.cublasMs = msSince(t);
    t = Clock::now();
    HEARTH_TRY_STATUS(s.kv.reserve(s.kvBytes, "the KV cache"));
    s.setupTimes.kvMs = msSince(t);
    if (options.gemmTuneBudgetMs > 0.0) {
        t = Clock::now();
        s.tuneGemms(d);
        s.setupTimes.gemmTuneMs = msSince(t);
    }
    t = Clock::now();
    // Zeroed once, after the tuner used the pool as scratch: the attention kernels may load (and
    // mask) slots past a context's end, and never-written memory could hold NaN patterns that a
    // masked 0 * NaN would spread. On the backend's own (non-blocking) stream, so a weight upload
    // on another stream runs beside it.
    HEARTH_CUDA_TRY(cudaMemsetAsync(s.kv.data(), 0, s.kv.bytes(), asStream(s.stream)));
    HEARTH_CUDA_TRY(cudaStreamSynchronize(asStream(s.stream)));
    s.setupTimes.kvMs += msSince(t);
    t = Clock::now();
    HEARTH_TRY_STATUS(s.reserveRows(d, options.workspaceTokens));
    HEARTH_TRY_STATUS(s.logits.reserve(static_cast<std::size_t>(options.logitsRows * d.vocab) * sizeof(float), "logits"));
    HEARTH_TRY_STATUS(s.logitsHost.reserve(static_cast<std::size_t>(options.logitsRows * d.vocab) * sizeof(float), "logits"));
    s.setupTimes.workspaceMs = msSince(t);
    return Status::ok();
}

Status CudaBackend::completeLoad(std::shared_ptr<const ModelWeights> weights)
{
    State& s = *m;
    if (!weights || weights->layers().size() != s.layout.layers.size())
        return makeError(ErrorCode::InvalidArgument, "CUDA backend: the loaded weights do not match the device layout");
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));
    cuda::bindDeviceWeights(s.layout, s.weights.type, s.weights);
    const std::size_t ropeBytes = s.rope.invFreq.size() * sizeof(float);
    if (ropeBytes > s.layout.ropeBytes)
        return makeError(ErrorCode::Internal, "CUDA backend: the RoPE table does not fit its slot");
    HEARTH_CUDA_TRY(cudaMemcpy(s.weights.storage.as<std::uint8_t>(s.layout.rope), s.rope.invFreq.data(), ropeBytes,
                               cudaMemcpyHostToDevice));
    HEARTH_CUDA_TRY(cudaDeviceSynchronize());
    m_weights = std::move(weights);
    return Status::ok();
}

void CudaBackend::State::tuneGemms(const CudaDims& d)
{
    const std::vector<kernels::GemmProblem> problems = gemmProblems(d, weights.type, createOptions);
    int driver = 0;
    cudaDriverGetVersion(&driver);
    const std::string identity = cuda::gemmPlanIdentity(deviceName, driver);
    const std::string& dir = createOptions.gemmPlanCacheDir;
    const std::string path = dir.empty() ? std::string() : cuda::gemmPlanCachePath(dir, identity);

    // Cached plans of this card: those of our shapes are installed, the rest kept for the file.
    std::vector<kernels::GemmPlan> cached, ours;
    if (!path.empty())
        if (Result<std::vector<kernels::GemmPlan>> read = cuda::readGemmPlans(path, identity); read.isOk())
            cached = std::move(*read);
    for (const kernels::GemmPlan& p : cached)
        if (std::any_of(problems.begin(), problems.end(), [&](const auto& q) { return sameProblem(p.problem, q); }))
            ours.push_back(p);
    gemmPlansCached = gemm->install(ours);
    std::vector<kernels::GemmProblem> missing;
    const std::vector<kernels::GemmPlan> installed = gemm->plans();
    for (const kernels::GemmProblem& q : problems)
        if (std::none_of(installed.begin(), installed.end(), [&](const auto& p) { return sameProblem(p.problem, q); }))
            missing.push_back(q);

    if (!missing.empty()) {
        kernels::GemmTuneOptions o;
        o.scratch = kv.data();
        o.scratchBytes = kv.bytes();
        o.budgetMs = createOptions.gemmTuneBudgetMs;
        std::vector<kernels::GemmPlan> tuned;
        const kernels::KernelStatus st = gemm->tune(missing, o, stream, &tuned);
        if (!st.ok) {
            cudaGetLastError();
            logWarning("CUDA backend: GEMM tuning failed, the untuned shapes use cuBLAS's default: " + st.describe());
        }
        for (const kernels::GemmPlan& p : tuned)
            gemmPlansTimed += p.nCandidates > 0 ? 1 : 0;
        if (!path.empty() && gemmPlansTimed > 0) {
            // The file keeps other models' shapes; ours are replaced by what was just timed.
            std::vector<kernels::GemmPlan> all;
            for (const kernels::GemmPlan& c : cached)
                if (std::none_of(tuned.begin(), tuned.end(),
                                 [&](const auto& p) { return p.nCandidates > 0 && sameProblem(c.problem, p.problem); }))
                    all.push_back(c);
            for (const kernels::GemmPlan& p : tuned)
                if (p.nCandidates > 0)
                    all.push_back(p);
            if (Status written = cuda::writeGemmPlans(path, identity, all); !written)
                logWarning("CUDA backend: cannot keep the GEMM plans: " + written.error().toString());
        }
    }
    gemmPlans = gemm->plans();
}

std::string CudaBackend::gemmPlanSummary() const
{
    const State& s = *m;
    if (s.gemmPlans.empty())
        return {};
    int lt = 0, skinny = 0, gemv = 0;
    for (const kernels::GemmPlan& p : s.gemmPlans) {
        lt += p.method == kernels::GemmMethod::CublasLt ? 1 : 0;
        skinny += p.method == kernels::GemmMethod::Skinny ? 1 : 0;
        gemv += p.method == kernels::GemmMethod::Gemv ? 1 : 0;
    }
    const int n = static_cast<int>(s.gemmPlans.size());
    return "GEMM plans: " + std::to_string(n) + " shapes (" + std::to_string(lt) + " cuBLASLt, " +
           std::to_string(skinny) + " skinny, " + std::to_string(gemv) + " GEMV, " +
           std::to_string(n - lt - skinny - gemv) + " cuBLAS default; " +
           std::to_string(s.gemmPlansTimed) + " timed now, " + std::to_string(s.gemmPlansCached) + " from the cache)";
}

void* CudaBackend::weightStorage() const { return m->weights.storage.data(); }
std::uint64_t CudaBackend::weightStorageBytes() const { return m->weightBytes; }
DType CudaBackend::weightDType() const { return m->weights.type == ElemType::F16 ? DType::F16 : DType::BF16; }
const CudaSetupTimes& CudaBackend::setupTimes() const { return m->setupTimes; }

std::string CudaBackend::describe() const
{
    return m->deviceName + ", " + (m->weights.type == ElemType::F16 ? "fp16" : "bf16") + " weights (" +
           formatBytes(m->weightBytes) + "), KV " + formatBytes(m->kvBytes) + " (" + std::to_string(m_pool.nPages()) +
           " pages)" + (m->gemmPlans.empty() ? std::string() : "; " + gemmPlanSummary()) +
           (m->programmaticLaunch ? "; programmatic dependent launch" : "");
}

}  // namespace hearth
