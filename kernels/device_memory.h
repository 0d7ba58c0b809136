// Device memory and stream basics as plain C++ (the engine and the GPU tests use these so they
// need no CUDA headers): allocate, free, copy, synchronise. Each returns a KernelStatus.
#pragma once

#include <cstddef>

#include "kernel_status.h"

namespace hearth::kernels {

// cudaMalloc of `nBytes` into *ptr (nullptr for 0 bytes).
KernelStatus deviceAlloc(void** ptr, std::size_t nBytes);
// cudaFree; nullptr is fine.
KernelStatus deviceFree(void* ptr);
// Synchronous host -> device / device -> host / device -> device copies. They run on the legacy
// default stream, which does not wait for streams made by createStream (non-blocking): finish
// or synchronise work on those streams before copying into memory their kernels use.
KernelStatus copyToDevice(void* dst, const void* src, std::size_t nBytes);
KernelStatus copyToHost(void* dst, const void* src, std::size_t nBytes);
KernelStatus copyDeviceToDevice(void* dst, const void* src, std::size_t nBytes);
// cudaMemsetAsync on `stream`.
KernelStatus deviceMemset(void* ptr, int value, std::size_t nBytes, StreamHandle stream = nullptr);
// Waits for all work on the device and reports any error a kernel raised meanwhile.
KernelStatus deviceSynchronize();
// A new non-blocking stream in *stream / destroys one.
KernelStatus createStream(StreamHandle* stream);
KernelStatus destroyStream(StreamHandle stream);

}  // namespace hearth::kernels
