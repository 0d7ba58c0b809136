// Warp-level tensor-core building blocks of sm_80+ for hand-written kernels: mma.sync m16n8k16
// (fp16/bf16 in, fp32 accumulators), ldmatrix (.x1/.x2/.x4, plain and .trans), packing two
// floats into one 32-bit register of the input type, and the bare ex2 a softmax wants. Under
// nvcc they are the PTX instructions (callers compile them only for __CUDA_ARCH__ >= 800; below
// that they trap); under cudasim (HEARTH_CUDASIM) they are the simulator's warp collectives
// (tests/cudasim/exec/mma_sync.h, which documents the register layouts). Every lane of the warp must call each of them (.sync.aligned).
// Register layouts (g = lane >> 2, t = lane & 3; a register's low half is the lower column or k):
//   A (16x16, row-major): a[0] (row g, k 2t..2t+1), a[1] (g+8, 2t..), a[2] (g, 2t+8..), a[3] (g+8, 2t+8..)
//   B (16x8, "col": k pairs per register): b[0] (k 2t..2t+1, n g), b[1] (k 2t+8.., n g)
//   C/D (16x8 fp32): c[i] at row g + 8 * (i >> 1), column 2t + (i & 1)
// So the accumulators of two adjacent n-tiles (columns 0-7 and 8-15), packed pairwise, are an A
// operand for k = 16 (the flash-attention P fragment: {c0[0..1], c0[2..3], c1[0..1], c1[2..3]}).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#if defined(HEARTH_CUDASIM)
#include "exec/mma_sync.h"
#endif

namespace hearth::kernels::mma {

// Two floats rounded to T (fp16 or bf16) in one register, lo in the low half.
template <typename T>
__device__ __forceinline__ std::uint32_t packPair(float lo, float hi)
{
    std::uint32_t r;
    if constexpr (std::is_same_v<T, __half>) {
        const __half2 v = __floats2half2_rn(lo, hi);
        memcpy(&r, &v, 4);
    } else {
        const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        memcpy(&r, &v, 4);
    }
    return r;
}

// 2^x on the special-function unit alone (ex2.approx.ftz: relative error about 2^-22, results
// below 2^-126 flushed to 0, 2^-inf = 0): one instruction where exp2f adds range handling for
// denormal results, which a softmax weight that small does not need. cudasim: exp2f.
__device__ __forceinline__ float exp2Approx(float x)
{
#if defined(HEARTH_CUDASIM)
    return exp2f(x);
#elif defined(__CUDA_ARCH__)
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
#else
    return x;
#endif
}

// d = a * b + d for one m16n8k16 tile (T: __half or __nv_bfloat16).
template <typename T>
__device__ __forceinline__ void mmaM16N8K16(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2])
{
#if defined(HEARTH_CUDASIM)
    ::cudasim::exec::mmaM16N8K16(std::is_same_v<T, __half> ? ::cudasim::exec::MmaType::F16
                                                            : ::cudasim::exec::MmaType::BF16,
                                 d, a, b, d);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (std::is_same_v<T, __half>) {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    } else {
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
            "{%0,%1,%2,%3};\n"
            : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
#elif defined(__CUDA_ARCH__)
    (void)d;
    (void)a;
    (void)b;
    __trap();
#else
    (void)d;
    (void)a;
    (void)b;
#endif
}

// An address in shared memory as ldmatrix takes it: the 32-bit .shared window address under
// nvcc (one register instead of a 64-bit generic pointer's two), a plain pointer on cudasim. Byte
// offsets add to either.
#if defined(HEARTH_CUDASIM)
using SharedAddress = const unsigned char*;
#else
using SharedAddress = std::uint32_t;
#endif

__device__ __forceinline__ SharedAddress sharedAddress(const void* p)
{
#if defined(HEARTH_CUDASIM)
    return static_cast<const unsigned char*>(p);
#else
    return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
#endif
}

// ldmatrix .xN (N = 1, 2, 4; Trans: .trans) from shared memory: lanes 8i..8i+7 pass the 16-byte
// aligned addresses of matrix i's 8 rows; r[i] receives matrix i (row l >> 2, elements 2(l & 3)
// and 2(l & 3) + 1; with Trans column l >> 2, rows 2(l & 3) and 2(l & 3) + 1).
template <int N, bool Trans>
__device__ __forceinline__ void ldmatrix(std::uint32_t (&r)[N], SharedAddress row)
{
    static_assert(N == 1 || N == 2 || N == 4, "ldmatrix loads 1, 2 or 4 matrices");
#if defined(HEARTH_CUDASIM)
    ::cudasim::exec::ldmatrix(N, Trans, r, row);
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    const std::uint32_t s = row;
    if constexpr (N == 4 && Trans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(s)
                     : "memory");
    else if constexpr (N == 4)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(s)
                     : "memory");
    else if constexpr (N == 2 && Trans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                     : "=r"(r[0]), "=r"(r[1])
                     : "r"(s)
                     : "memory");
    else if constexpr (N == 2)
        asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                     : "=r"(r[0]), "=r"(r[1])
                     : "r"(s)
                     : "memory");
    else if constexpr (Trans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(s) : "memory");
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(s) : "memory");
#elif defined(__CUDA_ARCH__)
    (void)r;
    (void)row;
    __trap();
#else
    (void)r;
    (void)row;
#endif
}

}  // namespace hearth::kernels::mma
