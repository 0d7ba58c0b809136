// JSON parsing for file formats where a repeated key would be silently ambiguous (safetensors
// headers, sharded-model indexes): nlohmann keeps the last duplicate, so a file could show one
// tensor to us and another to a different reader. Private to hearth_core (nlohmann in the API).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace hearth {

// Parses `text` as one JSON document (trailing whitespace allowed). Fails with ErrorCode::Corrupt
// on a syntax error or on any object holding the same key twice; the message has no file prefix
// ("not valid JSON: ..." / "duplicate key 'dtype' inside 'x'"), so the caller can say which file it was.
Result<nlohmann::json> parseJsonRejectingDuplicates(std::string_view text);

}  // namespace hearth
