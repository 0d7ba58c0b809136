// cuBLAS GEMM wrapper (no kernels of our own; the tuned alternatives are in gemm_tune.cu).
// Shapes: Y[m, n] = X[m, k] W[n, k]^T, all row-major. cuBLAS is column-major, so the call
// computes Y^T = W X^T: W is "transposed" (op T on the column-major [k, n] view of row-major W)
// and X is not. fp16/bf16 inputs with CUBLAS_COMPUTE_32F: tensor-core math with fp32
// accumulation. Compute-bound for m beyond a few hundred rows (~800 TFLOP/s bf16 measured on the
// H100); at small m it is weight-bandwidth-bound, where gemv is the better choice (m <= 8).
// cublasGemmEx is the default; a shape the context was tuned for runs the method its plan names.
#include <limits>

#include "cuda_check.cuh"
#include "gemm.h"
#include "gemm_tuned.cuh"

namespace hearth::kernels {
namespace {

cudaDataType_t cudaType(ElemType t)
{
    switch (t) {
    case ElemType::F16: return CUDA_R_16F;
    case ElemType::BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
    }
}

bool fitsInt(std::int64_t v) { return v >= 0 && v <= std::numeric_limits<int>::max(); }

}  // namespace

GemmContext::GemmContext() = default;

KernelStatus GemmContext::create(std::unique_ptr<GemmContext>* out, std::size_t workspaceBytes)
{
    HEARTH_KERNEL_REQUIRE(out != nullptr, "GemmContext::create needs somewhere to put the context");
    out->reset();
    std::unique_ptr<GemmContext> ctx(new GemmContext());
    cublasHandle_t handle = nullptr;
    HEARTH_CUBLAS_CHECK(cublasCreate(&handle));
    ctx->m_handle = handle;  // owned from here: the destructor frees it on the failures below
    if (workspaceBytes) {
        HEARTH_CUDA_CHECK(cudaMalloc(&ctx->m_workspace, workspaceBytes));
        ctx->m_workspaceBytes = workspaceBytes;
    }
    *out = std::move(ctx);
    return KernelStatus::success();
}

GemmContext::~GemmContext()
{
    // Errors here cannot be reported (a destructor) and leave nothing to undo.
    m_tuned.reset();
    if (m_handle)
        cublasDestroy(static_cast<cublasHandle_t>(m_handle));
    if (m_workspace)
        cudaFree(m_workspace);
}

KernelStatus GemmContext::gemm(const GemmArgs& a, StreamHandle stream)
{
    HEARTH_KERNEL_REQUIRE(a.inType == ElemType::F16 || a.inType == ElemType::BF16, "GEMM inputs must be fp16 or bf16");
    HEARTH_KERNEL_REQUIRE(a.outType == a.inType || a.outType == ElemType::F32, "GEMM output must be the input type or fp32");
    const std::int64_t ldx = a.ldx ? a.ldx : a.k;
    const std::int64_t ldw = a.ldw ? a.ldw : a.k;
    const std::int64_t ldy = a.ldy ? a.ldy : a.n;
    HEARTH_KERNEL_REQUIRE(fitsInt(a.m) && fitsInt(a.n) && fitsInt(a.k), "GEMM dimensions must fit in int");
    HEARTH_KERNEL_REQUIRE(fitsInt(ldx) && fitsInt(ldw) && fitsInt(ldy), "GEMM leading dimensions must fit in int");
    HEARTH_KERNEL_REQUIRE(ldx >= a.k && ldw >= a.k && ldy >= a.n, "GEMM leading dimension shorter than a row");
    if (a.m == 0 || a.n == 0)
        return KernelStatus::success();
    bool done = false;
    HEARTH_KERNEL_TRY(runPlanned(a, stream, &done));
    if (done)
        return KernelStatus::success();
    return runCublas(a, stream);
}

KernelStatus GemmContext::runCublas(const GemmArgs& a, StreamHandle stream)
{
    const std::int64_t ldx = a.ldx ? a.ldx : a.k;
    const std::int64_t ldw = a.ldw ? a.ldw : a.k;
    const std::int64_t ldy = a.ldy ? a.ldy : a.n;
    auto handle = static_cast<cublasHandle_t>(m_handle);
    HEARTH_CUBLAS_CHECK(cublasSetStream(handle, detail::toStream(stream)));
    if (m_workspace)
        HEARTH_CUBLAS_CHECK(cublasSetWorkspace(handle, m_workspace, m_workspaceBytes));
    HEARTH_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(a.n), static_cast<int>(a.m),
                                     static_cast<int>(a.k), &a.alpha, a.w, cudaType(a.inType), static_cast<int>(ldw), a.x,
                                     cudaType(a.inType), static_cast<int>(ldx), &a.beta, a.y, cudaType(a.outType),
                                     static_cast<int>(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return KernelStatus::success();
}

}  // namespace hearth::kernels
