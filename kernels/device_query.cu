// Device discovery through the CUDA runtime. No kernels here: this is how the engine learns
// whether a usable GPU exists and how much memory it has, before anything is allocated.
#include "kernels.h"

#include <cuda_runtime.h>

namespace hearth::kernels {

DeviceQuery queryDevices()
{
    DeviceQuery q;
    cudaDriverGetVersion(&q.driverVersion);
    cudaRuntimeGetVersion(&q.runtimeVersion);
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        q.error = q.driverVersion == 0 ? std::string("no NVIDIA driver found")
                                       : std::string("CUDA unavailable: ") + cudaGetErrorString(err);
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return q;
    }
    if (count == 0) {
        q.error = "no CUDA device found";
        return q;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp prop{};
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
            cudaGetLastError();
            continue;
        }
        DeviceProps d;
        d.index = i;
        d.name = prop.name;
        d.computeMajor = prop.major;
        d.computeMinor = prop.minor;
        d.totalBytes = prop.totalGlobalMem;
        d.multiprocessors = prop.multiProcessorCount;
        int memClockKHz = 0;
        int busWidthBits = 0;
        if (cudaDeviceGetAttribute(&memClockKHz, cudaDevAttrMemoryClockRate, i) == cudaSuccess &&
            cudaDeviceGetAttribute(&busWidthBits, cudaDevAttrGlobalMemoryBusWidth, i) == cudaSuccess)
            d.memoryBandwidthGBps = 2.0 * memClockKHz * 1e3 * (busWidthBits / 8.0) / 1e9;
        if (cudaSetDevice(i) == cudaSuccess) {
            size_t freeB = 0, totalB = 0;
            if (cudaMemGetInfo(&freeB, &totalB) == cudaSuccess)
                d.freeBytes = freeB;
            else
                cudaGetLastError();
        }
        q.devices.push_back(std::move(d));
    }
    if (q.devices.empty())
        q.error = "CUDA devices were reported but none could be queried";
    return q;
}

}  // namespace hearth::kernels
