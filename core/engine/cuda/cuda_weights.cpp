#include "engine/cuda/cuda_weights.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

namespace hearth::cuda {

namespace {

// The host tensor a layout piece is filled from.
const WeightTensor& sourceOf(const ModelWeights& w, const DeviceLayout::Piece& piece)
{
    if (piece.layer < 0)
        return piece.role == WeightRole::Embedding ? w.embedding() : piece.role == WeightRole::LmHead ? w.lmHead() : w.finalNorm();
    const LlamaLayerWeights& L = w.layers()[static_cast<std::size_t>(piece.layer)];
    switch (piece.role) {
    case WeightRole::AttnNorm: return L.attnNorm;
    case WeightRole::MlpNorm: return L.mlpNorm;
    case WeightRole::Q: return L.proj(LinearKind::Q);
    case WeightRole::K: return L.proj(LinearKind::K);
    case WeightRole::V: return L.proj(LinearKind::V);
    case WeightRole::QBias: return L.qBias;
    case WeightRole::KBias: return L.kBias;
    case WeightRole::VBias: return L.vBias;
    case WeightRole::QNorm: return L.qNorm;
    case WeightRole::KNorm: return L.kNorm;
    case WeightRole::O: return L.proj(LinearKind::O);
    case WeightRole::Gate: return L.proj(LinearKind::Gate);
    case WeightRole::Up: return L.proj(LinearKind::Up);
    case WeightRole::Down: return L.proj(LinearKind::Down);
    default: return L.attnNorm;  // model-wide roles never carry a layer
    }
}

}  // namespace

std::uint64_t deviceWeightBytes(const ModelWeights& weights) { return planDeviceLayout(weights.config()).bytes; }

void bindDeviceWeights(const DeviceLayout& L, kernels::ElemType type, DeviceWeights& out)
{
    out.type = type;
    auto* base = out.storage.as<std::uint8_t>();
    const auto at = [base](std::uint64_t offset) -> const void* {
        return offset == DeviceLayout::kAbsent ? nullptr : base + offset;
    };
    out.embedding = at(L.embedding);
    out.lmHead = at(L.lmHead);
    out.finalNorm = at(L.finalNorm);
    out.ropeInvFreq = static_cast<const float*>(at(L.rope));
    out.layers.clear();
    for (const DeviceLayout::Layer& o : L.layers)
        out.layers.push_back({at(o.attnNorm), at(o.mlpNorm), at(o.qkv), at(o.qkvBias), at(o.qNorm), at(o.kNorm),
                              at(o.o), at(o.gateUp), at(o.down)});
}

Status uploadWeights(const ModelWeights& weights, kernels::ElemType type, const std::vector<float>& ropeInvFreq,
                     DeviceWeights& out)
{
    const DeviceLayout L = planDeviceLayout(weights.config());
    HEARTH_TRY_STATUS(out.storage.reserve(L.bytes, "the model's weights"));
    bindDeviceWeights(L, type, out);
    auto* base = out.storage.as<std::uint8_t>();

    // Converted on the host a slice at a time into pinned staging, then copied to its offset.
    std::size_t largest = 0;
    for (const DeviceLayout::Piece& p : L.pieces)
        largest = std::max(largest, static_cast<std::size_t>(p.nElems));
    const std::size_t chunkElems = std::min<std::size_t>(largest, std::size_t{32} << 20);
    PinnedBuffer staging;
    HEARTH_TRY_STATUS(staging.reserve(std::max<std::size_t>(chunkElems * 2, ropeInvFreq.size() * sizeof(float)),
                                      "weight upload staging"));
    auto* stage = static_cast<std::uint16_t*>(staging.data());
    for (const DeviceLayout::Piece& p : L.pieces) {
        const WeightTensor& src = sourceOf(weights, p);
        const std::size_t n = static_cast<std::size_t>(src.rows * src.cols);
        if (!src.present() || n != p.nElems)
            return makeError(ErrorCode::Internal, "CUDA upload: tensor '" + p.name + "' does not match the device layout");
        const std::size_t srcElem = dtypeSize(src.dtype);
        for (std::size_t first = 0; first < n; first += chunkElems) {
            const std::size_t m = std::min(chunkElems, n - first);
            convertElements(static_cast<const std::uint8_t*>(src.data) + first * srcElem, src.dtype, stage, m, type);
            HEARTH_CUDA_TRY(cudaMemcpy(base + p.offset + first * 2, stage, m * 2, cudaMemcpyHostToDevice));
        }
    }
    std::memcpy(staging.data(), ropeInvFreq.data(), ropeInvFreq.size() * sizeof(float));
    HEARTH_CUDA_TRY(cudaMemcpy(base + L.rope, staging.data(), ropeInvFreq.size() * sizeof(float), cudaMemcpyHostToDevice));
    return Status::ok();
}

}  // namespace hearth::cuda
