#include "engine/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/thread_pool.h"

// The hot loops below must be optimised even in Debug builds, or the model tests take minutes.
// GCC honours this for the functions that follow; helpers from headers included above stay at the
// build's level, so the loops use raw pointers only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

// AVX2/FMA/F16C clones of the inner loops, picked at load time (no -march needed to build).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define HEARTH_VECTOR_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define HEARTH_VECTOR_CLONES
#endif

namespace hearth::cpu {

namespace {

constexpr int kLanes = 16;

inline float bitsToFloat(std::uint32_t b)
{
    float f;
    __builtin_memcpy(&f, &b, sizeof f);
    return f;
}

inline std::uint32_t floatToBits(float f)
{
    std::uint32_t b;
    __builtin_memcpy(&b, &f, sizeof b);
    return b;
}

HEARTH_VECTOR_CLONES void widenBf16(const std::uint16_t* src, std::int64_t n, float* out)
{
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = bitsToFloat(static_cast<std::uint32_t>(src[i]) << 16);
}

// Branch-free binary16 -> binary32 (selects, not jumps, so the loop vectorises): normal numbers
// rebias the exponent; inf/NaN get the all-ones exponent; subnormals are renormalised by one
// float subtraction.
inline float halfToFloatInline(std::uint16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    std::uint32_t o = static_cast<std::uint32_t>(h & 0x7fffu) << 13;
    const std::uint32_t exp = o & 0x0f800000u;
    o += 0x38000000u;                                // (127 - 15) << 23
    o += exp == 0x0f800000u ? 0x38000000u : 0u;      // inf/NaN: (128 - 16) << 23 more
    const float sub = bitsToFloat(o + 0x00800000u) - bitsToFloat(0x38800000u);
    const std::uint32_t bits = exp == 0 ? floatToBits(sub) : o;
    return bitsToFloat(bits | sign);
}

HEARTH_VECTOR_CLONES void widenF16(const std::uint16_t* src, std::int64_t n, float* out)
{
    for (std::int64_t i = 0; i < n; ++i)
        out[i] = halfToFloatInline(src[i]);
}

HEARTH_VECTOR_CLONES float dotKernel(const float* a, const float* b, std::int64_t n)
{
    float acc[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j)
            acc[j] += a[i + j] * b[i + j];
    float tail = 0.0f;
    for (; i < n; ++i)
        tail += a[i] * b[i];
    for (int width = kLanes / 2; width > 0; width /= 2)
        for (int j = 0; j < width; ++j)
            acc[j] += acc[j + width];
    return acc[0] + tail;
}

HEARTH_VECTOR_CLONES void axpy(float alpha, const float* x, std::int64_t n, float* y)
{
    for (std::int64_t i = 0; i < n; ++i)
        y[i] += alpha * x[i];
}

}  // namespace

float bf16ToFloat(std::uint16_t bits) { return bitsToFloat(static_cast<std::uint32_t>(bits) << 16); }

float halfToFloat(std::uint16_t bits) { return halfToFloatInline(bits); }

void widen(const WeightTensor& t, std::int64_t first, std::int64_t n, float* out)
{
    switch (t.dtype) {
    case DType::BF16:
        widenBf16(static_cast<const std::uint16_t*>(t.data) + first, n, out);
        return;
    case DType::F16:
        widenF16(static_cast<const std::uint16_t*>(t.data) + first, n, out);
        return;
    default:  // F32: ModelWeights admits only these three
        std::memcpy(out, static_cast<const float*>(t.data) + first, static_cast<std::size_t>(n) * sizeof(float));
        return;
    }
}

float dot(const float* a, const float* b, std::int64_t n) { return dotKernel(a, b, n); }

void rmsNorm(const float* x, const WeightTensor& weight, double eps, std::int64_t nRows, std::int64_t n, float* out)
{
    std::vector<float> w(static_cast<std::size_t>(n));
    widen(weight, 0, n, w.data());
    for (std::int64_t r = 0; r < nRows; ++r) {
        const float* xr = x + r * n;
        float* yr = out + r * n;
        double sumSquares = 0.0;
        for (std::int64_t i = 0; i < n; ++i)
            sumSquares += static_cast<double>(xr[i]) * xr[i];
        const auto inv = static_cast<float>(1.0 / std::sqrt(sumSquares / static_cast<double>(n) + eps));
        for (std::int64_t i = 0; i < n; ++i)
            yr[i] = w[static_cast<std::size_t>(i)] * (xr[i] * inv);
    }
}

void matmulMany(ThreadPool& pool, const float* x, std::int64_t nRows, std::span<const MatmulJob> jobs)
{
    if (jobs.empty() || nRows <= 0)
        return;
    const std::int64_t inDim = jobs[0].weight->cols;
    std::vector<std::int64_t> firstRow(jobs.size() + 1, 0);
    for (std::size_t j = 0; j < jobs.size(); ++j)
        firstRow[j + 1] = firstRow[j] + jobs[j].weight->rows;
    pool.parallelFor(firstRow.back(), [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> row(static_cast<std::size_t>(inDim));
        std::vector<float> bias;
        std::size_t j = 0;
        for (std::int64_t g = begin; g < end; ++g) {
            while (g >= firstRow[j + 1])
                ++j;
            const MatmulJob& job = jobs[j];
            const std::int64_t o = g - firstRow[j];
            const std::int64_t outDim = job.weight->rows;
            widen(*job.weight, o * inDim, inDim, row.data());
            float b = 0.0f;
            if (job.bias)
                widen(*job.bias, o, 1, &b);
            for (std::int64_t r = 0; r < nRows; ++r)
                job.out[r * outDim + o] = dotKernel(row.data(), x + r * inDim, inDim) + b;
        }
    });
}

void matmul(ThreadPool& pool, const float* x, std::int64_t nRows, const WeightTensor& weight,
            const WeightTensor* bias, float* out)
{
    const MatmulJob job{&weight, bias, out};
    matmulMany(pool, x, nRows, std::span<const MatmulJob>(&job, 1));
}

void ropeTables(const RopeFrequencies& freqs, std::int64_t position, float* cosOut, float* sinOut)
{
    const auto pos = static_cast<float>(position);
    for (std::size_t i = 0; i < freqs.invFreq.size(); ++i) {
        const float angle = freqs.invFreq[i] * pos;  // float32, as transformers' inv_freq @ position_ids
        cosOut[i] = static_cast<float>(std::cos(static_cast<double>(angle))) * freqs.attentionScale;
        sinOut[i] = static_cast<float>(std::sin(static_cast<double>(angle))) * freqs.attentionScale;
    }
}

void applyRope(float* x, std::int64_t nHeads, std::int64_t headDim, const float* cosTable, const float* sinTable)
{
    const std::int64_t half = headDim / 2;
    for (std::int64_t h = 0; h < nHeads; ++h) {
        float* v = x + h * headDim;
        for (std::int64_t i = 0; i < half; ++i) {
            const float x1 = v[i];
            const float x2 = v[i + half];
            v[i] = x1 * cosTable[i] - x2 * sinTable[i];
            v[i + half] = x2 * cosTable[i] + x1 * sinTable[i];
        }
    }
}

void swiglu(const float* gate, const float* up, std::int64_t n, float* out)
{
    for (std::int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void pagedAttention(const PagedAttentionArgs& a, float* scores)
{
    float maxScore = -INFINITY;
    for (std::int64_t j = 0; j < a.nContext; ++j) {
        const std::int64_t offset = a.pages[j / a.pageTokens] * a.pageStride + (j % a.pageTokens) * a.slotStride;
        scores[j] = dotKernel(a.q, a.kBase + offset, a.headDim) * a.scale;
        maxScore = std::max(maxScore, scores[j]);
    }
    float sum = 0.0f;
    for (std::int64_t j = 0; j < a.nContext; ++j) {
        scores[j] = std::exp(scores[j] - maxScore);
        sum += scores[j];
    }
    std::fill(a.out, a.out + a.headDim, 0.0f);
    const float inv = 1.0f / sum;
    for (std::int64_t j = 0; j < a.nContext; ++j) {
        const std::int64_t offset = a.pages[j / a.pageTokens] * a.pageStride + (j % a.pageTokens) * a.slotStride;
        axpy(scores[j] * inv, a.vBase + offset, a.headDim, a.out);
    }
}

}  // namespace hearth::cpu
