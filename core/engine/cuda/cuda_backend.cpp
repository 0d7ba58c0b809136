// The CUDA backend's step: validate the plan (plan_check), pack every per-step array (token ids,
// positions, KV slots, block tables, LoRA tables, rows to project) into one host->device copy,
// run the layers as kernels on one stream, project only the rows the plan asks for, copy the
// fp32 logits back in one device->host copy and synchronise once, at the end. The last rows of
// argmaxOnly sequences are projected after the others and reduced to ids by the sampling
// kernel's greedy path on the device; only the ids (and their raw log-probabilities) come back,
// in one more small copy before the same synchronisation.
//
// Rows: the step's tokens are reordered so that every multi-token sequence (prefill chunks) comes
// first, in plan order, and every single-token sequence (decode) after them, so each attention
// kernel sees one contiguous block of rows; logits rows are gathered back in plan order. A
// multi-token sequence is split into runs of consecutive positions, each run one query group of
// the prefill kernel (the kernel assumes a group's queries sit at the end of its context).
//
// Decode-only steps (every sequence one token, no LoRA, no dynamic NTK) run as CUDA graphs, one per
// (batch bucket, context bucket), captured on first use (cuda_graphs.cpp); everything else, and
// every step when HEARTH_CUDA_GRAPHS=0 or a capture failed, runs eagerly as described above. Both
// go through State::enqueueForward, so the graph holds exactly the eager step's launches.
#include "engine/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cuda/cuda_state.h"
#include "engine/lora.h"
#include "engine/plan_check.h"

namespace hearth {

using cuda::alignUp;
using kernels::ElemType;

namespace {

cudaStream_t asStream(kernels::StreamHandle s) { return static_cast<cudaStream_t>(s); }

// Host-side assembly of the step's one upload: arrays appended at 16-byte aligned offsets.
class Packer {
public:
    template <typename T>
    std::size_t put(const T* data, std::size_t n)
    {
        const std::size_t offset = alignUp(m_bytes.size(), 16);
        m_bytes.resize(offset + n * sizeof(T));
        if (n)
            std::memcpy(m_bytes.data() + offset, data, n * sizeof(T));
        return offset;
    }
    template <typename T>
    std::size_t put(const std::vector<T>& v)
    {
        return put(v.data(), v.size());
    }
    const std::vector<std::uint8_t>& bytes() const { return m_bytes; }

private:
    std::vector<std::uint8_t> m_bytes;
};

}  // namespace

Result<ForwardResult> CudaBackend::forward(const BatchPlan& plan)
{
    HEARTH_TRY_STATUS(checkBatchPlan(plan, *m_weights, m_pool));
    Result<ForwardResult> out = runStep(plan);
    if (!out)
        cudaStreamSynchronize(asStream(m->stream));  // let nothing of a failed step run on into the next
    return out;
}

Status CudaBackend::buildStep(const BatchPlan& plan, Step& step)
{
    State& s = *m;
    const ModelConfig& c = config();
    const CudaDims d(c);
    const std::int64_t pageTokens = m_pool.layout().pageTokens;
    const std::size_t nLayers = m_weights->layers().size();
    const std::size_t nSeqs = plan.sequences.size();

    // Row order: prefill sequences first, then decode sequences, each group in plan order.
    std::vector<std::size_t> order;
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t i = 0; i < nSeqs; ++i)
            if ((plan.sequences[i].tokenIds.size() > 1) == (pass == 0))
                order.push_back(i);
    std::vector<std::int64_t> rowOf(nSeqs);  // first row of each plan sequence
    std::vector<std::int32_t> tokenIds, positions, slots, queryStart{0}, prefillContext, decodeContext;
    std::vector<const BlockTable*> prefillTable, decodeTable;
    const auto pagesFor = [pageTokens](std::int64_t ctx) { return (ctx + pageTokens - 1) / pageTokens; };
    for (std::size_t i : order) {
        const SequenceStep& seq = plan.sequences[i];
        const auto row0 = static_cast<std::int64_t>(tokenIds.size());
        rowOf[i] = row0;
        const std::vector<std::int32_t>& pages = seq.blockTable->pages();
        for (std::size_t t = 0; t < seq.tokenIds.size(); ++t) {
            const std::int32_t pos = seq.positions[t];
            tokenIds.push_back(seq.tokenIds[t]);
            positions.push_back(pos);
            slots.push_back(static_cast<std::int32_t>(pages[static_cast<std::size_t>(pos / pageTokens)] * pageTokens +
                                                      pos % pageTokens));
        }
        if (seq.tokenIds.size() == 1) {
            decodeContext.push_back(seq.positions[0] + 1);
            decodeTable.push_back(seq.blockTable);
            step.maxContextDecode = std::max<std::int64_t>(step.maxContextDecode, seq.positions[0] + 1);
            step.maxPagesDecode = std::max(step.maxPagesDecode, pagesFor(seq.positions[0] + 1));
            continue;
        }
        // One query group per run of consecutive positions.
        std::size_t runStart = 0;
        for (std::size_t t = 1; t <= seq.positions.size(); ++t) {
            if (t < seq.positions.size() && seq.positions[t] == seq.positions[t - 1] + 1)
                continue;
            const std::int32_t ctx = seq.positions[t - 1] + 1;
            queryStart.push_back(static_cast<std::int32_t>(row0 + static_cast<std::int64_t>(t)));
            prefillContext.push_back(ctx);
            prefillTable.push_back(seq.blockTable);
            step.maxQueryLen = std::max<std::int64_t>(step.maxQueryLen, static_cast<std::int64_t>(t - runStart));
            step.maxPagesPrefill = std::max(step.maxPagesPrefill, pagesFor(ctx));
            runStart = t;
        }
        step.nPrefillRows = static_cast<std::int64_t>(tokenIds.size());
    }
    step.nRows = static_cast<std::int64_t>(tokenIds.size());
    step.nGroups = static_cast<std::int64_t>(prefillContext.size());
    step.nDecode = static_cast<std::int64_t>(decodeContext.size());
    const auto tableRows = [](const std::vector<const BlockTable*>& tables, std::int64_t width) {
        std::vector<std::int32_t> out(tables.size() * static_cast<std::size_t>(width), 0);
        for (std::size_t i = 0; i < tables.size(); ++i) {
            const std::vector<std::int32_t>& pages = tables[i]->pages();
            const std::size_t n = std::min(pages.size(), static_cast<std::size_t>(width));
            std::copy_n(pages.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(i * static_cast<std::size_t>(width)));
        }
        return out;
    };

