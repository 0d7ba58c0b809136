#include "model_deletion.h"

#include <filesystem>

namespace hearth::gui {

namespace fs = std::filesystem;

namespace {

// True when `path` is `root` or below it (both canonical).
bool isWithin(const fs::path& path, const fs::path& root)
{
    const fs::path rel = path.lexically_relative(root);
    return !rel.empty() && *rel.begin() != "..";
}

Result<fs::path> canonical(const std::string& path, const std::string& what)
{
    std::error_code ec;
    fs::path c = fs::canonical(path, ec);
    if (ec) return makeError(ErrorCode::NotFound, "cannot delete: " + what + " " + path + " cannot be resolved: " + ec.message());
    return c;
}

std::uint64_t folderBytes(const fs::path& folder)
{
    std::uint64_t total = 0;
    std::error_code ec;
    // Symbolic links are not followed (a hub cache snapshot links to blobs counted once).
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        std::error_code sizeEc;
        if (it->is_symlink(sizeEc) || !it->is_regular_file(sizeEc)) continue;
        const auto size = it->file_size(sizeEc);
        if (!sizeEc) total += size;
    }
    return total;
}

Result<DeletePlan> planHubCache(const ModelEntry& entry)
{
    // <cache>/models--ORG--NAME/snapshots/<revision>/... : the repo folder holds the blobs the
    // snapshot links to, so it is what frees the space (huggingface_hub's own cache layout).
    const fs::path root = fs::absolute(entry.root).lexically_normal();
    const fs::path rel = fs::absolute(entry.path).lexically_normal().lexically_relative(root);
    auto it = rel.begin();
    if (rel.empty() || it == rel.end() || it->string().rfind("models--", 0) != 0 || std::next(it) == rel.end() ||
        std::next(it)->string() != "snapshots")
        return makeError(ErrorCode::Unsupported, "cannot delete " + entry.path +
                                                     ": it is not laid out as a Hugging Face cache snapshot "
                                                     "(models--ORG--NAME/snapshots/REVISION), so Hearth will not guess what to remove");
    const fs::path repo = root / *it;
    std::error_code ec;
    if (fs::is_symlink(repo, ec) || !fs::is_directory(repo, ec))
        return makeError(ErrorCode::Unsupported, "cannot delete " + repo.string() + ": not a plain folder in the cache");
    HEARTH_TRY_ASSIGN(fs::path rootC, canonical(entry.root, "the cache folder"));
    HEARTH_TRY_ASSIGN(fs::path repoC, canonical(repo.string(), "the repo folder"));
    if (repoC.parent_path() != rootC)
        return makeError(ErrorCode::Unsupported, "cannot delete " + repo.string() + ": it leads outside the cache folder");
    DeletePlan plan;
    plan.target = repoC.string();
    plan.wholeFolder = true;
    plan.bytes = folderBytes(repoC);
    plan.allRevisions = true;
    return plan;
}

}  // namespace

Result<DeletePlan> planModelDeletion(const ModelEntry& entry, const std::vector<ModelEntry>& all)
{
    if (entry.root.empty())
        return makeError(ErrorCode::InvalidArgument, "cannot delete " + entry.path + ": it was not found under a library folder");
    if (entry.sourceKind == ModelSourceKind::HfCache)
        return planHubCache(entry);
    HEARTH_TRY_ASSIGN(fs::path rootC, canonical(entry.root, "the library folder"));

    DeletePlan plan;
    if (entry.sourceKind == ModelSourceKind::GgufFile) {
        std::vector<std::string> files;
        for (const FileStamp& f : entry.files) files.push_back(f.path);
        if (files.empty()) files.push_back(entry.path);
        for (const std::string& f : files) {
            HEARTH_TRY_ASSIGN(fs::path fileC, canonical(f, "the file"));
            if (!isWithin(fileC, rootC) || fileC == rootC)
                return makeError(ErrorCode::InvalidArgument,
                                 "cannot delete " + f + ": it lies outside the library folder " + rootC.string());
            std::error_code ec;
            if (!fs::is_regular_file(fileC, ec))
                return makeError(ErrorCode::InvalidArgument, "cannot delete " + f + ": not a regular file");
            plan.files.push_back(fileC.string());
            plan.bytes += fs::file_size(fileC, ec);
        }
        plan.target = entry.path;
        return plan;
    }

    HEARTH_TRY_ASSIGN(fs::path folderC, canonical(entry.path, "the model folder"));
    if (folderC == rootC || !isWithin(folderC, rootC))
        return makeError(ErrorCode::InvalidArgument,
                         "cannot delete " + entry.path + ": it is the library folder " + rootC.string() +
                             " itself or outside it; only a model's own folder below a library folder is deleted");
    for (const ModelEntry& other : all) {
        if (other.path == entry.path) continue;
        std::error_code ec;
        const fs::path otherC = fs::weakly_canonical(other.path, ec);
        if (!ec && isWithin(otherC, folderC))
            return makeError(ErrorCode::InvalidArgument, "cannot delete " + entry.path + ": it also holds the model " +
                                                             other.displayName + "; delete that one first");
    }
    plan.target = folderC.string();
    plan.wholeFolder = true;
    plan.bytes = folderBytes(folderC);
    return plan;
}

Status executeDeletion(const DeletePlan& plan)
{
    std::error_code ec;
    if (plan.wholeFolder) {
        fs::remove_all(plan.target, ec);
        if (ec) return makeError(ErrorCode::Io, "cannot delete " + plan.target + ": " + ec.message());
        return Status::ok();
    }
    for (const std::string& f : plan.files) {
        fs::remove(f, ec);
        if (ec) return makeError(ErrorCode::Io, "cannot delete " + f + ": " + ec.message());
    }
    return Status::ok();
}

}  // namespace hearth::gui
