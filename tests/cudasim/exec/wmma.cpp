#include "exec/wmma.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "exec/exec.h"

namespace cudasim::exec {
namespace {

struct Cell {
    int row;
    int col;
};

// Tile element of fragment element i (i < 8) in lane `lane`; see wmma.h.
Cell cellOf(WmmaUse use, unsigned lane, int i)
{
    const int l = static_cast<int>(lane);
    if (use == WmmaUse::B)
        return {2 * (l & 3) + (i & 1) + 8 * ((i >> 1) & 1), (l >> 2) + 8 * (i >> 2)};
    return {(l >> 2) + 8 * ((i >> 1) & 1), 2 * (l & 3) + (i & 1) + 8 * (i >> 2)};
}

// cellOf for every lane and element, computed once (every collective walks all 256).
struct CellTable {
    Cell cells[32][8];
    explicit CellTable(WmmaUse use)
    {
        for (unsigned lane = 0; lane < 32; ++lane)
            for (int i = 0; i < 8; ++i)
                cells[lane][i] = cellOf(use, lane, i);
    }
};

const CellTable& cellTable(WmmaUse use)
{
    static const CellTable a(WmmaUse::A), b(WmmaUse::B), acc(WmmaUse::Accumulator);
    return use == WmmaUse::A ? a : use == WmmaUse::B ? b : acc;
}

std::size_t sizeOf(WmmaType t) { return t == WmmaType::F32 ? 4 : 2; }

// fp16 -> fp32 for every bit pattern, computed once: the MMA converts 768 elements per call.
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

void writeElement(WmmaType t, void* base, std::size_t index, float v)
{
    if (t == WmmaType::F32) {
        std::memcpy(static_cast<char*>(base) + index * 4, &v, 4);
        return;
    }
    const std::uint16_t bits = t == WmmaType::F16 ? __half_as_ushort(__float2half_rn(v))
                                                  : __bfloat16_as_ushort(__float2bfloat16_rn(v));
    std::memcpy(static_cast<char*>(base) + index * 2, &bits, 2);
}

// Copies one element's bytes (no conversion) between a fragment and memory.
void copyElement(std::size_t nBytes, void* dst, std::size_t dstIndex, const void* src, std::size_t srcIndex)
{
    std::memcpy(static_cast<char*>(dst) + dstIndex * nBytes, static_cast<const char*>(src) + srcIndex * nBytes, nBytes);
}

struct MemoryLane {
    WmmaFragment frag;
    void* elements;
    void* ptr;
    unsigned ldm;
    bool rowMajor;
};

[[noreturn]] void faultf(const char* fmt, const char* what, const void* p, unsigned v)
{
    char msg[256];
    std::snprintf(msg, sizeof msg, fmt, what, p, v);
    kernelFault(msg);
}

// The arguments every lane must agree on, and the hardware's alignment rules.
const MemoryLane& checkedLanes(const WarpGroup& g, const char* what)
{
    const auto& first = *static_cast<const MemoryLane*>(g.lanes[0]);
    for (unsigned lane = 1; lane < 32; ++lane) {
        const auto& o = *static_cast<const MemoryLane*>(g.lanes[lane]);
        if (o.ptr != first.ptr || o.ldm != first.ldm || o.rowMajor != first.rowMajor)
            faultf("%s: the lanes of the warp pass different pointers, ldm or layouts (lane 0: %p, ldm %u)", what, first.ptr,
                   first.ldm);
    }
    if (reinterpret_cast<std::uintptr_t>(first.ptr) % 32 != 0)
        faultf("%s: pointer %p is not 256-bit (32-byte) aligned (ldm %u)", what, first.ptr, first.ldm);
    const unsigned multiple = static_cast<unsigned>(16 / sizeOf(first.frag.type));
    if (first.ldm % multiple != 0)
        faultf("%s: (pointer %p) ldm %u is not a multiple of 16 bytes' worth of elements", what, first.ptr, first.ldm);
    return first;
}

std::size_t offsetOf(const MemoryLane& m, Cell c)
{
    return m.rowMajor ? static_cast<std::size_t>(c.row) * m.ldm + static_cast<std::size_t>(c.col)
                      : static_cast<std::size_t>(c.col) * m.ldm + static_cast<std::size_t>(c.row);
}

void loadCombine(const WarpGroup& g)
{
    const MemoryLane& m = checkedLanes(g, "wmma::load_matrix_sync");
    const std::size_t n = sizeOf(m.frag.type);
    const CellTable& table = cellTable(m.frag.use);
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& d = *static_cast<const MemoryLane*>(g.lanes[lane]);
        for (int i = 0; i < 8; ++i)
            copyElement(n, d.elements, static_cast<std::size_t>(i), m.ptr, offsetOf(m, table.cells[lane][i]));
        if (d.frag.nElements > 8)  // the repeated half of an fp16 A/B fragment
            std::memcpy(static_cast<char*>(d.elements) + 8 * n, d.elements, 8 * n);
    }
}

void storeCombine(const WarpGroup& g)
{
    const MemoryLane& m = checkedLanes(g, "wmma::store_matrix_sync");
    const std::size_t n = sizeOf(m.frag.type);
    const CellTable& table = cellTable(m.frag.use);
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& d = *static_cast<const MemoryLane*>(g.lanes[lane]);
        for (int i = 0; i < 8; ++i)
            copyElement(n, m.ptr, offsetOf(m, table.cells[lane][i]), d.elements, static_cast<std::size_t>(i));
    }
}

