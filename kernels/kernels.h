// Host entry points of Hearth's CUDA kernels. Plain C++: no CUDA types, no engine types, so
// core can call them without nvcc and the kernels never see the engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::kernels {

struct DeviceProps {
    int index = 0;
    std::string name;
    int computeMajor = 0;
    int computeMinor = 0;
    std::uint64_t totalBytes = 0;
    std::uint64_t freeBytes = 0;
    int multiprocessors = 0;
    double memoryBandwidthGBps = 0;  // theoretical, from clock and bus width when reported
};

struct DeviceQuery {
    int runtimeVersion = 0;   // e.g. 13000
    int driverVersion = 0;    // 0 when no driver is installed
    std::vector<DeviceProps> devices;
    std::string error;        // why no device is usable; empty when at least one is
};

// Asks the CUDA runtime which GPUs there are. Never fails hard: a machine without a driver or
// a GPU yields an empty list and a reason.
DeviceQuery queryDevices();

}  // namespace hearth::kernels