    // Rows to project, in plan order (as the CPU backend returns them), then the last rows of the
    // argmaxOnly sequences (in plan order too), which are reduced to ids on the device and never
    // copied back: the logits download is the first firstRow.back() rows.
    std::vector<std::int32_t> gather, argmaxGather;
    step.firstRow.assign(1, 0);
    for (std::size_t i = 0; i < nSeqs; ++i) {
        const SequenceStep& seq = plan.sequences[i];
        const auto n = static_cast<std::int64_t>(seq.tokenIds.size());
        if (wantsArgmax(seq)) {
            argmaxGather.push_back(static_cast<std::int32_t>(rowOf[i] + n - 1));
            step.firstRow.push_back(step.firstRow.back());
            continue;
        }
        const std::int64_t from = seq.logits == LogitsRows::All ? 0 : seq.logits == LogitsRows::Last ? n - 1 : n;
        for (std::int64_t t = from; t < n; ++t)
            gather.push_back(static_cast<std::int32_t>(rowOf[i] + t));
        step.firstRow.push_back(step.firstRow.back() + (n - from));
    }
    gather.insert(gather.end(), argmaxGather.begin(), argmaxGather.end());
    step.nOut = static_cast<std::int64_t>(gather.size());

    // LoRA slots: one per distinct (adapter, scale) of the step.
    std::vector<std::pair<const LoraAdapter*, float>> slotKeys;
    std::vector<const cuda::DeviceAdapter*> slotAdapters;
    std::vector<std::int32_t> adapterIndex;
    s.loras.beginStep();
    for (std::size_t i : order) {
        const SequenceStep& seq = plan.sequences[i];
        std::int32_t slot = -1;
        if (seq.adapter) {
            const std::pair<const LoraAdapter*, float> key{seq.adapter, seq.adapterScale};
            const auto it = std::find(slotKeys.begin(), slotKeys.end(), key);
            slot = static_cast<std::int32_t>(it - slotKeys.begin());
            if (it == slotKeys.end()) {
                HEARTH_TRY_ASSIGN(const cuda::DeviceAdapter* device, s.loras.get(*seq.adapter, nLayers, s.weights.type));
                slotKeys.push_back(key);
                slotAdapters.push_back(device);
            }
        }
        adapterIndex.insert(adapterIndex.end(), seq.tokenIds.size(), slot);
    }
    step.nSlots = static_cast<std::int64_t>(slotKeys.size());

