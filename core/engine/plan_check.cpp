#include "engine/plan_check.h"

#include <set>
#include <string>

#include "engine/lora.h"

namespace hearth {

Status checkBatchPlan(const BatchPlan& plan, const ModelWeights& weights, const KvPagePool& pool)
{
    const ModelConfig& c = weights.config();
    const std::int64_t pageTokens = pool.layout().pageTokens;
    std::set<const BlockTable*> tables;
    for (std::size_t s = 0; s < plan.sequences.size(); ++s) {
        const SequenceStep& seq = plan.sequences[s];
        const std::string where = "forward: sequence " + std::to_string(s) + ": ";
        if (seq.tokenIds.empty())
            return makeError(ErrorCode::InvalidArgument, where + "no tokens");
        if (seq.positions.size() != seq.tokenIds.size())
            return makeError(ErrorCode::InvalidArgument, where + std::to_string(seq.tokenIds.size()) + " tokens but " +
                                                             std::to_string(seq.positions.size()) + " positions");
        if (!seq.blockTable)
            return makeError(ErrorCode::InvalidArgument, where + "no block table");
        if (!tables.insert(seq.blockTable).second)
            return makeError(ErrorCode::InvalidArgument, where + "its block table is used by another sequence of the step");
        for (std::size_t i = 0; i < seq.tokenIds.size(); ++i) {
            if (seq.tokenIds[i] < 0 || seq.tokenIds[i] >= c.vocabSize)
                return makeError(ErrorCode::InvalidArgument, where + "token id " + std::to_string(seq.tokenIds[i]) +
                                                                 " is outside the vocabulary (" +
                                                                 std::to_string(c.vocabSize) + ")");
            if (seq.positions[i] < 0 || (i > 0 && seq.positions[i] <= seq.positions[i - 1]))
                return makeError(ErrorCode::InvalidArgument, where + "positions must be non-negative and increasing");
        }
        const std::int64_t need = seq.positions.back() + 1;
        const std::int64_t have = seq.blockTable->capacityTokens(pageTokens);
        if (have < need)
            return makeError(ErrorCode::InvalidArgument, where + "the block table covers " + std::to_string(have) +
                                                             " tokens, position " + std::to_string(need - 1) + " needs more");
        for (std::int32_t page : seq.blockTable->pages())
            if (page < 0 || page >= pool.nPages())
                return makeError(ErrorCode::InvalidArgument, where + "block table names page " + std::to_string(page) +
                                                                 " outside the pool");
        if (seq.adapter) {
            for (std::size_t l = 0; l < weights.layers().size(); ++l)
                for (int k = 0; k < kLinearKindCount; ++k) {
                    const auto kind = static_cast<LinearKind>(k);
                    const LoraPair* pair = seq.adapter->find(l, kind);
                    const WeightTensor& w = weights.layers()[l].proj(kind);
                    if (pair && (pair->a.cols != w.cols || pair->b.rows != w.rows))
                        return makeError(ErrorCode::InvalidArgument, where + "adapter " + seq.adapter->path() +
                                                                         " does not fit this model's " +
                                                                         linearModuleName(kind));
                }
        }
    }
    return Status::ok();
}

}  // namespace hearth
