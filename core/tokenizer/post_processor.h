// tokenizer.json "post_processor" for single sequences: the special tokens (BOS/EOS, CLS/SEP)
// that add_special_tokens=True wraps around the ids. Pair templates are not needed by Hearth.
#pragma once

#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/tokenizer.h"
#include "util/result.h"

namespace hearth::tok {

class PostProcessor {
public:
    // Wraps `ids` in the special tokens this processor adds.
    void apply(std::vector<TokenId>& ids) const;
    const std::vector<TokenId>& prefix() const { return m_prefix; }
    const std::vector<TokenId>& suffix() const { return m_suffix; }

    // Reads TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel and Sequence.
    static Result<PostProcessor> fromJson(const nlohmann::json& spec, int depth = 0);

private:
    std::vector<TokenId> m_prefix;
    std::vector<TokenId> m_suffix;
};

}  // namespace hearth::tok
