#include "engine/score.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace hearth {

TopLogprobs topLogprobs(const float* logits, std::int64_t vocabSize, int k)
{
    double maxLogit = -INFINITY;
    for (std::int64_t i = 0; i < vocabSize; ++i)
        maxLogit = std::max(maxLogit, static_cast<double>(logits[i]));
    double sum = 0.0;
    for (std::int64_t i = 0; i < vocabSize; ++i)
        sum += std::exp(static_cast<double>(logits[i]) - maxLogit);
    const double logSum = maxLogit + std::log(sum);

    std::vector<std::int32_t> order(static_cast<std::size_t>(vocabSize));
    std::iota(order.begin(), order.end(), 0);
    const auto count = static_cast<std::size_t>(std::clamp<std::int64_t>(k, 0, vocabSize));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count), order.end(),
                      [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    TopLogprobs out;
    for (std::size_t i = 0; i < count; ++i) {
        out.ids.push_back(order[i]);
        out.logprobs.push_back(static_cast<double>(logits[order[i]]) - logSum);
    }
    return out;
}

std::int32_t argmax(const float* logits, std::int64_t vocabSize)
{
    return static_cast<std::int32_t>(std::max_element(logits, logits + vocabSize) - logits);
}

namespace {

// Gives the pages back however the scoring ends.
struct TableGuard {
    KvPagePool& pool;
    BlockTable table;
    ~TableGuard() { pool.release(table); }
};

}  // namespace

Result<ScoreResult> scoreSequence(Backend& backend, const std::vector<std::int32_t>& ids, const ScoreOptions& options)
{
    if (ids.empty())
        return makeError(ErrorCode::InvalidArgument, "score: no token ids");
    if (options.greedyTokens < 0 || options.topK < 0)
        return makeError(ErrorCode::InvalidArgument, "score: negative --top or --greedy");
    const std::int64_t total = static_cast<std::int64_t>(ids.size()) + options.greedyTokens;
    const std::int64_t maxPositions = backend.config().maxPositions;
    if (maxPositions > 0 && total > maxPositions)
        return makeError(ErrorCode::InvalidArgument, "score: " + std::to_string(total) + " tokens exceed the model's context of " +
                                                         std::to_string(maxPositions));
    TableGuard guard{backend.kvPool(), {}};
    HEARTH_TRY_STATUS(backend.kvPool().reserve(guard.table, total));

    const std::int64_t vocab = backend.config().vocabSize;
    ScoreResult result;
    std::vector<float> last;
    const auto run = [&](std::vector<std::int32_t> tokens, std::int32_t firstPos, LogitsRows rows) -> Status {
        SequenceStep seq;
        seq.positions.resize(tokens.size());
        std::iota(seq.positions.begin(), seq.positions.end(), firstPos);
        seq.tokenIds = std::move(tokens);
        seq.blockTable = &guard.table;
        seq.adapter = options.adapter;
        seq.adapterScale = options.adapterScale;
        seq.logits = rows;
        BatchPlan plan;
        plan.sequences.push_back(std::move(seq));
        HEARTH_TRY_ASSIGN(ForwardResult out, backend.forward(plan));
        for (std::int64_t r = 0; r < out.firstRow.back(); ++r)
            result.positions.push_back(topLogprobs(out.logits.data() + r * vocab, vocab, options.topK));
        last.assign(out.logits.end() - vocab, out.logits.end());
        return Status::ok();
    };
    if (options.tokenByToken) {
        for (std::size_t i = 0; i < ids.size(); ++i)
            HEARTH_TRY_STATUS(run({ids[i]}, static_cast<std::int32_t>(i), LogitsRows::All));
    } else {
        HEARTH_TRY_STATUS(run(ids, 0, LogitsRows::All));
    }
    const std::size_t nPositions = result.positions.size();
    for (int g = 0; g < options.greedyTokens; ++g) {
        const std::int32_t next = argmax(last.data(), vocab);
        result.greedy.push_back(next);
        if (g + 1 < options.greedyTokens)
            HEARTH_TRY_STATUS(run({next}, static_cast<std::int32_t>(ids.size()) + g, LogitsRows::Last));
    }
    result.positions.resize(nPositions);  // the continuation's distributions are not part of the answer
    return result;
}

}  // namespace hearth
