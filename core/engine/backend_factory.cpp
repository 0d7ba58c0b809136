#include "engine/backend_factory.h"

#include <algorithm>

#include "build_config.h"
#include "engine/backend_probe.h"
#include "engine/cpu/cpu_backend.h"
#if HEARTH_CUDA_BUILT
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/cuda_load.h"
#endif

namespace hearth {

namespace {

Result<CreatedBackend> createCpu(const BackendRequest& r, std::string reason)
{
    CpuBackendOptions cpu;
    cpu.kvBudgetBytes = r.cpuKvBudgetBytes;
    cpu.nThreads = r.options.nThreads;
    HEARTH_TRY_ASSIGN(std::unique_ptr<CpuBackend> backend, CpuBackend::create(r.weights, cpu));
    if (r.warmUp)
        HEARTH_TRY_STATUS(r.warmUp(*backend));
    return CreatedBackend{std::move(backend), std::move(reason)};
}

#if HEARTH_CUDA_BUILT
Result<CreatedBackend> createCuda(const BackendRequest& r)
{
    const CudaBackendOptions o = cudaBackendOptionsFor(r.options);
    HEARTH_TRY_ASSIGN(std::unique_ptr<CudaBackend> backend, CudaBackend::create(r.weights, o));
    if (r.warmUp)
        HEARTH_TRY_STATUS(r.warmUp(*backend));
    std::string reason = "running on CUDA: " + backend->describe();
    return CreatedBackend{std::move(backend), std::move(reason)};
}
#endif

}  // namespace

std::string cudaUnavailableReason()
{
#if HEARTH_CUDA_BUILT
    const BackendReport report = probeBackends();
    return report.gpus.empty() ? "no usable CUDA device: " + report.reason : std::string();
#else
    return "this build has no CUDA backend";
#endif
}

bool cudaWillBeTried(const EngineOptions& options)
{
    switch (options.backend) {
    case BackendChoice::Cpu: return false;
    case BackendChoice::Cuda: return HEARTH_CUDA_BUILT != 0;
    case BackendChoice::Auto: break;
    }
    return HEARTH_CUDA_BUILT != 0 && cudaUnavailableReason().empty();
}

Result<CreatedBackend> createBackend(const BackendRequest& r)
{
    switch (r.options.backend) {
    case BackendChoice::Cpu:
        return createCpu(r, "the CPU backend was chosen");
    case BackendChoice::Cuda: {
#if HEARTH_CUDA_BUILT
        return createCuda(r);
#else
        return makeError(ErrorCode::Unavailable, "the CUDA backend was chosen, but " + cudaUnavailableReason());
#endif
    }
    case BackendChoice::Auto:
        break;
    }
    const std::string unavailable = cudaUnavailableReason();
    if (!unavailable.empty())
        return createCpu(r, "running on the CPU: " + unavailable);
#if HEARTH_CUDA_BUILT
    Result<CreatedBackend> cuda = createCuda(r);
    if (cuda)
        return cuda;
    return createCpu(r, "running on the CPU: the CUDA backend failed: " + cuda.error().message);
#else
    return createCpu(r, "running on the CPU: " + unavailable);
#endif
}

}  // namespace hearth
