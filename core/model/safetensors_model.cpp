// SafetensorsModel: finds the files of a model (one file, a sharded index, or a folder), maps
// them, validates every header and presents the union of their tensors.
#include <algorithm>
#include <filesystem>
#include <set>

#include "model/safetensors.h"
#include "model/strict_json.h"
#include "util/mapped_file.h"

namespace hearth {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kSingleFileName = "model.safetensors";
constexpr std::string_view kIndexFileName = "model.safetensors.index.json";

bool endsWith(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool isRegularFile(const fs::path& p)
{
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// Shard names come from a file someone else wrote: they must not reach outside the folder.
bool isPlainFileName(std::string_view name)
{
    return !name.empty() && name.find('/') == std::string_view::npos && name.find('\\') == std::string_view::npos &&
           name.find("..") == std::string_view::npos && name.find('\0') == std::string_view::npos && name != ".";
}

}  // namespace

struct SafetensorsModel::Impl {
    std::vector<MappedFile> maps;  // parallel to files
    std::vector<std::string> files;
    std::vector<TensorInfo> tensors;  // sorted by name
    std::map<std::string, std::string> metadata;
    std::uint64_t totalTensorBytes = 0;
    std::uint64_t totalFileBytes = 0;

    // Maps one file and appends its validated tensors (with fileIndex set).
    Status addFile(const std::string& path)
    {
        HEARTH_TRY_ASSIGN(MappedFile map, MappedFile::open(path));
        HEARTH_TRY_ASSIGN(SafetensorsHeader header, parseSafetensorsHeader(map.bytes(), map.size(), path));
        const int index = static_cast<int>(files.size());
        if (index == 0)
            metadata = std::move(header.metadata);
        for (TensorInfo& t : header.tensors) {
            t.fileIndex = index;
            totalTensorBytes += t.nBytes;
            tensors.push_back(std::move(t));
        }
        totalFileBytes += map.size();
        files.push_back(path);
        maps.push_back(std::move(map));
        return Status::ok();
    }

    // Sorts by name; the same name in two shards would make find() ambiguous.
    Status sortAndCheckUnique(const std::string& source)
    {
        std::sort(tensors.begin(), tensors.end(),
                  [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
        for (std::size_t i = 1; i < tensors.size(); ++i)
            if (tensors[i].name == tensors[i - 1].name)
                return makeError(ErrorCode::Corrupt,
                                 source + ": tensor '" + tensors[i].name + "' is in both " +
                                     files[static_cast<std::size_t>(tensors[i - 1].fileIndex)] + " and " +
                                     files[static_cast<std::size_t>(tensors[i].fileIndex)]);
        return Status::ok();
    }

    Status openIndex(const std::string& indexPath);
};

Status SafetensorsModel::Impl::openIndex(const std::string& indexPath)
{
    const auto corrupt = [&](const std::string& what) { return makeError(ErrorCode::Corrupt, indexPath + ": " + what); };
    HEARTH_TRY_ASSIGN(const std::string text, readTextFile(indexPath));
    auto parsed = parseJsonRejectingDuplicates(text);
    if (!parsed)
        return corrupt(parsed.error().message);
    const nlohmann::json& doc = *parsed;
    if (!doc.is_object())
        return corrupt(std::string("the index is a JSON ") + doc.type_name() + ", expected an object");
    const auto mapIt = doc.find("weight_map");
    if (mapIt == doc.end() || !mapIt->is_object())
        return corrupt("missing \"weight_map\" object");
    if (mapIt->empty())
        return corrupt("\"weight_map\" is empty");

    // Shards are opened in sorted name order (model-00001-of-00003, ...), so files() is stable.
    std::map<std::string, std::string> shardByTensor;
    std::map<std::string, std::string> firstTensorByShard;
    for (const auto& [tensor, shard] : mapIt->items()) {
        if (!shard.is_string())
            return corrupt("tensor '" + tensor + "': shard is " + shard.dump() + ", expected a file name");
        const std::string& name = shard.get_ref<const std::string&>();
        if (!isPlainFileName(name))
            return corrupt("tensor '" + tensor + "': shard '" + name +
                           "' is not a plain file name in the index's folder");
        shardByTensor.emplace(tensor, name);
        firstTensorByShard.emplace(name, tensor);
    }
    const fs::path folder = fs::path(indexPath).parent_path();
    std::map<std::string, int> fileIndexByShard;
    for (const auto& [shard, tensor] : firstTensorByShard) {
        const std::string shardPath = (folder / shard).string();
        if (!isRegularFile(shardPath))
            return makeError(ErrorCode::NotFound, indexPath + ": shard '" + shard + "' (holding tensor '" + tensor +
                                                      "') is missing: no file " + shardPath);
        fileIndexByShard.emplace(shard, static_cast<int>(files.size()));
        HEARTH_TRY_STATUS(addFile(shardPath));
    }
    HEARTH_TRY_STATUS(sortAndCheckUnique(indexPath));

    for (const auto& [tensor, shard] : shardByTensor) {
        const auto it = std::lower_bound(tensors.begin(), tensors.end(), tensor,
                                         [](const TensorInfo& t, const std::string& n) { return t.name < n; });
        if (it == tensors.end() || it->name != tensor || it->fileIndex != fileIndexByShard.at(shard))
            return corrupt("tensor '" + tensor + "' is mapped to shard '" + shard + "', which does not contain it");
    }
    return Status::ok();
}

SafetensorsModel::SafetensorsModel() : m_impl(std::make_unique<Impl>()) {}
SafetensorsModel::~SafetensorsModel() = default;
SafetensorsModel::SafetensorsModel(SafetensorsModel&&) noexcept = default;
SafetensorsModel& SafetensorsModel::operator=(SafetensorsModel&&) noexcept = default;

Result<SafetensorsModel> SafetensorsModel::open(const std::string& path)
{
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st))
        return makeError(ErrorCode::NotFound, path + ": no such file or folder");

    std::string target = path;
    if (fs::is_directory(st)) {
        const fs::path folder(path);
        if (isRegularFile(folder / kSingleFileName)) {
            target = (folder / kSingleFileName).string();
        } else if (isRegularFile(folder / kIndexFileName)) {
            target = (folder / kIndexFileName).string();
        } else {
            std::vector<std::string> found;
            for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
                if (endsWith(it->path().filename().string(), ".safetensors") && isRegularFile(it->path()))
                    found.push_back(it->path().filename().string());
            if (ec)
                return makeError(ErrorCode::Io, path + ": cannot list the folder: " + ec.message());
            if (found.empty())
                return makeError(ErrorCode::NotFound, path + ": no " + std::string(kSingleFileName) + ", " +
                                                          std::string(kIndexFileName) +
                                                          " or other .safetensors file in this folder");
            if (found.size() > 1) {
                std::sort(found.begin(), found.end());
                std::string list;
                for (const std::string& f : found)
                    list += (list.empty() ? "" : ", ") + f;
                return makeError(ErrorCode::InvalidArgument,
                                 path + ": several .safetensors files (" + list + ") and no " +
                                     std::string(kIndexFileName) + " to say how they fit; open one file directly");
            }
            target = (folder / found.front()).string();
        }
    }

    SafetensorsModel model;
    if (endsWith(target, ".json")) {
        HEARTH_TRY_STATUS(model.m_impl->openIndex(target));
    } else {
        HEARTH_TRY_STATUS(model.m_impl->addFile(target));
        HEARTH_TRY_STATUS(model.m_impl->sortAndCheckUnique(target));
    }
    return model;
}

// A moved-from model has no Impl; the accessors then behave as for an empty model.
const std::vector<TensorInfo>& SafetensorsModel::tensors() const
{
    static const std::vector<TensorInfo> kNone;
    return m_impl ? m_impl->tensors : kNone;
}

const TensorInfo* SafetensorsModel::find(std::string_view name) const
{
    const std::vector<TensorInfo>& all = tensors();
    const auto it = std::lower_bound(all.begin(), all.end(), name,
                                     [](const TensorInfo& t, std::string_view n) { return t.name < n; });
    return it != all.end() && it->name == name ? &*it : nullptr;
}

std::span<const std::uint8_t> SafetensorsModel::data(const TensorInfo& t) const
{
    // Bounds are re-checked so a TensorInfo from another model cannot read outside a mapping.
    if (!m_impl || t.fileIndex < 0 || static_cast<std::size_t>(t.fileIndex) >= m_impl->maps.size())
        return {};
    const std::span<const std::uint8_t> file = m_impl->maps[static_cast<std::size_t>(t.fileIndex)].bytes();
    if (t.fileOffset > file.size() || t.nBytes > file.size() - t.fileOffset)
        return {};
    return file.subspan(static_cast<std::size_t>(t.fileOffset), static_cast<std::size_t>(t.nBytes));
}

const std::vector<std::string>& SafetensorsModel::files() const
{
    static const std::vector<std::string> kNone;
    return m_impl ? m_impl->files : kNone;
}

const std::map<std::string, std::string>& SafetensorsModel::metadata() const
{
    static const std::map<std::string, std::string> kNone;
    return m_impl ? m_impl->metadata : kNone;
}

std::uint64_t SafetensorsModel::totalTensorBytes() const { return m_impl ? m_impl->totalTensorBytes : 0; }

std::uint64_t SafetensorsModel::totalFileBytes() const { return m_impl ? m_impl->totalFileBytes : 0; }

}  // namespace hearth
