// Private to runtime/: the one CPU GEMM behind cublasGemmEx and cublasLtMatmul, so that both give
// the same bits for the same problem, and the helpers their argument checks share (fp16/bf16
// conversions, the bytes an operand spans, whether a span is device memory).
#pragma once

#include <library_types.h>

#include <cstddef>
#include <cstdint>

namespace cudasim::rt {

float halfToFloat(std::uint16_t h);
std::uint16_t floatToHalf(float f);  // round to nearest even, overflow to infinity
float bf16ToFloat(std::uint16_t h);
std::uint16_t floatToBf16(float f);  // round to nearest even

// Bytes per element of the types the GEMM takes (CUDA_R_16F, CUDA_R_16BF, CUDA_R_32F).
std::size_t elemBytes(cudaDataType t);

// The bytes an operand spans in column-major storage: rows x cols with leading dimension ld.
std::size_t spanBytes(int rows, int cols, int ld, cudaDataType t);

// Whether [p, p + nBytes) lies inside one live device (or pinned) allocation; true when empty.
// The caller holds mutex().
bool onDevice(const void* p, std::size_t nBytes);

// C = alpha op(A) op(B) + beta C, column-major, op(A) m x k, op(B) k x n. Products accumulate in
// fp32 (eight fixed partial sums) and round once to outType; beta == 0 never reads C. run() is
// what the queued work item calls; it faults (naming `what`) when an operand was freed since.
struct Gemm {
    bool transA = false, transB = false;
    int m = 0, n = 0, k = 0;
    float alpha = 0, beta = 0;
    const void* a = nullptr;
    const void* b = nullptr;
    void* c = nullptr;
    cudaDataType inType = CUDA_R_32F, outType = CUDA_R_32F;
    int lda = 0, ldb = 0, ldc = 0;
    const char* what = "cublasGemmEx";

    // The bytes op(A), op(B) and C span (as stored: A is k x m when transposed).
    std::size_t aBytes() const;
    std::size_t bBytes() const;
    std::size_t cBytes() const;

    void run() const;
};

}  // namespace cudasim::rt
