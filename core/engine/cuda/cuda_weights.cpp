#include "engine/cuda/cuda_weights.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace hearth::cuda {

namespace {

constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();
constexpr std::size_t kAlign = 256;  // cuBLAS and the vector loads of the kernels like aligned rows

struct LayerOffsets {
    std::size_t attnNorm = kAbsent, mlpNorm = kAbsent, qkv = kAbsent, qkvBias = kAbsent, qNorm = kAbsent,
                kNorm = kAbsent, o = kAbsent, gateUp = kAbsent, down = kAbsent;
};

// Where every tensor (or fused part) goes in the one allocation, in bytes.
struct Layout {
    struct Piece {
        const WeightTensor* src = nullptr;
        std::size_t offset = 0;
    };
    std::size_t bytes = 0;
    std::vector<Piece> pieces;
    std::size_t embedding = kAbsent, lmHead = kAbsent, finalNorm = kAbsent, rope = kAbsent;
    std::vector<LayerOffsets> layers;

    std::size_t region(std::size_t nBytes)
    {
        const std::size_t at = bytes;
        bytes = alignUp(bytes + nBytes, kAlign);
        return at;
    }
    // One tensor in a region of its own.
    std::size_t single(const WeightTensor& t)
    {
        const std::size_t at = region(static_cast<std::size_t>(t.rows * t.cols) * 2);
        pieces.push_back({&t, at});
        return at;
    }
    // Tensors stacked along their rows (same column count) in one region: [a; b; c].
    std::size_t stacked(std::initializer_list<const WeightTensor*> parts)
    {
        std::size_t n = 0;
        for (const WeightTensor* t : parts)
            n += static_cast<std::size_t>(t->rows * t->cols);
        const std::size_t at = region(n * 2);
        std::size_t next = at;
        for (const WeightTensor* t : parts) {
            pieces.push_back({t, next});
            next += static_cast<std::size_t>(t->rows * t->cols) * 2;
        }
        return at;
    }
};

Layout planLayout(const ModelWeights& w)
{
    Layout L;
    L.embedding = L.single(w.embedding());
    L.lmHead = w.lmHead().data == w.embedding().data ? L.embedding : L.single(w.lmHead());
    L.finalNorm = L.single(w.finalNorm());
    L.rope = L.region(static_cast<std::size_t>(w.config().headDim / 2) * sizeof(float));
    for (const LlamaLayerWeights& layer : w.layers()) {
        LayerOffsets o;
        o.attnNorm = L.single(layer.attnNorm);
        o.mlpNorm = L.single(layer.mlpNorm);
        o.qkv = L.stacked({&layer.proj(LinearKind::Q), &layer.proj(LinearKind::K), &layer.proj(LinearKind::V)});
        if (layer.qBias.present())
            o.qkvBias = L.stacked({&layer.qBias, &layer.kBias, &layer.vBias});
        if (layer.qNorm.present()) {
            o.qNorm = L.single(layer.qNorm);
            o.kNorm = L.single(layer.kNorm);
        }
        o.o = L.single(layer.proj(LinearKind::O));
        o.gateUp = L.stacked({&layer.proj(LinearKind::Gate), &layer.proj(LinearKind::Up)});
        o.down = L.single(layer.proj(LinearKind::Down));
        L.layers.push_back(o);
    }
    return L;
}

}  // namespace

std::uint64_t deviceWeightBytes(const ModelWeights& weights) { return planLayout(weights).bytes; }

Status uploadWeights(const ModelWeights& weights, kernels::ElemType type, const std::vector<float>& ropeInvFreq,
                     DeviceWeights& out)
{
    const Layout L = planLayout(weights);
    HEARTH_TRY_STATUS(out.storage.reserve(L.bytes, "the model's weights"));
    out.type = type;
    auto* base = out.storage.as<std::uint8_t>();
    const auto at = [base](std::size_t offset) -> const void* { return offset == kAbsent ? nullptr : base + offset; };
    out.embedding = at(L.embedding);
    out.lmHead = at(L.lmHead);
    out.finalNorm = at(L.finalNorm);
    out.ropeInvFreq = static_cast<const float*>(at(L.rope));
    out.layers.clear();
    for (const LayerOffsets& o : L.layers)
        out.layers.push_back({at(o.attnNorm), at(o.mlpNorm), at(o.qkv), at(o.qkvBias), at(o.qNorm), at(o.kNorm),
                              at(o.o), at(o.gateUp), at(o.down)});

    // Converted on the host a slice at a time into pinned staging, then copied to its offset.
    std::size_t largest = 0;
    for (const Layout::Piece& p : L.pieces)
        largest = std::max(largest, static_cast<std::size_t>(p.src->rows * p.src->cols));
    const std::size_t chunkElems = std::min<std::size_t>(largest, std::size_t{32} << 20);
    PinnedBuffer staging;
    HEARTH_TRY_STATUS(staging.reserve(std::max<std::size_t>(chunkElems * 2, ropeInvFreq.size() * sizeof(float)),
                                      "weight upload staging"));
    auto* stage = static_cast<std::uint16_t*>(staging.data());
    for (const Layout::Piece& p : L.pieces) {
        const std::size_t n = static_cast<std::size_t>(p.src->rows * p.src->cols);
        const std::size_t srcElem = dtypeSize(p.src->dtype);
        for (std::size_t first = 0; first < n; first += chunkElems) {
            const std::size_t m = std::min(chunkElems, n - first);
            convertElements(static_cast<const std::uint8_t*>(p.src->data) + first * srcElem, p.src->dtype, stage, m, type);
            HEARTH_CUDA_TRY(cudaMemcpy(base + p.offset + first * 2, stage, m * 2, cudaMemcpyHostToDevice));
        }
    }
    std::memcpy(staging.data(), ropeInvFreq.data(), ropeInvFreq.size() * sizeof(float));
    HEARTH_CUDA_TRY(cudaMemcpy(base + L.rope, staging.data(), ropeInvFreq.size() * sizeof(float), cudaMemcpyHostToDevice));
    return Status::ok();
}

}  // namespace hearth::cuda
