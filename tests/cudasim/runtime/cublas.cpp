// The cuBLAS subset Hearth uses: handles, stream and workspace, and cublasGemmEx with fp16/bf16
// inputs, fp32 compute and fp16/bf16/fp32 output (fp32 inputs too), as the general column-major
// GEMM C = alpha op(A) op(B) + beta C. The arithmetic is gemm_ref.h's (shared with cublasLtMatmul):
// products accumulate in fp32 and round once to the output type; beta == 0 never reads C (it may
// hold NaN), as cuBLAS documents. The work runs through the handle's stream like any other.
#include <cublas_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "cudasim.h"
#include "gemm_ref.h"
#include "sim_state.h"

struct cublasContext {
    cudaStream_t stream = nullptr;
    void* workspace = nullptr;
    std::size_t workspaceBytes = 0;
};

using namespace cudasim::rt;

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle)
{
    if (!handle)
        return CUBLAS_STATUS_INVALID_VALUE;
    *handle = new cublasContext();
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    handle->stream = streamId;
    // cuBLAS documents that setting the stream resets the workspace to its default pool.
    handle->workspace = nullptr;
    handle->workspaceBytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!streamId)
        return CUBLAS_STATUS_INVALID_VALUE;
    *streamId = handle->stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    {
        Lock lock(mutex());
        if (workspaceSizeInBytes && (reinterpret_cast<std::uintptr_t>(workspace) % 256 != 0 ||
                                     !onDevice(workspace, workspaceSizeInBytes)))
            return CUBLAS_STATUS_INVALID_VALUE;
    }
    handle->workspace = workspace;
    handle->workspaceBytes = workspaceSizeInBytes;
    return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusString(cublasStatus_t status)
{
    switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
    default: return "unknown error";
    }
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo)
{
    if (!handle)
        return CUBLAS_STATUS_NOT_INITIALIZED;
    auto validOp = [](cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; };
    if (!validOp(transa) || !validOp(transb) || m < 0 || n < 0 || k < 0 || !alpha || !beta)
        return CUBLAS_STATUS_INVALID_VALUE;
    Gemm g;
    g.transA = transa != CUBLAS_OP_N;  // C and T are the same for real types
    g.transB = transb != CUBLAS_OP_N;
    const int rowsA = g.transA ? k : m;
    const int rowsB = g.transB ? n : k;
    if (lda < std::max(1, rowsA) || ldb < std::max(1, rowsB) || ldc < std::max(1, m))
        return CUBLAS_STATUS_INVALID_VALUE;
    const bool halfIn = (Atype == CUDA_R_16F || Atype == CUDA_R_16BF) && Btype == Atype &&
                        (Ctype == Atype || Ctype == CUDA_R_32F);
    const bool floatIn = Atype == CUDA_R_32F && Btype == CUDA_R_32F && Ctype == CUDA_R_32F;
    if (computeType != CUBLAS_COMPUTE_32F || !(halfIn || floatIn))
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (m == 0 || n == 0)
        return CUBLAS_STATUS_SUCCESS;
    g.m = m, g.n = n, g.k = k;
    std::memcpy(&g.alpha, alpha, 4);  // host pointer mode: the scalars are read at the call
    std::memcpy(&g.beta, beta, 4);
    g.a = A, g.b = B, g.c = C;
    g.inType = Atype, g.outType = Ctype;
    g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    Lock lock(mutex());
    if (!onDevice(A, g.aBytes()) || !onDevice(B, g.bBytes()) || !onDevice(C, g.cBytes())) {
        const std::string what = "cublasGemmEx(m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" +
                                 std::to_string(k) + "): an operand is not (all) in device memory";
        cudasim::fault(what.c_str());
    }
    const cudaError_t e = cudasim::enqueue(handle->stream, [g] { g.run(); }, "cublasGemmEx");
    return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
