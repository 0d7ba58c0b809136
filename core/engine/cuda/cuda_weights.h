// The model's weights on the device, as the CUDA backend runs them: every tensor in one element
// type (fp16 or bf16; fp32 checkpoints rounded once on the host), q/k/v fused into one
// [q | k | v] matrix with a fused bias and gate/up into one [gate | up] matrix (each part copied
// to its offset at upload), the embedding and the lm_head (one copy when tied), and the RoPE
// inverse frequencies. One device allocation holds all of it, laid out by planDeviceLayout
// (engine/device_layout.h), which the device load pipeline shares. Private to engine/cuda.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/cuda/cuda_util.h"
#include "engine/device_layout.h"
#include "engine/model_weights.h"

namespace hearth::cuda {

struct DeviceLayer {
    const void* attnNorm = nullptr;  // [hidden]
    const void* mlpNorm = nullptr;   // [hidden]
    const void* qkv = nullptr;       // [qDim + 2 kvDim, hidden]
    const void* qkvBias = nullptr;   // [qDim + 2 kvDim] or nullptr
    const void* qNorm = nullptr;     // [headDim] or nullptr (Qwen3)
    const void* kNorm = nullptr;     // [headDim] or nullptr
    const void* o = nullptr;         // [hidden, qDim]
    const void* gateUp = nullptr;    // [2 inter, hidden]
    const void* down = nullptr;      // [hidden, inter]
};

struct DeviceWeights {
    kernels::ElemType type = kernels::ElemType::F16;
    DeviceBuffer storage;            // everything below points into it
    const void* embedding = nullptr; // [vocab, hidden]
    const void* lmHead = nullptr;    // [vocab, hidden]; == embedding when tied
    const void* finalNorm = nullptr; // [hidden]
    const float* ropeInvFreq = nullptr;  // [headDim / 2] (fixed frequencies; dynamic NTK uploads its own per step)
    std::vector<DeviceLayer> layers;
};

// Points `out`'s tensors into `out.storage` (already holding layout.bytes) as `layout` places them.
void bindDeviceWeights(const DeviceLayout& layout, kernels::ElemType type, DeviceWeights& out);
// Bytes uploadWeights() will allocate for `weights`.
std::uint64_t deviceWeightBytes(const ModelWeights& weights);
// Converts and copies every tensor into `out` (synchronous: uses the default stream and waits).
// `ropeInvFreq` are the fixed RoPE frequencies ([headDim / 2]).
Status uploadWeights(const ModelWeights& weights, kernels::ElemType type, const std::vector<float>& ropeInvFreq,
                     DeviceWeights& out);

}  // namespace hearth::cuda
