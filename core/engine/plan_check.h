// The checks every backend makes on a BatchPlan before touching anything, with the CPU
// backend's messages, so a malformed plan fails the same way on every backend.
#pragma once

#include "engine/backend.h"
#include "engine/model_weights.h"

namespace hearth {

// InvalidArgument naming the sequence and what is wrong: no tokens, positions that do not match
// the tokens or do not increase, a token outside the vocabulary, a block table shared by two
// sequences, too short for the positions or naming pages outside `pool`, an adapter that does not
// fit `weights`.
Status checkBatchPlan(const BatchPlan& plan, const ModelWeights& weights, const KvPagePool& pool);

}  // namespace hearth
