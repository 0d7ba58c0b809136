// Creating the CUDA backend: the device, the memory plan (weights, workspace, a reserve and KV
// pages from what is left), the stream and cuBLAS, the weights' upload and the activation,
// logits and step buffers. The step itself is in cuda_backend.cpp, the layers in cuda_layers.cpp.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "engine/cuda/cuda_state.h"

namespace hearth {

using cuda::alignUp;
using cuda::formatBytes;
using kernels::ElemType;

namespace {

constexpr std::size_t kGemmWorkspaceBytes = std::size_t{32} << 20;

cudaStream_t asStream(kernels::StreamHandle s) { return static_cast<cudaStream_t>(s); }

ElemType resolveType(const ModelWeights& w, CudaComputeType want)
{
    if (want == CudaComputeType::F16)
        return ElemType::F16;
    if (want == CudaComputeType::BF16)
        return ElemType::BF16;
    // The embedding's dtype speaks for the checkpoint; fp32 runs as bf16 for its range.
    return w.embedding().dtype == DType::F16 ? ElemType::F16 : ElemType::BF16;
}

}  // namespace

CudaBackend::State::~State()
{
    // Nothing may still run on buffers about to be freed; errors here have no one to go to.
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
    HEARTH_TRY_STATUS(activations.reserve(d.activationBytes(cap), "activations"));
    auto* p = activations.as<std::uint8_t>();
    void** slots[] = {&residual, &xn, &qkv, &attn, &tmp, &gateUp, &act};
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
    const ModelConfig& c = weights->config();
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
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));
    cudaDeviceProp prop{};
    HEARTH_CUDA_TRY(cudaGetDeviceProperties(&prop, s.device));
    s.deviceName = prop.name;

    // The memory plan: weights, workspace, a reserve for the driver, cuBLAS and fragmentation,
    // and KV pages from what is left.
    const CudaDims d(c);
    const ElemType type = resolveType(*weights, options.compute);
    s.weightBytes = cuda::deviceWeightBytes(*weights);
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

    HEARTH_KERNEL_CALL(kernels::createStream(&s.stream));
    HEARTH_KERNEL_CALL(kernels::GemmContext::create(&s.gemm, kGemmWorkspaceBytes));
    s.rope = computeRopeFrequencies(c, 0);
    HEARTH_TRY_STATUS(cuda::uploadWeights(*weights, type, s.rope.invFreq, s.weights));
    HEARTH_TRY_STATUS(s.kv.reserve(s.kvBytes, "the KV cache"));
    // Zeroed once: the attention kernels may load (and mask) slots past a context's end, and
    // never-written memory could hold NaN patterns that a masked 0 * NaN would spread.
    HEARTH_CUDA_TRY(cudaMemset(s.kv.data(), 0, s.kv.bytes()));
    HEARTH_TRY_STATUS(s.reserveRows(d, options.workspaceTokens));
    HEARTH_TRY_STATUS(s.logits.reserve(static_cast<std::size_t>(options.logitsRows * d.vocab) * sizeof(float), "logits"));
    HEARTH_TRY_STATUS(s.logitsHost.reserve(static_cast<std::size_t>(options.logitsRows * d.vocab) * sizeof(float), "logits"));
    HEARTH_CUDA_TRY(cudaDeviceSynchronize());
    b->m_weights = std::move(weights);
    return b;
}

std::string CudaBackend::describe() const
{
    return m->deviceName + ", " + (m->weights.type == ElemType::F16 ? "fp16" : "bf16") + " weights (" +
           formatBytes(m->weightBytes) + "), KV " + formatBytes(m->kvBytes) + " (" + std::to_string(m_pool.nPages()) +
           " pages)";
}

}  // namespace hearth
