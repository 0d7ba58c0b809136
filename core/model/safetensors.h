// Memory-mapped safetensors reader: one file, or a sharded model through
// model.safetensors.index.json. Every header is validated before any tensor is handed out:
// header length bounds, JSON shape, dtype, shape x dtype == byte size, offsets inside the
// data section and not overlapping. Failures name the file and the tensor.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/dtype.h"
#include "util/result.h"

namespace hearth {

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;  // outermost first, as written
    std::uint64_t fileOffset = 0;     // absolute offset of the first byte in its file
    std::uint64_t nBytes = 0;
    int fileIndex = 0;                // index into SafetensorsModel::files() (0 for one file)

    std::int64_t nElements() const;
};

// The parsed, validated header of one safetensors file.
struct SafetensorsHeader {
    std::vector<TensorInfo> tensors;              // in data-offset order
    std::map<std::string, std::string> metadata;  // "__metadata__" (string values only, per spec)
    std::uint64_t dataStart = 0;                  // 8 + header length
};

// Parses and validates a header. `bytes` is the start of the file (at least the 8-byte length
// and the header itself); `fileSize` is the whole file's size, used for bounds; `fileName`
// appears in error messages. Never reads outside `bytes`. The fuzz target drives this.
Result<SafetensorsHeader> parseSafetensorsHeader(std::span<const std::uint8_t> bytes, std::uint64_t fileSize,
                                                 std::string_view fileName);

class MappedFile;

// One or several safetensors files seen as one set of named tensors.
class SafetensorsModel {
public:
    SafetensorsModel();
    ~SafetensorsModel();
    SafetensorsModel(SafetensorsModel&&) noexcept;
    SafetensorsModel& operator=(SafetensorsModel&&) noexcept;

    // `path` is a .safetensors file, a model.safetensors.index.json, or a folder holding either
    // (model.safetensors, else model.safetensors.index.json, else the only *.safetensors file).
    static Result<SafetensorsModel> open(const std::string& path);

    const std::vector<TensorInfo>& tensors() const;           // all shards, sorted by name
    const TensorInfo* find(std::string_view name) const;      // nullptr when absent
    std::span<const std::uint8_t> data(const TensorInfo& t) const;  // bytes of the tensor, mapped
    const std::vector<std::string>& files() const;             // file paths; shards sorted by name
    const std::map<std::string, std::string>& metadata() const;  // of the first file
    std::uint64_t totalTensorBytes() const;
    std::uint64_t totalFileBytes() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// Writes tensors to a safetensors file (header padded to 8 bytes, as the Python library does).
// Used by the reference-model generator and by tests to build valid and corrupt inputs.
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::span<const std::uint8_t> bytes;
};
// Serialises the header + data exactly as `gen_reference_models.py` does: JSON with "__metadata__"
// first (keys in std::map order; left out when empty), then tensors in the given order, compact
// separators, Python's \u escapes, padded with spaces to 8 bytes. Sizes are not checked, so tests
// can build corrupt files with it.
std::string serializeSafetensors(const std::vector<TensorToWrite>& tensors,
                                 const std::map<std::string, std::string>& metadata);
// Checks names, shapes and sizes (InvalidArgument), then writes the file atomically.
Status writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace hearth
