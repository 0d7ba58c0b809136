// A compiled PCRE2 pattern (UTF + UCP, JIT when available) for tokenizer Split rules. Immutable
// after compile and safe to share between threads; match scratch space is per thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace hearth::tok {

struct Match {
    std::size_t begin = 0;
    std::size_t end = 0;
};

class Regex {
public:
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Compiles `pattern` (Oniguruma-style syntax as tokenizer.json writes it; the patterns models
    // ship are also valid PCRE2).
    static Result<std::unique_ptr<Regex>> compile(std::string_view pattern);
    // A pattern that matches `literal` exactly.
    static Result<std::unique_ptr<Regex>> literal(std::string_view literal);

    // Appends the non-overlapping matches in `text` (valid UTF-8) to `out`, left to right. Empty
    // matches are skipped. Returns false when matching gave up (resource limits); `out` then holds
    // the matches found so far.
    bool findAll(std::string_view text, std::vector<Match>& out) const;

private:
    explicit Regex(void* code) : m_code(code) {}
    void* m_code;  // pcre2_code_8*
};

}  // namespace hearth::tok
