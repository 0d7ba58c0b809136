#include "tokenizer/pre_tokenizers.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include "tokenizer/json_access.h"
#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

// HF's SplitDelimiterBehavior.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Result<SplitBehavior> parseBehavior(const std::string& name)
{
    if (name == "Removed") return SplitBehavior::Removed;
    if (name == "Isolated") return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
    if (name == "Contiguous") return SplitBehavior::Contiguous;
    return makeError(ErrorCode::Corrupt, "Split pre-tokenizer: unknown behavior '" + name + "'");
}

struct Part {
    std::size_t begin;
    std::size_t end;
    bool isMatch;
};

// Applies one behavior to a piece's matches and appends the resulting non-empty pieces, the way
// NormalizedString::split does.
void splitPiece(const PieceSpan& piece, const std::vector<Match>& matches, SplitBehavior behavior, bool invert,
                std::vector<Part>& parts, std::vector<PieceSpan>& out)
{
    parts.clear();
    std::size_t prev = piece.begin;
    for (const Match& m : matches) {
        std::size_t b = piece.begin + m.begin;
        std::size_t e = piece.begin + m.end;
        if (prev != b) parts.push_back({prev, b, invert});
        parts.push_back({b, e, !invert});
        prev = e;
    }
    if (prev != piece.end) parts.push_back({prev, piece.end, invert});

    auto emit = [&](std::size_t b, std::size_t e) {
        if (e > b) out.push_back({b, e, piece.atInputStart && b == piece.begin});
    };
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const Part& p : parts)
            if (!p.isMatch) emit(p.begin, p.end);
        return;
    case SplitBehavior::Isolated:
        for (const Part& p : parts) emit(p.begin, p.end);
        return;
    case SplitBehavior::MergedWithPrevious: {
        std::vector<Part> merged;
        bool previousMatch = false;
        for (const Part& p : parts) {
            if (p.isMatch && !previousMatch && !merged.empty()) merged.back().end = p.end;
            else merged.push_back(p);
            previousMatch = p.isMatch;
        }
        for (const Part& p : merged) emit(p.begin, p.end);
        return;
    }
    case SplitBehavior::MergedWithNext: {
        std::vector<Part> merged;
        bool nextMatch = false;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            if (it->isMatch && !nextMatch && !merged.empty()) merged.back().begin = it->begin;
            else merged.push_back(*it);
            nextMatch = it->isMatch;
        }
        for (auto it = merged.rbegin(); it != merged.rend(); ++it) emit(it->begin, it->end);
        return;
    }
    case SplitBehavior::Contiguous: {
        std::vector<Part> merged;
        bool previousMatch = false;
        for (const Part& p : parts) {
            if (p.isMatch == previousMatch && !merged.empty()) merged.back().end = p.end;
            else merged.push_back(p);
            previousMatch = p.isMatch;
        }
        for (const Part& p : merged) emit(p.begin, p.end);
        return;
    }
    }
}

class SplitPreTokenizer final : public PreTokenizer {
public:
    SplitPreTokenizer(std::unique_ptr<Regex> regex, SplitBehavior behavior, bool invert)
        : m_regex(std::move(regex)), m_behavior(behavior), m_invert(invert) {}

    void apply(Pieces& pieces) const override
    {
        pieces.nextSpans.clear();
        std::vector<Part> parts;
        for (const PieceSpan& piece : pieces.spans) {
            pieces.matches.clear();
            std::string_view view(pieces.text.data() + piece.begin, piece.end - piece.begin);
            m_regex->findAll(view, pieces.matches);
            splitPiece(piece, pieces.matches, m_behavior, m_invert, parts, pieces.nextSpans);
        }
        pieces.spans.swap(pieces.nextSpans);
    }

private:
    std::unique_ptr<Regex> m_regex;
    SplitBehavior m_behavior;
    bool m_invert;
};

// Splits on single code points that satisfy a predicate (Digits).
class CharClassPreTokenizer final : public PreTokenizer {
public:
    explicit CharClassPreTokenizer(SplitBehavior behavior) : m_behavior(behavior) {}

