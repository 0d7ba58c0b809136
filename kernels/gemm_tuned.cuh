// Private to kernels/gemm*.cu: a GemmContext's tuned state. The cuBLASLt handle, the installed
// plans keyed by (n, k, types) and sorted by m, and the cuBLASLt descriptors of every exact call
// shape met so far (made and checked once, so a step does not rebuild them per call).
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "gemm.h"

namespace hearth::kernels {

struct GemmContext::Tuned {
    // (n, k, inType, outType): the part of a problem a plan is shared across m by.
    using Key = std::tuple<std::int64_t, std::int64_t, int, int>;
    // One cuBLASLt call shape (the key, m and the leading dimensions) with its checked algorithm.
    struct LtCall {
        cublasLtMatmulDesc_t op = nullptr;
        cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;
        cublasLtMatmulAlgo_t algo{};
        std::size_t workspaceBytes = 0;
        bool usable = false;  // the descriptors exist and cuBLASLt accepted the algorithm
    };
    using CallKey = std::tuple<Key, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::array<std::uint64_t, 8>>;

    cublasLtHandle_t lt = nullptr;
    std::map<Key, std::vector<GemmPlan>> plans;  // each sorted by problem.m
    std::map<CallKey, LtCall> calls;

    ~Tuned();
    static Key keyOf(std::int64_t n, std::int64_t k, ElemType in, ElemType out)
    {
        return {n, k, static_cast<int>(in), static_cast<int>(out)};
    }
    // The installed plan for `args` (the smallest planned m >= args.m), or nullptr.
    const GemmPlan* find(const GemmArgs& args) const;
    // The descriptors and checked algorithm of `algo` for this exact call; nullptr when cuBLASLt
    // cannot run it (the caller then uses the default). Made on first use and cached.
    const LtCall* ltCall(const GemmArgs& args, const std::array<std::uint64_t, 8>& algo);
    // Runs `args` by cuBLASLt with `call`'s algorithm.
    KernelStatus runLt(const LtCall& call, const GemmArgs& args, void* workspace, std::size_t workspaceBytes,
                       StreamHandle stream);
};

}  // namespace hearth::kernels
