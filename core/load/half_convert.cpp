#include "load/half_convert.h"


namespace hearth {

namespace {

// IEEE binary32 -> binary16, round to nearest even, finite overflow saturating to 65504.
std::uint16_t floatToHalfSaturating(std::uint32_t x)
{
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u)  // NaN: keep the top payload bits, set the quiet bit
        return static_cast<std::uint16_t>(sign | 0x7e00u | ((absx >> 13) & 0x3ffu));
    if (absx == 0x7f800000u)
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (absx >= 0x477ff000u)  // 65520 and up would round to infinity
        return static_cast<std::uint16_t>(sign | 0x7bffu);
    if (absx < 0x38800000u) {  // below 2^-14: an fp16 subnormal (unit 2^-24) or zero
        if (absx <= 0x33000000u)  // at most 2^-25, half the smallest subnormal: ties to even zero
            return sign;
        const std::uint32_t mant = (absx & 0x7fffffu) | 0x800000u;
        const int shift = 126 - static_cast<int>(absx >> 23);  // 14 .. 24
        std::uint32_t m = mant >> shift;
        const std::uint32_t rem = mant & ((1u << shift) - 1u);
        const std::uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (m & 1u)))
            ++m;  // may carry into the smallest normal, whose encoding is exactly 0x400
        return static_cast<std::uint16_t>(sign | m);
    }
    const std::uint32_t rebased = absx - 0x38000000u;  // exponent bias 127 -> 15
    std::uint32_t m = rebased >> 13;
    const std::uint32_t rem = rebased & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (m & 1u)))
        ++m;  // a carry into the exponent is the right result; the saturation test above caps it
    return static_cast<std::uint16_t>(sign | m);
}

std::uint32_t halfToFloatBits(std::uint16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)
        return sign | 0x7f800000u | (mant << 13);
    if (exp != 0)
        return sign | ((exp + 112u) << 23) | (mant << 13);
    if (mant == 0)
        return sign;
    // Subnormal: normalise. value = mant * 2^-24.
    int e = -14;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        --e;
    }
    return sign | (static_cast<std::uint32_t>(e + 127) << 23) | ((mant & 0x3ffu) << 13);
}

}  // namespace

std::uint16_t floatBitsToHalf(std::uint32_t bits) { return floatToHalfSaturating(bits); }

std::uint16_t floatBitsToBf16(std::uint32_t x)
{
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    const std::uint32_t roundingBias = 0x7fffu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>((x + roundingBias) >> 16);
}

std::uint16_t bf16ToHalf(std::uint16_t bf16) { return floatToHalfSaturating(static_cast<std::uint32_t>(bf16) << 16); }

std::uint16_t halfToBf16(std::uint16_t half)
{
    return floatBitsToBf16(halfToFloatBits(half));
}

void convertBf16ToHalf(std::uint16_t* values, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        values[i] = bf16ToHalf(values[i]);
}

void convertHalfToBf16(std::uint16_t* values, std::size_t n)
{
    for (std::size_t i = 0; i < n; ++i)
        values[i] = halfToBf16(values[i]);
}

}  // namespace hearth
