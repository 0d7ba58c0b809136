// What a load reads and where it goes: the weight files as seen when their headers were read
// (size, mtime, inode, so a file changed under the load is caught) and every tensor with its
// byte range in its file and the dtype it is stored as at its destination.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/dtype.h"
#include "util/result.h"

namespace hearth {

// A file's identity at one moment; a load fails when it differs between open and end of reading.
struct FileIdentity {
    std::uint64_t sizeBytes = 0;
    std::int64_t mtimeNs = 0;
    std::uint64_t inode = 0;

    bool operator==(const FileIdentity&) const = default;
};

struct PlannedFile {
    std::string path;
    std::string name;             // file name without folder, for messages and progress
    FileIdentity identity;        // as stat() saw it when the header was parsed
    std::uint64_t readBegin = 0;  // first tensor byte (the data section's start when tensors are dense)
    std::uint64_t readEnd = 0;    // one past the last tensor byte
};

struct PlannedTensor {
    std::string name;
    DType storedDtype = DType::F32;  // in the file
    DType targetDtype = DType::F32;  // at the destination; differs only for F16 <-> BF16
    std::vector<std::int64_t> shape;
    int fileIndex = 0;
    std::uint64_t fileOffset = 0;    // absolute offset of the first byte in its file
    std::uint64_t nBytes = 0;        // the same at both ends (conversions are between 2-byte types)
};

struct LoadPlan {
    std::vector<PlannedFile> files;      // in read order
    std::vector<PlannedTensor> tensors;  // by file, then by offset
    std::uint64_t totalBytes = 0;        // sum of the files' [readBegin, readEnd)

    std::uint64_t fileBytes(std::size_t file) const { return files[file].readEnd - files[file].readBegin; }
};

// Plans the load of a model folder (or one .safetensors / index file): parses and validates every
// header, stats every file. `halfTarget` (F16 or BF16) converts 16-bit float tensors to it;
// nullopt keeps every tensor as stored. F32 tensors always stay F32.
Result<LoadPlan> makeLoadPlan(const std::string& modelPath, std::optional<DType> halfTarget = std::nullopt);

// stat() of `path` as a FileIdentity; an Io error naming the file otherwise.
Result<FileIdentity> statIdentity(const std::string& path);

}  // namespace hearth