// A fragment's 8 distinct elements as fp32 into a 16x16 tile.
void gather(float (&tile)[16][16], const CellTable& table, unsigned lane, WmmaType type, const void* elements)
{
    float v[8];
    if (type == WmmaType::F32) {
        std::memcpy(v, elements, sizeof v);
    } else {
        std::uint16_t bits[8];
        std::memcpy(bits, elements, sizeof bits);
        const float* half = halfTable();
        for (int i = 0; i < 8; ++i) {
            const std::uint32_t wide = std::uint32_t{bits[i]} << 16;
            float bf;
            std::memcpy(&bf, &wide, 4);
            v[i] = type == WmmaType::F16 ? half[bits[i]] : bf;
        }
    }
    for (int i = 0; i < 8; ++i) {
        const Cell c = table.cells[lane][i];
        tile[c.row][c.col] = v[i];
    }
}

struct MmaLane {
    WmmaFragment d, a, b, c;
    void* dElements;
    const void* aElements;
    const void* bElements;
    const void* cElements;
};

void mmaCombine(const WarpGroup& g)
{
    float a[16][16], b[16][16], acc[16][16];
    const CellTable& ta = cellTable(WmmaUse::A);
    const CellTable& tb = cellTable(WmmaUse::B);
    const CellTable& tc = cellTable(WmmaUse::Accumulator);
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& m = *static_cast<const MmaLane*>(g.lanes[lane]);
        gather(a, ta, lane, m.a.type, m.aElements);
        gather(b, tb, lane, m.b.type, m.bElements);
        gather(acc, tc, lane, m.c.type, m.cElements);
    }
    // k ascending for every element; products of fp16/bf16 inputs are exact in fp32, so each add
    // rounds once, as an fma would. The inner loop runs along rows of b, so it vectorises.
    for (int r = 0; r < 16; ++r)
        for (int k = 0; k < 16; ++k)
            for (int c = 0; c < 16; ++c)
                acc[r][c] += a[r][k] * b[k][c];
    for (unsigned lane = 0; lane < 32; ++lane) {
        const auto& m = *static_cast<const MmaLane*>(g.lanes[lane]);
        for (int i = 0; i < 8; ++i) {
            const Cell cc = tc.cells[lane][i];
            writeElement(m.d.type, m.dElements, static_cast<std::size_t>(i), acc[cc.row][cc.col]);
        }
    }
}

}  // namespace

void wmmaLoad(const WmmaFragment& f, void* elements, const void* ptr, unsigned ldm, bool rowMajor)
{
    MemoryLane d{f, elements, const_cast<void*>(ptr), ldm, rowMajor};
    warpCollective(0xffffffffu, "wmma::load_matrix_sync", &d, &loadCombine);
}

void wmmaStore(const WmmaFragment& f, void* ptr, const void* elements, unsigned ldm, bool rowMajor)
{
    MemoryLane d{f, const_cast<void*>(elements), ptr, ldm, rowMajor};
    warpCollective(0xffffffffu, "wmma::store_matrix_sync", &d, &storeCombine);
}

void wmmaMma(const WmmaFragment& d, void* dElements, const WmmaFragment& a, const void* aElements, const WmmaFragment& b,
             const void* bElements, const WmmaFragment& c, const void* cElements)
{
    MmaLane m{d, a, b, c, dElements, aElements, bElements, cElements};
    warpCollective(0xffffffffu, "wmma::mma_sync", &m, &mmaCombine);
}

}  // namespace cudasim::exec
