#include "exec/mma_sync.h"

#include <cuda_fp16.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "exec/exec.h"

namespace cudasim::exec {
namespace {

// fp16 -> fp32 for every bit pattern, computed once (an mma converts 384 elements).
const float* halfTable()
{
    static const std::vector<float> table = [] {
        std::vector<float> v(65536);
        for (std::uint32_t bits = 0; bits < 65536; ++bits)
            v[bits] = __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
        return v;
    }();
    return table.data();
}

float toFloat(MmaType type, std::uint16_t bits)
{
    if (type == MmaType::F16)
        return halfTable()[bits];
    const std::uint32_t wide = std::uint32_t{bits} << 16;
    float f;
    std::memcpy(&f, &wide, 4);
    return f;
}

// One register's two elements: the low half first.
void split(MmaType type, std::uint32_t reg, float* lo, float* hi)
{
    *lo = toFloat(type, static_cast<std::uint16_t>(reg & 0xffffu));
    *hi = toFloat(type, static_cast<std::uint16_t>(reg >> 16));
}

struct MmaLane {
    MmaType type;
    float* d;
    const std::uint32_t* a;
    const std::uint32_t* b;
    const float* c;
};

void mmaCombine(const WarpGroup& g)
{
    float a[16][16], b[16][8], acc[16][8];
    const MmaType type = static_cast<const MmaLane*>(g.lanes[0])->type;
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& m = *static_cast<const MmaLane*>(g.lanes[lane]);
        if (m.type != type)
            kernelFault("mma.sync m16n8k16: the lanes of the warp pass different element types");
        const int gr = static_cast<int>(lane >> 2);
        const int t = static_cast<int>(lane & 3);
        for (int r = 0; r < 4; ++r) {
            const int row = gr + 8 * (r & 1);
            const int k = 2 * t + 8 * (r >> 1);
            split(type, m.a[r], &a[row][k], &a[row][k + 1]);
        }
        for (int r = 0; r < 2; ++r) {
            float lo, hi;
            split(type, m.b[r], &lo, &hi);
            b[2 * t + 8 * r][gr] = lo;
            b[2 * t + 8 * r + 1][gr] = hi;
        }
        for (int i = 0; i < 4; ++i)
            acc[gr + 8 * (i >> 1)][2 * t + (i & 1)] = m.c[i];
    }
    for (int r = 0; r < 16; ++r)
        for (int k = 0; k < 16; ++k)
            for (int n = 0; n < 8; ++n)
                acc[r][n] += a[r][k] * b[k][n];
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& m = *static_cast<const MmaLane*>(g.lanes[lane]);
        const int gr = static_cast<int>(lane >> 2);
        const int t = static_cast<int>(lane & 3);
        for (int i = 0; i < 4; ++i)
            m.d[i] = acc[gr + 8 * (i >> 1)][2 * t + (i & 1)];
    }
}

struct LdmatrixLane {
    int nMatrices;
    bool trans;
    std::uint32_t* regs;
    const void* row;
};

void ldmatrixCombine(const WarpGroup& g)
{
    const auto& first = *static_cast<const LdmatrixLane*>(g.lanes[0]);
    const int n = first.nMatrices;
    std::uint16_t m[4][8][8];
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& d = *static_cast<const LdmatrixLane*>(g.lanes[lane]);
        if (d.nMatrices != n || d.trans != first.trans)
            kernelFault("ldmatrix: the lanes of the warp pass different matrix counts or .trans");
        if (static_cast<int>(lane) >= 8 * n)
            continue;
        if (reinterpret_cast<std::uintptr_t>(d.row) % 16 != 0) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "ldmatrix: lane %u's row address %p is not 16-byte aligned", lane, d.row);
            kernelFault(msg);
        }
        std::memcpy(m[lane / 8][lane % 8], d.row, 16);
    }
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& d = *static_cast<const LdmatrixLane*>(g.lanes[lane]);
        const unsigned r = lane >> 2;
        const unsigned c = 2 * (lane & 3);
        for (int i = 0; i < n; ++i) {
            const std::uint16_t lo = first.trans ? m[i][c][r] : m[i][r][c];
            const std::uint16_t hi = first.trans ? m[i][c + 1][r] : m[i][r][c + 1];
            d.regs[i] = std::uint32_t{lo} | (std::uint32_t{hi} << 16);
        }
    }
}

}  // namespace

void mmaM16N8K16(MmaType type, float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c)
{
    MmaLane m{type, d, a, b, c};
    warpCollective(0xffffffffu, "mma.sync.m16n8k16", &m, &mmaCombine);
}

void ldmatrix(int nMatrices, bool trans, std::uint32_t* regs, const void* rowAddress)
{
    if (nMatrices != 1 && nMatrices != 2 && nMatrices != 4)
        kernelFault("ldmatrix: .x1, .x2 or .x4 only");
    LdmatrixLane d{nMatrices, trans, regs, rowAddress};
    warpCollective(0xffffffffu, "ldmatrix.sync.m8n8", &d, &ldmatrixCombine);
}

}  // namespace cudasim::exec
