// The seam between the load pipeline and the file system. The real reader uses pread, with
// O_DIRECT where the file system takes it (no page-cache copy, no readahead fighting the
// pipeline's own); tests put a slow, failing or file-changing fake in its place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "load/load_plan.h"
#include "util/result.h"

namespace hearth {

// Buffer address, file offset and length of O_DIRECT reads are multiples of this. 4 KiB covers
// the logical block size of every disk and file system Hearth runs on.
inline constexpr std::size_t kDirectIoAlignment = 4096;

// One open weight file. readAt may be called from several threads at once.
class WeightFile {
public:
    virtual ~WeightFile() = default;
    // True while reads bypass the page cache (then dst, offset and nBytes must be aligned).
    virtual bool direct() const = 0;
    // How the file is read, for reports: "direct", "buffered", or "buffered (why not direct)".
    virtual std::string mode() const = 0;
    // One read of at most nBytes at `offset`; the count read (0 at end of file). An error
    // with code Unsupported means a direct read was refused (EINVAL): the caller may
    // dropDirect() and read again.
    virtual Result<std::size_t> readAt(void* dst, std::size_t nBytes, std::uint64_t offset) = 0;
    // Turns direct reads off for good (after the file system refused one), recording why.
    virtual Status dropDirect(const std::string& why) = 0;
    // The file's identity now (fstat), to catch a file changed while it was read.
    virtual Result<FileIdentity> identity() = 0;
};

class FileReader {
public:
    virtual ~FileReader() = default;
    // Opens `path` for reading, directly when `wantDirect` and the file system allows it.
    virtual Result<std::unique_ptr<WeightFile>> open(const std::string& path, bool wantDirect) = 0;
};

struct PosixReaderOptions {
    // A file with at least this fraction of its pages in the page cache is read buffered even
    // when direct reads were asked for: copying from the cache beats reading the disk again
    // (a warm start). Above 1: always direct where allowed.
    double cachedFractionForBuffered = 0.5;
    // Acts as if open(O_DIRECT) failed with EINVAL, as on file systems that refuse it; lets the
    // fallback be tested where the file system at hand (tmpfs since Linux 6.6) accepts it.
    bool refuseDirectAtOpen = false;
};

// pread on a file descriptor; O_DIRECT refused at open (EINVAL) falls back to buffered reads.
std::unique_ptr<FileReader> makePosixFileReader(PosixReaderOptions options = {});

}  // namespace hearth
