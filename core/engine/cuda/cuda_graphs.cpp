// Decode steps as CUDA graphs (see cuda_graphs.h): buckets, the per-graph input layout, capture,
// instantiation, replay and invalidation, and the backend's graph step (State::runDecodeGraph).
//
// Capture rules this file keeps: the stream is the backend's own non-blocking stream; capture is
// thread-local (another thread's CUDA calls are not affected); between begin and end only kernel
// launches and cuBLAS GEMMs are recorded (no allocation, no synchronous copy, no synchronisation):
// every buffer the step touches is sized before the capture begins, and cuBLAS runs on the fixed
// workspace its GemmContext sets on each call. The capture is always ended, even when recording
// fails, and any error it left behind is cleared so that the eager step after it starts clean.
#include "engine/cuda/cuda_graphs.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string_view>

#include "engine/cuda/cuda_state.h"
#include "util/log.h"

namespace hearth::cuda {

namespace {

std::atomic<std::uint64_t> g_captures{0}, g_replays{0}, g_fallbacks{0}, g_dropped{0}, g_captureBytes{0}, g_captureMicros{0};

cudaStream_t asStream(kernels::StreamHandle s) { return static_cast<cudaStream_t>(s); }

std::string mib(std::size_t bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.2f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return text;
}

}  // namespace

std::int64_t graphBatchBucket(std::int64_t nSeqs)
{
    static constexpr std::int64_t kBuckets[] = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256};
    static_assert(kBuckets[std::size(kBuckets) - 1] == kGraphMaxBatch);
    for (std::int64_t b : kBuckets)
        if (nSeqs <= b)
            return nSeqs >= 1 ? b : 0;
    return 0;
}

std::int64_t graphContextBucket(std::int64_t maxContext)
{
    if (maxContext < 1 || maxContext > kGraphMaxContext)
        return 0;
    std::int64_t c = kGraphMinContext;
    while (c < maxContext)
        c *= 2;
    return c;
}

bool graphsEnabledByEnvironment()
{
    const char* v = std::getenv("HEARTH_CUDA_GRAPHS");
    if (!v)
        return true;
    const std::string_view s(v);
    return !(s == "0" || s == "off" || s == "false" || s == "OFF" || s == "FALSE");
}

DecodeGraphLayout DecodeGraphLayout::make(std::int64_t batch, std::int64_t context, std::int64_t pageTokens)
{
    DecodeGraphLayout l;
    l.batch = batch;
    l.context = context;
    l.pages = (context + pageTokens - 1) / pageTokens;
    const std::size_t row = alignUp(static_cast<std::size_t>(batch) * sizeof(std::int32_t), 16);
    std::size_t at = 0;
    for (std::size_t* field : {&l.tokens, &l.positions, &l.kvSlots, &l.contexts, &l.gather}) {
        *field = at;
        at += row;
    }
    l.tables = at;
    l.bytes = at + static_cast<std::size_t>(batch * l.pages) * sizeof(std::int32_t);
    return l;
}

DecodeGraphCounters decodeGraphCounters()
{
    return {g_captures.load(), g_replays.load(), g_fallbacks.load(), g_dropped.load(), g_captureBytes.load(),
            g_captureMicros.load()};
}

void DecodeGraphs::countFallback() { ++g_fallbacks; }

DecodeGraphs::Graph::~Graph()
{
    // Nothing may be in flight: every step ends with a synchronisation, and graphs are only
    // dropped at the start of one. A failure here has no one to report to.
    if (exec)
        cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
}

DecodeGraphs::~DecodeGraphs() = default;

void DecodeGraphs::clear() { m_graphs.clear(); }

void DecodeGraphs::evictOldest()
{
    const auto oldest = std::min_element(m_graphs.begin(), m_graphs.end(),
                                         [](const auto& a, const auto& b) { return a->lastUse < b->lastUse; });
    if (oldest != m_graphs.end())
        m_graphs.erase(oldest);
}

std::size_t DecodeGraphs::deviceBytes() const
{
    std::size_t total = 0;
    for (const auto& g : m_graphs)
        total += g->deviceBytes + g->inputs.bytes();
    return total;
}

