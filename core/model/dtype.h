// Element types of tensors in safetensors files, and their sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

enum class DType { F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, Bool };

// Bytes per element.
std::size_t dtypeSize(DType t);
// The safetensors spelling: "F32", "BF16", "F8_E4M3", ...
std::string_view dtypeName(DType t);
// Parses the safetensors spelling; nullopt for anything else.
std::optional<DType> parseDType(std::string_view name);
// A tensor shape for messages: "[151936,896]".
std::string shapeText(const std::vector<std::int64_t>& shape);

}  // namespace hearth
