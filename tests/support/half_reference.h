// Scalar fp16/bf16 rounding written independently of the loader's conversions (core/load/
// half_convert.h) and of the kernels, for tests to compare against: round to nearest even found
// by scaling to the format's spacing and rounding the integer multiple; finite values beyond
// fp16's range saturate to +-65504 as the loader does. Qt-free, header-only.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "model/dtype.h"

namespace hearth::test::halfref {

inline std::uint16_t refToHalf(float x)
{
    if (std::isnan(x))
        return 0x7e00;
    const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(x));
    if (std::isinf(x) && a > 0)
        return sign | 0x7c00;
    if (a >= 65520.0)  // would round to infinity: the loader saturates finite values
        return sign | 0x7bff;
    // Every fp16 value is k * 2^e for an integer k; find the spacing at |x| and round k to even.
    int exp = 0;
    std::frexp(a, &exp);                // a = m * 2^exp, m in [0.5, 1)
    const int e = std::max(exp - 11, -24);  // the spacing 2^e (subnormals: 2^-24)
    const double scaled = std::ldexp(a, -e);
    double k = std::floor(scaled);
    const double rem = scaled - k;
    if (rem > 0.5 || (rem == 0.5 && std::fmod(k, 2.0) == 1.0))
        k += 1.0;
    const double v = std::ldexp(k, e);
    if (v == 0.0)
        return sign;
    int vexp = 0;
    std::frexp(v, &vexp);
    if (vexp - 1 < -14)  // subnormal: v = mant * 2^-24
        return sign | static_cast<std::uint16_t>(std::ldexp(v, 24));
    const int biased = vexp - 1 + 15;
    const auto mant = static_cast<std::uint16_t>(std::ldexp(v, -(vexp - 1) + 10) - 1024.0);
    return sign | static_cast<std::uint16_t>(biased << 10) | mant;
}

inline std::uint16_t refToBf16(float x)
{
    if (std::isnan(x))
        return 0x7fc0;
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    if (std::isinf(x))
        return static_cast<std::uint16_t>(bits >> 16);
    const float low = std::bit_cast<float>(bits & 0xffff0000u);
    const float high = std::bit_cast<float>((bits & 0xffff0000u) + 0x10000u);
    const double dl = std::fabs(static_cast<double>(x) - low);
    const double dh = std::isinf(high) ? INFINITY : std::fabs(static_cast<double>(high) - x);
    const std::uint16_t lowBits = static_cast<std::uint16_t>(bits >> 16);
    if (dl < dh || (dl == dh && (lowBits & 1) == 0))
        return lowBits;
    return static_cast<std::uint16_t>(lowBits + 1);
}

inline float fromBf16(std::uint16_t v) { return std::bit_cast<float>(static_cast<std::uint32_t>(v) << 16); }

inline float fromHalf(std::uint16_t h)
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

// Element `i` of `bytes` (stored as `from`) as `to` would hold it, little-endian bytes.
inline std::vector<std::uint8_t> referenceConvert(const std::vector<std::uint8_t>& bytes, DType from, DType to)
{
    if (from == to)
        return bytes;
    const std::size_t n = bytes.size() / dtypeSize(from);
    std::vector<std::uint8_t> out(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        float v = 0;
        if (from == DType::F32) {
            std::memcpy(&v, bytes.data() + 4 * i, 4);
        } else {
            const auto h = static_cast<std::uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
            v = from == DType::BF16 ? fromBf16(h) : fromHalf(h);
        }
        const std::uint16_t c = to == DType::F16 ? refToHalf(v) : refToBf16(v);
        out[2 * i] = static_cast<std::uint8_t>(c & 0xff);
        out[2 * i + 1] = static_cast<std::uint8_t>(c >> 8);
    }
    return out;
}

// NaNs compare by class (payloads may differ), everything else bit for bit.
inline bool sameElements(const std::uint8_t* got, const std::vector<std::uint8_t>& want, DType type, std::string* why)
{
    const std::size_t size = dtypeSize(type);
    for (std::size_t i = 0; i + size <= want.size(); i += size) {
        if (std::memcmp(got + i, want.data() + i, size) == 0)
            continue;
        if (size == 2) {
            const auto g = static_cast<std::uint16_t>(got[i] | (got[i + 1] << 8));
            const auto w = static_cast<std::uint16_t>(want[i] | (want[i + 1] << 8));
            const bool gNan = type == DType::F16 ? std::isnan(fromHalf(g)) : std::isnan(fromBf16(g));
            const bool wNan = type == DType::F16 ? std::isnan(fromHalf(w)) : std::isnan(fromBf16(w));
            if (gNan && wNan)
                continue;
            *why = "element " + std::to_string(i / size) + ": got 0x" + std::to_string(g) + ", want 0x" + std::to_string(w);
        } else {
            *why = "element " + std::to_string(i / size) + " differs";
        }
        return false;
    }
    return true;
}

}  // namespace hearth::test::halfref
