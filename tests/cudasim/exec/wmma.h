// cudasim exec: the warp-collective WMMA operations behind include/mma.h (16x16x16 tiles).
// A fragment holds its tile spread over the 32 lanes with a fixed mapping (the m16n8k16 register
// layout of sm_80 for A and the accumulator): element i of lane l is tile element
//   A, accumulator: row (l >> 2) + 8 * ((i >> 1) & 1), column 2 * (l & 3) + (i & 1) + 8 * (i >> 2)
//   B:              row 2 * (l & 3) + (i & 1) + 8 * ((i >> 1) & 1), column (l >> 2) + 8 * (i >> 2)
// (fp16 A/B fragments hold 16 elements, the second 8 repeating the first, as the toolkit's do).
// Loads, stores and mma are collective: all 32 lanes of the warp must call them with the same
// pointer, ldm and layout; the pointer must be 32-byte aligned and ldm a multiple of 16 bytes'
// worth of elements, as the hardware requires. Anything else is a fault.
#pragma once

namespace cudasim::exec {

enum class WmmaUse { A, B, Accumulator };
enum class WmmaType { F16, BF16, F32 };

struct WmmaFragment {
    WmmaUse use;
    WmmaType type;
    int nElements;
};

// Tile element (r, c) lives at ptr[r * ldm + c] when rowMajor, else ptr[c * ldm + r].
void wmmaLoad(const WmmaFragment& f, void* elements, const void* ptr, unsigned ldm, bool rowMajor);
void wmmaStore(const WmmaFragment& f, void* ptr, const void* elements, unsigned ldm, bool rowMajor);
// d = a * b + c (fp32 products and sums); d may be c.
void wmmaMma(const WmmaFragment& d, void* dElements, const WmmaFragment& a, const void* aElements, const WmmaFragment& b,
             const void* bElements, const WmmaFragment& c, const void* cElements);

}  // namespace cudasim::exec
