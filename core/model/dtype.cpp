#include "model/dtype.h"

#include <array>
#include <utility>

namespace hearth {

namespace {
constexpr std::array<std::pair<DType, std::string_view>, 15> kNames{{
    {DType::F64, "F64"}, {DType::F32, "F32"}, {DType::F16, "F16"}, {DType::BF16, "BF16"},
    {DType::F8_E4M3, "F8_E4M3"}, {DType::F8_E5M2, "F8_E5M2"}, {DType::I64, "I64"},
    {DType::I32, "I32"}, {DType::I16, "I16"}, {DType::I8, "I8"}, {DType::U64, "U64"},
    {DType::U32, "U32"}, {DType::U16, "U16"}, {DType::U8, "U8"}, {DType::Bool, "BOOL"},
}};
}  // namespace

std::size_t dtypeSize(DType t)
{
    switch (t) {
    case DType::F64: case DType::I64: case DType::U64: return 8;
    case DType::F32: case DType::I32: case DType::U32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: case DType::U16: return 2;
    case DType::F8_E4M3: case DType::F8_E5M2: case DType::I8: case DType::U8: case DType::Bool: return 1;
    }
    return 1;
}

std::string_view dtypeName(DType t)
{
    for (const auto& [d, n] : kNames)
        if (d == t)
            return n;
    return "?";
}

std::optional<DType> parseDType(std::string_view name)
{
    for (const auto& [d, n] : kNames)
        if (n == name)
            return d;
    return std::nullopt;
}

std::string shapeText(const std::vector<std::int64_t>& shape)
{
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

}  // namespace hearth
