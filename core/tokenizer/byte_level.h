// GPT-2's byte-level alphabet: every byte has a printable stand-in character ("Ġ" for a space,
// "Ċ" for a newline). Byte-level vocabularies spell their tokens in it; Hearth runs BPE on the raw
// bytes instead and converts spellings once, at load time.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hearth::tok {

// The stand-in character (UTF-8) for a byte.
std::string_view byteLevelChar(unsigned char byte);

// The raw bytes a byte-level spelling stands for, or nullopt when a character is outside the
// alphabet (added tokens such as "<｜begin▁of▁sentence｜>" are spelled literally).
std::optional<std::string> byteLevelToBytes(std::string_view piece);
// The same into `out` (cleared first), without allocating per call: false outside the alphabet.
bool byteLevelToBytes(std::string_view piece, std::string& out);

// The byte-level spelling of raw bytes.
std::string bytesToByteLevel(std::string_view bytes);

}  // namespace hearth::tok
