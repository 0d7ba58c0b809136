// Host entry points of Hearth's CUDA kernels. Plain C++: no CUDA types, no engine types, so
// core can call them without nvcc and the kernels never see the engine. Each op family has its
// own header (included here); every launcher returns a KernelStatus and takes an opaque stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "activation.h"
#include "device_memory.h"
#include "elementwise.h"
#include "gemm.h"
#include "gemv.h"
#include "kernel_status.h"
#include "kv_write.h"
#include "lora.h"
#include "norm.h"
#include "paged_attention.h"
#include "paged_kv.h"
#include "rope.h"
#include "sampling.h"

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

// Whether the decode kernels go out with programmatic dependent launch on the current device
// (compute capability 9.0+ running this build's compute_90+ code, HEARTH_PDL not "0"; launch.cuh).
bool programmaticLaunch();
// Turns it on or off for launches from now on, for the whole process (tests comparing the two;
// HEARTH_PDL=0 sets it off at start).
void setProgrammaticLaunch(bool enabled);

}  // namespace hearth::kernels
