// One decoder layer of the CUDA backend's step, as kernel launches on the backend's stream:
//   (add previous output to the residual +) RMSNorm -> fused q|k|v projection + bias (+ LoRA)
//   -> q/k per-head norm (Qwen3) -> RoPE and K/V into the cache pages (one kernel) -> paged attention
//   (prefill groups, then decode rows) -> O projection (+ LoRA) -> add + RMSNorm
//   -> fused gate|up projection (+ LoRA) -> SiLU * up -> down projection (+ LoRA).
// (At decode sizes without a gate/up adapter, SiLU * up is the gate|up GEMV's epilogue.)
// The down projection's output stays in `tmp`; the next layer's (or the final) fused norm adds
// it to the residual. Projections of at most kGemvMaxRows rows use the GEMV kernel (decode),
// larger ones the GEMM context (cuBLAS, or the method its tuned plan names); a tuned plan may also
// move a few-row shape off the GEMV.
#include <cmath>

#include "engine/cuda/cuda_state.h"

namespace hearth {

using kernels::ElemType;

bool CudaBackend::gemvServes(std::int64_t nRows, std::int64_t outDim, std::int64_t inDim) const
{
    // Few rows: the GEMV, unless the load's tuning measured another method faster for this shape.
    if (nRows > kernels::kGemvMaxRows)
        return false;
    const State& s = *m;
    kernels::GemmArgs g;
    g.m = nRows;
    g.n = outDim;
    g.k = inDim;
    g.inType = s.weights.type;
    g.outType = s.weights.type;
    return s.gemm->plannedMethod(g).value_or(kernels::GemmMethod::Gemv) == kernels::GemmMethod::Gemv;
}

Status CudaBackend::linear(const void* x, const void* w, const void* bias, void* y, std::int64_t nRows,
                           std::int64_t outDim, std::int64_t inDim)
{
    State& s = *m;
    if (gemvServes(nRows, outDim, inDim)) {  // with the bias fused
        kernels::GemvArgs gv;
        gv.weight = w;
        gv.x = x;
        gv.bias = bias;
        gv.y = y;
        gv.nRows = nRows;
        gv.outDim = outDim;
        gv.inDim = inDim;
        gv.type = s.weights.type;
        HEARTH_KERNEL_CALL(kernels::gemv(gv, s.stream));
        return Status::ok();
    }
    kernels::GemmArgs g;
    g.x = x;
    g.w = w;
    g.y = y;
    g.m = nRows;
    g.n = outDim;
    g.k = inDim;
    g.inType = s.weights.type;
    g.outType = s.weights.type;
    HEARTH_KERNEL_CALL(s.gemm->gemm(g, s.stream));
    if (bias)
        HEARTH_KERNEL_CALL(kernels::addBias(y, bias, nRows, outDim, outDim, s.weights.type, s.stream));
    return Status::ok();
}

Status CudaBackend::lora(const Step& step, std::size_t layer, LinearKind kind, const void* x, std::int64_t xStride,
                         void* y, std::int64_t yStride)
{
    const std::size_t k = layer * kLinearKindCount + static_cast<std::size_t>(kind);
    if (step.nSlots == 0 || step.loraMaxRank[k] == 0)
        return Status::ok();
    State& s = *m;
    const WeightTensor& w = m_weights->layers()[layer].proj(kind);
    const std::size_t table = k * static_cast<std::size_t>(step.nSlots);
    kernels::LoraArgs a;
    a.x = x;
    a.y = y;
    a.xStride = xStride;
    a.yStride = yStride;
    a.adapterIndex = step.adapterIndex;
    a.a = step.loraA + table;
    a.b = step.loraB + table;
    a.ranks = step.loraRanks + table;
    a.scales = step.loraScales;
    a.nRows = step.nRows;
    a.inDim = w.cols;
    a.outDim = w.rows;
    a.maxRank = step.loraMaxRank[k];
    a.shrunk = s.loraShrunk.as<float>();
    a.type = s.weights.type;
    HEARTH_KERNEL_CALL(kernels::loraApply(a, s.stream));
    return Status::ok();
}

Status CudaBackend::gateUpSilu(const Step& step, std::size_t layer)
{
    State& s = *m;
    const CudaDims d(config());
    const std::int64_t n = step.nRows;
    const void* w = s.weights.layers[layer].gateUp;
    const auto hasLora = [&](LinearKind kind) {
        return step.nSlots > 0 && step.loraMaxRank[layer * kLinearKindCount + static_cast<std::size_t>(kind)] > 0;
    };
    // Decode without an adapter on gate/up: one GEMV writes silu(gate) * up (the same bits as the
    // two kernels below), so the 2*inter-wide product never goes through memory.
    if (!hasLora(LinearKind::Gate) && !hasLora(LinearKind::Up) && gemvServes(n, 2 * d.inter, d.hidden)) {
        kernels::GemvArgs gv;
        gv.weight = w;
        gv.x = s.xn;
        gv.y = s.act;
        gv.nRows = n;
        gv.outDim = d.inter;
        gv.inDim = d.hidden;
        gv.type = s.weights.type;
        gv.siluMul = true;
        HEARTH_KERNEL_CALL(kernels::gemv(gv, s.stream));
        return Status::ok();
    }
    HEARTH_TRY_STATUS(linear(s.xn, w, nullptr, s.gateUp, n, 2 * d.inter, d.hidden));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::Gate, s.xn, d.hidden, s.gateUp, 2 * d.inter));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::Up, s.xn, d.hidden, at16(s.gateUp, d.inter), 2 * d.inter));
    HEARTH_KERNEL_CALL(kernels::siluAndMul(s.gateUp, s.act, n, d.inter, s.weights.type, s.stream));
    return Status::ok();
}

