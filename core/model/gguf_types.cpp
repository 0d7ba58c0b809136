// The parts of gguf.h that do not parse: the ggml type table, value accessors and the summary
// queries on a parsed header (architecture, context length, quantization name, sizes).
#include <algorithm>
#include <array>
#include <limits>
#include <map>

#include "model/gguf.h"

namespace hearth {

namespace {

struct GgmlTypeTraits {
    std::uint32_t id;
    std::string_view name;
    std::uint32_t blockElements;  // elements per block (1 for plain types)
    std::uint32_t blockBytes;     // bytes per block
};

// Block geometry as in ggml's type_traits table. Ids 4, 5 (removed Q4_2/Q4_3) and 31-33, 36-38
// (removed or repacked-only types) are deliberately absent: files never carry them.
constexpr std::array<GgmlTypeTraits, 34> kGgmlTypes{{
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},    {40, "NVFP4", 64, 36},
    {41, "Q1_0", 128, 18},
}};

const GgmlTypeTraits* findType(std::uint32_t type)
{
    for (const auto& t : kGgmlTypes)
        if (t.id == type)
            return &t;
    return nullptr;
}

// llama.cpp's LLAMA_FTYPE_* ids, written the way model pages name them ("Q4_K_M").
constexpr std::array<std::pair<std::uint64_t, std::string_view>, 35> kFileTypes{{
    {0, "F32"},       {1, "F16"},       {2, "Q4_0"},       {3, "Q4_1"},      {7, "Q8_0"},
    {8, "Q5_0"},      {9, "Q5_1"},      {10, "Q2_K"},      {11, "Q3_K_S"},   {12, "Q3_K_M"},
    {13, "Q3_K_L"},   {14, "Q4_K_S"},   {15, "Q4_K_M"},    {16, "Q5_K_S"},   {17, "Q5_K_M"},
    {18, "Q6_K"},     {19, "IQ2_XXS"},  {20, "IQ2_XS"},    {21, "Q2_K_S"},   {22, "IQ3_XS"},
    {23, "IQ3_XXS"},  {24, "IQ1_S"},    {25, "IQ4_NL"},    {26, "IQ3_S"},    {27, "IQ3_M"},
    {28, "IQ2_S"},    {29, "IQ2_M"},    {30, "IQ4_XS"},    {31, "IQ1_M"},    {32, "BF16"},
    {36, "TQ1_0"},    {37, "TQ2_0"},    {38, "MXFP4_MOE"}, {39, "NVFP4"},    {40, "Q1_0"},
}};

// llama.cpp ORs this flag into general.file_type when the type was guessed from the tensors.
constexpr std::uint64_t kFileTypeGuessed = 1024;

std::uint64_t saturatingAdd(std::uint64_t a, std::uint64_t b)
{
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max()
                                                              : a + b;
}

}  // namespace

std::optional<std::uint64_t> GgufValue::asUint() const
{
    if (const auto* u = std::get_if<std::uint64_t>(&v))
        return *u;
    if (const auto* i = std::get_if<std::int64_t>(&v); i && *i >= 0)
        return static_cast<std::uint64_t>(*i);
    return std::nullopt;
}

std::optional<std::int64_t> GgufValue::asInt() const
{
    if (const auto* i = std::get_if<std::int64_t>(&v))
        return *i;
    if (const auto* u = std::get_if<std::uint64_t>(&v);
        u && *u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return static_cast<std::int64_t>(*u);
    return std::nullopt;
}

std::optional<double> GgufValue::asFloat() const
{
    if (const auto* d = std::get_if<double>(&v))
        return *d;
    if (const auto* u = std::get_if<std::uint64_t>(&v))
        return static_cast<double>(*u);
    if (const auto* i = std::get_if<std::int64_t>(&v))
        return static_cast<double>(*i);
    return std::nullopt;
}

const std::string* GgufValue::asString() const { return std::get_if<std::string>(&v); }

const GgufArray* GgufValue::asArray() const
{
    const auto* a = std::get_if<std::shared_ptr<GgufArray>>(&v);
    return a ? a->get() : nullptr;
}

std::uint64_t GgufTensorInfo::nElements() const
{
    std::uint64_t n = 1;
    for (std::uint64_t d : dims) {
        if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d)
            return std::numeric_limits<std::uint64_t>::max();
        n *= d;
    }
    return n;
}

const GgufValue* GgufHeader::find(std::string_view key) const
{
    for (const auto& kv : metadata)
        if (kv.key == key)
            return &kv.value;
    return nullptr;
}

std::string GgufHeader::architecture() const
{
    const GgufValue* v = find("general.architecture");
    const std::string* s = v ? v->asString() : nullptr;
    return s ? *s : std::string();
}

std::optional<std::uint64_t> GgufHeader::contextLength() const
{
    const std::string arch = architecture();
    if (arch.empty())
        return std::nullopt;
    const GgufValue* v = find(arch + ".context_length");
    return v ? v->asUint() : std::nullopt;
}

std::uint64_t GgufHeader::parameterCount() const
{
    std::uint64_t n = 0;
    for (const auto& t : tensors)
        n = saturatingAdd(n, t.nElements());
    return n;
}

std::uint64_t GgufHeader::tensorBytes() const
{
    std::uint64_t n = 0;
    for (const auto& t : tensors)
        n = saturatingAdd(n, t.nBytes);
    return n;
}

std::string GgufHeader::quantizationName() const
{
    if (const GgufValue* v = find("general.file_type")) {
        if (const auto ftype = v->asUint()) {
            const std::uint64_t id = *ftype & ~kFileTypeGuessed;
            for (const auto& [fileType, name] : kFileTypes)
                if (fileType == id)
                    return std::string(name);
        }
    }
    // No (known) file type: name the type holding the most bytes, or the most tensors when no
    // tensor has a known size. Ties go to the lower type id so the answer is stable.
    std::map<std::uint32_t, std::pair<std::uint64_t, std::uint64_t>> byType;  // id -> {bytes, count}
    for (const auto& t : tensors) {
        auto& [bytes, count] = byType[t.ggmlType];
        bytes = saturatingAdd(bytes, t.nBytes);
        ++count;
    }
    if (byType.empty())
        return {};
    const auto best = std::max_element(byType.begin(), byType.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
    });
    return ggmlTypeName(best->first);
}

std::string ggmlTypeName(std::uint32_t type)
{
    if (const GgmlTypeTraits* t = findType(type))
        return std::string(t->name);
    return "type " + std::to_string(type);
}

std::optional<std::uint64_t> ggmlTypeBytes(std::uint32_t type, std::uint64_t nElements)
{
    const GgmlTypeTraits* t = findType(type);
    if (!t || nElements % t->blockElements != 0)
        return std::nullopt;
    const std::uint64_t nBlocks = nElements / t->blockElements;
    if (nBlocks > std::numeric_limits<std::uint64_t>::max() / t->blockBytes)
        return std::nullopt;
    return nBlocks * t->blockBytes;
}

std::optional<std::uint32_t> ggmlTypeBlockElements(std::uint32_t type)
{
    const GgmlTypeTraits* t = findType(type);
    return t ? std::optional<std::uint32_t>(t->blockElements) : std::nullopt;
}

}  // namespace hearth
