// DeviceLoadOps on a CUDA device: pinned staging from cudaHostAlloc (page-aligned, as O_DIRECT
// wants), device memory from cudaMalloc, copies and conversions queued on a copy stream of its
// own (non-blocking, so the backend's setup on its own stream runs beside it), and one event per
// staging buffer marking when its copies are done. No CUDA types here. Private to engine/cuda.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "load/device_ops.h"

namespace hearth::cuda {

class CudaLoadOps final : public DeviceLoadOps {
public:
    // Uses `device` (made current on every calling thread); Unavailable without a usable device.
    static Result<std::unique_ptr<CudaLoadOps>> create(int device);
    ~CudaLoadOps() override;  // waits for the copy stream, then destroys it and the events

    Result<void*> allocPinned(std::size_t nBytes) override;
    void freePinned(void* p) override;
    Result<void*> allocDevice(std::size_t nBytes) override;
    void freeDevice(void* p) override;
    Status copyToDevice(void* dst, const void* src, std::size_t nBytes, int bufferIndex) override;
    Status convert(void* dst, DType dstType, const void* src, DType srcType, std::size_t nElems, int bufferIndex) override;
    Status recordBufferDone(int bufferIndex) override;
    Status waitBufferDone(int bufferIndex) override;
    Status synchronize() override;

private:
    CudaLoadOps() = default;
    Status makeCurrent() const;

    int m_device = 0;
    void* m_stream = nullptr;     // cudaStream_t
    std::mutex m_eventsMutex;     // events are created on first record, waited for from reader threads
    std::vector<void*> m_events;  // cudaEvent_t by staging buffer; nullptr until first recorded
};

// Host -> device bandwidth from pinned memory on `device`, in bytes per second: the best of a few
// copies of `nBytes` (after one warm-up copy).
Result<double> measurePinnedUploadBytesPerS(int device, std::size_t nBytes);

}  // namespace hearth::cuda
