#include "engine/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/cpu/cpu_ops.h"
#include "engine/lora.h"
#include "engine/plan_check.h"
#include "engine/sampler.h"
#include "util/thread_pool.h"

namespace hearth {

// Rows are the tokens of all sequences, concatenated in plan order.
struct CpuBackend::Step {
    const BatchPlan* plan = nullptr;
    std::int64_t nRows = 0;
    std::vector<std::int64_t> firstRow;    // [nSeq + 1]
    std::vector<std::size_t> seqOfRow;     // [nRows]
    std::vector<std::int32_t> posOfRow;    // [nRows]
    std::vector<float> cosTable, sinTable; // [nRows, headDim/2]
    std::vector<float> x, xn, q, k, v, attn, tmp, gate, up;
    std::vector<float> loraMid, loraOut;   // per-sequence LoRA scratch
};

CpuBackend::~CpuBackend() = default;

int CpuBackend::nThreads() const { return m_threads->size(); }

Result<std::unique_ptr<CpuBackend>> CpuBackend::create(std::shared_ptr<const ModelWeights> weights,
                                                       const CpuBackendOptions& options)
{
    if (!weights)
        return makeError(ErrorCode::InvalidArgument, "CPU backend: no weights");
    if (weights->deviceResident())
        return makeError(ErrorCode::InvalidArgument, "CPU backend: these weights were loaded into GPU memory; load the model again for the CPU");
    const KvLayout layout = KvLayout::forModel(weights->config(), sizeof(float), options.pageTokens);
    HEARTH_TRY_ASSIGN(KvPagePool pool, KvPagePool::create(layout, options.kvBudgetBytes));
    std::unique_ptr<CpuBackend> b(new CpuBackend());
    const auto nFloats = static_cast<std::size_t>(pool.nPages()) * static_cast<std::size_t>(layout.elementsPerPage());
    // Not zero-filled: a position is always written before any query reads it, and leaving the
    // pages untouched lets the OS commit only what sequences use.
    b->m_kv.reset(new (std::nothrow) float[nFloats]);
    if (!b->m_kv)
        return makeError(ErrorCode::OutOfMemory, "CPU backend: cannot allocate " +
                                                     std::to_string(nFloats * sizeof(float)) + " bytes of KV cache");
    b->m_weights = std::move(weights);
    b->m_pool = std::move(pool);
    b->m_threads = std::make_unique<ThreadPool>(options.nThreads);
    b->m_rope = computeRopeFrequencies(b->m_weights->config(), 0);
    return b;
}

Status CpuBackend::validate(const BatchPlan& plan) const
{
    return checkBatchPlan(plan, *m_weights, m_pool);
}

void CpuBackend::addLora(Step& step, std::size_t layer, LinearKind kind, const float* in, float* out)
{
    const WeightTensor& w = m_weights->layers()[layer].proj(kind);
    for (std::size_t s = 0; s < step.plan->sequences.size(); ++s) {
        const SequenceStep& seq = step.plan->sequences[s];
        const LoraPair* pair = seq.adapter ? seq.adapter->find(layer, kind) : nullptr;
        if (!pair)
            continue;
        const std::int64_t r0 = step.firstRow[s];
        const std::int64_t n = step.firstRow[s + 1] - r0;
        const std::int64_t rank = pair->a.rows;
        step.loraMid.resize(static_cast<std::size_t>(n * rank));
        step.loraOut.resize(static_cast<std::size_t>(n * w.rows));
        cpu::matmul(*m_threads, in + r0 * w.cols, n, pair->a, nullptr, step.loraMid.data());
        cpu::matmul(*m_threads, step.loraMid.data(), n, pair->b, nullptr, step.loraOut.data());
        // PEFT: result + lora_B(lora_A(x)) * scaling
        const float scale = seq.adapter->scale() * seq.adapterScale;
        float* o = out + r0 * w.rows;
        for (std::int64_t i = 0; i < n * w.rows; ++i)
            o[i] += step.loraOut[static_cast<std::size_t>(i)] * scale;
    }
}

void CpuBackend::attention(Step& step, std::size_t layer)
{
    const ModelConfig& c = config();
    const KvLayout& L = m_pool.layout();
    const std::int64_t group = c.nHeads / c.nKvHeads;
    const std::int64_t slotStride = c.nKvHeads * c.headDim;
    const std::int64_t layerOffset = static_cast<std::int64_t>(layer) * 2 * L.pageTokens * slotStride;
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.headDim)));

    // Store this step's K and V first, so a prefill chunk attends to its own earlier tokens.
    for (std::int64_t r = 0; r < step.nRows; ++r) {
        const SequenceStep& seq = step.plan->sequences[step.seqOfRow[static_cast<std::size_t>(r)]];
        const std::int32_t pos = step.posOfRow[static_cast<std::size_t>(r)];
        const std::int64_t page = seq.blockTable->pages()[static_cast<std::size_t>(pos / L.pageTokens)];
        float* slot = m_kv.get() + page * L.elementsPerPage() + layerOffset + (pos % L.pageTokens) * slotStride;
        std::memcpy(slot, step.k.data() + r * slotStride, static_cast<std::size_t>(slotStride) * sizeof(float));
        std::memcpy(slot + L.pageTokens * slotStride, step.v.data() + r * slotStride,
                    static_cast<std::size_t>(slotStride) * sizeof(float));
    }
    std::int64_t maxContext = 0;
    for (std::int32_t p : step.posOfRow)
        maxContext = std::max<std::int64_t>(maxContext, p + 1);
    const std::int64_t qDim = c.nHeads * c.headDim;
    m_threads->parallelFor(step.nRows * c.nHeads, [&](std::int64_t begin, std::int64_t end) {
        std::vector<float> scores(static_cast<std::size_t>(maxContext));
        for (std::int64_t item = begin; item < end; ++item) {
            const std::int64_t r = item / c.nHeads;
            const std::int64_t h = item % c.nHeads;
            const SequenceStep& seq = step.plan->sequences[step.seqOfRow[static_cast<std::size_t>(r)]];
            cpu::PagedAttentionArgs a;
            a.q = step.q.data() + r * qDim + h * c.headDim;
            a.out = step.attn.data() + r * qDim + h * c.headDim;
            a.kBase = m_kv.get() + layerOffset + (h / group) * c.headDim;
            a.vBase = a.kBase + L.pageTokens * slotStride;
            a.pages = seq.blockTable->pages().data();
            a.pageStride = L.elementsPerPage();
            a.slotStride = slotStride;
            a.pageTokens = L.pageTokens;
            a.nContext = step.posOfRow[static_cast<std::size_t>(r)] + 1;
            a.headDim = c.headDim;
            a.scale = scale;
            cpu::pagedAttention(a, scores.data());
        }
    });
}