    Packer pack;
    const std::size_t offTokens = pack.put(tokenIds), offPositions = pack.put(positions), offSlots = pack.put(slots);
    const std::size_t offQueryStart = pack.put(queryStart), offPrefillContext = pack.put(prefillContext);
    const std::size_t offPrefillTables = pack.put(tableRows(prefillTable, step.maxPagesPrefill));
    const std::size_t offDecodeContext = pack.put(decodeContext);
    const std::size_t offDecodeTables = pack.put(tableRows(decodeTable, step.maxPagesDecode));
    const std::size_t offGather = pack.put(gather);

    // RoPE: the fixed table, or per sequence for dynamic NTK (which depends on the sequence's length).
    std::vector<std::pair<std::size_t, Step::RopeCall>> ropeOffsets;
    if (c.ropeScaling.type == RopeScalingType::Dynamic) {
        for (std::size_t i : order) {
            const SequenceStep& seq = plan.sequences[i];
            const RopeFrequencies f = computeRopeFrequencies(c, seq.positions.back() + 1);
            ropeOffsets.push_back({pack.put(f.invFreq), {rowOf[i], static_cast<std::int64_t>(seq.tokenIds.size()), nullptr,
                                                         f.attentionScale}});
        }
    }

    std::size_t offAdapterIndex = 0, offA = 0, offB = 0, offRanks = 0, offScales = 0;
    step.loraMaxRank.assign(nLayers * kLinearKindCount, 0);
    if (step.nSlots > 0) {
        const std::size_t n = nLayers * kLinearKindCount * static_cast<std::size_t>(step.nSlots);
        std::vector<const void*> a(n, nullptr), b(n, nullptr);
        std::vector<std::int32_t> ranks(n, 0);
        std::vector<float> scales;
        for (std::size_t slot = 0; slot < slotKeys.size(); ++slot)
            scales.push_back(slotKeys[slot].first->scale() * slotKeys[slot].second);
        for (std::size_t l = 0; l < nLayers; ++l)
            for (std::size_t k = 0; k < static_cast<std::size_t>(kLinearKindCount); ++k)
                for (std::size_t slot = 0; slot < slotKeys.size(); ++slot) {
                    const cuda::DeviceLoraPair& pair = slotAdapters[slot]->layers[l][k];
                    const std::size_t at = (l * kLinearKindCount + k) * slotKeys.size() + slot;
                    a[at] = pair.a;
                    b[at] = pair.b;
                    ranks[at] = pair.rank;
                    std::int32_t& most = step.loraMaxRank[l * kLinearKindCount + k];
                    most = std::max(most, pair.rank);
                }
        offAdapterIndex = pack.put(adapterIndex);
        offA = pack.put(a);
        offB = pack.put(b);
        offRanks = pack.put(ranks);
        offScales = pack.put(scales);
    }

    // Every buffer sized before the first launch (the previous step has finished, so growing is safe).
    const std::size_t nBytes = pack.bytes().size();
    HEARTH_TRY_STATUS(s.stepHost.reserve(nBytes, "the step's upload"));
    HEARTH_TRY_STATUS(s.stepData.reserve(nBytes, "the step's upload"));
    HEARTH_TRY_STATUS(s.reserveRows(d, step.nRows));
    const std::size_t logitsBytes = static_cast<std::size_t>(step.nOut * d.vocab) * sizeof(float);
    HEARTH_TRY_STATUS(s.logits.reserve(logitsBytes, "logits"));
    HEARTH_TRY_STATUS(s.logitsHost.reserve(static_cast<std::size_t>(step.firstRow.back() * d.vocab) * sizeof(float),
                                           "logits"));
    HEARTH_TRY_STATUS(s.reserveArgmax(static_cast<std::int64_t>(argmaxGather.size())));
    HEARTH_TRY_STATUS(s.decodeWork.reserve(kernels::decodeAttentionWorkspaceBytes(step.nDecode, c.nHeads, c.headDim,
                                                                                    step.maxContextDecode),
                                           "decode attention scratch"));
    if (step.nSlots > 0)
        HEARTH_TRY_STATUS(s.loraShrunk.reserve(static_cast<std::size_t>(step.nRows * kernels::kLoraMaxRank) * sizeof(float),
                                               "LoRA scratch"));

