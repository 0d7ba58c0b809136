// What a kernel launcher returns: success, or the failed CUDA/cuBLAS call with its error string
// and the file:line that made it. Plain C++ (no CUDA headers) so the engine can hold and report
// it; the engine turns a failed KernelStatus into its own Error. Launchers never throw or abort.
#pragma once

#include <string>

namespace hearth::kernels {

// A cudaStream_t passed opaquely so that no public kernel header needs cuda_runtime.h.
// nullptr is the legacy default stream.
using StreamHandle = void*;

// Element types kernels accept for activations, weights and the KV cache.
enum class ElemType { F16, BF16, F32 };

struct KernelStatus {
    bool ok = true;
    std::string call;     // the expression that failed, e.g. "cudaMalloc(&p, n)", or the check
    std::string message;  // CUDA's / cuBLAS's error string, or why arguments were refused
    std::string file;
    int line = 0;

    static KernelStatus success() { return {}; }
    static KernelStatus failure(std::string call, std::string message, const char* file, int line)
    {
        return {false, std::move(call), std::move(message), file ? std::string(file) : std::string(), line};
    }
    // "cudaMalloc(&p, n) failed: out of memory (kernels/memory.cu:12)"
    std::string describe() const
    {
        if (ok)
            return "ok";
        return call + " failed: " + message + " (" + file + ":" + std::to_string(line) + ")";
    }
    explicit operator bool() const { return ok; }
};

}  // namespace hearth::kernels

// Refuses bad launcher arguments with a status naming the condition; usable in any launcher.
#define HEARTH_KERNEL_REQUIRE(cond, why)                                                             \
    do {                                                                                             \
        if (!(cond))                                                                                 \
            return ::hearth::kernels::KernelStatus::failure(#cond, (why), __FILE__, __LINE__);       \
    } while (0)

// Returns early from a function returning KernelStatus when `expr` (a KernelStatus) failed.
#define HEARTH_KERNEL_TRY(expr)                                                                      \
    do {                                                                                             \
        ::hearth::kernels::KernelStatus hearthKernelStatus_ = (expr);                                \
        if (!hearthKernelStatus_.ok)                                                                 \
            return hearthKernelStatus_;                                                              \
    } while (0)
