// tokenizer.json "normalizer": rewrites text before pre-tokenization. Hearth needs no offsets, so
// a normalizer is a plain string-to-string step.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "util/result.h"

namespace hearth::tok {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    // Rewrites `text` (valid UTF-8) in place.
    virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer a tokenizer.json "normalizer" object describes (null gives nullptr).
Result<std::unique_ptr<Normalizer>> parseNormalizer(const nlohmann::json& spec);

}  // namespace hearth::tok