Status CudaBackend::runLayer(const Step& step, std::size_t layer)
{
    State& s = *m;
    const ModelConfig& c = config();
    const CudaDims d(c);
    const cuda::DeviceLayer& w = s.weights.layers[layer];
    const ElemType type = s.weights.type;
    const std::int64_t n = step.nRows;
    const float eps = static_cast<float>(c.rmsNormEps);

    // Attention input: the embedding alone for the first layer, else the residual plus the
    // previous layer's MLP output.
    kernels::RmsNormArgs norm;
    norm.x = layer == 0 ? s.residual : s.tmp;
    norm.residual = s.residual;
    norm.weight = w.attnNorm;
    norm.out = s.xn;
    norm.nTokens = n;
    norm.n = d.hidden;
    norm.eps = eps;
    norm.type = type;
    if (layer == 0)
        HEARTH_KERNEL_CALL(kernels::rmsNorm(norm, s.stream));
    else
        HEARTH_KERNEL_CALL(kernels::fusedAddRmsNorm(norm, s.stream));

    HEARTH_TRY_STATUS(linear(s.xn, w.qkv, w.qkvBias, s.qkv, n, d.qkvDim, d.hidden));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::Q, s.xn, d.hidden, s.qkv, d.qkvDim));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::K, s.xn, d.hidden, at16(s.qkv, d.qDim), d.qkvDim));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::V, s.xn, d.hidden, at16(s.qkv, d.qDim + d.kvDim), d.qkvDim));
    if (w.qNorm) {  // Qwen3: RMSNorm over each head of q and k before rotation
        kernels::RmsNormArgs qn;
        qn.x = s.qkv;
        qn.weight = w.qNorm;
        qn.out = s.qkv;
        qn.nTokens = n;
        qn.nHeads = c.nHeads;
        qn.n = c.headDim;
        qn.xStride = d.qkvDim;
        qn.outStride = d.qkvDim;
        qn.eps = eps;
        qn.type = type;
        HEARTH_KERNEL_CALL(kernels::rmsNorm(qn, s.stream));
        kernels::RmsNormArgs kn = qn;
        kn.x = at16(s.qkv, d.qDim);
        kn.out = at16(s.qkv, d.qDim);
        kn.weight = w.kNorm;
        kn.nHeads = c.nKvHeads;
        HEARTH_KERNEL_CALL(kernels::rmsNorm(kn, s.stream));
    }
    // The layer's K and V in the cache: [page][layer][K|V][slot][kvHead][d], the CPU backend's layout.
    const KvLayout& L = m_pool.layout();
    kernels::PagedKv cache;
    cache.kCache = at16(s.kv.data(), static_cast<std::int64_t>(layer) * 2 * L.pageTokens * d.kvDim);
    cache.vCache = at16(cache.kCache, L.pageTokens * d.kvDim);
    cache.pageStride = L.elementsPerPage();
    cache.tokenStride = d.kvDim;
    cache.headStride = c.headDim;
    cache.pageTokens = L.pageTokens;
    cache.nKvHeads = c.nKvHeads;
    cache.headDim = c.headDim;
    cache.type = type;

    // RoPE, which also writes each row's rotated k and its v into the cache when the calls cover
    // every row of the step (they do: one call, or one per sequence); else writeKv does that after.
    std::int64_t ropeRows = 0;
    for (const Step::RopeCall& call : step.rope)
        ropeRows += call.nRows;
    const bool ropeWritesCache = ropeRows == n;
    for (const Step::RopeCall& call : step.rope) {
        kernels::RopeArgs r;
        r.q = at16(s.qkv, call.firstRow * d.qkvDim);
        r.k = at16(s.qkv, call.firstRow * d.qkvDim + d.qDim);
        r.positions = step.positions + call.firstRow;
        r.invFreq = call.invFreq;
        r.attentionScale = call.attentionScale;
        r.nTokens = call.nRows;
        r.nQHeads = c.nHeads;
        r.nKHeads = c.nKvHeads;
        r.headDim = c.headDim;
        r.qStride = d.qkvDim;
        r.kStride = d.qkvDim;
        r.type = type;
        if (ropeWritesCache) {
            r.writeCache = true;
            r.v = at16(s.qkv, call.firstRow * d.qkvDim + d.qDim + d.kvDim);
            r.vStride = d.qkvDim;
            r.slotMapping = step.slotMapping + call.firstRow;
            r.cache = cache;
        }
        HEARTH_KERNEL_CALL(kernels::applyRope(r, s.stream));
    }
    if (!ropeWritesCache) {
        kernels::KvWriteArgs kvw;
        kvw.k = at16(s.qkv, d.qDim);
        kvw.v = at16(s.qkv, d.qDim + d.kvDim);
        kvw.kStride = d.qkvDim;
        kvw.vStride = d.qkvDim;
        kvw.slotMapping = step.slotMapping;
        kvw.nTokens = n;
        kvw.cache = cache;
        HEARTH_KERNEL_CALL(kernels::writeKv(kvw, s.stream));
    }

    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.headDim)));
    if (step.nGroups > 0) {
        kernels::PrefillAttentionArgs a;
        a.q = s.qkv;
        a.out = s.attn;
        a.qStride = d.qkvDim;
        a.outStride = d.qDim;
        a.queryStart = step.queryStart;
        a.contextLens = step.prefillContext;
        a.blockTables = step.prefillTables;
        a.maxPagesPerSeq = step.maxPagesPrefill;
        a.nSeqs = step.nGroups;
        a.nQHeads = c.nHeads;
        a.maxQueryLen = step.maxQueryLen;
        a.scale = scale;
        a.cache = cache;
        HEARTH_KERNEL_CALL(kernels::pagedAttentionPrefill(a, s.stream));
    }
    if (step.nDecode > 0) {
        kernels::DecodeAttentionArgs a;
        a.q = at16(s.qkv, step.nPrefillRows * d.qkvDim);
        a.out = at16(s.attn, step.nPrefillRows * d.qDim);
        a.qStride = d.qkvDim;
        a.outStride = d.qDim;
        a.blockTables = step.decodeTables;
        a.maxPagesPerSeq = step.maxPagesDecode;
        a.contextLens = step.decodeContext;
        a.nSeqs = step.nDecode;
        a.nQHeads = c.nHeads;
        a.maxContext = step.maxContextDecode;
        a.scale = scale;
        a.cache = cache;
        a.workspace = s.decodeWork.data();
        a.workspaceBytes = s.decodeWork.bytes();
        HEARTH_KERNEL_CALL(kernels::pagedAttentionDecode(a, s.stream));
    }

    HEARTH_TRY_STATUS(linear(s.attn, w.o, nullptr, s.tmp, n, d.hidden, d.qDim));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::O, s.attn, d.qDim, s.tmp, d.hidden));
    norm.x = s.tmp;
    norm.weight = w.mlpNorm;
    HEARTH_KERNEL_CALL(kernels::fusedAddRmsNorm(norm, s.stream));

    HEARTH_TRY_STATUS(gateUpSilu(step, layer));
    HEARTH_TRY_STATUS(linear(s.act, w.down, nullptr, s.tmp, n, d.hidden, d.inter));
    HEARTH_TRY_STATUS(lora(step, layer, LinearKind::Down, s.act, d.inter, s.tmp, d.hidden));
    return Status::ok();
}

}  // namespace hearth
