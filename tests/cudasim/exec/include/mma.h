// cudasim's <mma.h>: nvcuda::wmma for kernels compiled as C++ (the toolkit's header declares
// nothing outside nvcc). The 16x16x16 shape with fp16/bf16 A and B and fp32 (or fp16)
// accumulators; see exec/wmma.h for the fragment layout and the checks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "exec/wmma.h"

namespace nvcuda::wmma {

struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

template <typename T>
constexpr ::cudasim::exec::WmmaType typeOf()
{
    static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, float>,
                  "cudasim WMMA takes fp16, bf16 or fp32 (accumulator) elements");
    if constexpr (std::is_same_v<T, __half>)
        return ::cudasim::exec::WmmaType::F16;
    else if constexpr (std::is_same_v<T, __nv_bfloat16>)
        return ::cudasim::exec::WmmaType::BF16;
    else
        return ::cudasim::exec::WmmaType::F32;
}

template <typename Use>
constexpr ::cudasim::exec::WmmaUse useOf()
{
    if constexpr (std::is_same_v<Use, matrix_a>)
        return ::cudasim::exec::WmmaUse::A;
    else if constexpr (std::is_same_v<Use, matrix_b>)
        return ::cudasim::exec::WmmaUse::B;
    else
        return ::cudasim::exec::WmmaUse::Accumulator;
}

template <typename Use, typename T>
constexpr int elementsOf()
{
    return !std::is_same_v<Use, accumulator> && std::is_same_v<T, __half> ? 16 : 8;
}

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
    static_assert(M == 16 && N == 16 && K == 16, "cudasim models the 16x16x16 WMMA shape only");
    static_assert(std::is_same_v<Use, accumulator> == std::is_same_v<Layout, void>,
                  "A and B fragments name a layout, accumulators do not");

public:
    static constexpr int num_elements = detail::elementsOf<Use, T>();
    using element_type = T;
    T x[num_elements];

    static constexpr ::cudasim::exec::WmmaFragment describe()
    {
        return {detail::useOf<Use>(), detail::typeOf<T>(), num_elements};
    }
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const std::type_identity_t<T>& v)
{
    for (int i = 0; i < f.num_elements; ++i)
        f.x[i] = v;
}

template <typename Use, typename T, typename Layout>
    requires(!std::is_same_v<Use, accumulator>)
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout>& f, const T* p, unsigned ldm)
{
    ::cudasim::exec::wmmaLoad(f.describe(), f.x, p, ldm, std::is_same_v<Layout, row_major>);
}

template <typename T>
void load_matrix_sync(fragment<accumulator, 16, 16, 16, T>& f, const T* p, unsigned ldm, layout_t layout)
{
    ::cudasim::exec::wmmaLoad(f.describe(), f.x, p, ldm, layout == mem_row_major);
}

template <typename T>
void store_matrix_sync(T* p, const fragment<accumulator, 16, 16, 16, T>& f, unsigned ldm, layout_t layout)
{
    ::cudasim::exec::wmmaStore(f.describe(), p, f.x, ldm, layout == mem_row_major);
}

template <typename Tab, typename La, typename Lb, typename Tc, typename Td>
void mma_sync(fragment<accumulator, 16, 16, 16, Td>& d, const fragment<matrix_a, 16, 16, 16, Tab, La>& a,
              const fragment<matrix_b, 16, 16, 16, Tab, Lb>& b, const fragment<accumulator, 16, 16, 16, Tc>& c)
{
    ::cudasim::exec::wmmaMma(d.describe(), d.x, a.describe(), a.x, b.describe(), b.x, c.describe(), c.x);
}

}  // namespace nvcuda::wmma
