// Attention over the paged KV cache: decode (one query token per sequence, split over the
// context for long sequences) and prefill (many query tokens per sequence, causal, tiled with an
// online softmax; on the tensor cores by default, see PrefillAttentionImpl). Both handle GQA
// (nQHeads a multiple of nKvHeads; query head h reads kv head h / (nQHeads / nKvHeads)) and
// head_dim 64, 80, 96 and 128. The new tokens' K/V must already be in the cache (writeKv) before
// either runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "paged_kv.h"

namespace hearth::kernels {

// Most context tokens one decode block handles. A launch whose maxContext fits in one partition
// writes its output directly (no workspace); longer ones are split into partitions of 64, 128 or
// 256 tokens (decodeAttentionPartitionTokens) and the partial results merged by a second pass.
inline constexpr std::int64_t kDecodePartitionTokens = 256;

// Which decode kernel runs. Auto: the tensor-core kernel (paged_attention_decode_tc.cu) for GQA
// groups of 4 or more query heads once the batch holds kDecodeTensorCoreMinTokens context tokens
// (nSeqs * maxContext), where it can run (compute capability 8.0+ in a build for 80+, K/V rows
// and strides on 16-byte boundaries), else the CUDA-core kernels. The environment overrides Auto
// (read once per process): HEARTH_DECODE_ATTN=simt always the CUDA-core kernels, =tc the tensor
// cores wherever they can run, so both can be timed on the same shapes without a rebuild.
// TensorCore refuses what it cannot take; Simt is the CUDA-core kernels.
enum class DecodeAttentionImpl { Auto, TensorCore, Simt };
inline constexpr std::int64_t kDecodeTensorCoreMinTokens = 2048;

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
    DecodeAttentionImpl impl = DecodeAttentionImpl::Auto;
};

// Once per device before decode steps are captured into graphs: sets the decode kernels' launch
// attributes (the tensor-core kernel's shared-memory limit), which a launch would otherwise set
// the first time it runs, possibly inside a capture.
KernelStatus prepareDecodeAttention();

// Context tokens per decode partition for a launch of nSeqs sequences and this maxContext:
// kDecodePartitionTokens when maxContext fits in one, else the largest of 256, 128 and 64 that
// gives at least 64 partitions over the batch (short contexts at batch 1 then fill more SMs).
std::int64_t decodeAttentionPartitionTokens(std::int64_t nSeqs, std::int64_t maxContext);
// Scratch the split pass needs (0 when maxContext fits one partition), whichever kernel runs.
std::size_t decodeAttentionWorkspaceBytes(std::int64_t nSeqs, std::int64_t nQHeads, std::int64_t headDim,
                                          std::int64_t maxContext);
// out[s, h] = softmax(q[s, h] . K[0..ctx_s) * scale) V[0..ctx_s), fp32 math (on the tensor cores
// fp32 accumulation and softmax, P rounded to the cache type before P V); a sequence with
// contextLens 0 gets zeros.
KernelStatus pagedAttentionDecode(const DecodeAttentionArgs& args, StreamHandle stream);

// Which prefill kernel runs. Auto: the tensor-core mma.sync kernel where it can run (a device of
// compute capability 8.0 or newer in a build for architectures 80+, q and cache addresses and
// strides on 16-byte boundaries), the fp32 one otherwise. The environment can override Auto
// (HEARTH_PREFILL_ATTN, read once per process), so a regression can be bisected and old and new
// timed without a rebuild: `wmma` picks the WMMA kernel where the tensor-core one could run,
// `fp32` the fp32 kernel everywhere.
// TensorCore is the flash-attention 2 kernel on mma.sync (the default), Wmma the earlier
// tensor-core kernel (S staged in shared memory), Fp32 the original CUDA-core kernel; the explicit
// values refuse what they cannot take and are there for the tests and benchmarks.
enum class PrefillAttentionImpl { Auto, TensorCore, Fp32, Wmma };

struct PrefillAttentionArgs {
    const void* q = nullptr;                 // [nTokens, qStride]: the query tokens of all sequences, in order;
                                             // 4-byte aligned
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
    PrefillAttentionImpl impl = PrefillAttentionImpl::Auto;
};

// Causal attention: query at position p attends to cached positions [0, p]. Tensor cores take
// fp16/bf16 Q K^T and P V with fp32 accumulation and fp32 softmax statistics (P is rounded to the
// cache type before P V); the fp32 kernel does all of it in fp32.
KernelStatus pagedAttentionPrefill(const PrefillAttentionArgs& args, StreamHandle stream);

}  // namespace hearth::kernels
