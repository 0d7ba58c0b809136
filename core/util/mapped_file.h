// A read-only memory map of a whole file. Move-only; unmaps on destruction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "util/result.h"

namespace hearth {

class MappedFile {
public:
    MappedFile() = default;
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    // Maps `path` read-only. An empty file maps to an empty span (no mmap call).
    static Result<MappedFile> open(const std::string& path);

    const std::uint8_t* data() const { return m_data; }
    std::size_t size() const { return m_size; }
    std::span<const std::uint8_t> bytes() const { return {m_data, m_size}; }
    const std::string& path() const { return m_path; }

private:
    void reset();

    std::string m_path;
    const std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

// Reads a whole (small) file into a string: configs, JSON indexes, templates.
// Refuses files larger than `maxBytes` so a wrong path cannot exhaust memory.
Result<std::string> readTextFile(const std::string& path, std::size_t maxBytes = 64u << 20);

// Writes `contents` to `path` atomically (temporary file in the same folder, fsync, rename).
Status writeFileAtomically(const std::string& path, const std::string& contents);

}  // namespace hearth
