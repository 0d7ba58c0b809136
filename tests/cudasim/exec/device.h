// cudasim exec: the CUDA kernel language for kernels compiled as C++ (force-included into every
// translated kernels/*.cu, see translate_cu.py; tests may include it to write kernels by hand).
// Built-in variables, barriers, warp shuffles and votes, atomics, cache-hinted loads and the
// fast-math intrinsics the kernels use. The fp16/bf16 types and their conversions are the
// toolkit's own host implementations. Fast-math intrinsics (__expf, __fdividef, rsqrtf...) are
// computed at full precision: a kernel that relies on their exact error will not notice here.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "exec/exec.h"

// ---- qualifiers (the toolkit's host headers already empty __device__, __global__, __shared__) --
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

// ---- the runtime's C++ overloads that take a kernel (the toolkit declares them for nvcc only) ----
template <typename... Params>
cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attr, int value)
{
    return ::cudaFuncSetAttribute(::cudasim::exec::kernelAddress(kernel), attr, value);
}
template <typename... Params>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attr, void (*kernel)(Params...))
{
    return ::cudaFuncGetAttributes(attr, ::cudasim::exec::kernelAddress(kernel));
}

// ---- built-in variables ------------------------------------------------------------------------
#define threadIdx (::cudasim::exec::currentThread().threadIdx)
#define blockIdx (::cudasim::exec::currentThread().block->blockIdx)
#define blockDim (::cudasim::exec::currentThread().block->blockDim)
#define gridDim (::cudasim::exec::currentThread().block->gridDim)
inline constexpr int warpSize = 32;

// ---- barriers and warp primitives --------------------------------------------------------------
#define __syncthreads() ::cudasim::exec::syncThreads(__FILE__, __LINE__)

namespace cudasim::exec::detail {

struct ShuffleLane {
    std::uint64_t value;
    unsigned src;
    std::uint64_t result;
};

inline void shuffleCombine(const WarpGroup& g)
{
    for (unsigned lane = 0; lane < 32; ++lane) {
        if (!g.lanes[lane])
            continue;
        auto* d = static_cast<ShuffleLane*>(g.lanes[lane]);
        if (d->src >= 32 || !g.lanes[d->src]) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "a shuffle in lane %u reads lane %u, which is not in the mask 0x%08x", lane,
                          d->src, g.mask);
            kernelFault(msg);
        }
        d->result = static_cast<ShuffleLane*>(g.lanes[d->src])->value;
    }
}

template <typename T>
T shuffle(unsigned mask, T var, unsigned src, const char* what)
{
    // The toolkit's __half2/__nv_bfloat162 have user-provided assignments on the host, so they are
    // moved as bytes (as the hardware moves registers).
    static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffles move up to 8 bytes");
    ShuffleLane d{};
    std::memcpy(&d.value, static_cast<const void*>(&var), sizeof(T));
    d.src = src;
    warpCollective(mask, what, &d, &shuffleCombine);
    T out;
    std::memcpy(static_cast<void*>(&out), &d.result, sizeof(T));
    return out;
}

inline unsigned checkedWidth(int width)
{
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
        kernelFault("shuffle width must be a power of two from 1 to 32");
    return static_cast<unsigned>(width);
}

struct VoteLane {
    int predicate;
    unsigned result;
};

inline void ballotCombine(const WarpGroup& g)
{
    unsigned bits = 0;
    for (unsigned lane = 0; lane < 32; ++lane)
        if (g.lanes[lane] && static_cast<VoteLane*>(g.lanes[lane])->predicate)
            bits |= 1u << lane;
    for (unsigned lane = 0; lane < 32; ++lane)
        if (g.lanes[lane])
            static_cast<VoteLane*>(g.lanes[lane])->result = bits;
}

inline unsigned ballot(unsigned mask, int predicate, const char* what)
{
    VoteLane d{predicate, 0};
    warpCollective(mask, what, &d, &ballotCombine);
    return d.result;
}

inline void noCombine(const WarpGroup&) {}

}  // namespace cudasim::exec::detail

template <typename T>
T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32)
{
    const unsigned w = ::cudasim::exec::detail::checkedWidth(width);
    const unsigned lane = ::cudasim::exec::currentThread().lane;
    const unsigned src = (lane & ~(w - 1)) + (static_cast<unsigned>(srcLane) & (w - 1));
    return ::cudasim::exec::detail::shuffle(mask, var, src, "__shfl_sync");
}

