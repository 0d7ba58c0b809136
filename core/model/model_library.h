// The model library: every model Hearth can find on this machine, with what it is, how big it
// is and whether it is usable. Sources are configured folders (scanned recursively for model
// folders and loose GGUF files) and the Hugging Face hub cache. Broken or partial models are
// listed with the reason, never skipped. A persisted index (cacheDir()/library.json) lets a
// rescan reuse what it read last time for files whose size and mtime have not changed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/memory_estimate.h"
#include "util/result.h"

namespace hearth {

enum class ModelSourceKind {
    Folder,    // a model folder (config.json + safetensors) under a configured folder
    HfCache,   // a snapshot in the Hugging Face hub cache (safetensors folder or GGUF in it)
    GgufFile,  // a loose .gguf file (or split set) under a configured folder
};

// "folder", "hf-cache", "gguf-file".
const char* modelSourceKindName(ModelSourceKind kind);

// One file of a model with what identifies its contents cheaply.
struct FileStamp {
    std::string path;
    std::uint64_t sizeBytes = 0;
    std::int64_t mtimeNs = 0;

    bool operator==(const FileStamp&) const = default;
};

struct ModelEntry {
    std::string path;         // the model folder, or the .gguf file (first shard of a split set)
    std::string displayName;  // "ORG/NAME" for the hub cache, the path below the library folder otherwise
    std::string root;         // the library folder or hub cache it was found under
    ModelSourceKind sourceKind = ModelSourceKind::Folder;
    std::string format;        // "safetensors" or "gguf"
    std::string architecture;  // config.json architectures[0] or GGUF general.architecture
    std::uint64_t parameterCount = 0;  // from tensor shapes
    std::string dtype;                 // "BF16", "F16", ... or a GGUF quantization ("Q4_K_M")
    std::uint64_t sizeOnDiskBytes = 0; // all files of the model
    std::uint64_t weightBytes = 0;     // tensor data bytes
    std::uint64_t tensorCount = 0;
    std::int64_t contextLength = 0;    // max positions the model was trained for, 0 if unknown
    bool hasTokenizer = false;
    ModelShape shape;                  // for the memory estimate
    bool ok = true;
    std::string error;                 // why the model is not usable, when !ok
    std::vector<FileStamp> files;      // the signature: a change to any means re-read

    // Estimate at `contextLength` tokens (0: min(context of the model, 8192)).
    MemoryEstimate estimate(std::int64_t contextLength = 0) const;
};

struct LibraryScanOptions {
    std::vector<std::string> folders;  // library folders to scan recursively
    bool includeHfCache = true;
    std::string hfCacheDir;            // empty: huggingFaceHubCache()
    std::string indexPath;             // empty: no persisted index (read nor write)
    int maxDepth = 4;                  // folder levels below each library folder
};

// Options for the user's library: defaultModelsDir(), the hub cache, cacheDir()/library.json.
LibraryScanOptions defaultScanOptions();

struct LibraryScanStats {
    int headerReads = 0;  // models whose files were parsed (not reused from the index)
    int reused = 0;       // models taken from the index unchanged
    int added = 0;        // models not in the index before
    int changed = 0;      // models in the index whose files changed
    int removed = 0;      // models in the index (under a scanned root) that are gone
    std::vector<std::string> warnings;  // unreadable folders, corrupt index, ...
};

struct LibraryScan {
    std::vector<ModelEntry> entries;  // sorted by display name, then path
    LibraryScanStats stats;
};

// Scans the sources in `options`, reusing and updating the index when one is configured.
// Never fails: problems become broken entries or warnings.
LibraryScan scanLibrary(const LibraryScanOptions& options);

// Reads one model: a folder with config.json and safetensors, a .safetensors file or index (its
// folder is read), or a .gguf file (with its split siblings). Broken models come back with
// ok == false and the reason; only a path that is none of these is an error.
Result<ModelEntry> readModelEntry(const std::string& path);

// Index persistence (library_index.cpp). Entries come back keyed by path; a missing file is an
// empty index, a corrupt one an error the caller turns into a warning.
Result<std::vector<ModelEntry>> loadLibraryIndex(const std::string& indexPath);
Status saveLibraryIndex(const std::string& indexPath, const std::vector<ModelEntry>& entries);

// "7.6B", "494M", "12K".
std::string formatParameterCount(std::uint64_t n);
// "14.2 GiB", "980.0 MiB".
std::string formatBytes(std::uint64_t n);

}  // namespace hearth
