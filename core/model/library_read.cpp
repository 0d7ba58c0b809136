// Reading one model's headers into a ModelEntry: safetensors folders and GGUF files.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <system_error>

#include "model/gguf.h"
#include "model/library_detail.h"
#include "model/model_config.h"
#include "model/safetensors.h"
#include "util/mapped_file.h"

namespace fs = std::filesystem;

namespace hearth {

using namespace library_detail;

namespace {

std::uint64_t sumSizes(const std::vector<FileStamp>& stamps)
{
    std::uint64_t n = 0;
    for (const auto& s : stamps)
        n += s.sizeBytes;
    return n;
}

void addError(ModelEntry& e, const std::string& reason)
{
    e.ok = false;
    e.error = e.error.empty() ? reason : e.error + "; " + reason;
}

// The files of a GGUF model: the file itself, or every shard of its split set.
std::vector<std::string> ggufShardPaths(const std::string& firstPath)
{
    const fs::path p(firstPath);
    const auto split = parseGgufSplit(p.filename().string());
    if (!split)
        return {firstPath};
    std::vector<std::string> paths;
    for (int i = 1; i <= split->count; ++i)
        paths.push_back((p.parent_path() / shardName(*split, i)).string());
    return paths;
}

const std::set<std::string>& supportedGgufArchitectures()
{
    static const std::set<std::string> archs{"llama", "qwen2", "qwen3", "mistral"};
    return archs;
}

std::int64_t ggufInt(const GgufHeader& h, const std::string& key)
{
    const GgufValue* v = h.find(key);
    if (!v)
        return 0;
    const auto i = v->asInt();
    return i ? *i : 0;
}

ModelShape ggufShape(const GgufHeader& h)
{
    const std::string a = h.architecture();
    ModelShape s;
    s.hiddenSize = ggufInt(h, a + ".embedding_length");
    s.nLayers = ggufInt(h, a + ".block_count");
    s.nHeads = ggufInt(h, a + ".attention.head_count");
    s.nKvHeads = ggufInt(h, a + ".attention.head_count_kv");
    s.headDim = ggufInt(h, a + ".attention.key_length");
    s.intermediateSize = ggufInt(h, a + ".feed_forward_length");
    s.vocabSize = ggufInt(h, a + ".vocab_size");
    if (s.nKvHeads == 0)
        s.nKvHeads = s.nHeads;
    if (s.headDim == 0 && s.nHeads > 0)
        s.headDim = s.hiddenSize / s.nHeads;
    if (s.vocabSize == 0) {
        if (const GgufValue* t = h.find("tokenizer.ggml.tokens"); t && t->asArray())
            s.vocabSize = static_cast<std::int64_t>(t->asArray()->values.size());
    }
    return s;
}

// The raw bits of config.json a broken model can still show: its architecture and quantization.
struct RawConfigInfo {
    std::string architecture;
    std::string quantization;
};

RawConfigInfo readRawConfig(const std::string& dir)
{
    RawConfigInfo info;
    auto text = readTextFile(dir + "/config.json");
    if (!text)
        return info;
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return info;
    if (auto a = j.find("architectures"); a != j.end() && a->is_array() && !a->empty() && a->front().is_string())
        info.architecture = a->front().get<std::string>();
    else if (auto t = j.find("model_type"); t != j.end() && t->is_string())
        info.architecture = t->get<std::string>();
    if (auto q = j.find("quantization_config"); q != j.end() && q->is_object()) {
        if (auto m = q->find("quant_method"); m != q->end() && m->is_string()) {
            info.quantization = m->get<std::string>();
            std::transform(info.quantization.begin(), info.quantization.end(), info.quantization.begin(),
                           [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
            if (auto b = q->find("bits"); b != q->end() && b->is_number_integer())
                info.quantization += "-" + std::to_string(b->get<int>()) + "bit";
        }
    }
    return info;
}

// Shards named in model.safetensors.index.json that are not on disk; checked here so the reason
// names the file whatever the safetensors reader says.
std::vector<std::string> missingIndexedShards(const std::string& dir)
{
    std::vector<std::string> missing;
    auto text = readTextFile(dir + "/model.safetensors.index.json");
    if (!text)
        return missing;
    const auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return missing;
    const auto map = j.find("weight_map");
    if (map == j.end() || !map->is_object())
        return missing;
    std::set<std::string> shards;
    for (const auto& [name, file] : map->items())
        if (file.is_string())
            shards.insert(file.get<std::string>());
    for (const auto& s : shards)
        if (!isRegularFile(fs::path(dir) / s))
            missing.push_back(s);
    return missing;
}

}  // namespace

namespace library_detail {

bool endsWith(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// stat() follows symlinks, which is what we want: the hub cache links snapshot files to blobs.
std::optional<FileStamp> stampOf(const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return std::nullopt;
    FileStamp s;
    s.path = path;
    s.sizeBytes = static_cast<std::uint64_t>(st.st_size);
    s.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return s;
}

bool isRegularFile(const fs::path& p)
{
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

bool isDirectory(const fs::path& p)
{
    std::error_code ec;
    return fs::is_directory(p, ec);
}

// Every regular file directly in `dir`, sorted: the signature of a model folder. Added or
// removed shards change the list, rewritten files change a size or mtime.
std::vector<FileStamp> stampFolder(const std::string& dir)
{
    std::vector<FileStamp> stamps;
    std::error_code ec;
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (auto s = stampOf(it->path().string()))
            stamps.push_back(std::move(*s));
    }
    std::sort(stamps.begin(), stamps.end(), [](const FileStamp& a, const FileStamp& b) { return a.path < b.path; });
    return stamps;
}

std::optional<GgufSplit> parseGgufSplit(const std::string& fileName)
{
    static const std::regex re(R"(^(.*)-([0-9]{5})-of-([0-9]{5})\.gguf$)");
    std::smatch m;
    if (!std::regex_match(fileName, m, re))
        return std::nullopt;
    GgufSplit s{m[1].str(), std::stoi(m[2].str()), std::stoi(m[3].str())};
    if (s.count < 1 || s.index < 1 || s.index > s.count)
        return std::nullopt;
    return s;
}

std::string shardName(const GgufSplit& s, int index)
{
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", index, s.count);
    return s.prefix + suffix;
}

std::vector<FileStamp> stampGguf(const std::string& firstPath)
{
    std::vector<FileStamp> stamps;
    for (const auto& shard : ggufShardPaths(firstPath))
        if (auto s = stampOf(shard))
            stamps.push_back(std::move(*s));
    return stamps;
}

ModelEntry readGgufEntry(const std::string& firstPath)
{
    ModelEntry e;
    e.path = firstPath;
    e.format = "gguf";
    e.sourceKind = ModelSourceKind::GgufFile;
    e.files = stampGguf(firstPath);
    e.sizeOnDiskBytes = sumSizes(e.files);

    const auto shards = ggufShardPaths(firstPath);
    for (std::size_t i = 0; i < shards.size(); ++i) {
        if (!stampOf(shards[i])) {
            addError(e, "missing shard " + std::to_string(i + 1) + " of " + std::to_string(shards.size()) + ": " +
                            fs::path(shards[i]).filename().string());
        }
    }
    if (!e.ok)
        return e;

    for (std::size_t i = 0; i < shards.size(); ++i) {
        auto header = readGgufHeader(shards[i]);
        if (!header) {
            addError(e, header.error().message);
            return e;
        }
        e.parameterCount += header->parameterCount();
        e.weightBytes += header->tensorBytes();
        e.tensorCount += header->tensors.size();
        if (i != 0)
            continue;
        e.architecture = header->architecture();
        e.contextLength = static_cast<std::int64_t>(header->contextLength().value_or(0));
        e.dtype = header->quantizationName();
        e.hasTokenizer = header->find("tokenizer.ggml.tokens") != nullptr;
        e.shape = ggufShape(*header);
    }
    if (e.architecture.empty())
        addError(e, firstPath + ": no general.architecture in the GGUF metadata");
    else if (!supportedGgufArchitectures().count(e.architecture))
        addError(e, firstPath + ": architecture '" + e.architecture + "' is not supported (Hearth runs llama, mistral, qwen2, qwen3)");
    return e;
}

ModelEntry readFolderEntry(const std::string& dir)
{
    ModelEntry e;
    e.path = dir;
    e.format = "safetensors";
    e.sourceKind = ModelSourceKind::Folder;
    e.files = stampFolder(dir);
    e.sizeOnDiskBytes = sumSizes(e.files);
    e.hasTokenizer = isRegularFile(fs::path(dir) / "tokenizer.json") || isRegularFile(fs::path(dir) / "tokenizer.model");

    const RawConfigInfo raw = readRawConfig(dir);
    e.architecture = raw.architecture;
    auto config = loadModelConfig(dir);
    if (config) {
        e.architecture = config->architectureName.empty() ? e.architecture : config->architectureName;
        e.contextLength = config->maxPositions;
        e.shape = shapeOf(*config);
        e.dtype = std::string(dtypeName(config->dtype));
    } else {
        addError(e, config.error().message);
    }

    const auto missing = missingIndexedShards(dir);
    for (const auto& m : missing)
        addError(e, "missing shard " + m + " (listed in model.safetensors.index.json)");
    if (!missing.empty())
        return e;

    auto weights = SafetensorsModel::open(dir);
    if (!weights) {
        addError(e, weights.error().message);
        return e;
    }
    std::map<DType, std::uint64_t> bytesByType;
    for (const auto& t : weights->tensors()) {
        e.parameterCount += static_cast<std::uint64_t>(std::max<std::int64_t>(t.nElements(), 0));
        bytesByType[t.dtype] += t.nBytes;
    }
    e.tensorCount = weights->tensors().size();
    e.weightBytes = weights->totalTensorBytes();
    if (e.tensorCount == 0)
        addError(e, dir + ": the safetensors files hold no tensors");
    // What is stored beats what config.json claims; a quantization method beats both.
    const auto dominant = std::max_element(bytesByType.begin(), bytesByType.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
    if (dominant != bytesByType.end())
        e.dtype = std::string(dtypeName(dominant->first));
    if (!raw.quantization.empty())
        e.dtype = raw.quantization;
    return e;
}

bool isModelFolder(const fs::path& dir)
{
    if (!isRegularFile(dir / "config.json"))
        return false;
    if (isRegularFile(dir / "model.safetensors.index.json"))
        return true;
    std::error_code ec;
    for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (endsWith(it->path().filename().string(), ".safetensors") && isRegularFile(it->path()))
            return true;
    }
    return false;
}

}  // namespace library_detail

const char* modelSourceKindName(ModelSourceKind kind)
{
    switch (kind) {
    case ModelSourceKind::Folder: return "folder";
    case ModelSourceKind::HfCache: return "hf-cache";
    case ModelSourceKind::GgufFile: return "gguf-file";
    }
    return "unknown";
}

MemoryEstimate ModelEntry::estimate(std::int64_t contextLength_) const
{
    std::int64_t ctx = contextLength_;
    if (ctx <= 0)
        ctx = contextLength > 0 ? std::min(contextLength, kDefaultEstimateContext) : kDefaultEstimateContext;
    return estimateMemory(shape, weightBytes, ctx);
}

Result<ModelEntry> readModelEntry(const std::string& path)
{
    const fs::path p(path);
    if (isDirectory(p)) {
        if (!isRegularFile(p / "config.json"))
            return makeError(ErrorCode::NotFound, path + ": not a model folder (no config.json)");
        ModelEntry e = readFolderEntry(path);
        e.displayName = p.filename().string();
        return e;
    }
    if (!isRegularFile(p))
        return makeError(ErrorCode::NotFound, path + ": no such file or folder");
    const std::string name = p.filename().string();
    if (endsWith(name, ".gguf")) {
        fs::path first = p;
        std::string stem = name.substr(0, name.size() - 5);
        if (auto split = parseGgufSplit(name)) {
            first = p.parent_path() / shardName(*split, 1);
            stem = split->prefix;
        }
        ModelEntry e = readGgufEntry(first.string());
        e.displayName = stem;
        return e;
    }
    if (endsWith(name, ".safetensors") || name == "model.safetensors.index.json") {
        const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
        ModelEntry e = readFolderEntry(dir.string());
        e.displayName = dir.filename().string();
        return e;
    }
    return makeError(ErrorCode::Unsupported,
                     path + ": not a model (expected a folder, a .safetensors file or index, or a .gguf file)");
}

std::string formatParameterCount(std::uint64_t n)
{
    char buf[32];
    if (n >= 1000000000ull)
        std::snprintf(buf, sizeof buf, "%.1fB", double(n) / 1e9);
    else if (n >= 1000000ull)
        std::snprintf(buf, sizeof buf, "%.0fM", double(n) / 1e6);
    else if (n >= 1000ull)
        std::snprintf(buf, sizeof buf, "%.0fK", double(n) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
}

std::string formatBytes(std::uint64_t n)
{
    char buf[32];
    if (n >= (1ull << 30))
        std::snprintf(buf, sizeof buf, "%.1f GiB", double(n) / double(1ull << 30));
    else if (n >= (1ull << 20))
        std::snprintf(buf, sizeof buf, "%.1f MiB", double(n) / double(1ull << 20));
    else if (n >= (1ull << 10))
        std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / double(1ull << 10));
    else
        std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
    return buf;
}

}  // namespace hearth
