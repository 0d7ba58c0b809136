// The real FileReader: pread(2) on a descriptor opened with O_DIRECT when possible.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "load/file_reader.h"

namespace hearth {

namespace {

std::string errnoText(int e) { return std::strerror(e); }

// Fraction of the file's pages in the page cache, asked of mincore() on a mapping that is never
// touched (so no page is faulted in); -1 when the kernel would not say.
double residentFraction(int fd)
{
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_size <= 0)
        return -1.0;
    const auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return -1.0;
    const long page = ::sysconf(_SC_PAGESIZE);
    const std::size_t pageBytes = page > 0 ? static_cast<std::size_t>(page) : 4096;
    std::vector<unsigned char> resident((size + pageBytes - 1) / pageBytes);
    double fraction = -1.0;
    if (::mincore(map, size, resident.data()) == 0) {
        std::size_t n = 0;
        for (unsigned char r : resident)
            n += r & 1u;
        fraction = static_cast<double>(n) / static_cast<double>(resident.size());
    }
    // A failed munmap leaves an unused mapping of a read-only file: nothing to act on.
    (void)::munmap(map, size);
    return fraction;
}

class PosixWeightFile final : public WeightFile {
public:
    PosixWeightFile(int fd, std::string path, bool direct, std::string mode)
        : m_fd(fd), m_path(std::move(path)), m_direct(direct), m_mode(std::move(mode))
    {
    }
    ~PosixWeightFile() override
    {
        // Nothing to do about a failed close of a read-only descriptor; the data was checked.
        (void)::close(m_fd);
    }

    bool direct() const override { return m_direct.load(std::memory_order_acquire); }

    std::string mode() const override
    {
        std::lock_guard lock(m_modeMutex);
        return m_mode;
    }

    Result<std::size_t> readAt(void* dst, std::size_t nBytes, std::uint64_t offset) override
    {
        const bool wasDirect = direct();
        for (;;) {
            const ssize_t n = ::pread(m_fd, dst, nBytes, static_cast<off_t>(offset));
            if (n >= 0)
                return static_cast<std::size_t>(n);
            const int e = errno;
            if (e == EINTR)
                continue;
            if (e == EINVAL && wasDirect)
                return makeError(ErrorCode::Unsupported, m_path + ": direct read refused: " + errnoText(e));
            return makeError(ErrorCode::Io, m_path + ": read of " + std::to_string(nBytes) + " bytes at offset " +
                                                std::to_string(offset) + " failed: " + errnoText(e));
        }
    }

    Status dropDirect(const std::string& why) override
    {
        std::lock_guard lock(m_modeMutex);
        if (!m_direct.load())
            return Status::ok();
        const int flags = ::fcntl(m_fd, F_GETFL);
        if (flags < 0 || ::fcntl(m_fd, F_SETFL, flags & ~O_DIRECT) != 0)
            return makeError(ErrorCode::Io, m_path + ": cannot turn off O_DIRECT: " + errnoText(errno));
        m_direct.store(false, std::memory_order_release);
        m_mode = "buffered (" + why + ")";
        return Status::ok();
    }

    Result<FileIdentity> identity() override
    {
        struct stat st {};
        if (::fstat(m_fd, &st) != 0)
            return makeError(ErrorCode::Io, m_path + ": fstat failed: " + errnoText(errno));
        FileIdentity id;
        id.sizeBytes = static_cast<std::uint64_t>(st.st_size);
        id.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        id.inode = static_cast<std::uint64_t>(st.st_ino);
        return id;
    }

private:
    const int m_fd;
    const std::string m_path;
    std::atomic<bool> m_direct;
    mutable std::mutex m_modeMutex;  // guards m_mode and serialises dropDirect
    std::string m_mode;
};

class PosixFileReader final : public FileReader {
public:
    explicit PosixFileReader(PosixReaderOptions options) : m_options(options) {}

    Result<std::unique_ptr<WeightFile>> open(const std::string& path, bool wantDirect) override
    {
        std::string mode = "buffered";
        if (wantDirect) {
            const int fd = m_options.refuseDirectAtOpen ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
            if (fd >= 0) {
                const double cached = m_options.cachedFractionForBuffered <= 1.0 ? residentFraction(fd) : -1.0;
                if (cached < m_options.cachedFractionForBuffered)
                    return std::unique_ptr<WeightFile>(std::make_unique<PosixWeightFile>(fd, path, true, "direct"));
                // Mostly cached: a direct read would go to the disk for bytes already in memory.
                (void)::close(fd);  // read-only descriptor: nothing to lose
                mode = "buffered (" + std::to_string(static_cast<int>(cached * 100.0)) + "% in the page cache)";
                return openBuffered(path, mode);
            }
            const int e = m_options.refuseDirectAtOpen ? EINVAL : errno;
            // tmpfs and some FUSE file systems refuse O_DIRECT at open; anything else is a real error.
            if (e != EINVAL)
                return makeError(e == ENOENT ? ErrorCode::NotFound : ErrorCode::Io,
                                 path + ": cannot open: " + errnoText(e));
            mode = "buffered (O_DIRECT refused at open: " + errnoText(e) + ")";
        }
        return openBuffered(path, mode);
    }

private:
    static Result<std::unique_ptr<WeightFile>> openBuffered(const std::string& path, const std::string& mode)
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int e = errno;
            return makeError(e == ENOENT ? ErrorCode::NotFound : ErrorCode::Io, path + ": cannot open: " + errnoText(e));
        }
        // Sequential advice doubles the kernel's readahead window for buffered reads; advice
        // only, so a failure changes nothing but speed.
        (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return std::unique_ptr<WeightFile>(std::make_unique<PosixWeightFile>(fd, path, false, mode));
    }

    const PosixReaderOptions m_options;
};

}  // namespace

std::unique_ptr<FileReader> makePosixFileReader(PosixReaderOptions options)
{
    return std::make_unique<PosixFileReader>(options);
}

}  // namespace hearth