    void apply(Pieces& pieces) const override
    {
        pieces.nextSpans.clear();
        std::vector<Part> parts;
        for (const PieceSpan& piece : pieces.spans) {
            pieces.matches.clear();
            std::string_view view(pieces.text.data() + piece.begin, piece.end - piece.begin);
            std::size_t pos = 0;
            while (pos < view.size()) {
                std::size_t start = pos;
                char32_t cp = nextCodePoint(view, pos);
                auto category = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
                if (category == UTF8PROC_CATEGORY_ND || category == UTF8PROC_CATEGORY_NL || category == UTF8PROC_CATEGORY_NO)
                    pieces.matches.push_back({start, pos});
            }
            splitPiece(piece, pieces.matches, m_behavior, false, parts, pieces.nextSpans);
        }
        pieces.spans.swap(pieces.nextSpans);
    }

private:
    SplitBehavior m_behavior;
};

// Rebuilds the text piece by piece through `rewrite`, which appends a piece's new text.
template <typename Rewrite>
void rewritePieces(Pieces& pieces, Rewrite rewrite)
{
    pieces.nextText.clear();
    pieces.nextSpans.clear();
    for (const PieceSpan& piece : pieces.spans) {
        std::size_t begin = pieces.nextText.size();
        rewrite(std::string_view(pieces.text.data() + piece.begin, piece.end - piece.begin), piece, pieces.nextText);
        pieces.nextSpans.push_back({begin, pieces.nextText.size(), piece.atInputStart});
    }
    pieces.text.swap(pieces.nextText);
    pieces.spans.swap(pieces.nextSpans);
}

class ByteLevelPreTokenizer final : public PreTokenizer {
public:
    ByteLevelPreTokenizer(bool addPrefixSpace, std::unique_ptr<Regex> regex)
        : m_addPrefixSpace(addPrefixSpace), m_regex(std::move(regex)) {}

    void apply(Pieces& pieces) const override
    {
        if (m_addPrefixSpace) {
            rewritePieces(pieces, [](std::string_view text, const PieceSpan&, std::string& out) {
                if (text.empty() || text.front() != ' ') out.push_back(' ');
                out.append(text);
            });
        }
        // The byte-to-character mapping itself is implicit: the BPE model works on raw bytes.
        if (!m_regex) return;
        pieces.nextSpans.clear();
        std::vector<Part> parts;
        for (const PieceSpan& piece : pieces.spans) {
            pieces.matches.clear();
            m_regex->findAll(std::string_view(pieces.text.data() + piece.begin, piece.end - piece.begin), pieces.matches);
            splitPiece(piece, pieces.matches, SplitBehavior::Isolated, false, parts, pieces.nextSpans);
        }
        pieces.spans.swap(pieces.nextSpans);
    }
    bool isByteLevel() const override { return true; }

private:
    bool m_addPrefixSpace;
    std::unique_ptr<Regex> m_regex;
};

enum class PrependScheme { First, Always, Never };

class MetaspacePreTokenizer final : public PreTokenizer {
public:
    MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
        : m_replacement(std::move(replacement)), m_scheme(scheme), m_split(split) {}

    void apply(Pieces& pieces) const override
    {
        rewritePieces(pieces, [this](std::string_view text, const PieceSpan& piece, std::string& out) {
            std::size_t start = out.size();
            for (char c : text) {
                if (c == ' ') out.append(m_replacement);
                else out.push_back(c);
            }
            bool startsWithReplacement = std::string_view(out).substr(start).starts_with(m_replacement);
            bool prepend = m_scheme == PrependScheme::Always || (m_scheme == PrependScheme::First && piece.atInputStart);
            if (prepend && !startsWithReplacement) out.insert(start, m_replacement);
        });
        if (!m_split) return;
        pieces.nextSpans.clear();
        std::vector<Part> parts;
        for (const PieceSpan& piece : pieces.spans) {
            pieces.matches.clear();
            std::string_view view(pieces.text.data() + piece.begin, piece.end - piece.begin);
            for (std::size_t pos = view.find(m_replacement); pos != std::string_view::npos;
                 pos = view.find(m_replacement, pos + m_replacement.size()))
                pieces.matches.push_back({pos, pos + m_replacement.size()});
            splitPiece(piece, pieces.matches, SplitBehavior::MergedWithNext, false, parts, pieces.nextSpans);
        }
        pieces.spans.swap(pieces.nextSpans);
    }

private:
    std::string m_replacement;
    PrependScheme m_scheme;
    bool m_split;
};

