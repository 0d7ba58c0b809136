// What the device sink (device_sink.h) needs from a GPU, and nothing more: pinned and device
// memory, asynchronous host->device copies and on-device dtype conversion queued in order on one
// copy queue, and a "buffer done" marker per staging buffer. The CUDA implementation lives in
// engine/cuda (cuda_load_ops.h); tests put a CPU fake with a worker thread in its place. No CUDA
// types here, so core/load stays free of CUDA headers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/dtype.h"
#include "util/result.h"

namespace hearth {

class DeviceLoadOps {
public:
    virtual ~DeviceLoadOps() = default;

    // Page-locked host memory, aligned to at least 4096 bytes (O_DIRECT reads land in it).
    virtual Result<void*> allocPinned(std::size_t nBytes) = 0;
    virtual void freePinned(void* p) = 0;
    // Device memory, aligned to at least 256 bytes.
    virtual Result<void*> allocDevice(std::size_t nBytes) = 0;
    virtual void freeDevice(void* p) = 0;

    // Queues a copy of `nBytes` from pinned `src` to device `dst`; `src` is part of staging
    // buffer `bufferIndex` (or its carry bytes) and must stay untouched until that buffer is done.
    virtual Status copyToDevice(void* dst, const void* src, std::size_t nBytes, int bufferIndex) = 0;
    // Queues, after the copies queued before it, dst[i] = dstType(src[i]) for `nElems` elements on
    // the device. Supported: F16 <-> BF16, F32 -> F16 / BF16 (round to nearest even, bf16 -> fp16
    // saturating as core/load/half_convert.h does).
    virtual Status convert(void* dst, DType dstType, const void* src, DType srcType, std::size_t nElems,
                           int bufferIndex) = 0;
    // Marks the end of the work queued for `bufferIndex` so far.
    virtual Status recordBufferDone(int bufferIndex) = 0;
    // Returns once the work marked by the last recordBufferDone(bufferIndex) has finished (at once
    // when none was marked). May be called from another thread than the one queueing work.
    virtual Status waitBufferDone(int bufferIndex) = 0;
    // Waits for everything queued.
    virtual Status synchronize() = 0;
};

}  // namespace hearth
