// Test helpers of the cudasim suites: exact fp16/bf16 encodings of the small values the GEMM
// tests use (multiples of 1/32 that both formats represent) and plain decoders, written apart from
// the simulator's own conversions so a test does not check them against themselves.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace cudasimtest {

inline std::uint16_t exactHalf(float v)
{
    if (v == 0.0f)
        return std::signbit(v) ? 0x8000 : 0;
    int e = 0;
    const float m = std::frexp(std::fabs(v), &e);  // v = m 2^e, m in [0.5, 1)
    const auto mant = static_cast<std::uint16_t>(std::ldexp(m, 11) - 1024.0f);
    return static_cast<std::uint16_t>((v < 0 ? 0x8000 : 0) | ((e - 1 + 15) << 10) | mant);
}

inline std::uint16_t exactBf16(float v)
{
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return static_cast<std::uint16_t>(bits >> 16);
}

inline float decodeHalf(std::uint16_t h)
{
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const float sign = (h & 0x8000) ? -1.0f : 1.0f;
    if (exp == 0x1f)
        return mant ? NAN : sign * INFINITY;
    if (exp == 0)
        return sign * std::ldexp(static_cast<float>(mant), -24);
    return sign * std::ldexp(static_cast<float>(mant + 1024), exp - 25);
}

inline float decodeBf16(std::uint16_t h)
{
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

}  // namespace cudasimtest
