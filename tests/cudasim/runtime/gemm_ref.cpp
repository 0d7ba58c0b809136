// The CPU GEMM shared by cublasGemmEx (cublas.cpp) and cublasLtMatmul (cublaslt.cpp): see
// gemm_ref.h. Products accumulate in fp32 (eight fixed partial sums) and round once to the output
// type, so every run, every entry point and every CPU gives the same bits.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__)
// The reference models' logits GEMMs are a few GMAC each; unoptimised they dominate the suites.
#pragma GCC optimize("O3")
#endif
#include "gemm_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cudasim.h"
#include "sim_state.h"

namespace cudasim::rt {

float halfToFloat(std::uint16_t h)
{
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const int exp = (h >> 10) & 0x1f;
    const std::uint32_t mant = h & 0x3ffu;
    float f;
    if (exp == 0) {
        f = std::ldexp(static_cast<float>(mant), -24);
    } else if (exp == 31) {
        f = mant ? std::nanf("") : INFINITY;
    } else {
        f = std::ldexp(static_cast<float>(mant | 0x400u), exp - 25);
    }
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits |= sign;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToHalf(float f)
{
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const float a = std::fabs(f);
    if (std::isnan(f))
        return static_cast<std::uint16_t>(sign | 0x7e00u);
    if (a >= 65520.0f)  // rounds to infinity
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    if (a < 6.103515625e-05f) {  // subnormal: a multiple of 2^-24, rounded to nearest even
        const float q = std::nearbyint(a * 16777216.0f);
        return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(q));
    }
    std::uint32_t abits;
    std::memcpy(&abits, &a, 4);
    const std::uint32_t lsb = (abits >> 13) & 1u;
    abits += 0xfffu + lsb;  // round to nearest even on the 13 dropped bits
    const int exp = static_cast<int>(abits >> 23) - 127 + 15;
    if (exp >= 31)
        return static_cast<std::uint16_t>(sign | 0x7c00u);
    return static_cast<std::uint16_t>(sign | (exp << 10) | ((abits >> 13) & 0x3ffu));
}

float bf16ToFloat(std::uint16_t h)
{
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToBf16(float f)
{
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if (std::isnan(f))
        return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>(x >> 16);
}

std::size_t elemBytes(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

std::size_t spanBytes(int rows, int cols, int ld, cudaDataType t)
{
    if (rows == 0 || cols == 0)
        return 0;
    return (static_cast<std::size_t>(cols - 1) * ld + rows) * elemBytes(t);
}

bool onDevice(const void* p, std::size_t nBytes)
{
    if (nBytes == 0)
        return true;
    const Span s = classify(p, nBytes);
    return p && s.kind != MemKind::Pageable && s.inside;
}

}  // namespace cudasim::rt

namespace {

using cudasim::rt::bf16ToFloat;
using cudasim::rt::floatToBf16;
using cudasim::rt::floatToHalf;

// fp16 to fp32 by table: the GEMMs convert whole weight matrices on every call.
const float* halfTable()
{
    static const float* table = [] {
        auto* t = new float[65536];
        for (std::uint32_t h = 0; h < 65536; ++h)
            t[h] = cudasim::rt::halfToFloat(static_cast<std::uint16_t>(h));
        return t;
    }();
    return table;
}

float load(const void* base, std::size_t i, cudaDataType t)
{
    switch (t) {
    case CUDA_R_16F: return halfTable()[static_cast<const std::uint16_t*>(base)[i]];
    case CUDA_R_16BF: return bf16ToFloat(static_cast<const std::uint16_t*>(base)[i]);
    default: return static_cast<const float*>(base)[i];
    }
}

// out[l] = base[start + l * stride] as fp32, for l < count.
void gather(const void* base, cudaDataType t, std::size_t start, std::size_t stride, int count, float* out)
{
    const auto* h = static_cast<const std::uint16_t*>(base) + start;
    switch (t) {
    case CUDA_R_16F: {
        const float* table = halfTable();
        for (int l = 0; l < count; ++l)
            out[l] = table[h[l * stride]];
        break;
    }
    case CUDA_R_16BF:
        for (int l = 0; l < count; ++l)
            out[l] = bf16ToFloat(h[l * stride]);
        break;
    default: {
        const float* f = static_cast<const float*>(base) + start;
        for (int l = 0; l < count; ++l)
            out[l] = f[l * stride];
        break;
    }
    }
}

void store(void* base, std::size_t i, cudaDataType t, float v)
{
    switch (t) {
    case CUDA_R_16F: static_cast<std::uint16_t*>(base)[i] = floatToHalf(v); break;
    case CUDA_R_16BF: static_cast<std::uint16_t*>(base)[i] = floatToBf16(v); break;
    default: static_cast<float*>(base)[i] = v; break;
    }
}

}  // namespace

namespace cudasim::rt {

// Dot products of four rows with one column, kPadded (a multiple of 8) long: eight fp32 partial
// sums per row (tensor cores accumulate in fp32 too), added in a fixed order, so every run and
// every clone below gives the same bits. AVX2 where the CPU has it (no FMA: the same rounding).
__attribute__((target_clones("avx2", "default"))) void gemmDot4(const float* rows, const float* col,
                                                                std::size_t kPadded, double* out)
{
    float part[4][8] = {};
    for (std::size_t l = 0; l < kPadded; l += 8)
        for (int r = 0; r < 4; ++r)
            for (int u = 0; u < 8; ++u)
                part[r][u] += rows[r * kPadded + l + u] * col[l + u];
    for (int r = 0; r < 4; ++r) {
        double acc = 0;
        for (float p : part[r])
            acc += p;
        out[r] = acc;
    }
}

std::size_t Gemm::aBytes() const { return spanBytes(transA ? k : m, k == 0 ? 0 : (transA ? m : k), lda, inType); }

std::size_t Gemm::bBytes() const { return spanBytes(transB ? n : k, k == 0 ? 0 : (transB ? k : n), ldb, inType); }

std::size_t Gemm::cBytes() const { return spanBytes(m, n, ldc, outType); }

void Gemm::run() const
{
    // A graph replayed after its buffers were freed would read freed memory: a device fault.
    if (!onDevice(a, aBytes()) || !onDevice(b, bBytes()) || !onDevice(c, cBytes())) {
        const std::string message =
            std::string(what) + " runs on memory freed since it was queued (a graph replayed after cudaFree?)";
        cudasim::fault(message.c_str());
    }
    // op(A) rows and op(B) columns in fp32 (exact for 16-bit inputs), zero-padded to a multiple
    // of 8 long, so the inner loop is contiguous; op(A) in blocks of rows that stay in cache
    // while every column passes (op(B) is the activations here, op(A) the weights).
    constexpr int kBlockRows = 64;
    const std::size_t kp = (static_cast<std::size_t>(k) + 7) / 8 * 8;
    std::vector<float> opB(static_cast<std::size_t>(n) * kp, 0.0f), block(kBlockRows * kp, 0.0f);
    for (int j = 0; j < n; ++j)
        gather(b, inType, transB ? j : static_cast<std::size_t>(j) * ldb, transB ? ldb : 1, k, &opB[j * kp]);
    double acc[4];
    for (int i0 = 0; i0 < m; i0 += kBlockRows) {
        const int rows = std::min(kBlockRows, m - i0);
        for (int r = 0; r < rows; ++r) {
            const int i = i0 + r;
            gather(a, inType, transA ? static_cast<std::size_t>(i) * lda : i, transA ? 1 : lda, k, &block[r * kp]);
        }
        for (int j = 0; j < n; ++j) {
            const float* col = opB.data() + static_cast<std::size_t>(j) * kp;
            for (int r0 = 0; r0 < rows; r0 += 4) {
                gemmDot4(block.data() + static_cast<std::size_t>(r0) * kp, col, kp, acc);
                for (int r = r0; r < std::min(r0 + 4, rows); ++r) {
                    const std::size_t at = (i0 + r) + static_cast<std::size_t>(j) * ldc;
                    double v = alpha * acc[r - r0];
                    if (beta != 0.0f)
                        v += static_cast<double>(beta) * load(c, at, outType);
                    store(c, at, outType, static_cast<float>(v));
                }
            }
        }
    }
}

}  // namespace cudasim::rt
