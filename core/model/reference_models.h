// The synthetic reference models: two tiny Qwen2-architecture models and one PEFT LoRA adapter
// whose weights follow a closed formula (splitmix64-style hash -> uniform -> bf16), so every
// implementation produces the same bytes and Hugging Face outputs computed on them
// (tests/fixtures/reference-models/golden.json) are an oracle for every backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/result.h"

namespace hearth {

// The folders writeReferenceModels() creates under its output folder.
inline constexpr const char* kReferenceModelD64 = "ref-qwen2-d64";
inline constexpr const char* kReferenceModelD128 = "ref-qwen2-d128";
inline constexpr const char* kReferenceLoraD64 = "ref-qwen2-d64-lora";

// The generator's uniform stream: values k = 1..n of seed `seed`, in [-1, 1), as float32.
std::vector<float> referenceUniform(std::uint64_t seed, std::size_t n);

// Writes ref-qwen2-d64, ref-qwen2-d128 (config.json, model.safetensors, tokenizer files copied
// from `tokenizerDir`) and ref-qwen2-d64-lora (adapter_config.json, adapter_model.safetensors)
// under `outDir`, creating folders as needed and replacing files already there.
Status writeReferenceModels(const std::string& outDir, const std::string& tokenizerDir);

}  // namespace hearth
