// Shared helpers of the GPU kernel tests (header-only; tests/gpu/tst_*.cpp include it): skipping
// without a device, device buffers, host fp16/bf16 rounding (round to nearest even, written
// independently of the kernels), random data and elementwise + NMSE comparison.
// Tolerances: outputs are rounded once to fp16 or bf16, so an element may differ from the fp64/fp32
// reference by about one unit in the last place of that type (fp16 2^-10, bf16 2^-7 relative),
// plus fp32 accumulation-order differences that `atol` (scaled to the data) absorbs. NMSE (sum of
// squared errors over sum of squared reference values) catches small systematic errors that stay
// under the elementwise bound: rounding alone gives ~1e-7 (fp16) and ~1e-5 (bf16) at most.
#pragma once

#include <QtTest>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/cpu_ops.h"
#include "kernels.h"

namespace gputest {

using hearth::kernels::ElemType;
using hearth::kernels::KernelStatus;

// Fails the current test function with the status's description when `expr` failed.
#define GPU_OK(expr)                                                                                 \
    do {                                                                                             \
        const ::hearth::kernels::KernelStatus gpuStatus_ = (expr);                                   \
        QVERIFY2(gpuStatus_.ok, gpuStatus_.describe().c_str());                                      \
    } while (0)

// In initTestCase: skips the whole suite (cleanly, exit code 0) when no CUDA device is usable.
#define GPU_REQUIRE_DEVICE()                                                                         \
    do {                                                                                             \
        const auto gpuQuery_ = ::hearth::kernels::queryDevices();                                    \
        if (gpuQuery_.devices.empty())                                                               \
            QSKIP(("no CUDA device: " + gpuQuery_.error).c_str());                                   \
    } while (0)

// True when the "device" is cudasim (tests/cudasim), the CPU stand-in: timing loops, which mean
// nothing there and take minutes, are skipped; every correctness check still runs.
inline bool onCudasim()
{
    const auto query = ::hearth::kernels::queryDevices();
    return !query.devices.empty() && query.devices.front().name.rfind("Hearth cudasim", 0) == 0;
}

inline float bitsToFloat(std::uint32_t b)
{
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
}

inline std::uint32_t floatToBits(float f)
{
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    return b;
}

// IEEE binary16, round to nearest even; overflow gives inf, NaN stays NaN.
inline std::uint16_t floatToHalf(float f)
{
    std::uint32_t x = floatToBits(f);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u)
        return static_cast<std::uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (x >= 0x477ff000u)  // >= 65520 rounds to inf (65520 is the tie, and 65504's mantissa is odd)
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (x < 0x38800000u) {  // below 2^-14: a subnormal (or zero) in units of 2^-24; the scaling is exact
        const auto q = static_cast<std::uint32_t>(std::nearbyint(bitsToFloat(x) * 16777216.0f));
        return static_cast<std::uint16_t>(sign | q);
    }
    const std::uint32_t mant = x & 0x7fffffu;
    const std::uint32_t exp = (x >> 23) - 127 + 15;
    std::uint32_t h = (exp << 10) | (mant >> 13);
    const std::uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        ++h;  // a carry into the exponent is the right answer
    return static_cast<std::uint16_t>(sign | h);
}

// bfloat16, round to nearest even; NaN stays (quiet) NaN.
inline std::uint16_t floatToBf16(float f)
{
    const std::uint32_t x = floatToBits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

inline std::uint16_t encode(float f, ElemType t) { return t == ElemType::F16 ? floatToHalf(f) : floatToBf16(f); }
inline float decode(std::uint16_t b, ElemType t)
{
    return t == ElemType::F16 ? hearth::cpu::halfToFloat(b) : hearth::cpu::bf16ToFloat(b);
}

inline std::vector<std::uint16_t> encode(const std::vector<float>& v, ElemType t)
{
    std::vector<std::uint16_t> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        out[i] = encode(v[i], t);
    return out;
}

inline std::vector<float> decode(const std::vector<std::uint16_t>& v, ElemType t)
{
    std::vector<float> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        out[i] = decode(v[i], t);
    return out;
}

// Uniform values in [lo, hi), already rounded to `t` so the reference sees what the GPU sees.
inline std::vector<float> randomValues(std::mt19937& rng, std::size_t n, float lo, float hi, ElemType t)
{
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v)
        x = decode(encode(dist(rng), t), t);
    return v;
}

