// cudasim: a CPU stand-in for one CUDA device, so that the kernels and the CUDA backend can be run
// and checked against their CPU references on machines without a GPU (CI, most dev sessions).
// It is a test tool, never part of Hearth: a build with -DHEARTH_CUDA_SIM=ON compiles kernels/*.cu
// as C++ (exec/: fibers for the threads of a block, warp shuffles, __syncthreads, WMMA, cp.async)
// and links this runtime (runtime/: cudaMalloc..., streams, events, graphs, a cuBLAS subset) in
// place of libcudart and libcublas. Declarations come from the real CUDA headers; only the
// definitions are ours.
//
// Semantics kept on purpose, because they are where host-side bugs hide:
//  - Work is deferred: a stream's queue runs only when something waits for it (stream/event/device
//    synchronisation, a blocking cudaMemcpy, cudaFree...). Host code that reuses a buffer before
//    waiting for the copy that reads it gets wrong data, as on a real GPU.
//  - Fresh device allocations are filled with 0xFF bytes (NaN in fp32/fp16/bf16), so reading memory
//    nobody wrote shows up in the results.
//  - Launch-configuration limits (threads per block, dynamic shared memory above 48 KiB without
//    cudaFuncSetAttribute) fail the launch as the driver would; a barrier that not every thread of a
//    block reaches aborts with a message instead of hanging.
// Not modelled: timing, concurrency between streams (queues run one item at a time, in an order
// the waits allow), memory-model races inside a kernel, and device faults (build with
// HEARTH_SANITIZE=ON to have out-of-bounds device accesses reported by AddressSanitizer).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>

namespace cudasim {

// The simulated device (what cudaGetDeviceProperties and cudaDeviceGetAttribute report).
inline constexpr const char* kDeviceName = "Hearth cudasim (CPU)";
inline constexpr int kComputeMajor = 9;
inline constexpr int kComputeMinor = 0;
inline constexpr int kMultiProcessors = 4;
inline constexpr int kWarpSize = 32;
inline constexpr int kMaxThreadsPerBlock = 1024;
inline constexpr std::size_t kSharedPerBlockDefault = 48 * 1024;   // without the opt-in attribute
inline constexpr std::size_t kSharedPerBlockOptin = 227 * 1024;    // sm_90
// Device memory the simulator reports as total; CUDASIM_MEMORY_MB overrides it (tests of the
// out-of-memory paths set it small). cudaMalloc fails with cudaErrorMemoryAllocation past it.
inline constexpr std::size_t kDefaultMemoryBytes = std::size_t{4} << 30;

// Queues `work` on `stream` (0 = the legacy default stream) in stream order, or records it into
// the graph when `stream` is capturing. `what` names the work in diagnostics. Returns the error a
// real driver would give for an invalid stream (and records it as the last error).
cudaError_t enqueue(cudaStream_t stream, std::function<void()> work, const char* what);

// Sets the calling thread's last error as the runtime would (cudaGetLastError returns and clears
// it; cudaPeekAtLastError returns it).
void setLastError(cudaError_t error);

// The dynamic shared memory a kernel may use, as set with cudaFuncSetAttribute(func,
// cudaFuncAttributeMaxDynamicSharedMemorySize, n); kSharedPerBlockDefault when never set.
std::size_t maxDynamicSharedBytes(const void* func);

// Stops the process with a message naming the kernel and the thread: for faults the device would
// report (a barrier not reached by every thread, a WMMA call with a misaligned pointer...).
[[noreturn]] void fault(const char* message);

// Environment switches of the runtime, for debugging a failing suite: CUDASIM_MEMORY_MB (above),
// CUDASIM_TRACE=1 (each work item on stderr as it runs, with its time), CUDASIM_FILL=<byte> (the
// fresh-allocation fill instead of 0xFF: a failure that goes away with 0 reads unwritten memory).

}  // namespace cudasim
