// UTF-8 helpers shared by the tokenizer room: validation, lossy repair the way Rust's
// String::from_utf8_lossy does it (one U+FFFD per maximal invalid subpart), and code point walking.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hearth::tok {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence at text[pos], 0 when the bytes there are not one
// (truncated, overlong, surrogate, > U+10FFFF or a stray continuation byte).
std::size_t validSequenceLength(std::string_view text, std::size_t pos);

// Length of the maximal subpart at text[pos] that starts like a valid sequence but is cut short,
// at least 1; how many bytes one U+FFFD replaces.
std::size_t invalidSubpartLength(std::string_view text, std::size_t pos);

bool isValidUtf8(std::string_view text);

// Replaces each maximal invalid subpart with U+FFFD, as from_utf8_lossy.
std::string toValidUtf8(std::string_view text);

// Decodes the valid sequence at text[pos] (which must be valid) and advances pos past it.
char32_t nextCodePoint(std::string_view text, std::size_t& pos);

void appendUtf8(std::string& out, char32_t cp);

// Rust's char::is_whitespace (Unicode White_Space).
bool isUnicodeWhitespace(char32_t cp);

}  // namespace hearth::tok
