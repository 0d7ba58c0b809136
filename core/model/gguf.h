// GGUF (version 2 and 3) header reader: metadata key/values of every type, and tensor infos.
// Enough to list a GGUF model's architecture, size, quantization and context length; loading
// tensors for inference comes with the quantization work. All counts, lengths and offsets are
// bounds-checked against the file size; a malformed file gives an error naming the file and
// the key or tensor, never a crash or a huge allocation.
// A tensor of a ggml type this reader does not know (a newer quantization) is still listed,
// with nBytes 0: its offset is checked for alignment and bounds, but its size and overlap are not.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "util/result.h"

namespace hearth {

enum class GgufValueType : std::uint32_t {
    Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12,
};

struct GgufValue;
struct GgufArray {
    GgufValueType elementType = GgufValueType::Uint8;
    std::vector<GgufValue> values;
};

struct GgufValue {
    GgufValueType type = GgufValueType::Uint8;
    std::variant<std::uint64_t, std::int64_t, double, bool, std::string, std::shared_ptr<GgufArray>> v;

    std::optional<std::uint64_t> asUint() const;  // any non-negative integer type
    std::optional<std::int64_t> asInt() const;    // any integer type that fits
    std::optional<double> asFloat() const;        // floats and integers
    const std::string* asString() const;
    const GgufArray* asArray() const;
};

struct GgufKeyValue {
    std::string key;
    GgufValue value;
};

struct GgufTensorInfo {
    std::string name;
    std::vector<std::uint64_t> dims;  // ggml order: dims[0] is the contiguous (innermost) one
    std::uint32_t ggmlType = 0;       // ggml_type id (0 F32, 1 F16, 8 Q8_0, 12 Q4_K, 30 BF16, ...)
    std::uint64_t fileOffset = 0;     // absolute offset of the tensor's data in the file
    std::uint64_t nBytes = 0;

    std::uint64_t nElements() const;
};

struct GgufHeader {
    std::uint32_t version = 0;
    std::vector<GgufKeyValue> metadata;   // in file order
    std::vector<GgufTensorInfo> tensors;  // in file order
    std::uint64_t alignment = 32;
    std::uint64_t dataStart = 0;

    const GgufValue* find(std::string_view key) const;
    std::string architecture() const;                  // general.architecture, "" if absent
    std::optional<std::uint64_t> contextLength() const;  // {arch}.context_length
    std::uint64_t parameterCount() const;              // sum of tensor elements
    std::uint64_t tensorBytes() const;
    std::string quantizationName() const;  // from general.file_type, else the most common tensor type
};

// Name of a ggml tensor type ("F16", "Q4_K", ...), "type N" for unknown ids.
std::string ggmlTypeName(std::uint32_t type);
// Bytes of `nElements` elements of a ggml type; nullopt for unknown types or partial blocks.
std::optional<std::uint64_t> ggmlTypeBytes(std::uint32_t type, std::uint64_t nElements);
// Elements per block of a ggml type (1 for F32/F16/..., 32 for Q8_0, 256 for K-quants); nullopt if unknown.
std::optional<std::uint32_t> ggmlTypeBlockElements(std::uint32_t type);

// Parses a GGUF header from the first bytes of a file. `fileSize` bounds the tensor data
// checks; `fileName` appears in errors. The fuzz target drives this.
Result<GgufHeader> parseGgufHeader(std::span<const std::uint8_t> bytes, std::uint64_t fileSize,
                                   std::string_view fileName);
// Maps and parses `path`.
Result<GgufHeader> readGgufHeader(const std::string& path);

}  // namespace hearth
