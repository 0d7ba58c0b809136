// Tiny model files for library, CLI and loader tests: a Qwen2-shaped safetensors folder and
// small GGUF files, written through the project's own writers. The expected numbers are worked
// out by hand from the shapes below, not computed by the code under test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/result.h"

namespace hearth::test {

// The tiny folder model: hidden 8, 2 layers, 2 heads / 1 KV head, head_dim 4, FFN 16, vocab 32,
// 128 positions, BF16, untied lm_head.
//   embed 32*8 = 256; per layer q 64 + k 32 + v 32 + o 64 + gate 128 + up 128 + down 128
//   + 2 norms 16 + q/k/v bias 16 = 608; final norm 8; lm_head 256  ->  1736 parameters.
inline constexpr std::uint64_t kTinyFolderParams = 1736;
inline constexpr std::uint64_t kTinyFolderWeightBytes = 1736 * 2;
inline constexpr std::int64_t kTinyFolderContext = 128;
// 2 (K and V) * 2 layers * 1 KV head * 4 head_dim * 2 bytes.
inline constexpr std::uint64_t kTinyFolderKvBytesPerToken = 32;

struct TinyFolderOptions {
    std::string architecture = "Qwen2ForCausalLM";
    std::string modelType = "qwen2";
    bool tokenizer = true;  // write a tokenizer.json
    int nShards = 1;        // 2: model-0000N-of-00002.safetensors + index
};

// Writes config.json, the weights and (optionally) tokenizer.json into `dir` (created).
Status writeTinyFolderModel(const std::string& dir, const TinyFolderOptions& options = {});

// The tiny GGUF: token_embd [8, 32] F16 + blk.0.attn_q.weight [8, 8] F16 + output_norm [8] F32
// -> 256 + 64 + 8 = 328 parameters; qwen2 metadata with context 4096, 2 layers, hidden 8,
// 2 heads / 1 KV head, FFN 16, and a 32-token vocabulary.
inline constexpr std::uint64_t kTinyGgufParams = 328;
inline constexpr std::int64_t kTinyGgufContext = 4096;

struct TinyGgufOptions {
    std::string architecture = "qwen2";
    bool tokenizer = true;
    std::uint32_t extraTensors = 0;  // more [8] F32 tensors, to change the parameter count
};
Status writeTinyGguf(const std::string& path, const TinyGgufOptions& options = {});

// A split GGUF set: shard 1 holds the metadata and token_embd, the rest one [8] F32 tensor each.
// Writes only the shards listed in `write` (1-based), so tests can leave one out.
// Parameters of a complete set: 256 + 8 * (nShards - 1).
Status writeSplitGguf(const std::string& dir, const std::string& prefix, int nShards, const std::vector<int>& write);

// Writes `contents` to `path`, creating parent folders.
Status writeTextFile(const std::string& path, const std::string& contents);

}  // namespace hearth::test
