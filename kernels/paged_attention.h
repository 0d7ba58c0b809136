// Attention over the paged KV cache: decode (one query token per sequence, split over the
// context for long sequences) and prefill (many query tokens per sequence, causal, tiled with an
// online softmax). Both handle GQA (nQHeads a multiple of nKvHeads; query head h reads kv head
// h / (nQHeads / nKvHeads)) and head_dim 64, 80, 96 and 128. The new tokens' K/V must already be
// in the cache (writeKv) before either runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "paged_kv.h"

namespace hearth::kernels {

// Context tokens one decode block handles; sequences longer than this are split and the
// partial results merged by a second pass.
inline constexpr std::int64_t kDecodePartitionTokens = 256;

struct DecodeAttentionArgs {
    const void* q = nullptr;                 // [nSeqs, qStride]: nQHeads * headDim from column 0, rotated
    void* out = nullptr;                     // [nSeqs, outStride]: nQHeads * headDim
    std::int64_t qStride = 0;                // 0 means nQHeads * headDim
    std::int64_t outStride = 0;
    const std::int32_t* blockTables = nullptr;  // [nSeqs, maxPagesPerSeq] page numbers
    std::int64_t maxPagesPerSeq = 0;
    const std::int32_t* contextLens = nullptr;  // [nSeqs] tokens in the cache, the current one included
    std::int64_t nSeqs = 0;
    std::int64_t nQHeads = 0;
    std::int64_t maxContext = 0;             // >= every contextLens; fixes the grid (graph-stable)
    float scale = 1.0f;                      // usually 1/sqrt(headDim)
    PagedKv cache;
    void* workspace = nullptr;               // decodeAttentionWorkspaceBytes(...) bytes of device memory
    std::size_t workspaceBytes = 0;
};

// Scratch the split pass needs (0 when maxContext fits one partition).
std::size_t decodeAttentionWorkspaceBytes(std::int64_t nSeqs, std::int64_t nQHeads, std::int64_t headDim,
                                          std::int64_t maxContext);
// out[s, h] = softmax(q[s, h] . K[0..ctx_s) * scale) V[0..ctx_s), fp32 math; a sequence with
// contextLens 0 gets zeros.
KernelStatus pagedAttentionDecode(const DecodeAttentionArgs& args, StreamHandle stream);

struct PrefillAttentionArgs {
    const void* q = nullptr;                 // [nTokens, qStride]: the query tokens of all sequences, in order
    void* out = nullptr;                     // [nTokens, outStride]
    std::int64_t qStride = 0;                // 0 means nQHeads * headDim
    std::int64_t outStride = 0;
    const std::int32_t* queryStart = nullptr;   // [nSeqs + 1]: sequence s owns rows [queryStart[s], queryStart[s+1])
    const std::int32_t* contextLens = nullptr;  // [nSeqs]: cached tokens including s's queries; query i
                                                // of s sits at position contextLens[s] - nQuery_s + i
    const std::int32_t* blockTables = nullptr;  // [nSeqs, maxPagesPerSeq]
    std::int64_t maxPagesPerSeq = 0;
    std::int64_t nSeqs = 0;
    std::int64_t nQHeads = 0;
    std::int64_t maxQueryLen = 0;            // >= every nQuery_s; fixes the grid
    float scale = 1.0f;
    PagedKv cache;
};

// Causal attention: query at position p attends to cached positions [0, p]. fp32 math.
KernelStatus pagedAttentionPrefill(const PrefillAttentionArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