DecodeGraphs::Graph* DecodeGraphs::find(const DecodeGraphLayout& layout, const FrozenBuffers& frozen)
{
    if (frozen != m_frozen) {
        if (!m_graphs.empty()) {
            g_dropped += m_graphs.size();
            logDebug("CUDA graphs: a buffer the decode graphs point at moved; " + std::to_string(m_graphs.size()) +
                     " graph(s) dropped, captured again on use");
        }
        clear();
        m_frozen = frozen;
        return nullptr;
    }
    for (const auto& g : m_graphs)
        if (g->layout.batch == layout.batch && g->layout.context == layout.context && g->layout.pages == layout.pages &&
            g->layout.argmax == layout.argmax)
            return g.get();
    return nullptr;
}

Result<DecodeGraphs::Graph*> DecodeGraphs::capture(const DecodeGraphLayout& layout, const FrozenBuffers& frozen,
                                                   kernels::StreamHandle stream,
                                                   const std::function<Status(const Graph&)>& record)
{
    if (frozen != m_frozen) {
        clear();
        m_frozen = frozen;
    }
    while (m_graphs.size() >= kMaxDecodeGraphs)
        evictOldest();
    auto graph = std::make_unique<Graph>();
    graph->layout = layout;
    HEARTH_TRY_STATUS(graph->inputs.reserve(layout.bytes, "a decode graph's inputs"));

    std::size_t freeBefore = 0, freeAfter = 0, total = 0;
    HEARTH_CUDA_TRY(cudaMemGetInfo(&freeBefore, &total));
    const auto started = std::chrono::steady_clock::now();
    const cudaStream_t s = asStream(stream);
    HEARTH_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    const Status recorded = record(*graph);
    cudaGraph_t captured = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(s, &captured);
    if (!recorded || ended != cudaSuccess) {
        if (captured)
            cudaGraphDestroy(captured);
        cudaGetLastError();  // the capture's error must not surface in the eager step's launch checks
        if (!recorded)
            return recorded.error();
        return cudaCallError(ended, "cudaStreamEndCapture(stream, &graph)", __FILE__, __LINE__);
    }
    std::size_t nNodes = 0;
    cudaGraphGetNodes(captured, nullptr, &nNodes);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiateWithFlags(&exec, captured, 0);
    cudaGraphDestroy(captured);
    if (instantiated != cudaSuccess) {
        cudaGetLastError();
        return cudaCallError(instantiated, "cudaGraphInstantiateWithFlags(&exec, graph, 0)", __FILE__, __LINE__);
    }
    graph->exec = exec;  // owned from here
    // Uploading now keeps the first replay as fast as the others.
    const cudaError_t uploaded = cudaGraphUpload(exec, s);
    if (uploaded != cudaSuccess) {
        cudaGetLastError();
        return cudaCallError(uploaded, "cudaGraphUpload(exec, stream)", __FILE__, __LINE__);
    }
    HEARTH_CUDA_TRY(cudaMemGetInfo(&freeAfter, &total));
    graph->deviceBytes = freeBefore > freeAfter ? freeBefore - freeAfter : 0;
    graph->lastUse = ++m_clock;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    ++g_captures;
    g_captureBytes += graph->deviceBytes + graph->inputs.bytes();
    g_captureMicros += static_cast<std::uint64_t>(ms * 1000.0);
    logDebug("CUDA graph for decode batch " + std::to_string(layout.batch) + ", context " + std::to_string(layout.context) +
             ": " + std::to_string(nNodes) + " nodes, captured in " + std::to_string(ms) + " ms, " +
             mib(graph->deviceBytes) + " on the device plus " + mib(graph->inputs.bytes()) + " of inputs");
    m_graphs.push_back(std::move(graph));
    return m_graphs.back().get();
}

Status DecodeGraphs::launch(Graph& graph, kernels::StreamHandle stream)
{
    const cudaError_t e = cudaGraphLaunch(static_cast<cudaGraphExec_t>(graph.exec), asStream(stream));
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cudaCallError(e, "cudaGraphLaunch(exec, stream)", __FILE__, __LINE__);
    }
    graph.lastUse = ++m_clock;
    ++g_replays;
    return Status::ok();
}

