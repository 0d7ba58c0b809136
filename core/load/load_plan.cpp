#include "load/load_plan.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "model/safetensors.h"

namespace hearth {

Result<FileIdentity> statIdentity(const std::string& path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return makeError(ErrorCode::Io, path + ": cannot stat: " + std::strerror(errno));
    FileIdentity id;
    id.sizeBytes = static_cast<std::uint64_t>(st.st_size);
    id.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    id.inode = static_cast<std::uint64_t>(st.st_ino);
    return id;
}

Result<LoadPlan> makeLoadPlan(const std::string& modelPath, std::optional<DType> halfTarget)
{
    if (halfTarget && *halfTarget != DType::F16 && *halfTarget != DType::BF16)
        return makeError(ErrorCode::InvalidArgument, "load plan: weights convert to F16 or BF16 only");
    // The headers are parsed and validated by the safetensors reader; its mapping only touches
    // the header pages and is dropped when this function returns, so tensor bytes come from reads.
    HEARTH_TRY_ASSIGN(SafetensorsModel model, SafetensorsModel::open(modelPath));
    LoadPlan plan;
    for (const std::string& path : model.files()) {
        PlannedFile f;
        f.path = path;
        f.name = std::filesystem::path(path).filename().string();
        HEARTH_TRY_ASSIGN(f.identity, statIdentity(path));
        f.readBegin = UINT64_MAX;
        plan.files.push_back(std::move(f));
    }
    for (const TensorInfo& t : model.tensors()) {
        PlannedTensor p;
        p.name = t.name;
        p.storedDtype = t.dtype;
        const bool half = t.dtype == DType::F16 || t.dtype == DType::BF16;
        p.targetDtype = half && halfTarget ? *halfTarget : t.dtype;
        p.shape = t.shape;
        p.fileIndex = t.fileIndex;
        p.fileOffset = t.fileOffset;
        p.nBytes = t.nBytes;
        PlannedFile& f = plan.files[static_cast<std::size_t>(t.fileIndex)];
        if (t.nBytes > 0) {
            f.readBegin = std::min(f.readBegin, t.fileOffset);
            f.readEnd = std::max(f.readEnd, t.fileOffset + t.nBytes);
        }
        plan.tensors.push_back(std::move(p));
    }
    std::sort(plan.tensors.begin(), plan.tensors.end(), [](const PlannedTensor& a, const PlannedTensor& b) {
        return a.fileIndex != b.fileIndex ? a.fileIndex < b.fileIndex : a.fileOffset < b.fileOffset;
    });
    for (PlannedFile& f : plan.files) {
        if (f.readBegin == UINT64_MAX)
            f.readBegin = f.readEnd = 0;  // a file of empty tensors: nothing to read
        plan.totalBytes += f.readEnd - f.readBegin;
    }
    return plan;
}

}  // namespace hearth
