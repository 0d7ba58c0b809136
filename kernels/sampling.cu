// Sampling: one 1024-thread block per row.
// Passes over the row (all L2-resident for one row of a 152k vocabulary, 600 KB): max + argmax,
// sum of exp for the log-softmax, one argmax per requested top-n alternative (n <= 20, each
// excluding the ones before in the total order value desc / id asc), then for non-greedy rows:
// a 4-pass radix select (8 bits of an order-preserving key per pass, shared-memory histograms)
// for the top-k threshold, the same select weighted by probability mass for the top-p threshold,
// and a block prefix sum over contiguous id chunks to find the drawn id. Nothing is sorted.
// Bound by latency and shared-memory atomics, not bandwidth: microseconds per row, next to a
// decode step of milliseconds. Batches of rows run as independent blocks.
#include "cuda_check.cuh"
#include "sampling.h"

namespace hearth::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float sanitize(float x)
{
    const float y = x == x ? x : -INFINITY;
    return fminf(y, 3.402823466e38f);
}

// Order-preserving map float -> uint32 (larger float, larger key).
__device__ __forceinline__ unsigned orderKey(float f)
{
    const unsigned b = __float_as_uint(f);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

struct Best {
    float value;
    int id;
};

__device__ __forceinline__ bool better(const Best& a, const Best& b)
{
    return a.value > b.value || (a.value == b.value && a.id < b.id);
}

// Block-wide best (value desc, id asc); every thread gets it. `sv`/`si` hold kWarps entries.
__device__ Best blockBest(Best mine, float* sv, int* si)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Best other{__shfl_xor_sync(0xffffffffu, mine.value, o), __shfl_xor_sync(0xffffffffu, mine.id, o)};
        if (better(other, mine))
            mine = other;
    }
    __syncthreads();
    if (lane == 0) {
        sv[warp] = mine.value;
        si[warp] = mine.id;
    }
    __syncthreads();
    Best b{lane < kWarps ? sv[lane] : -INFINITY, lane < kWarps ? si[lane] : 0x7fffffff};
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        Best other{__shfl_xor_sync(0xffffffffu, b.value, o), __shfl_xor_sync(0xffffffffu, b.id, o)};
        if (better(other, b))
            b = other;
    }
    return b;
}

__device__ __forceinline__ float warpInclusiveScan(float v)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const float n = __shfl_up_sync(0xffffffffu, v, o);
        if (lane >= o)
            v += n;
    }
    return v;
}

// Calls f(id, sanitized logit) for this thread's ids (id = threadIdx.x + k * kThreads, in id
// order), loading four at a time so their latencies overlap instead of one L2 round trip each.
template <typename F>
__device__ __forceinline__ void forEachLogit(const float* logits, int vocab, F f)
{
    constexpr int kBatch = 4;
    for (int base = threadIdx.x; base < vocab; base += kBatch * kThreads) {
        float v[kBatch];
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            const int i = base + u * kThreads;
            v[u] = i < vocab ? logits[i] : 0.0f;
        }
#pragma unroll
        for (int u = 0; u < kBatch; ++u) {
            const int i = base + u * kThreads;
            if (i < vocab)
                f(i, sanitize(v[u]));
        }
    }
}

// (x - max) / temperature, divided as the CPU sampler does so thresholds land on the same values.
struct Scaled {
    const float* logits;
    float maxLogit;
    float temperature;
    __device__ float operator()(int i) const { return (sanitize(logits[i]) - maxLogit) / temperature; }
};

// The key v with Q(key > v) < target <= Q(key >= v), where Q sums weightOf(z) over the ids whose
// scaled logit z is finite and whose key is at least floorKey. Four passes of 8 key bits, most
// significant first, each a shared-memory histogram of the ids still matching the prefix.
template <typename WeightFn>
__device__ unsigned radixSelect(const Scaled& z, int vocab, unsigned floorKey, float target, WeightFn weightOf,
                                float* hist, unsigned* shared)
{
    unsigned prefix = 0;
    unsigned mask = 0;
    float above = 0.0f;
    for (int pass = 0; pass < 4; ++pass) {
        const int shift = 24 - 8 * pass;
        for (int b = threadIdx.x; b < 256; b += kThreads)
            hist[b] = 0.0f;
        __syncthreads();
        for (int i = threadIdx.x; i < vocab; i += kThreads) {
            const float zi = z(i);
            if (zi == -INFINITY)
                continue;
            const unsigned key = orderKey(zi);
            if (key >= floorKey && (key & mask) == prefix)
                atomicAdd(&hist[(key >> shift) & 255u], weightOf(zi));
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            int b = 255;
            for (; b > 0; --b) {
                if (above + hist[b] >= target)
                    break;
                above += hist[b];
            }
            shared[0] = prefix | (static_cast<unsigned>(b) << shift);
            shared[1] = __float_as_uint(above);
        }
        __syncthreads();
        prefix = shared[0];
        mask |= 255u << shift;
        above = __uint_as_float(shared[1]);
        __syncthreads();  // shared[] is rewritten by the next pass
    }
    return prefix;
}

