#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

// Bounds so a hostile pattern from a downloaded tokenizer.json cannot hang the process.
constexpr std::uint32_t kMatchLimit = 10'000'000;
constexpr std::size_t kJitStackMaxBytes = 4u << 20;

// Per-thread match scratch: match data, a JIT stack for patterns like \s+(?!\S) over long
// whitespace runs, and a match context that uses it.
struct MatchScratch {
    pcre2_match_data* data = nullptr;
    pcre2_jit_stack* jitStack = nullptr;
    pcre2_match_context* context = nullptr;

    MatchScratch()
    {
        data = pcre2_match_data_create(16, nullptr);
        jitStack = pcre2_jit_stack_create(32 * 1024, kJitStackMaxBytes, nullptr);
        context = pcre2_match_context_create(nullptr);
        if (context) {
            pcre2_set_match_limit(context, kMatchLimit);
            if (jitStack) pcre2_jit_stack_assign(context, nullptr, jitStack);
        }
    }
    ~MatchScratch()
    {
        pcre2_match_context_free(context);
        pcre2_jit_stack_free(jitStack);
        pcre2_match_data_free(data);
    }
    MatchScratch(const MatchScratch&) = delete;
    MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch()
{
    thread_local MatchScratch s;
    return s;
}

std::string escapeLiteral(std::string_view literal)
{
    // \Q...\E cannot contain \E, so escape byte by byte instead.
    std::string out;
    for (char c : literal) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            static const char* hex = "0123456789ABCDEF";
            out += "\\x{";
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 15]);
            out.push_back('}');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(m_code)); }

Result<std::unique_ptr<Regex>> Regex::compile(std::string_view pattern)
{
    if (!isValidUtf8(pattern)) return makeError(ErrorCode::Corrupt, "regex pattern is not valid UTF-8");
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &errorCode, &errorOffset, nullptr);
    if (!code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(errorCode, message, sizeof message);
        return makeError(ErrorCode::Unsupported, "regex '" + std::string(pattern.substr(0, 200)) + "' does not compile at offset " +
                                                     std::to_string(errorOffset) + ": " + reinterpret_cast<const char*>(message));
    }
    // Without JIT (some platforms) the interpreter still gives the same matches, only slower.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    return std::unique_ptr<Regex>(new Regex(code));
}

Result<std::unique_ptr<Regex>> Regex::literal(std::string_view literal) { return compile(escapeLiteral(literal)); }

bool Regex::findAll(std::string_view text, std::vector<Match>& out) const
{
    MatchScratch& s = scratch();
    if (!s.data) return false;
    auto* code = static_cast<const pcre2_code*>(m_code);
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t offset = 0;
    while (offset <= text.size()) {
        int rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, s.data, s.context);
        if (rc == PCRE2_ERROR_NOMATCH) return true;
        if (rc < 0) return false;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
        std::size_t begin = ov[0];
        std::size_t end = ov[1];
        if (end > begin) {
            out.push_back({begin, end});
            offset = end;
        } else {
            // An empty match: step over one character so the search moves on.
            if (begin >= text.size()) return true;
            std::size_t n = validSequenceLength(text, begin);
            offset = begin + (n == 0 ? 1 : n);
        }
    }
    return true;
}

}  // namespace hearth::tok
