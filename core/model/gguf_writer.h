// GGUF writer: serializes metadata and tensors into a GGUF (version 2 or 3, little-endian) file
// image. Used by tests to build inputs for the reader and, later, by model conversion. The
// writer checks what it is given (value types match their contents, tensor data sizes match
// their ggml type) so it never produces a file the reader would reject.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/gguf.h"
#include "util/result.h"

namespace hearth {

// One tensor to write: dims in ggml order (dims[0] innermost), raw bytes in `data`.
struct GgufTensorToWrite {
    std::string name;
    std::vector<std::uint64_t> dims;
    std::uint32_t ggmlType = 0;
    std::string data;  // exactly ggmlTypeBytes(type, elements) bytes for a known type
};

// Builds a GGUF file image: header, metadata, tensor infos (offsets assigned in order, each
// padded to `alignment`), padding, data. `alignment` other than 32 is written as
// general.alignment unless the metadata already has it. Errors are InvalidArgument.
Result<std::string> serializeGguf(std::uint32_t version, const std::vector<GgufKeyValue>& metadata,
                                  const std::vector<GgufTensorToWrite>& tensors, std::uint64_t alignment = 32);

// Value constructors, so callers need not know which variant alternative a type uses.
GgufValue ggufUint(GgufValueType type, std::uint64_t v);  // Uint8/16/32/64
GgufValue ggufInt(GgufValueType type, std::int64_t v);    // Int8/16/32/64
GgufValue ggufFloat(GgufValueType type, double v);        // Float32/64
GgufValue ggufBool(bool v);
GgufValue ggufString(std::string v);
GgufValue ggufArray(GgufValueType elementType, std::vector<GgufValue> values);
GgufValue ggufStringArray(const std::vector<std::string>& values);

// A small builder over serializeGguf: add keys and tensors in order, then serialize().
class GgufBuilder {
public:
    explicit GgufBuilder(std::uint32_t version = 3) : m_version(version) {}

    GgufBuilder& setAlignment(std::uint64_t alignment);
    GgufBuilder& add(std::string key, GgufValue value);
    GgufBuilder& addString(std::string key, std::string value);
    GgufBuilder& addUint32(std::string key, std::uint32_t value);
    GgufBuilder& addUint64(std::string key, std::uint64_t value);
    GgufBuilder& addInt32(std::string key, std::int32_t value);
    GgufBuilder& addFloat32(std::string key, float value);
    GgufBuilder& addBool(std::string key, bool value);
    GgufBuilder& addTensor(std::string name, std::vector<std::uint64_t> dims, std::uint32_t ggmlType,
                           std::string data);
    // Adds a tensor whose data is `fill` repeated to the size its type and dims need.
    GgufBuilder& addFilledTensor(std::string name, std::vector<std::uint64_t> dims, std::uint32_t ggmlType,
                                 char fill = 0);

    Result<std::string> serialize() const;

private:
    std::uint32_t m_version;
    std::uint64_t m_alignment = 32;
    std::vector<GgufKeyValue> m_metadata;
    std::vector<GgufTensorToWrite> m_tensors;
};

}  // namespace hearth
