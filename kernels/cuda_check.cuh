// Private to kernels/*.cu: the CUDA/cuBLAS check macros and small device helpers shared by the
// kernel families (type conversion to and from fp32, warp reductions, 16-byte vector loads).
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernel_status.h"

// Returns a failed KernelStatus (call text, CUDA's error string, file:line) when `call` fails.
#define HEARTH_CUDA_CHECK(call)                                                                      \
    do {                                                                                             \
        const cudaError_t hearthCudaErr_ = (call);                                                   \
        if (hearthCudaErr_ != cudaSuccess)                                                           \
            return ::hearth::kernels::KernelStatus::failure(#call, cudaGetErrorString(hearthCudaErr_), \
                                                            __FILE__, __LINE__);                     \
    } while (0)

// The same for cuBLAS calls.
#define HEARTH_CUBLAS_CHECK(call)                                                                    \
    do {                                                                                             \
        const cublasStatus_t hearthCublasErr_ = (call);                                              \
        if (hearthCublasErr_ != CUBLAS_STATUS_SUCCESS)                                               \
            return ::hearth::kernels::KernelStatus::failure(#call, cublasGetStatusString(hearthCublasErr_), \
                                                            __FILE__, __LINE__);                     \
    } while (0)

// After a <<<>>> launch: launch-configuration errors show up here, not at the launch itself.
#define HEARTH_CUDA_CHECK_LAUNCH() HEARTH_CUDA_CHECK(cudaGetLastError())

namespace hearth::kernels::detail {

inline cudaStream_t toStream(StreamHandle s) { return static_cast<cudaStream_t>(s); }

__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T fromFloat(float v);
template <> __device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <> __device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Two adjacent 16-bit elements <-> float2 (one 4-byte access).
__device__ __forceinline__ float2 pairToFloat2(__half2 v) { return __half22float2(v); }
__device__ __forceinline__ float2 pairToFloat2(__nv_bfloat162 v) { return __bfloat1622float2(v); }
template <typename T> struct Pair;
template <> struct Pair<__half> { using Type = __half2; };
template <> struct Pair<__nv_bfloat16> { using Type = __nv_bfloat162; };

template <typename T>
__device__ __forceinline__ float2 loadPair(const T* p)
{
    return pairToFloat2(*reinterpret_cast<const typename Pair<T>::Type*>(p));
}
template <typename T>
__device__ __forceinline__ void storePair(T* p, float a, float b)
{
    using P = typename Pair<T>::Type;
    P v;
    v.x = fromFloat<T>(a);
    v.y = fromFloat<T>(b);
    *reinterpret_cast<P*>(p) = v;
}

// Eight 16-bit elements from one 16-byte load (pointer must be 16-byte aligned).
template <typename T>
__device__ __forceinline__ void load8(const T* p, float (&out)[8])
{
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const auto* pairs = reinterpret_cast<const typename Pair<T>::Type*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 f = pairToFloat2(pairs[i]);
        out[2 * i] = f.x;
        out[2 * i + 1] = f.y;
    }
}

// SiLU in fp32 as the CPU engine computes it (the activation kernel and the GEMV's fused
// epilogue share it, so both write the same bits).
__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

__device__ __forceinline__ float warpSum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warpMax(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; `scratch` holds 32 floats. Every thread gets the result.
__device__ __forceinline__ float blockSum(float v, float* scratch)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nWarps = (blockDim.x + 31) >> 5;
    v = warpSum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    float total = lane < nWarps ? scratch[lane] : 0.0f;
    return warpSum(total);
}

__device__ __forceinline__ float blockMax(float v, float* scratch)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nWarps = (blockDim.x + 31) >> 5;
    v = warpMax(v);
    __syncthreads();
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    float m = lane < nWarps ? scratch[lane] : -INFINITY;
    return warpMax(m);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }
__device__ __forceinline__ bool aligned16Device(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

}  // namespace hearth::kernels::detail
