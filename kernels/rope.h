// Rotary position embedding of q and k in place, "rotate_half" (neox) layout as the CPU engine
// and transformers' Llama/Qwen use: element i pairs with i + headDim/2. Every scaling variant
// the engine supports (default, linear, dynamic NTK, YaRN, llama3) reduces to an inv_freq table
// and an attention scale (core's RopeFrequencies), which the caller uploads.
#pragma once

#include <cstdint>

#include "paged_kv.h"

namespace hearth::kernels {

struct RopeArgs {
    void* q = nullptr;                     // [nTokens, qStride]: nQHeads heads of headDim from column 0
    void* k = nullptr;                     // [nTokens, kStride]: nKHeads heads; may be nullptr
    const std::int32_t* positions = nullptr;  // [nTokens]
    const float* invFreq = nullptr;        // [headDim / 2]
    float attentionScale = 1.0f;           // multiplies cos and sin
    std::int64_t nTokens = 0;
    std::int64_t nQHeads = 0;
    std::int64_t nKHeads = 0;
    std::int64_t headDim = 0;              // even, at most 512
    std::int64_t qStride = 0;              // elements between tokens; 0 means nQHeads * headDim
    std::int64_t kStride = 0;              // 0 means nKHeads * headDim
    ElemType type = ElemType::F16;         // F16 or BF16

    // Optional, writeKv's job in the same launch: the rotated k of each token (also left in k) and
    // its v go to cache slot slotMapping[t] (negative: skipped), so a decode layer has one kernel
    // fewer. Needs k, with nKHeads == cache.nKvHeads and headDim == cache.headDim.
    bool writeCache = false;
    const void* v = nullptr;               // [nTokens, vStride]: nKHeads heads
    std::int64_t vStride = 0;              // 0 means nKHeads * headDim
    const std::int32_t* slotMapping = nullptr;  // [nTokens]
    PagedKv cache;
};

// x[i] = x[i] cos - x[i+h] sin, x[i+h] = x[i+h] cos + x[i] sin with cos/sin of position * invFreq[i]
// (fp32 angle, as transformers computes it) times attentionScale; with writeCache, also the K/V
// cache write (see RopeArgs).
KernelStatus applyRope(const RopeArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
