// A tiny Qwen2 model folder for engine tests that need real files but no golden values: vocab 64,
// hidden 16, 2 layers, 2 query heads / 1 KV head (head_dim 8), q/k/v bias, tied embeddings, F32
// weights from the reference generator's formula. Qt-free.
#pragma once

#include <string>

#include "util/result.h"

namespace hearth::test {

// Writes config.json and model.safetensors into `dir` (created). `drop` leaves that tensor out and
// `reshape` halves its first dimension, for the error paths; empty for a valid model.
Status writeTinyQwen2Model(const std::string& dir, const std::string& drop = {}, const std::string& reshape = {});

}  // namespace hearth::test