inline const char* typeName(ElemType t) { return t == ElemType::F16 ? "f16" : t == ElemType::BF16 ? "bf16" : "f32"; }

// Device memory released on scope exit.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() { hearth::kernels::deviceFree(m_ptr); }

    KernelStatus alloc(std::size_t nBytes)
    {
        hearth::kernels::deviceFree(m_ptr);
        m_ptr = nullptr;
        m_bytes = nBytes;
        return hearth::kernels::deviceAlloc(&m_ptr, nBytes);
    }
    template <typename T>
    KernelStatus upload(const std::vector<T>& host)
    {
        const KernelStatus s = alloc(host.size() * sizeof(T));
        return s.ok ? hearth::kernels::copyToDevice(m_ptr, host.data(), m_bytes) : s;
    }
    // Copies the first host.size() elements back (after a synchronise, so kernel errors show).
    template <typename T>
    KernelStatus download(std::vector<T>& host) const
    {
        const KernelStatus s = hearth::kernels::deviceSynchronize();
        return s.ok ? hearth::kernels::copyToHost(host.data(), m_ptr, host.size() * sizeof(T)) : s;
    }
    void* get() const { return m_ptr; }
    template <typename T>
    T* as() const
    {
        return static_cast<T*>(m_ptr);
    }

private:
    void* m_ptr = nullptr;
    std::size_t m_bytes = 0;
};

struct Tolerance {
    double atol = 0;
    double rtol = 0;
    double nmse = 0;
};

// Elementwise |got - ref| <= atol + rtol |ref| and NMSE bounds for outputs of type `t`, with
// `scale` the typical magnitude of the reference (atol is relative to it).
inline Tolerance toleranceFor(ElemType t, double scale)
{
    if (t == ElemType::F16)
        return {2e-3 * scale, 2e-3, 1e-5};
    if (t == ElemType::BF16)
        return {1.6e-2 * scale, 1.6e-2, 1e-4};
    return {1e-5 * scale, 1e-5, 1e-9};
}

inline double rms(const std::vector<float>& v)
{
    double s = 0;
    for (float x : v)
        s += static_cast<double>(x) * x;
    return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

struct Diff {
    double maxAbs = 0;
    double nmse = 0;
    std::int64_t nBad = 0;
    std::int64_t firstBad = -1;
    std::string text;
};

inline Diff compare(const std::vector<float>& got, const std::vector<float>& ref, const Tolerance& tol)
{
    Diff d;
    double errSq = 0;
    double refSq = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        const double e = std::fabs(static_cast<double>(got[i]) - ref[i]);
        errSq += e * e;
        refSq += static_cast<double>(ref[i]) * ref[i];
        if (!(e <= tol.atol + tol.rtol * std::fabs(ref[i]))) {  // NaN fails
            if (d.firstBad < 0)
                d.firstBad = static_cast<std::int64_t>(i);
            ++d.nBad;
        }
        if (e > d.maxAbs || e != e)
            d.maxAbs = e;
    }
    d.nmse = refSq > 0 ? errSq / refSq : errSq;
    if (!(d.nmse <= tol.nmse) && d.firstBad < 0)
        d.firstBad = 0;
    d.text = "bad " + std::to_string(d.nBad) + "/" + std::to_string(ref.size()) + ", max abs err " +
             std::to_string(d.maxAbs) + ", nmse " + std::to_string(d.nmse);
    if (d.firstBad >= 0 && d.firstBad < static_cast<std::int64_t>(ref.size()))
        d.text += ", first at " + std::to_string(d.firstBad) + ": got " + std::to_string(got[static_cast<std::size_t>(d.firstBad)]) +
                  " want " + std::to_string(ref[static_cast<std::size_t>(d.firstBad)]);
    return d;
}

// Verifies `got` against `ref` within `tol` (elementwise and NMSE) in the current test function.
#define GPU_COMPARE(got, ref, tol)                                                                   \
    do {                                                                                             \
        const ::gputest::Diff gpuDiff_ = ::gputest::compare((got), (ref), (tol));                    \
        QVERIFY2(gpuDiff_.nBad == 0 && gpuDiff_.nmse <= (tol).nmse, gpuDiff_.text.c_str());         \
    } while (0)

}  // namespace gputest
