// Conversions between the two 16-bit float formats checkpoints use, element by element and in
// place, for loading a bf16 checkpoint as fp16 or the other way round.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth {

// Round to nearest even. Finite values beyond fp16's range saturate to +-65504 (a bf16 weight
// of 1e5 is better served by the largest half than by infinity); infinities stay infinite, NaN
// stays NaN (quieted), values below fp16's smallest subnormal become signed zero.
std::uint16_t bf16ToHalf(std::uint16_t bf16);
// Round to nearest even; every fp16 value is in bf16's range. NaN stays NaN (quieted).
std::uint16_t halfToBf16(std::uint16_t half);

// IEEE binary32 (as bits) to fp16, rounded and saturated as bf16ToHalf.
std::uint16_t floatBitsToHalf(std::uint32_t bits);
// IEEE binary32 (as bits) to bf16, round to nearest even. NaN stays NaN (quieted).
std::uint16_t floatBitsToBf16(std::uint32_t bits);

// In-place conversion of `n` elements.
void convertBf16ToHalf(std::uint16_t* values, std::size_t n);
void convertHalfToBf16(std::uint16_t* values, std::size_t n);

}  // namespace hearth
