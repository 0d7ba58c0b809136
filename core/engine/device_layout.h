// Where every weight goes in a GPU backend's one weight allocation: the embedding, the lm_head
// (none of its own when tied), the final norm, the RoPE frequencies, and per layer the norms,
// q|k|v stacked into one [qDim + 2 kvDim, hidden] matrix (and its bias), gate|up into one
// [2 inter, hidden] matrix, o and down; every tensor in one 16-bit element type, each region
// 256-byte aligned. It follows from the config alone, so the host-weights upload and the device
// load pipeline (which maps each LoadPlan tensor to its offset) share it. No CUDA here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "load/device_sink.h"
#include "load/load_plan.h"
#include "model/model_config.h"
#include "util/result.h"

namespace hearth {

// What a layout piece holds (the tensor of that role in `layer`, or a model-wide one).
enum class WeightRole { Embedding, LmHead, FinalNorm, AttnNorm, MlpNorm, Q, K, V, QBias, KBias, VBias, QNorm, KNorm, O, Gate, Up, Down };

struct DeviceLayout {
    static constexpr std::uint64_t kAbsent = UINT64_MAX;
    static constexpr std::uint64_t kElemBytes = 2;  // fp16 or bf16
    static constexpr std::uint64_t kAlign = 256;    // cuBLAS and the kernels' vector loads like aligned rows

    struct Piece {
        std::string name;                 // as in the checkpoint: "model.layers.3.self_attn.k_proj.weight"
        WeightRole role = WeightRole::Embedding;
        int layer = -1;                   // -1 for model-wide tensors
        std::vector<std::int64_t> shape;  // as the checkpoint stores it
        std::uint64_t nElems = 0;
        std::uint64_t offset = 0;         // bytes from the start of the allocation
    };
    struct Layer {
        std::uint64_t attnNorm = kAbsent, mlpNorm = kAbsent, qkv = kAbsent, qkvBias = kAbsent, qNorm = kAbsent,
                      kNorm = kAbsent, o = kAbsent, gateUp = kAbsent, down = kAbsent;
    };

    std::uint64_t bytes = 0;
    std::uint64_t embedding = kAbsent, lmHead = kAbsent, finalNorm = kAbsent;
    std::uint64_t rope = kAbsent;  // [headDim / 2] fp32, filled by the backend
    std::uint64_t ropeBytes = 0;
    std::vector<Layer> layers;
    std::vector<Piece> pieces;     // every tensor the device needs, in allocation order
};

// The layout for `config`; tensors present as the config implies (tied lm_head, attention bias, q/k norm).
DeviceLayout planDeviceLayout(const ModelConfig& config);

// The destination of every tensor of `plan` (by plan index) in `layout`, converted to `type`
// (F16 or BF16); tensors the layout does not use are skipped. Errors name the file and the
// tensor: one the layout needs is missing, has another shape or a dtype that is not F32/F16/BF16.
Result<std::vector<DeviceDestination>> deviceDestinations(const DeviceLayout& layout, const LoadPlan& plan, DType type);

}  // namespace hearth
