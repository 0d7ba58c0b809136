// Scoring a token sequence on a backend: the next-token top-k log-probabilities at every
// position, and an optional greedy continuation. The scriptable form of the Hugging Face golden
// comparison (hearth-cli score) and a simple driver of Backend::forward for one sequence.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend.h"

namespace hearth {

struct TopLogprobs {
    std::vector<std::int32_t> ids;  // best first; ties broken by lower id
    std::vector<double> logprobs;   // log_softmax computed in double
};

// The k most likely ids of one row of logits with their log-probabilities.
TopLogprobs topLogprobs(const float* logits, std::int64_t vocabSize, int k);
// The first index of the largest logit (as torch.argmax).
std::int32_t argmax(const float* logits, std::int64_t vocabSize);

struct ScoreOptions {
    int topK = 10;
    int greedyTokens = 0;       // continuation length appended after the prompt
    bool tokenByToken = false;  // feed the prompt one token per forward (decode path) instead of one prefill
    const LoraAdapter* adapter = nullptr;
    float adapterScale = 1.0f;
};

struct ScoreResult {
    std::vector<TopLogprobs> positions;  // [nPromptTokens]: distribution after each prompt token
    std::vector<std::int32_t> greedy;    // [greedyTokens]
};

// Runs `ids` through `backend` in its own block table (released before returning, also on error).
Result<ScoreResult> scoreSequence(Backend& backend, const std::vector<std::int32_t>& ids, const ScoreOptions& options);

}  // namespace hearth