template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32)
{
    const unsigned w = ::cudasim::exec::detail::checkedWidth(width);
    const unsigned lane = ::cudasim::exec::currentThread().lane;
    const unsigned src = (lane & (w - 1)) >= delta ? lane - delta : lane;
    return ::cudasim::exec::detail::shuffle(mask, var, src, "__shfl_up_sync");
}

template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32)
{
    const unsigned w = ::cudasim::exec::detail::checkedWidth(width);
    const unsigned lane = ::cudasim::exec::currentThread().lane;
    const unsigned src = (lane & (w - 1)) + delta < w ? lane + delta : lane;
    return ::cudasim::exec::detail::shuffle(mask, var, src, "__shfl_down_sync");
}

// Lanes may read earlier groups of `width` lanes but not later ones (they get their own value).
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32)
{
    const unsigned w = ::cudasim::exec::detail::checkedWidth(width);
    const unsigned lane = ::cudasim::exec::currentThread().lane;
    unsigned src = lane ^ static_cast<unsigned>(laneMask);
    if (src >= (lane & ~(w - 1)) + w)
        src = lane;
    return ::cudasim::exec::detail::shuffle(mask, var, src, "__shfl_xor_sync");
}

inline unsigned __ballot_sync(unsigned mask, int predicate)
{
    return ::cudasim::exec::detail::ballot(mask, predicate, "__ballot_sync");
}
inline int __any_sync(unsigned mask, int predicate)
{
    return ::cudasim::exec::detail::ballot(mask, predicate, "__any_sync") != 0;
}
inline int __all_sync(unsigned mask, int predicate)
{
    return (::cudasim::exec::detail::ballot(mask, predicate, "__all_sync") & mask) == mask;
}

inline void __syncwarp(unsigned mask = 0xffffffffu)
{
    ::cudasim::exec::warpCollective(mask, "__syncwarp", nullptr, &::cudasim::exec::detail::noCombine);
}

// Blocks run one at a time and their threads cooperatively: memory order needs no fences.
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}

[[noreturn]] inline void __trap() { ::cudasim::exec::kernelFault("__trap()"); }

// ---- atomics (threads never run at the same time, so plain read-modify-write is atomic) --------
template <typename T>
T atomicAdd(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = old + v;
    return old;
}
template <typename T>
T atomicSub(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = old - v;
    return old;
}
template <typename T>
T atomicMax(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = old < v ? v : old;
    return old;
}
template <typename T>
T atomicMin(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = v < old ? v : old;
    return old;
}
template <typename T>
T atomicExch(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = v;
    return old;
}
template <typename T>
T atomicCAS(T* p, std::type_identity_t<T> compare, std::type_identity_t<T> v)
{
    const T old = *p;
    if (old == compare)
        *p = v;
    return old;
}
template <typename T>
T atomicOr(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = old | v;
    return old;
}
template <typename T>
T atomicAnd(T* p, std::type_identity_t<T> v)
{
    const T old = *p;
    *p = old & v;
    return old;
}

// ---- loads and stores with cache hints ---------------------------------------------------------
template <typename T>
T __ldg(const T* p)
{
    return *p;
}
template <typename T>
T __ldcs(const T* p)
{
    return *p;
}
template <typename T>
T __ldcg(const T* p)
{
    return *p;
}
template <typename T>
T __ldca(const T* p)
{
    return *p;
}
template <typename T>
T __ldlu(const T* p)
{
    return *p;
}
template <typename T>
void __stcs(T* p, T v)
{
    *p = v;
}
template <typename T>
void __stcg(T* p, T v)
{
    *p = v;
}

// ---- integer and float intrinsics --------------------------------------------------------------
template <typename A, typename B, std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>, int> = 0>
constexpr std::common_type_t<A, B> min(A a, B b)
{
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>)
        return std::fmin(static_cast<C>(a), static_cast<C>(b));
    else
        return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B, std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>, int> = 0>
constexpr std::common_type_t<A, B> max(A a, B b)
{
    using C = std::common_type_t<A, B>;
    if constexpr (std::is_floating_point_v<C>)
        return std::fmax(static_cast<C>(a), static_cast<C>(b));
    else
        return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

inline unsigned __float_as_uint(float f)
{
    unsigned u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float __uint_as_float(unsigned u)
{
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline int __float_as_int(float f) { return static_cast<int>(__float_as_uint(f)); }
inline float __int_as_float(int i) { return __uint_as_float(static_cast<unsigned>(i)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }

inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c)
{
    *s = sinf(x);
    *c = cosf(x);
}
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }  // NaN -> 0
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline int __float2int_rn(float x) { return static_cast<int>(nearbyintf(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
