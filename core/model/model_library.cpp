// Finding models on disk (library folders, the Hugging Face hub cache) and reconciling them with
// the persisted index.
#include "model/model_library.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include "model/library_detail.h"
#include "util/log.h"
#include "util/mapped_file.h"
#include "util/paths.h"

namespace fs = std::filesystem;

namespace hearth {

using namespace library_detail;

namespace {

// A model found on disk, before its headers are read.
struct Candidate {
    std::string path;
    std::string displayName;
    std::string root;
    std::string format;
    ModelSourceKind kind = ModelSourceKind::Folder;
};

struct Walker {
    int maxDepth = 4;
    std::set<std::string> visitedDirs;    // canonical: symlink loops end here
    std::set<std::string> seenModels;     // canonical: one model reached twice is listed once
    std::vector<Candidate> candidates;
    std::vector<std::string>* warnings = nullptr;

    // `namePrefix` + the path below `base` names what is found.
    void walk(const fs::path& dir, const fs::path& base, const std::string& namePrefix, const std::string& root,
              bool hfCache, int depth)
    {
        std::error_code ec;
        const fs::path canonical = fs::canonical(dir, ec);
        if (ec || !visitedDirs.insert(canonical.string()).second)
            return;

        std::vector<fs::path> subdirs;
        std::map<std::string, fs::path> ggufSets;  // split key (or file name) -> first shard path
        fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
        if (ec) {
            warnings->push_back("cannot read folder " + dir.string() + ": " + ec.message());
            return;
        }
        for (fs::directory_iterator end; !ec && it != end; it.increment(ec)) {
            const fs::path p = it->path();
            const std::string name = p.filename().string();
            if (name.empty() || name[0] == '.')
                continue;
            if (isDirectory(p)) {
                subdirs.push_back(p);
            } else if (endsWith(name, ".gguf") && isRegularFile(p)) {
                if (auto split = parseGgufSplit(name))
                    ggufSets.emplace(split->prefix + "/" + std::to_string(split->count), dir / shardName(*split, 1));
                else
                    ggufSets.emplace(name, p);
            }
        }

        const bool modelFolder = isModelFolder(dir);
        if (modelFolder)
            add(dir, displayName(dir, base, namePrefix), root, "safetensors",
                hfCache ? ModelSourceKind::HfCache : ModelSourceKind::Folder);
        for (const auto& [key, first] : ggufSets) {
            std::string stem = first.filename().string();
            if (auto split = parseGgufSplit(stem))
                stem = split->prefix;
            else
                stem = stem.substr(0, stem.size() - 5);
            add(first, displayName(dir / stem, base, namePrefix), root, "gguf",
                hfCache ? ModelSourceKind::HfCache : ModelSourceKind::GgufFile);
        }
        // A model folder's subfolders (original/, onnx/) are part of it, not more models.
        if (modelFolder || depth >= maxDepth)
            return;
        std::sort(subdirs.begin(), subdirs.end());
        for (const auto& sub : subdirs)
            walk(sub, base, namePrefix, root, hfCache, depth + 1);
    }

    static std::string displayName(const fs::path& p, const fs::path& base, const std::string& namePrefix)
    {
        std::string rel = p.lexically_relative(base).generic_string();
        if (rel == "." || rel.empty())
            rel.clear();
        if (!namePrefix.empty())
            return rel.empty() ? namePrefix : namePrefix + "/" + rel;
        return rel.empty() ? p.filename().string() : rel;
    }

