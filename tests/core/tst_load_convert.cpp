// hearth-test-labels: load
// fp16 <-> bf16 conversion of the load pipeline against references computed here another way:
// the nearest representable value found by binary search over the target format's positive bit
// patterns (which are ordered like their values), ties to the even pattern, with values decoded
// by ldexp. Hand-picked patterns cover overflow (saturation to 65504), infinities, NaN,
// subnormals and underflow; random patterns cover the rest.
#include <QtTest>

#include <cmath>
#include <cstdint>
#include <random>

#include "load/half_convert.h"

using namespace hearth;

namespace {

double halfValue(std::uint16_t h)
{
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0)
        return sign * std::ldexp(mant, -24);
    if (exp == 31)
        return mant ? std::nan("") : sign * INFINITY;
    return sign * std::ldexp(1024 + mant, exp - 25);
}

double bf16Value(std::uint16_t b)
{
    const int exp = (b >> 7) & 0xff;
    const int mant = b & 0x7f;
    const double sign = (b & 0x8000) ? -1.0 : 1.0;
    if (exp == 0)
        return sign * std::ldexp(mant, -133);
    if (exp == 255)
        return mant ? std::nan("") : sign * INFINITY;
    return sign * std::ldexp(128 + mant, exp - 134);
}

// Nearest pattern in [0, maxPattern] to |v| (ties to even), with v's sign.
template <typename Decode>
std::uint16_t nearest(double v, std::uint16_t maxPattern, Decode decode)
{
    const double a = std::fabs(v);
    std::uint32_t lo = 0, hi = maxPattern;
    while (lo < hi) {  // first pattern whose value is >= a
        const std::uint32_t mid = (lo + hi) / 2;
        if (decode(static_cast<std::uint16_t>(mid)) < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    std::uint32_t best = lo;
    if (lo > 0) {
        const double up = decode(static_cast<std::uint16_t>(lo)) - a;
        const double down = a - decode(static_cast<std::uint16_t>(lo - 1));
        if (down < up || (down == up && ((lo - 1) % 2 == 0)))
            best = lo - 1;
    }
    return static_cast<std::uint16_t>(best | (std::signbit(v) ? 0x8000u : 0u));
}

std::uint16_t referenceBf16ToHalf(std::uint16_t b)
{
    const double v = bf16Value(b);
    if (std::isinf(v))
        return static_cast<std::uint16_t>(v > 0 ? 0x7c00 : 0xfc00);
    if (std::fabs(v) >= 65504.0)  // the largest finite half; beyond it the conversion saturates
        return static_cast<std::uint16_t>(v > 0 ? 0x7bff : 0xfbff);
    return nearest(v, 0x7bff, halfValue);
}

std::uint16_t referenceHalfToBf16(std::uint16_t h)
{
    const double v = halfValue(h);
    if (std::isinf(v))
        return static_cast<std::uint16_t>(v > 0 ? 0x7f80 : 0xff80);
    return nearest(v, 0x7f7f, bf16Value);
}

bool halfIsNan(std::uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }
bool bf16IsNan(std::uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

}  // namespace

class TestLoadConvert : public QObject {
    Q_OBJECT

private slots:
    void bf16ToHalfHandPicked_data()
    {
        QTest::addColumn<int>("bf16");
        QTest::addColumn<int>("half");
        QTest::newRow("one") << 0x3f80 << 0x3c00;
        QTest::newRow("minus two") << 0xc000 << 0xc000;
        QTest::newRow("zero") << 0x0000 << 0x0000;
        QTest::newRow("minus zero") << 0x8000 << 0x8000;
        QTest::newRow("65280 is exact") << 0x477f << 0x7bf8;
        QTest::newRow("65536 saturates") << 0x4780 << 0x7bff;
        QTest::newRow("1e5 saturates") << 0x47c3 << 0x7bff;
        QTest::newRow("-3e38 saturates") << 0xff61 << 0xfbff;
        QTest::newRow("infinity") << 0x7f80 << 0x7c00;
        QTest::newRow("minus infinity") << 0xff80 << 0xfc00;
        QTest::newRow("2^-14 smallest normal") << 0x3880 << 0x0400;
        QTest::newRow("2^-15 subnormal") << 0x3800 << 0x0200;
        QTest::newRow("2^-24 smallest subnormal") << 0x3380 << 0x0001;
        QTest::newRow("2^-25 ties to zero") << 0x3300 << 0x0000;
        QTest::newRow("1.5*2^-25 rounds up") << 0x3340 << 0x0001;
        QTest::newRow("-2^-30 underflows") << 0xb080 << 0x8000;
        QTest::newRow("bf16 subnormal underflows") << 0x0001 << 0x0000;
    }

    void bf16ToHalfHandPicked()
    {
        QFETCH(int, bf16);
        QFETCH(int, half);
        QCOMPARE(int(bf16ToHalf(static_cast<std::uint16_t>(bf16))), half);
        QCOMPARE(int(referenceBf16ToHalf(static_cast<std::uint16_t>(bf16))), half);  // the reference agrees by hand
    }

    void nanStaysNan_data()
    {
        QTest::addColumn<int>("bits");
        QTest::newRow("quiet") << 0x7fc0;
        QTest::newRow("signalling, low payload") << 0x7f81;
        QTest::newRow("negative") << 0xffc1;
    }

    void nanStaysNan()
    {
        QFETCH(int, bits);
        const auto b = static_cast<std::uint16_t>(bits);
        const std::uint16_t h = bf16ToHalf(b);
        QVERIFY(halfIsNan(h));
        QCOMPARE(bool(h & 0x8000), bool(b & 0x8000));
        const std::uint16_t back = halfToBf16(static_cast<std::uint16_t>(0x7c01 | (b & 0x8000)));
        QVERIFY(bf16IsNan(back));
        QCOMPARE(bool(back & 0x8000), bool(b & 0x8000));
    }

    void everyBf16MatchesReference()
    {
        // All 65536 patterns: cheap, and covers every rounding case there is.
        for (std::uint32_t b = 0; b <= 0xffff; ++b) {
            const auto bits = static_cast<std::uint16_t>(b);
            if (bf16IsNan(bits)) {
                QVERIFY(halfIsNan(bf16ToHalf(bits)));
                continue;
            }
            const std::uint16_t got = bf16ToHalf(bits);
            const std::uint16_t want = referenceBf16ToHalf(bits);
            if (got != want)
                QFAIL(qPrintable(QString::asprintf("bf16 %04x -> %04x, expected %04x", b, got, want)));
        }
    }

    void everyHalfMatchesReference()
    {
        for (std::uint32_t h = 0; h <= 0xffff; ++h) {
            const auto bits = static_cast<std::uint16_t>(h);
            if (halfIsNan(bits)) {
                QVERIFY(bf16IsNan(halfToBf16(bits)));
                continue;
            }
            const std::uint16_t got = halfToBf16(bits);
            const std::uint16_t want = referenceHalfToBf16(bits);
            if (got != want)
                QFAIL(qPrintable(QString::asprintf("half %04x -> %04x, expected %04x", h, got, want)));
        }
    }

    void inPlaceArrays()
    {
        std::mt19937 rng(7);
        std::vector<std::uint16_t> values(1001);
        for (auto& v : values)
            v = static_cast<std::uint16_t>(rng() & 0x7f7f);  // finite, either sign bit off
        std::vector<std::uint16_t> converted = values;
        convertBf16ToHalf(converted.data(), converted.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            QCOMPARE(converted[i], referenceBf16ToHalf(values[i]));
        convertHalfToBf16(converted.data(), converted.size());
        for (std::size_t i = 0; i < values.size(); ++i)
            QCOMPARE(converted[i], referenceHalfToBf16(referenceBf16ToHalf(values[i])));
    }
};

QTEST_APPLESS_MAIN(TestLoadConvert)
#include "tst_load_convert.moc"
