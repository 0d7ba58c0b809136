// UTF-8 helpers for the Jinja engine: Python strings index, slice, strip and case-map by code
// point, so the engine does the same over UTF-8 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::jinja::text {

// Byte offsets of each code point start, plus a final entry equal to s.size().
std::vector<size_t> codepointOffsets(std::string_view s);
size_t codepointCount(std::string_view s);
std::vector<char32_t> decode(std::string_view s);
void appendUtf8(std::string& out, char32_t cp);
std::string encode(const std::vector<char32_t>& cps);

bool isSpace(char32_t cp);  // Python's str.isspace() for one code point
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string capitalize(std::string_view s);   // str.capitalize()
std::string pyTitle(std::string_view s);      // str.title()
std::string jinjaTitle(std::string_view s);   // jinja2's |title filter

// str.strip / lstrip / rstrip; `chars` null means whitespace.
std::string strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace hearth::jinja::text