__global__ void __launch_bounds__(kThreads) sampleKernel(SamplingArgs a, std::int64_t stride)
{
    __shared__ float sv[kWarps];
    __shared__ int si[kWarps];
    __shared__ float scratch[32];
    __shared__ float hist[256];
    __shared__ unsigned shared[4];
    __shared__ float warpTotals[kWarps];
    __shared__ int chosenS;
    __shared__ int lastKeptS;

    const std::int64_t rowIdx = blockIdx.x;
    const float* logits = a.logits + rowIdx * stride;
    const int vocab = static_cast<int>(a.vocab);

    // Max and argmax (lowest id among equals).
    Best mine{-INFINITY, 0x7fffffff};
    forEachLogit(logits, vocab, [&](int i, float x) {
        const Best c{x, i};
        if (better(c, mine))
            mine = c;
    });
    const Best top = blockBest(mine, sv, si);
    const float maxLogit = top.value;
    const int argmaxId = top.id < vocab ? top.id : 0;

    // Raw log-softmax normaliser.
    float sumExp = 0.0f;
    if (maxLogit != -INFINITY)
        forEachLogit(logits, vocab, [&](int, float x) { sumExp += __expf(x - maxLogit); });
    sumExp = detail::blockSum(sumExp, scratch);
    const float logZ = maxLogit == -INFINITY ? INFINITY : maxLogit + logf(sumExp);
    auto rawLogprob = [&](int id) { return maxLogit == -INFINITY ? -INFINITY : sanitize(logits[id]) - logZ; };

    // Top-n alternatives: each round the best strictly after the previous one in the total order.
    Best prev{INFINITY, -1};
    for (int r = 0; r < a.nTop; ++r) {
        Best cand{-INFINITY, 0x7fffffff};
        forEachLogit(logits, vocab, [&](int i, float x) {
            const Best c{x, i};
            if (better(prev, c) && better(c, cand))
                cand = c;
        });
        const Best b = blockBest(cand, sv, si);
        if (threadIdx.x == 0) {
            const bool found = b.id < vocab;
            a.topTokens[rowIdx * a.nTop + r] = found ? b.id : -1;
            a.topLogprobs[rowIdx * a.nTop + r] = found ? rawLogprob(b.id) : -INFINITY;
        }
        prev = b;
    }

    const float temperature = a.temperature ? a.temperature[rowIdx] : 0.0f;
    const int topK = a.topK ? a.topK[rowIdx] : 0;
    const bool greedy = !(temperature > 0.0f) || topK == 1 || maxLogit == -INFINITY;
    if (greedy) {
        if (threadIdx.x == 0) {
            a.tokens[rowIdx] = argmaxId;
            if (a.logprobs)
                a.logprobs[rowIdx] = rawLogprob(argmaxId);
        }
        return;
    }

    const Scaled z{logits, maxLogit, temperature};

    // Candidates: finite scaled logits; top-k applies only when k is below their count.
    float nFinite = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += kThreads)
        nFinite += z(i) != -INFINITY ? 1.0f : 0.0f;
    nFinite = detail::blockSum(nFinite, scratch);

    unsigned floorKey = 0;
    if (topK > 0 && static_cast<float>(topK) < nFinite)
        floorKey = radixSelect(z, vocab, 0u, static_cast<float>(topK), [](float) { return 1.0f; }, hist, shared);
    auto keptByTopK = [&](float zi) { return zi != -INFINITY && orderKey(zi) >= floorKey; };

    const float topP = a.topP ? a.topP[rowIdx] : 1.0f;
    if (topP < 1.0f) {
        float total = 0.0f;
        float count = 0.0f;
        for (int i = threadIdx.x; i < vocab; i += kThreads) {
            const float zi = z(i);
            if (keptByTopK(zi)) {
                total += expf(zi);
                count += 1.0f;
            }
        }
        total = detail::blockSum(total, scratch);
        count = detail::blockSum(count, scratch);
        if (count > 1.0f) {
            const unsigned pKey =
                radixSelect(z, vocab, floorKey, topP * total, [](float zi) { return expf(zi); }, hist, shared);
            floorKey = floorKey > pKey ? floorKey : pKey;
        }
    }

    const float minP = a.minP ? a.minP[rowIdx] : 0.0f;
    auto weightOf = [&](int i) {
        const float zi = z(i);
        if (!keptByTopK(zi))
            return 0.0f;
        const float w = expf(zi);
        return minP > 0.0f && w < minP ? 0.0f : w;
    };

    // Draw: contiguous id chunks per thread, block prefix sum of chunk weights.
    const int chunk = (vocab + kThreads - 1) / kThreads;
    const int begin = min(vocab, static_cast<int>(threadIdx.x) * chunk);
    const int end = min(vocab, begin + chunk);
    float local = 0.0f;
    int lastMine = -1;
    for (int i = begin; i < end; ++i) {
        const float w = weightOf(i);
        if (w > 0.0f) {
            local += w;
            lastMine = i;
        }
    }
    if (threadIdx.x == 0) {
        chosenS = -1;
        lastKeptS = -1;
    }
    // Each thread owns the slice [lo, hi) of [0, total); neighbours share the bound exactly (the
    // same float is used on both sides), so rounding can neither leave a gap nor an overlap.
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const float incl = warpInclusiveScan(local);
    float exclInWarp = __shfl_up_sync(0xffffffffu, incl, 1);
    if (lane == 0)
        exclInWarp = 0.0f;
    __syncthreads();
    if (lane == 31)
        warpTotals[warp] = incl;
    if (lastMine >= 0)
        atomicMax(&lastKeptS, lastMine);
    __syncthreads();
    if (warp == 0) {
        const float t = warpInclusiveScan(warpTotals[lane]);
        warpTotals[lane] = t;
    }
    __syncthreads();
    const float warpBase = warp > 0 ? warpTotals[warp - 1] : 0.0f;
    const float lo = warpBase + exclInWarp;
    const float hi = lane == 31 ? warpTotals[warp] : warpBase + incl;
    const float total = warpTotals[kWarps - 1];
    const float target = a.uniform[rowIdx] * total;
    if (local > 0.0f && lo <= target && target < hi) {
        int pick = lastMine;  // when rounding leaves the target past this chunk's walk
        float run = lo;
        for (int i = begin; i < end; ++i) {
            const float w = weightOf(i);
            if (w <= 0.0f)
                continue;
            run += w;
            if (target < run) {
                pick = i;
                break;
            }
        }
        chosenS = pick;  // exactly one thread owns the target
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int chosen = chosenS >= 0 ? chosenS : lastKeptS;
        if (chosen < 0)
            chosen = argmaxId;
        a.tokens[rowIdx] = chosen;
        if (a.logprobs)
            a.logprobs[rowIdx] = rawLogprob(chosen);
    }
}

}  // namespace

