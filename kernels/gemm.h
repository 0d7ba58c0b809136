// GEMMs for prefill and larger batches: Y = alpha * X W^T + beta * Y with X [m, k] token rows
// and W [n, k] as stored (a torch Linear's layout), fp32 compute on the tensor cores. A
// GemmContext owns the cuBLAS and cuBLASLt handles and their workspace; one per stream role.
// By default every GEMM goes to cublasGemmEx. tune() times, per problem shape, cuBLAS's default
// against cuBLASLt's heuristic algorithms, the skinny tensor-core GEMM (skinny_gemm.h) and, for
// at most kGemvMaxRows rows, the GEMV (gemv.h) on the card itself, and the fastest that agrees with the default's result serves that shape from then
// on (install() takes such plans back from a cache).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernel_status.h"

namespace hearth::kernels {

struct GemmArgs {
    const void* x = nullptr;   // [m, ldx], first k columns
    const void* w = nullptr;   // [n, ldw], first k columns
    void* y = nullptr;         // [m, ldy], first n columns
    std::int64_t m = 0;        // token rows
    std::int64_t n = 0;        // output features
    std::int64_t k = 0;        // input features
    std::int64_t ldx = 0;      // 0 means k
    std::int64_t ldw = 0;      // 0 means k
    std::int64_t ldy = 0;      // 0 means n
    ElemType inType = ElemType::F16;   // of x and w: F16 or BF16
    ElemType outType = ElemType::F16;  // of y: inType or F32
    float alpha = 1.0f;
    float beta = 0.0f;         // 1 accumulates into y (residual adds, LoRA)
};

// How a GEMM is computed.
enum class GemmMethod : std::uint8_t {
    Cublas = 0,    // cublasGemmEx, CUBLAS_GEMM_DEFAULT
    CublasLt = 1,  // cublasLtMatmul with one chosen algorithm
    Skinny = 2,    // skinnyGemm (m <= kSkinnyGemmMaxRows)
    Gemv = 3,      // gemv (m <= kGemvMaxRows, the input type or fp32 out, alpha 1, beta 0, dense W)
};
const char* gemmMethodName(GemmMethod method);

// A problem shape as the tuner times it and the plan table keys it: dense operands (ldx = ldw =
// k, ldy = n), alpha 1, beta 0.
struct GemmProblem {
    std::int64_t m = 0, n = 0, k = 0;
    ElemType inType = ElemType::F16;
    ElemType outType = ElemType::F16;
};

// The tuner's choice for one problem, with what it measured (microseconds per call).
struct GemmPlan {
    GemmProblem problem;
    GemmMethod method = GemmMethod::Cublas;
    std::array<std::uint64_t, 8> ltAlgo{};  // cublasLtMatmulAlgo_t's words when method == CublasLt
    std::uint64_t ltWorkspaceBytes = 0;
    int skinnyTile = 0;      // skinnyGemm's tileFeatures when method == Skinny (0: its own choice)
    float defaultUs = 0.0f;  // cublasGemmEx
    float chosenUs = 0.0f;
    int nCandidates = 0;     // timed, the default included
    int nRejected = 0;       // failed to run, or disagreed with the default's result
};

struct GemmTuneOptions {
    void* scratch = nullptr;       // device memory the tuner may overwrite (inputs and outputs)
    std::size_t scratchBytes = 0;  // problems whose operands do not fit are left on the default
    double budgetMs = 1500.0;      // problems after this much tuning time are left on the default
    // Another method replaces the baseline (the GEMV up to kGemvMaxRows rows, else cuBLAS's
    // default) only when this much faster.
    float minGain = 0.03f;
    int maxLtAlgos = 6;            // cuBLASLt heuristic candidates per problem
    int reps = 5;                  // timed runs per candidate (after one untimed)
    // Tests: choose the fastest working candidate of this method even when the default is faster.
    GemmMethod prefer = GemmMethod::Cublas;
};

class GemmContext {
public:
    // A cuBLAS handle and a device workspace of `workspaceBytes` (cuBLAS needs one it owns for
    // CUDA-graph capture). On failure *out stays empty.
    static KernelStatus create(std::unique_ptr<GemmContext>* out, std::size_t workspaceBytes = std::size_t{32} << 20);
    ~GemmContext();
    GemmContext(const GemmContext&) = delete;
    GemmContext& operator=(const GemmContext&) = delete;

    // Y = alpha * X W^T + beta * Y on `stream`: by the installed plan of the smallest planned m
    // at or above args.m for the same n, k and types (dense leading dimensions only), else by
    // cublasGemmEx.
    KernelStatus gemm(const GemmArgs& args, StreamHandle stream);

    // Times each problem's candidates on `stream` with deterministic inputs written into
    // options.scratch, checks each candidate's result against cublasGemmEx's, installs the
    // fastest and appends every problem's plan to *plans (those left on the default too).
    // Synchronises `stream`. The scratch's contents are garbage afterwards.
    KernelStatus tune(const std::vector<GemmProblem>& problems, const GemmTuneOptions& options, StreamHandle stream,
                      std::vector<GemmPlan>* plans);
    // Installs plans made by tune() (here or, through a cache, in an earlier process): cuBLASLt
    // ones only if this cuBLASLt still accepts their algorithm for the problem. Returns how many
    // were installed; a refused plan leaves its problem on the default.
    int install(const std::vector<GemmPlan>& plans);
    // The installed plans, in problem order.
    std::vector<GemmPlan> plans() const;
    // The method of the installed plan covering `args` (its m or the next larger planned m of the
    // same shape), or nothing. The engine asks before a projection of at most kGemvMaxRows rows: it
    // runs the GEMV (with the bias fused) unless a plan names another method.
    std::optional<GemmMethod> plannedMethod(const GemmArgs& args) const;
    // "cuBLASLt 12.9.1 (120901)": the library whose algorithms a cached plan names.
    static std::string ltVersion();

private:
    struct Tuned;  // cuBLASLt handle, installed plans, per-shape call descriptors (gemm_tune.cu)
    GemmContext();
    KernelStatus runPlanned(const GemmArgs& args, StreamHandle stream, bool* done);
    // cublasGemmEx with CUBLAS_GEMM_DEFAULT on arguments gemm() has checked: the default method.
    KernelStatus runCublas(const GemmArgs& args, StreamHandle stream);
    void* m_handle = nullptr;     // cublasHandle_t
    void* m_workspace = nullptr;  // device memory
    std::size_t m_workspaceBytes = 0;
    std::unique_ptr<Tuned> m_tuned;
};

}  // namespace hearth::kernels