void CpuBackend::runLayer(Step& step, std::size_t layer)
{
    const ModelConfig& c = config();
    const LlamaLayerWeights& w = m_weights->layers()[layer];
    const std::int64_t n = step.nRows;
    const std::int64_t hidden = c.hiddenSize;
    const std::int64_t half = c.headDim / 2;

    cpu::rmsNorm(step.x.data(), w.attnNorm, c.rmsNormEps, n, hidden, step.xn.data());
    const cpu::MatmulJob qkv[] = {
        {&w.proj(LinearKind::Q), w.qBias.present() ? &w.qBias : nullptr, step.q.data()},
        {&w.proj(LinearKind::K), w.kBias.present() ? &w.kBias : nullptr, step.k.data()},
        {&w.proj(LinearKind::V), w.vBias.present() ? &w.vBias : nullptr, step.v.data()},
    };
    cpu::matmulMany(*m_threads, step.xn.data(), n, qkv);
    addLora(step, layer, LinearKind::Q, step.xn.data(), step.q.data());
    addLora(step, layer, LinearKind::K, step.xn.data(), step.k.data());
    addLora(step, layer, LinearKind::V, step.xn.data(), step.v.data());
    if (w.qNorm.present()) {  // Qwen3: RMSNorm over each head before rotation
        cpu::rmsNorm(step.q.data(), w.qNorm, c.rmsNormEps, n * c.nHeads, c.headDim, step.q.data());
        cpu::rmsNorm(step.k.data(), w.kNorm, c.rmsNormEps, n * c.nKvHeads, c.headDim, step.k.data());
    }
    for (std::int64_t r = 0; r < n; ++r) {
        const float* cs = step.cosTable.data() + r * half;
        const float* sn = step.sinTable.data() + r * half;
        cpu::applyRope(step.q.data() + r * c.nHeads * c.headDim, c.nHeads, c.headDim, cs, sn);
        cpu::applyRope(step.k.data() + r * c.nKvHeads * c.headDim, c.nKvHeads, c.headDim, cs, sn);
    }
    attention(step, layer);
    cpu::matmul(*m_threads, step.attn.data(), n, w.proj(LinearKind::O), nullptr, step.tmp.data());
    addLora(step, layer, LinearKind::O, step.attn.data(), step.tmp.data());
    for (std::size_t i = 0; i < step.x.size(); ++i)
        step.x[i] += step.tmp[i];

    cpu::rmsNorm(step.x.data(), w.mlpNorm, c.rmsNormEps, n, hidden, step.xn.data());
    const cpu::MatmulJob gateUp[] = {
        {&w.proj(LinearKind::Gate), nullptr, step.gate.data()},
        {&w.proj(LinearKind::Up), nullptr, step.up.data()},
    };
    cpu::matmulMany(*m_threads, step.xn.data(), n, gateUp);
    addLora(step, layer, LinearKind::Gate, step.xn.data(), step.gate.data());
    addLora(step, layer, LinearKind::Up, step.xn.data(), step.up.data());
    cpu::swiglu(step.gate.data(), step.up.data(), n * c.intermediateSize, step.gate.data());
    cpu::matmul(*m_threads, step.gate.data(), n, w.proj(LinearKind::Down), nullptr, step.tmp.data());
    addLora(step, layer, LinearKind::Down, step.gate.data(), step.tmp.data());
    for (std::size_t i = 0; i < step.x.size(); ++i)
        step.x[i] += step.tmp[i];
}

