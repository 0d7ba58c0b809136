#include "engine/cuda/cuda_load_ops.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>

#include "convert.h"
#include "engine/cuda/cuda_util.h"

namespace hearth::cuda {

namespace {

cudaStream_t asStream(void* s) { return static_cast<cudaStream_t>(s); }
cudaEvent_t asEvent(void* e) { return static_cast<cudaEvent_t>(e); }

Result<kernels::ElemType> elemType(DType t)
{
    switch (t) {
    case DType::F32: return kernels::ElemType::F32;
    case DType::F16: return kernels::ElemType::F16;
    case DType::BF16: return kernels::ElemType::BF16;
    default: break;
    }
    return makeError(ErrorCode::Unsupported, "CUDA loader: cannot convert " + std::string(dtypeName(t)) + " on the device");
}

// A failed allocation is not sticky, but it stays this thread's "last error", and the next kernel
// launch check (cudaGetLastError) would report it as its own failure: a host-path fallback's
// warm-up on this thread, say. Clears it and names the call.
Error allocationError(cudaError_t e, const char* call)
{
    cudaGetLastError();
    return cudaCallError(static_cast<int>(e), call, __FILE__, __LINE__);
}

}  // namespace

Result<std::unique_ptr<CudaLoadOps>> CudaLoadOps::create(int device)
{
    std::unique_ptr<CudaLoadOps> ops(new CudaLoadOps());
    ops->m_device = device;
    HEARTH_CUDA_TRY(cudaSetDevice(device));
    cudaStream_t stream = nullptr;
    HEARTH_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    ops->m_stream = stream;
    return ops;
}

CudaLoadOps::~CudaLoadOps()
{
    // Errors have no one to go to here; every resource is released regardless.
    (void)makeCurrent();
    if (m_stream) {
        cudaStreamSynchronize(asStream(m_stream));
        cudaStreamDestroy(asStream(m_stream));
    }
    for (void* e : m_events)
        if (e)
            cudaEventDestroy(asEvent(e));
}

Status CudaLoadOps::makeCurrent() const
{
    HEARTH_CUDA_TRY(cudaSetDevice(m_device));  // per thread; cheap when already current
    return Status::ok();
}

Result<void*> CudaLoadOps::allocPinned(std::size_t nBytes)
{
    HEARTH_TRY_STATUS(makeCurrent());
    void* p = nullptr;
    if (const cudaError_t e = cudaHostAlloc(&p, std::max<std::size_t>(nBytes, 1), cudaHostAllocDefault); e != cudaSuccess)
        return allocationError(e, "cudaHostAlloc");
    return p;
}

void CudaLoadOps::freePinned(void* p)
{
    if (p && makeCurrent())
        cudaFreeHost(p);
}

Result<void*> CudaLoadOps::allocDevice(std::size_t nBytes)
{
    HEARTH_TRY_STATUS(makeCurrent());
    void* p = nullptr;
    if (const cudaError_t e = cudaMalloc(&p, std::max<std::size_t>(nBytes, 1)); e != cudaSuccess)
        return allocationError(e, "cudaMalloc");
    return p;
}

void CudaLoadOps::freeDevice(void* p)
{
    if (p && makeCurrent())
        cudaFree(p);
}

Status CudaLoadOps::copyToDevice(void* dst, const void* src, std::size_t nBytes, int)
{
    HEARTH_TRY_STATUS(makeCurrent());
    HEARTH_CUDA_TRY(cudaMemcpyAsync(dst, src, nBytes, cudaMemcpyHostToDevice, asStream(m_stream)));
    return Status::ok();
}

Status CudaLoadOps::convert(void* dst, DType dstType, const void* src, DType srcType, std::size_t nElems, int)
{
    HEARTH_TRY_STATUS(makeCurrent());
    HEARTH_TRY_ASSIGN(kernels::ElemType in, elemType(srcType));
    HEARTH_TRY_ASSIGN(kernels::ElemType out, elemType(dstType));
    HEARTH_KERNEL_CALL(kernels::convertForLoad(src, in, dst, out, static_cast<std::int64_t>(nElems), m_stream));
    return Status::ok();
}

Status CudaLoadOps::recordBufferDone(int bufferIndex)
{
    if (bufferIndex < 0)
        return makeError(ErrorCode::Internal, "CUDA loader: negative staging buffer index");
    HEARTH_TRY_STATUS(makeCurrent());
    void* event = nullptr;
    {
        std::lock_guard lock(m_eventsMutex);
        if (static_cast<std::size_t>(bufferIndex) >= m_events.size())
            m_events.resize(static_cast<std::size_t>(bufferIndex) + 1, nullptr);
        if (!m_events[static_cast<std::size_t>(bufferIndex)]) {
            cudaEvent_t e = nullptr;
            HEARTH_CUDA_TRY(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
            m_events[static_cast<std::size_t>(bufferIndex)] = e;
        }
        event = m_events[static_cast<std::size_t>(bufferIndex)];
    }
    HEARTH_CUDA_TRY(cudaEventRecord(asEvent(event), asStream(m_stream)));
    return Status::ok();
}

Status CudaLoadOps::waitBufferDone(int bufferIndex)
{
    void* event = nullptr;
    {
        std::lock_guard lock(m_eventsMutex);
        if (bufferIndex >= 0 && static_cast<std::size_t>(bufferIndex) < m_events.size())
            event = m_events[static_cast<std::size_t>(bufferIndex)];
    }
    if (!event)
        return Status::ok();  // never recorded: nothing reads that buffer
    HEARTH_TRY_STATUS(makeCurrent());
    HEARTH_CUDA_TRY(cudaEventSynchronize(asEvent(event)));
    return Status::ok();
}

Status CudaLoadOps::synchronize()
{
    HEARTH_TRY_STATUS(makeCurrent());
    HEARTH_CUDA_TRY(cudaStreamSynchronize(asStream(m_stream)));
    return Status::ok();
}

Result<double> measurePinnedUploadBytesPerS(int device, std::size_t nBytes)
{
    HEARTH_TRY_ASSIGN(std::unique_ptr<CudaLoadOps> ops, CudaLoadOps::create(device));
    HEARTH_TRY_ASSIGN(void* host, ops->allocPinned(nBytes));
    Result<void*> dev = ops->allocDevice(nBytes);
    if (!dev) {
        ops->freePinned(host);
        return dev.error();
    }
    const auto release = [&] {
        ops->freeDevice(*dev);
        ops->freePinned(host);
    };
    std::fill_n(static_cast<unsigned char*>(host), nBytes, static_cast<unsigned char>(0x5a));
    double best = 0.0;
    for (int i = 0; i < 4; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        Status s = ops->copyToDevice(*dev, host, nBytes, 0);
        if (s)
            s = ops->synchronize();
        if (!s) {
            release();
            return s.error();
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (i > 0 && seconds > 0)  // the first copy pays for mapping the pages
            best = std::max(best, static_cast<double>(nBytes) / seconds);
    }
    release();
    return best;
}

}  // namespace hearth::cuda
