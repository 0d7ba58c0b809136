// cudasim exec: runs kernels on the CPU. Each block of a launch runs its threads as fibers on the
// calling OS thread (one block at a time), so __syncthreads is a block barrier and the warp
// primitives are barriers of the lanes in their mask that exchange values once every lane named
// has arrived. This header is the engine's interface; device.h (force-included into translated
// kernels) and include/mma.h build the CUDA kernel language on it.
//
// Semantics chosen (and checked, with cudasim::fault naming kernel, block and thread):
//  - __syncthreads completes when every thread of the block that has not exited waits at it
//    (exited threads are not waited for, as on the hardware); threads waiting at two different
//    __syncthreads (file:line) is a divergent barrier and a fault.
//  - A warp primitive completes when every lane of its mask waits at the same primitive with the
//    same mask; a lane calling with its own bit clear, or a mask naming a lane that has exited or
//    does not exist, is a fault. When no thread can run and no barrier can complete, the block is
//    deadlocked (a lane missing from a shuffle, a barrier some threads never reach): a fault.
//  - Threads run in thread order in even blocks and in reverse order in odd ones (blockIdx
//    x + y + z), so a kernel reading another thread's or lane's write without a barrier (or
//    __syncwarp) in between gets different answers from different blocks.
//  - Shared memory (static __shared__ arrays and the dynamic buffer) is filled with 0xFF bytes at
//    each block's start, so reading shared memory nobody wrote shows up as NaN.
//  - cp.async copies read their source when issued and land when the issuing thread waits for
//    their group (or exits), so reading the destination before the wait sees the old bytes.
#pragma once

#include <cuda_runtime_api.h>
#include <vector_types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

namespace cudasim::exec {

// <<<grid, block, sharedBytes, stream>>>.
struct LaunchConfig {
    dim3 grid;
    dim3 block;
    std::size_t sharedBytes = 0;
    cudaStream_t stream = nullptr;
};

// The launch configuration as written between <<< and >>> (2 to 4 values).
inline LaunchConfig config(dim3 grid, dim3 block, std::size_t sharedBytes = 0, cudaStream_t stream = nullptr)
{
    return LaunchConfig{grid, block, sharedBytes, stream};
}

// Checks the configuration as the driver does (cudaErrorInvalidConfiguration for block or grid
// sizes, cudaErrorInvalidValue for dynamic shared memory above the kernel's limit), and on
// success queues `body` on the stream, to be run by every thread of every block. `kernel` is the
// kernel's address for the shared-memory attribute (nullptr: the default limit applies); `name`
// names it in diagnostics and must outlive the launch (a string literal). Returns the error,
// which is also recorded as the calling thread's last error.
cudaError_t launchKernel(const LaunchConfig& config, const void* kernel, const char* name, std::function<void()> body);

// launchKernel with a closure that already holds copies of the kernel's arguments.
template <typename Body>
cudaError_t launch(const LaunchConfig& config, const void* kernel, const char* name, Body body)
{
    return launchKernel(config, kernel, name, std::function<void()>(std::move(body)));
}

// A kernel's address, as cudaFuncSetAttribute keys it.
template <typename... Params>
const void* kernelAddress(void (*kernel)(Params...))
{
    return reinterpret_cast<const void*>(kernel);
}

// The built-in variables of the calling kernel thread.
struct BlockInfo {
    uint3 blockIdx;
    dim3 blockDim;
    dim3 gridDim;
};
struct ThreadInfo {
    uint3 threadIdx;
    const BlockInfo* block;
    unsigned lane;  // threadIdx linearised, modulo 32
};
extern thread_local const ThreadInfo* tCurrentThread;

inline const ThreadInfo& currentThread() { return *tCurrentThread; }

// Block barrier (__syncthreads); `file`/`line` identify the call for the divergence check.
void syncThreads(const char* file, int line);

// The lanes' data of one warp collective, in lane order (nullptr for lanes outside the mask).
struct WarpGroup {
    unsigned mask;
    void* lanes[32];
};
using WarpCombine = void (*)(const WarpGroup& group);

// Waits until every lane in `mask` has called warpCollective with the same `what` and mask, then
// runs `combine` once over all their `laneData` (each lane reads its result from its own data
// afterwards). `what` names the primitive (a string literal) in diagnostics.
void warpCollective(unsigned mask, const char* what, void* laneData, WarpCombine combine);

// The dynamic shared memory of the running block (extern __shared__).
void* dynamicShared();

// Registers a static __shared__ variable when a thread reaches its declaration; the first thread
// of each block to do so fills it with 0xFF bytes.
void sharedVariable(void* address, std::size_t nBytes);

// cp.async of 16 bytes: `srcBytes` (0..16) are read now and the rest zero-filled; the
// destination is written when the thread waits for the group (both addresses 16-byte aligned).
void copyAsync16(void* dst, const void* src, int srcBytes);
void commitAsyncGroup();
// cp.async.wait_group n: lands every committed group but the newest n.
void waitAsyncGroups(int n);

// Stops the process with `message` prefixed by the running kernel, block and thread.
[[noreturn]] void kernelFault(const char* message);

}  // namespace cudasim::exec