Result<ForwardResult> CpuBackend::forward(const BatchPlan& plan)
{
    HEARTH_TRY_STATUS(validate(plan));
    const ModelConfig& c = config();
    const std::int64_t hidden = c.hiddenSize;
    const std::int64_t half = c.headDim / 2;
    Step step;
    step.plan = &plan;
    step.firstRow.push_back(0);
    for (std::size_t s = 0; s < plan.sequences.size(); ++s) {
        const SequenceStep& seq = plan.sequences[s];
        for (std::size_t i = 0; i < seq.tokenIds.size(); ++i) {
            step.seqOfRow.push_back(s);
            step.posOfRow.push_back(seq.positions[i]);
        }
        step.firstRow.push_back(static_cast<std::int64_t>(step.seqOfRow.size()));
    }
    const std::int64_t n = step.nRows = static_cast<std::int64_t>(step.seqOfRow.size());
    const auto sized = [](std::int64_t a, std::int64_t b) { return std::vector<float>(static_cast<std::size_t>(a * b)); };
    step.x = sized(n, hidden);
    step.xn = sized(n, hidden);
    step.tmp = sized(n, hidden);
    step.q = sized(n, c.nHeads * c.headDim);
    step.attn = sized(n, c.nHeads * c.headDim);
    step.k = sized(n, c.nKvHeads * c.headDim);
    step.v = sized(n, c.nKvHeads * c.headDim);
    step.gate = sized(n, c.intermediateSize);
    step.up = sized(n, c.intermediateSize);
    step.cosTable = sized(n, half);
    step.sinTable = sized(n, half);

    for (std::int64_t r = 0; r < n; ++r) {
        const SequenceStep& seq = plan.sequences[step.seqOfRow[static_cast<std::size_t>(r)]];
        const std::int64_t token = seq.tokenIds[static_cast<std::size_t>(r - step.firstRow[step.seqOfRow[static_cast<std::size_t>(r)]])];
        cpu::widen(m_weights->embedding(), token * hidden, hidden, step.x.data() + r * hidden);
    }
    for (std::size_t s = 0; s < plan.sequences.size(); ++s) {
        const SequenceStep& seq = plan.sequences[s];
        const RopeFrequencies freqs = c.ropeScaling.type == RopeScalingType::Dynamic
                                          ? computeRopeFrequencies(c, seq.positions.back() + 1)
                                          : m_rope;
        for (std::int64_t r = step.firstRow[s]; r < step.firstRow[s + 1]; ++r)
            cpu::ropeTables(freqs, step.posOfRow[static_cast<std::size_t>(r)], step.cosTable.data() + r * half,
                            step.sinTable.data() + r * half);
    }
    for (std::size_t layer = 0; layer < m_weights->layers().size(); ++layer)
        runLayer(step, layer);

    // Only the requested rows go through the final norm and the (large) vocabulary projection.
    // The last rows of argmaxOnly sequences are projected after all the others, picked from and
    // dropped, so that the rows returned are exactly those of a plan without them.
    ForwardResult out;
    out.vocabSize = c.vocabSize;
    out.firstRow.push_back(0);
    out.argmax.assign(plan.sequences.size(), -1);
    out.argmaxLogprob.assign(plan.sequences.size(), 0.0f);
    std::vector<float> picked;
    std::vector<std::size_t> argmaxSeqs;
    for (std::size_t s = 0; s < plan.sequences.size(); ++s) {
        const SequenceStep& seq = plan.sequences[s];
        std::int64_t from = step.firstRow[s + 1];
        if (wantsArgmax(seq))
            argmaxSeqs.push_back(s);
        else if (seq.logits == LogitsRows::All)
            from = step.firstRow[s];
        else if (seq.logits == LogitsRows::Last)
            from = step.firstRow[s + 1] - 1;
        picked.insert(picked.end(), step.x.begin() + from * hidden, step.x.begin() + step.firstRow[s + 1] * hidden);
        out.firstRow.push_back(out.firstRow.back() + step.firstRow[s + 1] - from);
    }
    for (std::size_t s : argmaxSeqs)
        picked.insert(picked.end(), step.x.begin() + (step.firstRow[s + 1] - 1) * hidden,
                      step.x.begin() + step.firstRow[s + 1] * hidden);
    const std::int64_t nLogits = out.firstRow.back();
    const std::int64_t nOut = nLogits + static_cast<std::int64_t>(argmaxSeqs.size());
    cpu::rmsNorm(picked.data(), m_weights->finalNorm(), c.rmsNormEps, nOut, hidden, picked.data());
    out.logits = takeSpareLogits();
    out.logits.resize(static_cast<std::size_t>(nOut * c.vocabSize));
    cpu::matmul(*m_threads, picked.data(), nOut, m_weights->lmHead(), nullptr, out.logits.data());
    for (std::size_t i = 0; i < argmaxSeqs.size(); ++i) {
        const auto row = static_cast<std::size_t>(nLogits) + i;
        const SampledToken t = greedyToken(
            std::span<const float>(out.logits.data() + row * static_cast<std::size_t>(c.vocabSize),
                                   static_cast<std::size_t>(c.vocabSize)),
            m_argmaxScratch);
        out.argmax[argmaxSeqs[i]] = t.token;
        out.argmaxLogprob[argmaxSeqs[i]] = t.logprob;
    }
    out.logits.resize(static_cast<std::size_t>(nLogits * c.vocabSize));
    return out;
}

}  // namespace hearth
