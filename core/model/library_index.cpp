// The persisted library index: cacheDir()/library.json. A cache, not a source of truth: any
// entry that does not parse is dropped and the model is read again.
//
// {"version": 1, "entries": [{"path", "display_name", "root", "source", "format", "architecture",
//   "parameter_count", "dtype", "size_on_disk_bytes", "weight_bytes", "tensor_count",
//   "context_length", "has_tokenizer", "ok", "error",
//   "shape": {"hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab"},
//   "files": [{"path", "size", "mtime_ns"}]}]}
#include <nlohmann/json.hpp>

#include <filesystem>

#include "model/model_library.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace hearth {

namespace {

constexpr int kIndexVersion = 1;

template <typename T>
bool getField(const nlohmann::json& j, const char* key, T& out)
{
    const auto it = j.find(key);
    if (it == j.end())
        return false;
    if constexpr (std::is_same_v<T, bool>) {
        if (!it->is_boolean())
            return false;
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (!it->is_string())
            return false;
    } else if constexpr (std::is_unsigned_v<T>) {
        if (!it->is_number_unsigned())
            return false;
    } else {
        if (!it->is_number_integer())
            return false;
    }
    out = it->get<T>();
    return true;
}

std::optional<ModelSourceKind> parseSourceKind(const std::string& s)
{
    for (auto k : {ModelSourceKind::Folder, ModelSourceKind::HfCache, ModelSourceKind::GgufFile})
        if (s == modelSourceKindName(k))
            return k;
    return std::nullopt;
}

std::optional<ModelEntry> entryFromJson(const nlohmann::json& j)
{
    if (!j.is_object())
        return std::nullopt;
    ModelEntry e;
    std::string source;
    const bool fields = getField(j, "path", e.path) && getField(j, "display_name", e.displayName) &&
                        getField(j, "root", e.root) && getField(j, "source", source) &&
                        getField(j, "format", e.format) && getField(j, "architecture", e.architecture) &&
                        getField(j, "parameter_count", e.parameterCount) && getField(j, "dtype", e.dtype) &&
                        getField(j, "size_on_disk_bytes", e.sizeOnDiskBytes) &&
                        getField(j, "weight_bytes", e.weightBytes) && getField(j, "tensor_count", e.tensorCount) &&
                        getField(j, "context_length", e.contextLength) &&
                        getField(j, "has_tokenizer", e.hasTokenizer) && getField(j, "ok", e.ok) &&
                        getField(j, "error", e.error);
    const auto kind = parseSourceKind(source);
    if (!fields || !kind)
        return std::nullopt;
    e.sourceKind = *kind;

    const auto shape = j.find("shape");
    if (shape == j.end() || !shape->is_object())
        return std::nullopt;
    if (!(getField(*shape, "hidden", e.shape.hiddenSize) && getField(*shape, "layers", e.shape.nLayers) &&
          getField(*shape, "heads", e.shape.nHeads) && getField(*shape, "kv_heads", e.shape.nKvHeads) &&
          getField(*shape, "head_dim", e.shape.headDim) &&
          getField(*shape, "intermediate", e.shape.intermediateSize) && getField(*shape, "vocab", e.shape.vocabSize)))
        return std::nullopt;

    const auto files = j.find("files");
    if (files == j.end() || !files->is_array())
        return std::nullopt;
    for (const auto& f : *files) {
        FileStamp s;
        if (!f.is_object() || !getField(f, "path", s.path) || !getField(f, "size", s.sizeBytes) ||
            !getField(f, "mtime_ns", s.mtimeNs))
            return std::nullopt;
        e.files.push_back(std::move(s));
    }
    return e;
}

nlohmann::json entryToJson(const ModelEntry& e)
{
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : e.files)
        files.push_back({{"path", f.path}, {"size", f.sizeBytes}, {"mtime_ns", f.mtimeNs}});
    return {{"path", e.path},
            {"display_name", e.displayName},
            {"root", e.root},
            {"source", modelSourceKindName(e.sourceKind)},
            {"format", e.format},
            {"architecture", e.architecture},
            {"parameter_count", e.parameterCount},
            {"dtype", e.dtype},
            {"size_on_disk_bytes", e.sizeOnDiskBytes},
            {"weight_bytes", e.weightBytes},
            {"tensor_count", e.tensorCount},
            {"context_length", e.contextLength},
            {"has_tokenizer", e.hasTokenizer},
            {"ok", e.ok},
            {"error", e.error},
            {"shape", {{"hidden", e.shape.hiddenSize}, {"layers", e.shape.nLayers}, {"heads", e.shape.nHeads},
                       {"kv_heads", e.shape.nKvHeads}, {"head_dim", e.shape.headDim},
                       {"intermediate", e.shape.intermediateSize}, {"vocab", e.shape.vocabSize}}},
            {"files", files}};
}

}  // namespace

Result<std::vector<ModelEntry>> loadLibraryIndex(const std::string& indexPath)
{
    std::error_code ec;
    if (!std::filesystem::exists(indexPath, ec))
        return std::vector<ModelEntry>{};
    auto text = readTextFile(indexPath);
    if (!text)
        return text.error();
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return makeError(ErrorCode::Corrupt, indexPath + ": not a JSON object");
    const auto version = j.find("version");
    if (version == j.end() || !version->is_number_integer() || version->get<int>() != kIndexVersion)
        return makeError(ErrorCode::Corrupt, indexPath + ": unknown index version");
    const auto entries = j.find("entries");
    if (entries == j.end() || !entries->is_array())
        return makeError(ErrorCode::Corrupt, indexPath + ": no \"entries\" array");
    std::vector<ModelEntry> out;
    for (const auto& item : *entries)
        if (auto e = entryFromJson(item))
            out.push_back(std::move(*e));
    return out;
}

Status saveLibraryIndex(const std::string& indexPath, const std::vector<ModelEntry>& entries)
{
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : entries)
        list.push_back(entryToJson(e));
    const nlohmann::json j = {{"version", kIndexVersion}, {"entries", list}};
    const auto parent = std::filesystem::path(indexPath).parent_path();
    if (!parent.empty())
        HEARTH_TRY_STATUS(makeDirs(parent.string()));
    // Paths are bytes on Linux; replace invalid UTF-8 rather than throw.
    return writeFileAtomically(indexPath, j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

}  // namespace hearth
