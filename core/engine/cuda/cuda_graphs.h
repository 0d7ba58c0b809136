// CUDA graphs for the CUDA backend's decode steps (issue #5). A decode step of a 7B model is ~28
// layers x ~12 launches; launched one by one the gaps between small kernels cost a measurable
// share of a 5 ms step at batch 1. A decode-only step (every sequence one token, no LoRA, no
// dynamic NTK) is instead padded to a batch bucket, its attention grid to a context bucket, and
// run as one graph captured once per (batch bucket, context bucket) on first use and replayed.
//
// What a graph freezes: every kernel argument, so every pointer. Its per-step inputs live in a
// buffer of its own at a fixed address (written by one host->device copy before each launch);
// the activations, logits, attention scratch and KV cache it points at are recorded
// (FrozenBuffers) and all graphs are dropped when one of them moves (a buffer grew).
//
// Memory: per graph its input buffer (batch x (5 + table width) int32: 67 KB at batch 64 and
// 4K context, 2 MB at 128K; at most kGraphMaxInputBytes) plus the executable graph's own device
// memory (measured at capture, logged at debug level and counted in DecodeGraphCounters); at most
// kMaxDecodeGraphs graphs, the least recently used evicted. Padding also grows the logits buffer
// to the bucket's rows and the attention scratch to the context bucket (at most 2x the eager
// step's). HEARTH_CUDA_GRAPHS=0 in the environment runs every step eagerly (read at each step).
//
// Greedy rows (SequenceStep::argmaxOnly): a step with any is run by a graph of its own (the key
// includes DecodeGraphLayout::argmax) that ends with the argmax kernel over all batch rows, its
// logits rows first and argmax rows after them in the gather, so only their ids and the other
// rows' logits are copied back; a step without any keeps the graph without the kernel.
// Private to engine/cuda; no CUDA types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_util.h"
#include "kernel_status.h"
#include "util/result.h"

namespace hearth::cuda {

// Largest decode batch run through a graph; larger batches run eagerly.
inline constexpr std::int64_t kGraphMaxBatch = 256;
// Context buckets are powers of two from one decode attention partition up to this.
inline constexpr std::int64_t kGraphMinContext = 256;
inline constexpr std::int64_t kGraphMaxContext = std::int64_t{1} << 20;
// Largest per-graph input buffer (the block tables dominate); larger shapes run eagerly.
inline constexpr std::size_t kGraphMaxInputBytes = std::size_t{4} << 20;
inline constexpr std::size_t kMaxDecodeGraphs = 32;

// The batch bucket of `nSeqs` decode rows (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256);
// 0 when above kGraphMaxBatch.
std::int64_t graphBatchBucket(std::int64_t nSeqs);
// The context bucket for a longest context of `maxContext` tokens; 0 above kGraphMaxContext.
std::int64_t graphContextBucket(std::int64_t maxContext);
// False when HEARTH_CUDA_GRAPHS is "0" (or "off", "false").
bool graphsEnabledByEnvironment();

// Byte offsets of one graph's inputs inside its buffer: int32 arrays, 16-byte aligned.
struct DecodeGraphLayout {
    std::int64_t batch = 0;    // rows, padded
    std::int64_t context = 0;  // maxContext of the decode attention
    std::int64_t pages = 0;    // block-table width: context / pageTokens rounded up
    bool argmax = false;       // the graph ends with the greedy argmax of all batch rows (argmaxOnly)
    std::size_t tokens = 0;     // [batch] token ids
    std::size_t positions = 0;  // [batch]
    std::size_t kvSlots = 0;    // [batch] KV slots, -1 for padding rows (no write)
    std::size_t contexts = 0;   // [batch] context lengths, 0 for padding rows (attention gives zeros)
    std::size_t gather = 0;     // [batch] rows to project: the plan's logits rows, its argmaxOnly rows, padding
    std::size_t tables = 0;     // [batch, pages]
    std::size_t bytes = 0;

    static DecodeGraphLayout make(std::int64_t batch, std::int64_t context, std::int64_t pageTokens);
};

// Device addresses a graph froze besides its own inputs (activation slices, logits, attention
// scratch, KV cache, ...): when any differs from those of the capture, the graphs are stale.
using FrozenBuffers = std::vector<const void*>;

// Process-wide counts, for logs and tests (which check that graphs really ran).
struct DecodeGraphCounters {
    std::uint64_t captures = 0;   // graphs captured and instantiated
    std::uint64_t replays = 0;    // steps run by launching a graph
    std::uint64_t fallbacks = 0;  // captures or launches that failed (the step ran eagerly)
    std::uint64_t dropped = 0;    // graphs dropped because a buffer they point at moved
    std::uint64_t captureDeviceBytes = 0;  // device memory the instantiations took, inputs included
    std::uint64_t captureMicros = 0;       // host time spent capturing, instantiating and uploading
};
DecodeGraphCounters decodeGraphCounters();

// The captured graphs of one backend, keyed by (batch bucket, context bucket).
class DecodeGraphs {
public:
    struct Graph {
        Graph() = default;
        ~Graph();  // destroys the executable graph
        Graph(const Graph&) = delete;
        Graph& operator=(const Graph&) = delete;

        DecodeGraphLayout layout;
        DeviceBuffer inputs;   // layout.bytes at the address the graph reads
        void* exec = nullptr;  // cudaGraphExec_t
        std::uint64_t lastUse = 0;
        std::size_t deviceBytes = 0;  // device memory the instantiation took (approximate)
    };

    DecodeGraphs() = default;
    ~DecodeGraphs();
    DecodeGraphs(const DecodeGraphs&) = delete;
    DecodeGraphs& operator=(const DecodeGraphs&) = delete;

    // The graph for `layout`'s buckets, or nullptr. Drops every graph first when `frozen` differs
    // from the buffers they were captured against.
    Graph* find(const DecodeGraphLayout& layout, const FrozenBuffers& frozen);
    // Captures `record` (which enqueues the step on `stream`, reading its inputs from the graph's
    // buffer) into a new graph. Nothing runs during capture. An error when the capture or the
    // instantiation fails: the caller then runs the step eagerly (the stream is left usable).
    Result<Graph*> capture(const DecodeGraphLayout& layout, const FrozenBuffers& frozen, kernels::StreamHandle stream,
                           const std::function<Status(const Graph&)>& record);
    // Enqueues `graph` on `stream` (its inputs must be uploaded before, on the same stream).
    Status launch(Graph& graph, kernels::StreamHandle stream);

    // After a failure graphs stay off for this backend; `why` is logged once.
    void disable(const std::string& why);
    bool disabled() const { return m_disabled; }
    std::size_t size() const { return m_graphs.size(); }
    std::size_t deviceBytes() const;

    static void countFallback();

private:
    void clear();
    void evictOldest();

    std::vector<std::unique_ptr<Graph>> m_graphs;
    FrozenBuffers m_frozen;
    std::uint64_t m_clock = 0;
    bool m_disabled = false;
};

}  // namespace hearth::cuda
