// The simulated device as the runtime reports it (one sm_90 device with the sizes of cudasim.h),
// versions, error names and strings, and per-kernel attributes.
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "cudasim.h"
#include "sim_state.h"

namespace {

thread_local int t_device = 0;

// H100 SXM figures for what the sim cannot measure (bandwidth estimates read these).
constexpr int kMemoryClockKHz = 2619000;
constexpr int kMemoryBusWidthBits = 5120;
constexpr int kL2CacheBytes = 50 * 1024 * 1024;
constexpr int kClockKHz = 1980000;

std::unordered_map<const void*, int>& dynamicSharedLimits()
{
    static auto* m = new std::unordered_map<const void*, int>();
    return *m;
}

// The errors this runtime can return, with the strings libcudart gives for them.
#define CUDASIM_ERRORS(X)                                                                                    \
    X(cudaSuccess, "no error")                                                                             \
    X(cudaErrorInvalidValue, "invalid argument")                                                           \
    X(cudaErrorMemoryAllocation, "out of memory")                                                          \
    X(cudaErrorInitializationError, "initialization error")                                                \
    X(cudaErrorInvalidConfiguration, "invalid configuration argument")                                     \
    X(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy")                                \
    X(cudaErrorInvalidDevice, "invalid device ordinal")                                                    \
    X(cudaErrorNoDevice, "no CUDA-capable device is detected")                                             \
    X(cudaErrorInvalidDeviceFunction, "invalid device function")                                           \
    X(cudaErrorInvalidResourceHandle, "invalid resource handle")                                           \
    X(cudaErrorIllegalState, "the operation cannot be performed in the present state")                     \
    X(cudaErrorNotReady, "device not ready")                                                               \
    X(cudaErrorIllegalAddress, "an illegal memory access was encountered")                                 \
    X(cudaErrorLaunchOutOfResources, "too many resources requested for launch")                            \
    X(cudaErrorLaunchFailure, "unspecified launch failure")                                                \
    X(cudaErrorNotSupported, "operation not supported")                                                    \
    X(cudaErrorStreamCaptureUnsupported, "operation not permitted when stream is capturing")               \
    X(cudaErrorStreamCaptureInvalidated, "operation failed due to a previous error during capture")        \
    X(cudaErrorStreamCaptureMerge, "operation would result in a merge of separate capture sequences")      \
    X(cudaErrorStreamCaptureUnmatched, "capture was not ended in the same stream as it began")             \
    X(cudaErrorStreamCaptureUnjoined, "capturing stream has unjoined work")                                \
    X(cudaErrorStreamCaptureIsolation, "dependency created on uncaptured work in another stream")          \
    X(cudaErrorStreamCaptureImplicit, "operation would make the legacy stream depend on a capturing blocking stream") \
    X(cudaErrorCapturedEvent, "operation not permitted on an event last recorded in a capturing stream")   \
    X(cudaErrorStreamCaptureWrongThread, "attempt to terminate a thread-local capture sequence from another thread") \
    X(cudaErrorUnknown, "unknown error")

}  // namespace

namespace cudasim {

std::size_t maxDynamicSharedBytes(const void* func)
{
    rt::Lock lock(rt::mutex());
    const auto it = dynamicSharedLimits().find(func);
    return it == dynamicSharedLimits().end() ? kSharedPerBlockDefault : static_cast<std::size_t>(it->second);
}

}  // namespace cudasim

using namespace cudasim::rt;

const char* cudaGetErrorString(cudaError_t error)
{
    switch (error) {
#define CUDASIM_STRING(name, text) \
    case name: return text;
        CUDASIM_ERRORS(CUDASIM_STRING)
#undef CUDASIM_STRING
    default: return "unrecognized error code";
    }
}

const char* cudaGetErrorName(cudaError_t error)
{
    switch (error) {
#define CUDASIM_NAME(name, text) \
    case name: return #name;
        CUDASIM_ERRORS(CUDASIM_NAME)
#undef CUDASIM_NAME
    default: return "cudaErrorUnknown";
    }
}

cudaError_t cudaDriverGetVersion(int* driverVersion)
{
    if (!driverVersion)
        return fail(cudaErrorInvalidValue);
    *driverVersion = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* runtimeVersion)
{
    if (!runtimeVersion)
        return fail(cudaErrorInvalidValue);
    *runtimeVersion = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count)
{
    if (!count)
        return fail(cudaErrorInvalidValue);
    *count = 1;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    t_device = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device)
{
    if (!device)
        return fail(cudaErrorInvalidValue);
    *device = t_device;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device)
{
    if (!prop)
        return fail(cudaErrorInvalidValue);
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    std::memset(prop, 0, sizeof(*prop));
    std::snprintf(prop->name, sizeof(prop->name), "%s", cudasim::kDeviceName);
    std::memcpy(prop->uuid.bytes, "cudasim-device-0", 16);
    prop->totalGlobalMem = totalDeviceBytes();
    prop->sharedMemPerBlock = cudasim::kSharedPerBlockDefault;
    prop->regsPerBlock = 65536;
    prop->warpSize = cudasim::kWarpSize;
    prop->memPitch = 2147483647;
    prop->maxThreadsPerBlock = cudasim::kMaxThreadsPerBlock;
    prop->maxThreadsDim[0] = 1024;
    prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647;
    prop->maxGridSize[1] = 65535;
    prop->maxGridSize[2] = 65535;
    prop->totalConstMem = 65536;
    prop->major = cudasim::kComputeMajor;
    prop->minor = cudasim::kComputeMinor;
    prop->textureAlignment = 512;
    prop->texturePitchAlignment = 32;
    prop->multiProcessorCount = cudasim::kMultiProcessors;
    prop->canMapHostMemory = 1;
    prop->concurrentKernels = 1;
    prop->asyncEngineCount = 2;
    prop->unifiedAddressing = 1;
    prop->memoryBusWidth = kMemoryBusWidthBits;
    prop->l2CacheSize = kL2CacheBytes;
    prop->maxThreadsPerMultiProcessor = 2048;
    prop->streamPrioritiesSupported = 1;
    prop->globalL1CacheSupported = 1;
    prop->localL1CacheSupported = 1;
    prop->sharedMemPerMultiprocessor = 228 * 1024;
    prop->regsPerMultiprocessor = 65536;
    prop->managedMemory = 1;
    prop->hostNativeAtomicSupported = 0;
    prop->computePreemptionSupported = 1;
    prop->cooperativeLaunch = 1;
    prop->sharedMemPerBlockOptin = cudasim::kSharedPerBlockOptin;
    prop->maxBlocksPerMultiProcessor = 32;
    prop->reservedSharedMemPerBlock = 1024;
    prop->memoryPoolsSupported = 1;
    prop->clusterLaunch = 1;
    return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device)
{
    if (!value)
        return fail(cudaErrorInvalidValue);
    if (device != 0)
        return fail(cudaErrorInvalidDevice);
    switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = cudasim::kComputeMajor; break;
    case cudaDevAttrComputeCapabilityMinor: *value = cudasim::kComputeMinor; break;
    case cudaDevAttrMultiProcessorCount: *value = cudasim::kMultiProcessors; break;
    case cudaDevAttrWarpSize: *value = cudasim::kWarpSize; break;
    case cudaDevAttrMaxThreadsPerBlock: *value = cudasim::kMaxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX:
    case cudaDevAttrMaxBlockDimY: *value = 1024; break;
    case cudaDevAttrMaxBlockDimZ: *value = 64; break;
    case cudaDevAttrMaxGridDimX: *value = 2147483647; break;
    case cudaDevAttrMaxGridDimY:
    case cudaDevAttrMaxGridDimZ: *value = 65535; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = static_cast<int>(cudasim::kSharedPerBlockDefault); break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = static_cast<int>(cudasim::kSharedPerBlockOptin); break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = 228 * 1024; break;
    case cudaDevAttrMaxRegistersPerBlock:
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = 65536; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = 2048; break;
    case cudaDevAttrMemoryClockRate: *value = kMemoryClockKHz; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = kMemoryBusWidthBits; break;
    case cudaDevAttrClockRate: *value = kClockKHz; break;
    case cudaDevAttrL2CacheSize: *value = kL2CacheBytes; break;
    case cudaDevAttrTotalConstantMemory: *value = 65536; break;
    case cudaDevAttrIntegrated: *value = 0; break;
    case cudaDevAttrCanMapHostMemory:
    case cudaDevAttrUnifiedAddressing:
    case cudaDevAttrConcurrentKernels: *value = 1; break;
    default: return fail(cudaErrorInvalidValue);  // not simulated: say so rather than invent a value
    }
    return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value)
{
    Lock lock(mutex());
    if (!func)
        return fail(cudaErrorInvalidDeviceFunction);
    switch (attr) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize:
        if (value < 0 || static_cast<std::size_t>(value) > cudasim::kSharedPerBlockOptin)
            return fail(cudaErrorInvalidValue);
        dynamicSharedLimits()[func] = value;
        return cudaSuccess;
    case cudaFuncAttributePreferredSharedMemoryCarveout:
        return value >= -1 && value <= 100 ? cudaSuccess : fail(cudaErrorInvalidValue);
    default: return fail(cudaErrorNotSupported);
    }
}

cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes* attr, const void* func)
{
    if (!attr)
        return fail(cudaErrorInvalidValue);
    if (!func)
        return fail(cudaErrorInvalidDeviceFunction);
    std::memset(attr, 0, sizeof(*attr));
    attr->maxThreadsPerBlock = cudasim::kMaxThreadsPerBlock;
    attr->numRegs = 32;
    attr->ptxVersion = cudasim::kComputeMajor * 10 + cudasim::kComputeMinor;
    attr->binaryVersion = attr->ptxVersion;
    attr->maxDynamicSharedSizeBytes = static_cast<int>(cudasim::maxDynamicSharedBytes(func));
    attr->preferredShmemCarveout = -1;
    return cudaSuccess;
}
