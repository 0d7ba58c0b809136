// Whether kernels go out with programmatic dependent launch (launch.cuh).
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels.h"
#include "launch.cuh"

namespace hearth::kernels::detail {

bool programmaticLaunchEnabled()
{
#if defined(HEARTH_CUDASIM)
    return false;  // launchPdl is a plain launch there: say so in the backend's description
#else
    static const bool allowed = [] {
        const char* v = std::getenv("HEARTH_PDL");
        return v == nullptr || std::strcmp(v, "0") != 0;
    }();
    if (!allowed)
        return false;
    // Per device, asked once: 0 not yet known, 1 sm_90 or newer, -1 older.
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
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
            cudaGetLastError();
            return false;
        }
        known = major >= 9 ? 1 : -1;
        capable[device].store(known, std::memory_order_relaxed);
    }
    return known > 0;
#endif
}

}  // namespace hearth::kernels::detail

namespace hearth::kernels {

bool programmaticLaunch() { return detail::programmaticLaunchEnabled(); }

}  // namespace hearth::kernels
