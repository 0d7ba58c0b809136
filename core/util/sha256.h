// SHA-256 digests (OpenSSL EVP) as lowercase hex: checking downloads, reference files, caches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "util/result.h"

namespace hearth {

// Hex digest of a buffer.
std::string sha256Hex(std::span<const std::uint8_t> bytes);
// Hex digest of a string's bytes.
std::string sha256Hex(std::string_view text);
// Hex digest of a file, read in chunks so any size works in constant memory.
Result<std::string> sha256File(const std::string& path);

}  // namespace hearth
