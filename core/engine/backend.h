// The one interface that differs between the CPU and CUDA engines. A backend owns the device
// side of a loaded model: its weights as the device wants them and the KV cache pages. The
// engine above it (scheduler, sampler) plans each step as a BatchPlan; the backend runs it.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kv_cache.h"
#include "model/model_config.h"
#include "util/result.h"

namespace hearth {

class LoraAdapter;

enum class LogitsRows {
    None,  // a prefill chunk that is not the prompt's last: only fill the KV cache
    Last,  // the usual: the next-token distribution after this step's last token
    All,   // every token of the step (scoring, perplexity)
};

// One sequence's share of a step: a prefill chunk (many tokens) or a decode token (one).
struct SequenceStep {
    std::vector<std::int32_t> tokenIds;   // [nTokens]
    std::vector<std::int32_t> positions;  // [nTokens] increasing; KV of all earlier positions is in the cache
    const BlockTable* blockTable = nullptr;  // must cover max(positions) + 1 tokens
    const LoraAdapter* adapter = nullptr;    // applied unmerged to this sequence only; nullptr for none
    float adapterScale = 1.0f;               // multiplies the adapter's own alpha/r scaling
    LogitsRows logits = LogitsRows::Last;
    // With LogitsRows::Last: the caller needs only the greedy token of that row, so the backend
    // picks it (on the device, where it has one) and returns its id instead of the row: see
    // ForwardResult::argmax. Ignored with None and All.
    bool argmaxOnly = false;
};

// Whether the backend returns `seq`'s last row as an argmax id rather than as logits.
inline bool wantsArgmax(const SequenceStep& seq) { return seq.argmaxOnly && seq.logits == LogitsRows::Last; }

// A forward step over several sequences; a sequence appears at most once.
struct BatchPlan {
    std::vector<SequenceStep> sequences;
};

// A sequence with wantsArgmax() owns no logits rows; its token is argmax[s] instead: the lowest
// id among the largest logits of its last row, NaN counting as -inf and +inf as the largest
// float (Sampler's greedy rule), with argmaxLogprob[s] its raw log-probability (log_softmax of
// that row), as Sampler::sample reports it (bit-identical on the CPU backend, float rounding
// apart on CUDA).
struct ForwardResult {
    std::int64_t vocabSize = 0;
    std::vector<float> logits;           // [nRows, vocabSize]
    std::vector<std::int64_t> firstRow;  // [nSequences + 1]: sequence s owns rows firstRow[s] .. firstRow[s+1]-1
    std::vector<std::int32_t> argmax;    // [nSequences]: the picked id, -1 where not asked
    std::vector<float> argmaxLogprob;    // [nSequences]: its raw log-probability, 0 where not asked
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual const char* name() const = 0;
    virtual const ModelConfig& config() const = 0;
    // The page pool whose block tables BatchPlans refer to.
    virtual KvPagePool& kvPool() = 0;
    // Runs one step: writes K/V of every token into its sequence's pages, then returns the logits
    // the plan asks for. A malformed plan (token outside the vocabulary, positions beyond the
    // block table, ...) is an InvalidArgument error and changes nothing the caller can observe.
    virtual Result<ForwardResult> forward(const BatchPlan& plan) = 0;

    // Hands a finished step's result back so that the next forward() reuses its logits storage:
    // a fresh vector per step costs the zeroing and the page faults of up to tens of MB (64
    // sequences x 152k vocabulary x 4 bytes). Optional; call it on the thread that calls forward().
    void recycle(ForwardResult&& used) { m_spareLogits = std::move(used.logits); }

protected:
    // The storage recycle() kept, emptied (size 0, capacity kept); an empty vector if none.
    std::vector<float> takeSpareLogits()
    {
        std::vector<float> v = std::move(m_spareLogits);
        m_spareLogits = {};
        v.clear();
        return v;
    }

private:
    std::vector<float> m_spareLogits;
};

}  // namespace hearth