    std::memcpy(s.stepHost.data(), pack.bytes().data(), nBytes);
    HEARTH_CUDA_TRY(cudaMemcpyAsync(s.stepData.data(), s.stepHost.data(), nBytes, cudaMemcpyHostToDevice, asStream(s.stream)));
    const auto i32 = [&](std::size_t off) { return s.stepData.as<const std::int32_t>(off); };
    step.tokenIds = i32(offTokens);
    step.positions = i32(offPositions);
    step.slotMapping = i32(offSlots);
    step.queryStart = i32(offQueryStart);
    step.prefillContext = i32(offPrefillContext);
    step.prefillTables = i32(offPrefillTables);
    step.decodeContext = i32(offDecodeContext);
    step.decodeTables = i32(offDecodeTables);
    step.gatherRows = i32(offGather);
    if (ropeOffsets.empty()) {
        step.rope.push_back({0, step.nRows, s.weights.ropeInvFreq, s.rope.attentionScale});
    } else {
        for (auto& [offset, call] : ropeOffsets) {
            call.invFreq = s.stepData.as<const float>(offset);
            step.rope.push_back(call);
        }
    }
    if (step.nSlots > 0) {
        step.adapterIndex = i32(offAdapterIndex);
        step.loraA = s.stepData.as<const void* const>(offA);
        step.loraB = s.stepData.as<const void* const>(offB);
        step.loraRanks = i32(offRanks);
        step.loraScales = s.stepData.as<const float>(offScales);
    }
    return Status::ok();
}

Result<ForwardResult> CudaBackend::runStep(const BatchPlan& plan)
{
    State& s = *m;
    const ModelConfig& c = config();
    const CudaDims d(c);
    ForwardResult out;
    out.vocabSize = c.vocabSize;
    if (plan.sequences.empty()) {
        out.firstRow.push_back(0);
        return out;
    }
    // The scheduler's thread may not be the one that created the backend.
    HEARTH_CUDA_TRY(cudaSetDevice(s.device));
    HEARTH_TRY_ASSIGN(const bool viaGraph, s.runDecodeGraph(*this, plan, out));
    if (viaGraph)
        return out;
    Step step;
    HEARTH_TRY_STATUS(buildStep(plan, step));
    HEARTH_TRY_STATUS(s.enqueueForward(*this, step));
    const std::int64_t nLogits = step.firstRow.back();
    const std::int64_t nArgmax = step.nOut - nLogits;
    HEARTH_TRY_STATUS(s.enqueueArgmax(nLogits, nArgmax, d.vocab));
    HEARTH_TRY_STATUS(s.downloadArgmax(nArgmax));
    const std::size_t logitsBytes = static_cast<std::size_t>(nLogits * d.vocab) * sizeof(float);
    if (logitsBytes)
        HEARTH_CUDA_TRY(cudaMemcpyAsync(s.logitsHost.data(), s.logits.data(), logitsBytes, cudaMemcpyDeviceToHost,
                                        asStream(s.stream)));
    // The step's one synchronisation; it also reports any fault a kernel raised on the way.
    HEARTH_CUDA_TRY(cudaStreamSynchronize(asStream(s.stream)));
    // One pass from the pinned buffer into the last step's storage (a fresh vector would cost
    // the page faults, and resize-then-copy the zero-fill, of 39 MB at 64 streams).
    const auto* host = static_cast<const float*>(s.logitsHost.data());
    out.logits = takeSpareLogits();
    out.logits.assign(host, host + static_cast<std::size_t>(nLogits * d.vocab));
    out.firstRow = std::move(step.firstRow);
    s.readArgmax(plan, nArgmax, 0, out);
    return out;
}

Status CudaBackend::State::reserveArgmax(std::int64_t nRows)
{
    // At least the largest graph batch (256 rows of id + log-prob, 2 KB): the buffer then never
    // moves under the decode graphs (which would drop them all) unless an eager step has more
    // argmax rows.
    const std::size_t rows = static_cast<std::size_t>(std::max<std::int64_t>(nRows, cuda::kGraphMaxBatch));
    const std::size_t bytes = rows * 2 * sizeof(std::int32_t);
    HEARTH_TRY_STATUS(argmaxOut.reserve(bytes, "greedy token ids"));
    return argmaxHost.reserve(bytes, "greedy token ids");
}

