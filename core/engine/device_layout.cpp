#include "engine/device_layout.h"

#include <unordered_map>

namespace hearth {

namespace {

class LayoutBuilder {
public:
    explicit LayoutBuilder(DeviceLayout& layout) : m_layout(layout) {}

    std::uint64_t region(std::uint64_t nBytes)
    {
        const std::uint64_t at = m_layout.bytes;
        m_layout.bytes = (m_layout.bytes + nBytes + DeviceLayout::kAlign - 1) / DeviceLayout::kAlign * DeviceLayout::kAlign;
        return at;
    }
    struct Part {
        std::string name;
        WeightRole role;
        std::vector<std::int64_t> shape;
    };
    // Parts stacked along their rows in one region: [a; b; c]. Returns the region's offset.
    std::uint64_t stacked(int layer, std::vector<Part> parts)
    {
        std::uint64_t n = 0;
        for (const Part& p : parts)
            n += elems(p.shape);
        const std::uint64_t at = region(n * DeviceLayout::kElemBytes);
        std::uint64_t next = at;
        for (Part& p : parts) {
            const std::uint64_t e = elems(p.shape);
            m_layout.pieces.push_back({std::move(p.name), p.role, layer, std::move(p.shape), e, next});
            next += e * DeviceLayout::kElemBytes;
        }
        return at;
    }
    std::uint64_t single(int layer, std::string name, WeightRole role, std::vector<std::int64_t> shape)
    {
        return stacked(layer, {Part{std::move(name), role, std::move(shape)}});
    }

private:
    static std::uint64_t elems(const std::vector<std::int64_t>& shape)
    {
        std::uint64_t n = 1;
        for (std::int64_t d : shape)
            n *= static_cast<std::uint64_t>(d);
        return n;
    }
    DeviceLayout& m_layout;
};

}  // namespace

DeviceLayout planDeviceLayout(const ModelConfig& c)
{
    DeviceLayout L;
    LayoutBuilder b(L);
    const std::int64_t hidden = c.hiddenSize;
    const std::int64_t qDim = c.nHeads * c.headDim;
    const std::int64_t kvDim = c.nKvHeads * c.headDim;
    const std::int64_t ffn = c.intermediateSize;
    L.embedding = b.single(-1, "model.embed_tokens.weight", WeightRole::Embedding, {c.vocabSize, hidden});
    L.lmHead = c.tieWordEmbeddings ? L.embedding : b.single(-1, "lm_head.weight", WeightRole::LmHead, {c.vocabSize, hidden});
    L.finalNorm = b.single(-1, "model.norm.weight", WeightRole::FinalNorm, {hidden});
    L.ropeBytes = static_cast<std::uint64_t>(c.headDim / 2) * sizeof(float);
    L.rope = b.region(L.ropeBytes);
    for (int i = 0; i < static_cast<int>(c.nLayers); ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        DeviceLayout::Layer o;
        o.attnNorm = b.single(i, p + "input_layernorm.weight", WeightRole::AttnNorm, {hidden});
        o.mlpNorm = b.single(i, p + "post_attention_layernorm.weight", WeightRole::MlpNorm, {hidden});
        o.qkv = b.stacked(i, {{p + "self_attn.q_proj.weight", WeightRole::Q, {qDim, hidden}},
                              {p + "self_attn.k_proj.weight", WeightRole::K, {kvDim, hidden}},
                              {p + "self_attn.v_proj.weight", WeightRole::V, {kvDim, hidden}}});
        if (c.attentionBias)
            o.qkvBias = b.stacked(i, {{p + "self_attn.q_proj.bias", WeightRole::QBias, {qDim}},
                                      {p + "self_attn.k_proj.bias", WeightRole::KBias, {kvDim}},
                                      {p + "self_attn.v_proj.bias", WeightRole::VBias, {kvDim}}});
        if (c.qkNorm) {
            o.qNorm = b.single(i, p + "self_attn.q_norm.weight", WeightRole::QNorm, {c.headDim});
            o.kNorm = b.single(i, p + "self_attn.k_norm.weight", WeightRole::KNorm, {c.headDim});
        }
        o.o = b.single(i, p + "self_attn.o_proj.weight", WeightRole::O, {hidden, qDim});
        o.gateUp = b.stacked(i, {{p + "mlp.gate_proj.weight", WeightRole::Gate, {ffn, hidden}},
                                 {p + "mlp.up_proj.weight", WeightRole::Up, {ffn, hidden}}});
        o.down = b.single(i, p + "mlp.down_proj.weight", WeightRole::Down, {hidden, ffn});
        L.layers.push_back(o);
    }
    return L;
}

Result<std::vector<DeviceDestination>> deviceDestinations(const DeviceLayout& layout, const LoadPlan& plan, DType type)
{
    if (type != DType::F16 && type != DType::BF16)
        return makeError(ErrorCode::InvalidArgument, "device weights must be F16 or BF16, not " + std::string(dtypeName(type)));
    std::unordered_map<std::string, std::size_t> byName;
    for (std::size_t i = 0; i < plan.tensors.size(); ++i)
        byName.emplace(plan.tensors[i].name, i);
    std::vector<DeviceDestination> out(plan.tensors.size());
    for (const DeviceLayout::Piece& piece : layout.pieces) {
        const auto it = byName.find(piece.name);
        if (it == byName.end()) {
            const std::string where = plan.files.size() == 1 ? plan.files.front().name
                                      : plan.files.empty()   ? std::string("the model")
                                                             : "the model's " + std::to_string(plan.files.size()) + " safetensors files";
            return makeError(ErrorCode::NotFound, where + ": tensor '" + piece.name + "' is missing");
        }
        const PlannedTensor& t = plan.tensors[it->second];
        const std::string& file = plan.files[static_cast<std::size_t>(t.fileIndex)].name;
        if (t.shape != piece.shape)
            return makeError(ErrorCode::Corrupt, file + ": tensor '" + t.name + "' has shape " + shapeText(t.shape) +
                                                     ", expected " + shapeText(piece.shape));
        if (t.storedDtype != DType::F32 && t.storedDtype != DType::F16 && t.storedDtype != DType::BF16)
            return makeError(ErrorCode::Unsupported, file + ": tensor '" + t.name + "' has dtype " +
                                                         std::string(dtypeName(t.storedDtype)) +
                                                         "; the engine reads F32, F16 and BF16");
        out[it->second] = DeviceDestination{false, piece.offset, type};
    }
    return out;
}

}  // namespace hearth
