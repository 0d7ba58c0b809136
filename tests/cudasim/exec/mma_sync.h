// cudasim exec: the warp-level matrix instructions of sm_80 behind kernels/mma_sync.cuh, as warp
// collectives over all 32 lanes (each lane passes its registers; the combine runs once per warp).
//   mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D (16x8, fp32) = A (16x16) B (16x8) + C.
//     With g = lane >> 2 and t = lane & 3, register r of a lane holds two 16-bit elements (the
//     lower column or k in the low half):
//       A: r0 (g, 2t..2t+1), r1 (g+8, 2t..), r2 (g, 2t+8..), r3 (g+8, 2t+8..)      [row, k]
//       B: r0 (k 2t..2t+1, n g), r1 (k 2t+8..2t+9, n g)                             [k, n]
//       C/D float i: row g + 8 * (i >> 1), column 2t + (i & 1)
//     Products of fp16/bf16 inputs are exact in fp32; they are added to C in k order, each add
//     rounded to fp32 (the hardware's order within a step is unspecified, its sums are fp32 too).
//   ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16: lanes 8i..8i+7 give the addresses of
//     the 8 rows (16 bytes each, 16-byte aligned) of matrix i; register i of lane l receives
//     matrix i's row l >> 2, elements 2(l & 3) and 2(l & 3) + 1, or with .trans its column l >> 2,
//     rows 2(l & 3) and 2(l & 3) + 1. Lanes beyond the matrices' 8n pass addresses that are ignored.
// Anything the hardware leaves undefined (mixed types or counts across lanes, misaligned rows) is
// a fault.
#pragma once

#include <cstdint>

namespace cudasim::exec {

enum class MmaType { F16, BF16 };

// d = a * b + c for the calling lane's registers (d may alias c).
void mmaM16N8K16(MmaType type, float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c);
// ldmatrix of nMatrices (1, 2 or 4) 8x8 b16 matrices into regs[0..nMatrices).
void ldmatrix(int nMatrices, bool trans, std::uint32_t* regs, const void* rowAddress);

}  // namespace cudasim::exec
