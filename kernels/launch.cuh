// Programmatic dependent launch (PDL, sm_90+) for the small kernels of a decode step.
//
// A decode step is ~300 dependent kernels, most of them a few microseconds long, so the gap between
// one kernel's last block and the next one's first useful load (launch, ramp-up of the memory
// pipeline) is a visible share of the step. Launched with launchPdl, a kernel may start while the
// one before it in the stream is still finishing: its blocks run their prologue (the GEMV issues
// its first weight loads, which depend on nothing the previous kernel writes), then pdlWait()
// blocks until the previous grid has completed and its memory is visible. Right after that wait
// each kernel calls pdlLaunchDependents(), so the kernel after it can be launched in turn: at most
// one kernel runs ahead, and only once every block of the current one has started (no block of a
// running kernel waits for room behind a waiting one).
//
// The rule for a kernel launched this way: before pdlWait() it reads nothing that another kernel
// writes (weights only) and writes nothing. Kernels launched the ordinary way, cuBLAS included,
// wait for full completion of their predecessor as always, and a launchPdl kernel after one of
// them simply starts when it finishes. Stream capture keeps the programmatic edges in the CUDA
// graphs of the decode step.
//
// Off without an sm_90+ device running this build's compute_90+ code (the wait is compiled in only
// there), and when the environment sets HEARTH_PDL=0 (read once per process) or a test calls
// setProgrammaticLaunch(false), so the gain can be measured against the same build. cudasim runs launches one after another, where
// the wait is a no-op.
#pragma once

#include <cstddef>
#include <tuple>
#include <utility>

#include "cuda_check.cuh"

namespace hearth::kernels::detail {

// Blocks until the grid this one depends on has completed and its writes are visible (a no-op
// when the kernel was launched without the attribute, or below sm_90).
__device__ __forceinline__ void pdlWait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(HEARTH_CUDASIM)
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

// Lets the next launchPdl kernel in the stream be launched (it still waits in pdlWait for this
// grid's completion before touching its results).
__device__ __forceinline__ void pdlLaunchDependents()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(HEARTH_CUDASIM)
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Whether launches on the current device get the programmatic-serialization attribute (see
// above; launch.cu).
bool programmaticLaunchEnabled();

// kernel<<<grid, block, smem, stream>>>(args...), with programmatic stream serialization where
// enabled. The launch error, if any, is left for HEARTH_CUDA_CHECK_LAUNCH as with <<< >>>.
template <typename... Params, typename... Args>
void launchPdl(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t sharedBytes, cudaStream_t stream,
               Args&&... args)
{
#if defined(HEARTH_CUDASIM)
    // What translate_cu.py makes of a <<< >>> launch (this header is included, not translated).
    ::cudasim::exec::launch(::cudasim::exec::config(grid, block, sharedBytes, stream), ::cudasim::exec::kernelAddress(kernel),
                            "launchPdl", [kernel, params = std::make_tuple(static_cast<Params>(args)...)]() {
                                std::apply(kernel, params);
                            });
#else
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = sharedBytes;
    config.stream = stream;
    cudaLaunchAttribute attribute[1] = {};
    attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = attribute;
    config.numAttrs = programmaticLaunchEnabled() ? 1 : 0;
    cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
#endif
}

}  // namespace hearth::kernels::detail
