// GEMMs for prefill and larger batches through cuBLAS: Y = alpha * X W^T + beta * Y with X
// [m, k] token rows and W [n, k] as stored (a torch Linear's layout), fp32 compute on the tensor
// cores. A GemmContext owns the cuBLAS handle and its workspace; one per stream role.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

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

class GemmContext {
public:
    // A cuBLAS handle and a device workspace of `workspaceBytes` (cuBLAS needs one it owns for
    // CUDA-graph capture). On failure *out stays empty.
    static KernelStatus create(std::unique_ptr<GemmContext>* out, std::size_t workspaceBytes = std::size_t{32} << 20);
    ~GemmContext();
    GemmContext(const GemmContext&) = delete;
    GemmContext& operator=(const GemmContext&) = delete;

    // Y = alpha * X W^T + beta * Y on `stream`.
    KernelStatus gemm(const GemmArgs& args, StreamHandle stream);

private:
    GemmContext() = default;
    void* m_handle = nullptr;     // cublasHandle_t
    void* m_workspace = nullptr;  // device memory
    std::size_t m_workspaceBytes = 0;
};

}  // namespace hearth::kernels