KernelStatus sampleTokens(const SamplingArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.nRows >= 0 && a.nRows < (std::int64_t{1} << 31), "row count out of range");
    HEARTH_KERNEL_REQUIRE(a.vocab >= 1 && a.vocab < (std::int64_t{1} << 30), "vocabulary size out of range");
    HEARTH_KERNEL_REQUIRE(a.logitsStride == 0 || a.logitsStride >= a.vocab, "logits stride shorter than a row");
    HEARTH_KERNEL_REQUIRE(a.nTop >= 0 && a.nTop <= kMaxSampleTopN, "top-n must be in [0, 20]");
    HEARTH_KERNEL_REQUIRE(a.nTop == 0 || (a.topTokens && a.topLogprobs), "top-n needs output arrays");
    HEARTH_KERNEL_REQUIRE(a.temperature == nullptr || a.uniform != nullptr, "sampling with a temperature needs uniforms");
    HEARTH_KERNEL_REQUIRE(a.logits && a.tokens, "sampling needs logits and a token output");
    if (a.nRows == 0)
        return KernelStatus::success();
    sampleKernel<<<static_cast<unsigned>(a.nRows), kThreads, 0, detail::toStream(stream)>>>(
        a, a.logitsStride ? a.logitsStride : a.vocab);
    HEARTH_CUDA_CHECK_LAUNCH();
    return KernelStatus::success();
}

}  // namespace hearth::kernels