Status CudaBackend::State::enqueueArgmax(std::int64_t firstRow, std::int64_t nRows, std::int64_t vocab)
{
    if (nRows == 0)
        return Status::ok();
    // The sampling kernel with no temperature is greedy on every row: the lowest id among the
    // largest logits, NaN as -inf and +inf as the largest float, as the host Sampler.
    kernels::SamplingArgs a;
    a.logits = logits.as<const float>(static_cast<std::size_t>(firstRow * vocab) * sizeof(float));
    a.nRows = nRows;
    a.vocab = vocab;
    a.tokens = argmaxOut.as<std::int32_t>();
    a.logprobs = argmaxOut.as<float>(static_cast<std::size_t>(nRows) * sizeof(std::int32_t));
    HEARTH_KERNEL_CALL(kernels::sampleTokens(a, stream));
    return Status::ok();
}

Status CudaBackend::State::downloadArgmax(std::int64_t nRows)
{
    if (nRows == 0)
        return Status::ok();
    HEARTH_CUDA_TRY(cudaMemcpyAsync(argmaxHost.data(), argmaxOut.data(),
                                    static_cast<std::size_t>(nRows) * 2 * sizeof(std::int32_t), cudaMemcpyDeviceToHost,
                                    asStream(stream)));
    return Status::ok();
}

void CudaBackend::State::readArgmax(const BatchPlan& plan, std::int64_t nRows, std::int64_t first,
                                    ForwardResult& out) const
{
    out.argmax.assign(plan.sequences.size(), -1);
    out.argmaxLogprob.assign(plan.sequences.size(), 0.0f);
    const auto* ids = static_cast<const std::int32_t*>(argmaxHost.data());
    const auto* logprobs = reinterpret_cast<const float*>(ids + nRows);
    std::int64_t row = first;
    for (std::size_t i = 0; i < plan.sequences.size(); ++i)
        if (wantsArgmax(plan.sequences[i])) {
            out.argmax[i] = ids[row];
            out.argmaxLogprob[i] = logprobs[row];
            ++row;
        }
}

Status CudaBackend::State::enqueueForward(CudaBackend& backend, const Step& step)
{
    const ModelConfig& c = backend.config();
    const CudaDims d(c);
    const ElemType type = weights.type;

    kernels::EmbeddingArgs embed;
    embed.ids = step.tokenIds;
    embed.table = weights.embedding;
    embed.out = residual;
    embed.nTokens = step.nRows;
    embed.vocab = d.vocab;
    embed.hidden = d.hidden;
    embed.type = type;
    HEARTH_KERNEL_CALL(kernels::embeddingGather(embed, stream));
    for (std::size_t layer = 0; layer < weights.layers.size(); ++layer)
        HEARTH_TRY_STATUS(backend.runLayer(step, layer));

    // The last MLP output joins the residual under the final norm; only the asked-for rows are
    // gathered (the embedding gather over the normed rows) and projected to the vocabulary.
    kernels::RmsNormArgs norm;
    norm.x = tmp;
    norm.residual = residual;
    norm.weight = weights.finalNorm;
    norm.out = xn;
    norm.nTokens = step.nRows;
    norm.n = d.hidden;
    norm.eps = static_cast<float>(c.rmsNormEps);
    norm.type = type;
    HEARTH_KERNEL_CALL(kernels::fusedAddRmsNorm(norm, stream));
    if (step.nOut == 0)
        return Status::ok();
    kernels::EmbeddingArgs pick;
    pick.ids = step.gatherRows;
    pick.table = xn;
    pick.out = tmp;
    pick.nTokens = step.nOut;
    pick.vocab = step.nRows;
    pick.hidden = d.hidden;
    pick.type = type;
    HEARTH_KERNEL_CALL(kernels::embeddingGather(pick, stream));
    kernels::GemmArgs head;
    head.x = tmp;
    head.w = weights.lmHead;
    head.y = logits.data();
    head.m = step.nOut;
    head.n = d.vocab;
    head.k = d.hidden;
    head.inType = type;
    head.outType = ElemType::F32;
    // gemm() follows the load's plan for this shape: the GEMV writing fp32 logits where the tuning
    // measured it fastest (decode, few rows), cuBLAS's default without a plan.
    HEARTH_KERNEL_CALL(gemm->gemm(head, stream));
    return Status::ok();
}

}  // namespace hearth
