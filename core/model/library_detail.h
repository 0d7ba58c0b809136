// Internals shared by the library's files (reading one model, scanning, the index); not part
// of the model room's interface.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/model_library.h"

namespace hearth::library_detail {

inline constexpr std::int64_t kDefaultEstimateContext = 8192;

bool endsWith(std::string_view s, std::string_view suffix);
bool isRegularFile(const std::filesystem::path& p);
bool isDirectory(const std::filesystem::path& p);
// Size and mtime of a regular file (symlinks followed); nullopt for anything else.
std::optional<FileStamp> stampOf(const std::string& path);
// Every regular file directly in `dir`, sorted: the signature of a model folder.
std::vector<FileStamp> stampFolder(const std::string& dir);
// The existing files of the GGUF model whose first file is `firstPath`.
std::vector<FileStamp> stampGguf(const std::string& firstPath);

// A split GGUF shard name: "<prefix>-00001-of-00003.gguf".
struct GgufSplit {
    std::string prefix;
    int index = 0;
    int count = 0;
};
std::optional<GgufSplit> parseGgufSplit(const std::string& fileName);
std::string shardName(const GgufSplit& s, int index);

// config.json next to safetensors files (or their index).
bool isModelFolder(const std::filesystem::path& dir);
// Parse one model; problems become ok == false with the reason.
ModelEntry readFolderEntry(const std::string& dir);
ModelEntry readGgufEntry(const std::string& firstPath);

}  // namespace hearth::library_detail