class SequencePreTokenizer final : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : m_steps(std::move(steps)) {}
    void apply(Pieces& pieces) const override
    {
        for (const auto& step : m_steps) step->apply(pieces);
    }
    bool isByteLevel() const override
    {
        for (const auto& step : m_steps)
            if (step->isByteLevel()) return true;
        return false;
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> m_steps;
};

Result<std::unique_ptr<PreTokenizer>> makeRegexSplit(const char* pattern, SplitBehavior behavior, bool invert)
{
    HEARTH_TRY_ASSIGN(std::unique_ptr<Regex> regex, Regex::compile(pattern));
    return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(regex), behavior, invert));
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> parsePreTokenizer(const nlohmann::json& spec, int depth)
{
    if (spec.is_null()) return std::unique_ptr<PreTokenizer>();
    if (depth > 16) return makeError(ErrorCode::Corrupt, "pre_tokenizer: Sequence nested too deeply");
    HEARTH_TRY_ASSIGN(std::string type, requireString(spec, "type", "pre_tokenizer"));
    if (type == "Split") {
        HEARTH_TRY_ASSIGN(std::unique_ptr<Regex> regex, parsePattern(spec, "Split pre-tokenizer"));
        HEARTH_TRY_ASSIGN(SplitBehavior behavior, parseBehavior(optionalString(spec, "behavior", "Isolated")));
        return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(std::move(regex), behavior, optionalBool(spec, "invert", false)));
    }
    if (type == "ByteLevel") {
        std::unique_ptr<Regex> regex;
        if (optionalBool(spec, "use_regex", true)) {
            HEARTH_TRY_ASSIGN(regex, Regex::compile(kGpt2SplitRegex));
        }
        return std::unique_ptr<PreTokenizer>(new ByteLevelPreTokenizer(optionalBool(spec, "add_prefix_space", true), std::move(regex)));
    }
    if (type == "Metaspace") {
        std::string replacement = optionalString(spec, "replacement", "\xE2\x96\x81");
        if (replacement.empty()) return makeError(ErrorCode::Corrupt, "Metaspace pre-tokenizer: empty replacement");
        // Older files say add_prefix_space instead of prepend_scheme.
        std::string schemeName = optionalString(spec, "prepend_scheme", optionalBool(spec, "add_prefix_space", true) ? "always" : "never");
        PrependScheme scheme = PrependScheme::Always;
        if (schemeName == "first") scheme = PrependScheme::First;
        else if (schemeName == "never") scheme = PrependScheme::Never;
        else if (schemeName != "always") return makeError(ErrorCode::Corrupt, "Metaspace pre-tokenizer: unknown prepend_scheme '" + schemeName + "'");
        return std::unique_ptr<PreTokenizer>(new MetaspacePreTokenizer(std::move(replacement), scheme, optionalBool(spec, "split", true)));
    }
    if (type == "Digits") {
        bool individual = optionalBool(spec, "individual_digits", false);
        return std::unique_ptr<PreTokenizer>(new CharClassPreTokenizer(individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous));
    }
    if (type == "Whitespace") return makeRegexSplit(R"(\w+|[^\w\s]+)", SplitBehavior::Removed, true);
    if (type == "WhitespaceSplit") return makeRegexSplit(R"(\s+)", SplitBehavior::Removed, false);
    if (type == "Sequence") {
        const nlohmann::json* list = findArray(spec, "pretokenizers");
        if (!list) return makeError(ErrorCode::Corrupt, "pre_tokenizer Sequence has no 'pretokenizers' list");
        std::vector<std::unique_ptr<PreTokenizer>> steps;
        for (const auto& item : *list) {
            HEARTH_TRY_ASSIGN(std::unique_ptr<PreTokenizer> step, parsePreTokenizer(item, depth + 1));
            if (step) steps.push_back(std::move(step));
        }
        return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(steps)));
    }
    return makeError(ErrorCode::Unsupported, "pre_tokenizer type '" + type + "' is not supported");
}

}  // namespace hearth::tok
