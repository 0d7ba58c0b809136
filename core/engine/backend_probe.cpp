#include "engine/backend_probe.h"

#include <cstdio>

#include "build_config.h"
#if HEARTH_CUDA_BUILT
#include "kernels.h"
#endif

namespace hearth {

std::string BackendReport::summary() const
{
    if (backend == "cuda" && !gpus.empty()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " (%.1f GiB free)", static_cast<double>(gpus.front().freeBytes) / (1u << 30));
        return "CUDA on " + gpus.front().name + buf;
    }
    return "CPU (" + reason + ")";
}

BackendReport probeBackends()
{
    BackendReport r;
#if HEARTH_CUDA_BUILT
    r.cudaBuilt = true;
    r.cudaArchitectures = HEARTH_CUDA_ARCHITECTURES;
    const kernels::DeviceQuery q = kernels::queryDevices();
    for (const auto& d : q.devices)
        r.gpus.push_back({d.index, d.name, d.computeMajor, d.computeMinor, d.totalBytes, d.freeBytes});
    if (!r.gpus.empty()) {
        r.backend = "cuda";
        r.reason = "found " + std::to_string(r.gpus.size()) + " CUDA device(s)";
    } else {
        r.backend = "cpu";
        r.reason = q.error.empty() ? std::string("no CUDA device found") : q.error;
    }
#else
    r.backend = "cpu";
    r.reason = "this build has no CUDA backend";
#endif
    return r;
}

}  // namespace hearth