void DecodeGraphs::disable(const std::string& why)
{
    if (!m_disabled)
        logWarning("CUDA graphs off for this model (" + why + "); decode steps run without them");
    m_disabled = true;
    clear();
}

}  // namespace hearth::cuda

namespace hearth {

using cuda::DecodeGraphLayout;
using cuda::DecodeGraphs;

Result<bool> CudaBackend::State::runDecodeGraph(CudaBackend& backend, const BatchPlan& plan, ForwardResult& out)
{
    const ModelConfig& c = backend.config();
    if (graphs.disabled() || !cuda::graphsEnabledByEnvironment() || c.ropeScaling.type == RopeScalingType::Dynamic)
        return false;
    std::int64_t maxContext = 0;
    for (const SequenceStep& seq : plan.sequences) {
        if (seq.tokenIds.size() != 1 || seq.adapter)
            return false;
        maxContext = std::max<std::int64_t>(maxContext, seq.positions[0] + std::int64_t{1});
    }
    const auto nSeqs = static_cast<std::int64_t>(plan.sequences.size());
    const std::int64_t batch = cuda::graphBatchBucket(nSeqs);
    const std::int64_t context = cuda::graphContextBucket(maxContext);
    if (batch == 0 || context == 0)
        return false;
    const std::int64_t pageTokens = backend.m_pool.layout().pageTokens;
    DecodeGraphLayout layout = DecodeGraphLayout::make(batch, context, pageTokens);
    if (layout.bytes > cuda::kGraphMaxInputBytes)
        return false;
    layout.argmax = std::any_of(plan.sequences.begin(), plan.sequences.end(), wantsArgmax);

    // Everything the graph points at, sized for the bucket before it is looked up (growing moves
    // a buffer, which makes the graphs captured so far stale) and before any capture. Running
    // short of memory for the padded shapes is no error: the step runs eagerly.
    const CudaDims d(c);
    const auto vocabBytes = static_cast<std::size_t>(d.vocab) * sizeof(float);
    Status reserved = reserveRows(d, batch);
    if (reserved)
        reserved = logits.reserve(static_cast<std::size_t>(batch) * vocabBytes, "logits");
    if (reserved)
        reserved = decodeWork.reserve(kernels::decodeAttentionWorkspaceBytes(batch, c.nHeads, c.headDim, context),
                                      "decode attention scratch");
    if (reserved)
        reserved = logitsHost.reserve(static_cast<std::size_t>(nSeqs) * vocabBytes, "logits");
    if (reserved)
        reserved = stepHost.reserve(layout.bytes, "a decode graph's inputs");
    if (reserved)
        reserved = reserveArgmax(batch);  // also without argmax rows: the frozen address stays put
    if (!reserved) {
        // A failed growth has freed the old block (DeviceBuffer::reserve releases first) while
        // reserveRows keeps its capacity and slice pointers: make the eager step allocate anew
        // instead of running on freed memory.
        if (activations.bytes() < d.activationBytes(rowCapacity))
            rowCapacity = 0;
        DecodeGraphs::countFallback();
        graphs.disable(reserved.error().message);
        return false;
    }

    // The inputs, straight into the pinned upload buffer. Padding rows: token 0 at position 0,
    // slot -1 (no KV write), context 0 (attention writes zeros). Block-table entries past a
    // sequence's pages are left as they are: attention reads only those below its context.
    auto* base = static_cast<std::uint8_t*>(stepHost.data());
    const auto array = [base](std::size_t offset) { return reinterpret_cast<std::int32_t*>(base + offset); };
    std::int32_t* tokens = array(layout.tokens);
    std::int32_t* positions = array(layout.positions);
    std::int32_t* slots = array(layout.kvSlots);
    std::int32_t* contexts = array(layout.contexts);
    std::int32_t* gather = array(layout.gather);
    std::int32_t* tables = array(layout.tables);
    std::int64_t nOut = 0;
    std::vector<std::int32_t> argmaxRows;
    out.firstRow.assign(1, 0);
    for (std::int64_t i = 0; i < batch; ++i) {
        const auto row = static_cast<std::size_t>(i);
        if (i >= nSeqs) {
            tokens[row] = 0;
            positions[row] = 0;
            slots[row] = -1;
            contexts[row] = 0;
            continue;
        }
        const SequenceStep& seq = plan.sequences[row];
        const std::int32_t pos = seq.positions[0];
        const std::vector<std::int32_t>& pages = seq.blockTable->pages();
        tokens[row] = seq.tokenIds[0];
        positions[row] = pos;
        slots[row] = static_cast<std::int32_t>(pages[static_cast<std::size_t>(pos / pageTokens)] * pageTokens + pos % pageTokens);
        contexts[row] = pos + 1;
        const std::size_t n = std::min(pages.size(), static_cast<std::size_t>(layout.pages));
        std::copy_n(pages.begin(), n, tables + row * static_cast<std::size_t>(layout.pages));
        if (wantsArgmax(seq))
            argmaxRows.push_back(static_cast<std::int32_t>(i));
        else if (seq.logits != LogitsRows::None)
            gather[static_cast<std::size_t>(nOut++)] = static_cast<std::int32_t>(i);
        out.firstRow.push_back(nOut);
    }
    // Logits rows [0, nOut), then argmax rows [nOut, nOut + argmaxRows.size()), then padding:
    // projected too (the graph's shape), never copied back.
    std::copy(argmaxRows.begin(), argmaxRows.end(), gather + nOut);
    std::fill(gather + nOut + static_cast<std::ptrdiff_t>(argmaxRows.size()), gather + batch, 0);

    const cuda::FrozenBuffers frozen{residual, xn,     qkv, attn, tmp, gateUp, act, logits.data(), decodeWork.data(),
                                     kv.data(), argmaxOut.data()};
    DecodeGraphs::Graph* graph = graphs.find(layout, frozen);
    if (!graph) {
        const auto record = [&](const DecodeGraphs::Graph& g) -> Status {
            const auto i32 = [&g](std::size_t offset) { return g.inputs.as<const std::int32_t>(offset); };
            Step step;
            step.nRows = batch;
            step.nDecode = batch;
            step.maxPagesDecode = layout.pages;
            step.maxContextDecode = context;
            step.nOut = batch;
            step.tokenIds = i32(layout.tokens);
            step.positions = i32(layout.positions);
            step.slotMapping = i32(layout.kvSlots);
            step.decodeContext = i32(layout.contexts);
            step.decodeTables = i32(layout.tables);
            step.gatherRows = i32(layout.gather);
            step.rope.push_back({0, batch, weights.ropeInvFreq, rope.attentionScale});
            HEARTH_TRY_STATUS(enqueueForward(backend, step));
            return layout.argmax ? enqueueArgmax(0, batch, d.vocab) : Status::ok();
        };
        Result<DecodeGraphs::Graph*> captured = graphs.capture(layout, frozen, stream, record);
        if (!captured) {
            DecodeGraphs::countFallback();
            graphs.disable(captured.error().message);
            return false;
        }
        graph = *captured;
    }

    HEARTH_CUDA_TRY(cudaMemcpyAsync(graph->inputs.data(), stepHost.data(), layout.bytes, cudaMemcpyHostToDevice,
                                    static_cast<cudaStream_t>(stream)));
    const Status launched = graphs.launch(*graph, stream);
    if (!launched) {
        // Nothing of the graph ran; the eager step overwrites what the upload wrote.
        DecodeGraphs::countFallback();
        graphs.disable(launched.error().message);
        return false;
    }
    if (layout.argmax)
        HEARTH_TRY_STATUS(downloadArgmax(batch));
    const std::size_t logitsBytes = static_cast<std::size_t>(nOut) * vocabBytes;
    if (logitsBytes)
        HEARTH_CUDA_TRY(cudaMemcpyAsync(logitsHost.data(), logits.data(), logitsBytes, cudaMemcpyDeviceToHost,
                                        static_cast<cudaStream_t>(stream)));
    // The step's one synchronisation, as on the eager path.
    HEARTH_CUDA_TRY(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
    const auto* host = static_cast<const float*>(logitsHost.data());
    out.logits = backend.takeSpareLogits();
    out.logits.assign(host, host + static_cast<std::size_t>(nOut * d.vocab));
    if (layout.argmax)
        readArgmax(plan, batch, nOut, out);
    else
        readArgmax(plan, 0, 0, out);  // no sequence wants one: all -1
    return true;
}

}  // namespace hearth
