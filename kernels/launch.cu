// Whether kernels go out with programmatic dependent launch (launch.cuh).
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels.h"
#include "launch.cuh"

namespace hearth::kernels {
namespace {

// HEARTH_PDL=0 at start, or setProgrammaticLaunch since: 1 allowed, 0 not.
std::atomic<int>& allowed()
{
    static std::atomic<int> value{[] {
        const char* v = std::getenv("HEARTH_PDL");
        return v == nullptr || std::strcmp(v, "0") != 0 ? 1 : 0;
    }()};
    return value;
}

// What this build runs on the device: griddepcontrol is compiled in only for compute_90+ code
// (launch.cuh), so a build for older architectures running on a Hopper card must not launch
// with the attribute (its kernels would not wait).
__global__ void pdlProbeKernel() {}

}  // namespace

namespace detail {

bool programmaticLaunchEnabled()
{
#if defined(HEARTH_CUDASIM)
    return false;  // launchPdl is a plain launch there: say so in the backend's description
#else
    if (allowed().load(std::memory_order_relaxed) == 0)
        return false;
    // Per device, asked once: 0 not yet known, 1 sm_90 code on an sm_90+ device, -1 not.
    constexpr int kMaxDevices = 64;
    static std::atomic<int> capable[kMaxDevices] = {};
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= kMaxDevices) {
        cudaGetLastError();  // the launch that follows reports what is wrong with the device
        return false;
    }
    int known = capable[device].load(std::memory_order_relaxed);
    if (known == 0) {
        int major = 0;
        cudaFuncAttributes attributes{};
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
            cudaFuncGetAttributes(&attributes, pdlProbeKernel) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        known = major >= 9 && attributes.ptxVersion >= 90 ? 1 : -1;
        capable[device].store(known, std::memory_order_relaxed);
    }
    return known > 0;
#endif
}

}  // namespace detail

bool programmaticLaunch() { return detail::programmaticLaunchEnabled(); }

void setProgrammaticLaunch(bool enabled) { allowed().store(enabled ? 1 : 0, std::memory_order_relaxed); }

}  // namespace hearth::kernels