    void add(const fs::path& p, std::string name, const std::string& root, const char* format, ModelSourceKind kind)
    {
        std::error_code ec;
        const fs::path canonical = fs::weakly_canonical(p, ec);
        if (!seenModels.insert(ec ? p.string() : canonical.string()).second)
            return;
        candidates.push_back({p.string(), std::move(name), root, format, kind});
    }
};

// The snapshot refs/main names, else the most recently modified one.
std::optional<fs::path> pickSnapshot(const fs::path& repoDir)
{
    const fs::path snapshots = repoDir / "snapshots";
    if (auto ref = readTextFile((repoDir / "refs" / "main").string(), 4096)) {
        std::string hash = *ref;
        while (!hash.empty() && std::isspace(static_cast<unsigned char>(hash.back())))
            hash.pop_back();
        if (!hash.empty() && hash.find('/') == std::string::npos && isDirectory(snapshots / hash))
            return snapshots / hash;
    }
    std::optional<fs::path> newest;
    fs::file_time_type newestTime{};
    std::error_code ec;
    for (fs::directory_iterator it(snapshots, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
        if (!isDirectory(it->path()))
            continue;
        std::error_code tec;
        const auto t = fs::last_write_time(it->path(), tec);
        if (!tec && (!newest || t > newestTime)) {
            newest = it->path();
            newestTime = t;
        }
    }
    return newest;
}

void walkHubCache(Walker& walker, const std::string& hub)
{
    std::error_code ec;
    std::vector<fs::path> repos;
    for (fs::directory_iterator it(hub, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (it->path().filename().string().rfind("models--", 0) == 0 && isDirectory(it->path()))
            repos.push_back(it->path());
    }
    std::sort(repos.begin(), repos.end());
    for (const auto& repo : repos) {
        std::string id = repo.filename().string().substr(8);
        if (const auto sep = id.find("--"); sep != std::string::npos)
            id = id.substr(0, sep) + "/" + id.substr(sep + 2);
        if (auto snapshot = pickSnapshot(repo))
            walker.walk(*snapshot, *snapshot, id, hub, true, 0);
    }
}

ModelEntry readCandidate(const Candidate& c)
{
    ModelEntry e = c.format == "gguf" ? readGgufEntry(c.path) : readFolderEntry(c.path);
    e.sourceKind = c.kind;
    e.displayName = c.displayName;
    e.root = c.root;
    return e;
}

std::vector<FileStamp> stampCandidate(const Candidate& c)
{
    return c.format == "gguf" ? stampGguf(c.path) : stampFolder(c.path);
}

}  // namespace

LibraryScanOptions defaultScanOptions()
{
    LibraryScanOptions o;
    o.folders = {defaultModelsDir()};
    o.includeHfCache = true;
    o.hfCacheDir = huggingFaceHubCache();
    o.indexPath = cacheDir() + "/library.json";
    return o;
}

LibraryScan scanLibrary(const LibraryScanOptions& options)
{
    LibraryScan scan;
    Walker walker;
    walker.maxDepth = options.maxDepth;
    walker.warnings = &scan.stats.warnings;

    std::set<std::string> scannedRoots;
    for (const auto& folder : options.folders) {
        scannedRoots.insert(folder);
        if (isDirectory(folder))
            walker.walk(folder, folder, "", folder, false, 0);
    }
    if (options.includeHfCache) {
        const std::string hub = options.hfCacheDir.empty() ? huggingFaceHubCache() : options.hfCacheDir;
        scannedRoots.insert(hub);
        if (isDirectory(hub))
            walkHubCache(walker, hub);
    }

    std::map<std::string, ModelEntry> previous;
    if (!options.indexPath.empty()) {
        auto index = loadLibraryIndex(options.indexPath);
        if (index) {
            for (auto& e : *index)
                previous.emplace(e.path, std::move(e));
        } else {
            const std::string w = "ignoring the library index, it will be rebuilt: " + index.error().message;
            logWarning(w);
            scan.stats.warnings.push_back(w);
        }
    }

    std::set<std::string> found;
    for (const auto& c : walker.candidates) {
        found.insert(c.path);
        const auto old = previous.find(c.path);
        if (old != previous.end() && old->second.format == c.format && old->second.files == stampCandidate(c)) {
            ModelEntry e = old->second;
            e.sourceKind = c.kind;
            e.displayName = c.displayName;
            e.root = c.root;
            scan.entries.push_back(std::move(e));
            ++scan.stats.reused;
            continue;
        }
        ++(old == previous.end() ? scan.stats.added : scan.stats.changed);
        ++scan.stats.headerReads;
        scan.entries.push_back(readCandidate(c));
    }

    // Entries of roots not scanned this time stay in the index untouched.
    std::vector<ModelEntry> toSave = scan.entries;
    for (auto& [path, e] : previous) {
        if (found.count(path))
            continue;
        if (scannedRoots.count(e.root))
            ++scan.stats.removed;
        else
            toSave.push_back(std::move(e));
    }

    const auto byName = [](const ModelEntry& a, const ModelEntry& b) {
        return a.displayName != b.displayName ? a.displayName < b.displayName : a.path < b.path;
    };
    std::sort(scan.entries.begin(), scan.entries.end(), byName);
    if (!options.indexPath.empty()) {
        std::sort(toSave.begin(), toSave.end(), byName);
        if (Status s = saveLibraryIndex(options.indexPath, toSave); !s) {
            const std::string w = "cannot save the library index: " + s.message();
            logWarning(w);
            scan.stats.warnings.push_back(w);
        }
    }
    return scan;
}

}  // namespace hearth
