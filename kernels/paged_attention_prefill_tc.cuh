// Private to the prefill attention files: the tensor-core kernel's host side, which
// pagedAttentionPrefill (paged_attention_prefill.cu) calls after checking the arguments.
#pragma once

#include "cuda_check.cuh"
#include "paged_attention.h"

namespace hearth::kernels::detail {

// Whether q, out and the cache meet the tensor-core kernel's alignment: q and the K/V caches on
// 16-byte boundaries with strides in multiples of 8 elements (its 16-byte copies), out 4-byte
// aligned (pair stores; the common checks already make outStride even). qStride is the resolved
// (non-zero) stride.
bool prefillTensorCoreAligned(const PrefillAttentionArgs& a, std::int64_t qStride);

// Whether the tensor-core kernel that the current device would run was compiled for sm_80 or
// newer: a build whose CUDA architectures stop below 80 leaves only an empty PTX body, which the
// driver would JIT for an Ampere or newer device.
KernelStatus prefillTensorCoreCompiled(bool* yes);

// Launches the tensor-core prefill on checked, aligned arguments with at least one query row.
KernelStatus prefillAttentionTensorCore(const PrefillAttentionArgs& a, std::int64_t qStride, std::int64_t outStride,
                                        cudaStream_t stream);

}  // namespace hearth::kernels::detail
