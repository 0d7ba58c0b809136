#include "tokenizer/tokenizer_json_scan.h"

#include <climits>

#include "tokenizer/utf8.h"

namespace hearth::tok {

namespace {

// Nesting of the parts read here: the root object is level 1, "model" 2, vocab/merges 3.
constexpr int kRootLevel = 1;
constexpr int kModelLevel = 2;
constexpr int kTableLevel = 3;

bool isJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int hexValue(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class Scanner {
public:
    Scanner(std::string_view text, int maxDepth, TokenizerJsonScan& out) : m_text(text), m_maxDepth(maxDepth), m_out(out) {}

    Status run()
    {
        // nlohmann accepts a UTF-8 byte order mark at the very start, so this does too.
        if (m_text.substr(0, 3) == "\xEF\xBB\xBF") m_pos = 3;
        skipSpace();
        if (peek() != '{') return fail("not a JSON object");
        m_out.root = nlohmann::json::object();
        HEARTH_TRY_STATUS(readObject(kRootLevel, [this](std::string_view key) { return rootMember(key); }));
        skipSpace();
        if (m_pos != m_text.size()) return fail("not a JSON object (text after the closing brace)");
        return Status::ok();
    }

private:
    Status fail(const std::string& what) const
    {
        return makeError(ErrorCode::Corrupt, what + " at byte " + std::to_string(m_pos));
    }
    char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
    void skipSpace()
    {
        while (m_pos < m_text.size() && isJsonSpace(m_text[m_pos])) ++m_pos;
    }
    bool consume(char c)
    {
        skipSpace();
        if (peek() != c) return false;
        ++m_pos;
        return true;
    }

    // {"key": value, ...} at m_pos; `member` reads each value after its key and colon.
    template <typename Member>
    Status readObject(int level, Member&& member)
    {
        if (level > m_maxDepth) return fail("JSON nested too deeply");
        ++m_pos;  // '{'
        if (consume('}')) return Status::ok();
        while (true) {
            skipSpace();
            std::string_view key;
            if (peek() != '"') return fail("invalid JSON: expected a key");
            HEARTH_TRY_STATUS(readString(key));
            if (!consume(':')) return fail("invalid JSON: expected ':'");
            skipSpace();
            HEARTH_TRY_STATUS(member(key));
            if (consume(',')) continue;
            if (consume('}')) return Status::ok();
            return fail("invalid JSON: expected ',' or '}'");
        }
    }

    Status rootMember(std::string_view key)
    {
        if (key != "model") return domMember(m_out.root, key, kRootLevel);
        // The last "model" wins, as in a DOM.
        m_out.root.erase("model");
        m_out.hasVocab = m_out.hasMerges = false;
        m_out.vocab.clear();
        m_out.merges.clear();
        if (peek() != '{') return domMember(m_out.root, key, kRootLevel);
        nlohmann::json& model = m_out.root["model"] = nlohmann::json::object();
        return readObject(kModelLevel, [this, &model](std::string_view k) { return modelMember(model, k); });
    }

    Status modelMember(nlohmann::json& model, std::string_view key)
    {
        if (key == "vocab") {
            model.erase("vocab");
            m_out.hasVocab = false;
            m_out.vocab.clear();
            if (peek() != '{') return domMember(model, key, kModelLevel);
            m_out.hasVocab = true;
            return readObject(kTableLevel, [this](std::string_view piece) { return vocabEntry(piece); });
        }
        if (key == "merges") {
            model.erase("merges");
            m_out.hasMerges = false;
            m_out.merges.clear();
            if (peek() != '[') return domMember(model, key, kModelLevel);
            m_out.hasMerges = true;
            return readMerges();
        }
        return domMember(model, key, kModelLevel);
    }

    Status vocabEntry(std::string_view piece)
    {
        VocabItem item;
        item.piece = piece;
        char c = peek();
        if (c == '-' || (c >= '0' && c <= '9')) {
            HEARTH_TRY_STATUS(readNumber(item));
        } else {
            std::string_view extent;
            HEARTH_TRY_STATUS(skipValue(kTableLevel, extent));
            HEARTH_TRY_STATUS(checkWithNlohmann(extent));
        }
        if (m_out.vocab.empty()) m_out.vocab.reserve(m_text.size() / 32);
        m_out.vocab.push_back(item);
        return Status::ok();
    }

    Status readMerges()
    {
        if (kTableLevel > m_maxDepth) return fail("JSON nested too deeply");
        ++m_pos;  // '['
        if (consume(']')) return Status::ok();
        m_out.merges.reserve(m_text.size() / 48);
        while (true) {
            skipSpace();
            MergeItem item;
            std::size_t start = m_pos;
            if (peek() == '"') {
                HEARTH_TRY_STATUS(readString(item.left));
                item.form = MergeItem::Form::Line;
            } else if (peek() == '[' && kTableLevel + 1 <= m_maxDepth && readPair(item)) {
                item.form = MergeItem::Form::Pair;
            } else {
                // Not "a b" nor ["a", "b"]: the model reports it; here it only has to be JSON.
                m_pos = start;
                std::string_view extent;
                HEARTH_TRY_STATUS(skipValue(kTableLevel, extent));
                HEARTH_TRY_STATUS(checkWithNlohmann(extent));
                item = MergeItem{};
            }
            m_out.merges.push_back(item);
            if (consume(',')) continue;
            if (consume(']')) return Status::ok();
            return fail("invalid JSON: expected ',' or ']'");
        }
    }

    // ["a", "b"] exactly; false (position undefined) for anything else, valid JSON or not.
    bool readPair(MergeItem& item)
    {
        ++m_pos;  // '['
        skipSpace();
        if (peek() != '"' || !readString(item.left).isOk()) return false;
        if (!consume(',')) return false;
        skipSpace();
        if (peek() != '"' || !readString(item.right).isOk()) return false;
        return consume(']');
    }

    // Any other member: find its extent, parse just that with nlohmann, store it under `key`.
    Status domMember(nlohmann::json& object, std::string_view key, int level)
    {
        std::string_view extent;
        HEARTH_TRY_STATUS(skipValue(level, extent));
        nlohmann::json value = nlohmann::json::parse(extent, nullptr, false);
        if (value.is_discarded()) return fail("invalid JSON in '" + std::string(key) + "'");
        object[std::string(key)] = std::move(value);
        return Status::ok();
    }

    Status checkWithNlohmann(std::string_view extent) const
    {
        if (nlohmann::json::parse(extent, nullptr, false).is_discarded()) return fail("invalid JSON");
        return Status::ok();
    }

    // The extent of the value at m_pos, inside a container at `level`. Only finds where it ends
    // and bounds its nesting; nlohmann checks the extent's grammar afterwards.
    Status skipValue(int level, std::string_view& extent)
    {
        std::size_t start = m_pos;
        char c = peek();
        if (c == '"') {
            ++m_pos;
            HEARTH_TRY_STATUS(skipStringBody());
        } else if (c == '{' || c == '[') {
            int depth = 0;
            do {
                char d = m_text[m_pos];
                if (d == '"') {
                    ++m_pos;
                    HEARTH_TRY_STATUS(skipStringBody());
                    continue;
                }
                if (d == '{' || d == '[') {
                    if (level + ++depth > m_maxDepth) return fail("JSON nested too deeply");
                } else if (d == '}' || d == ']') {
                    --depth;
                }
                ++m_pos;
            } while (depth > 0 && m_pos < m_text.size());
            if (depth > 0) return fail("invalid JSON: the file ends inside a value");
        } else if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
            while (m_pos < m_text.size()) {
                char d = m_text[m_pos];
                if (isJsonSpace(d) || d == ',' || d == '}' || d == ']') break;
                ++m_pos;
            }
        } else {
            return fail("invalid JSON: expected a value");
        }
        extent = m_text.substr(start, m_pos - start);
        return Status::ok();
    }

    Status skipStringBody()
    {
        while (m_pos < m_text.size()) {
            char c = m_text[m_pos++];
            if (c == '\\') ++m_pos;
            else if (c == '"') return Status::ok();
        }
        return fail("invalid JSON: the file ends inside a string");
    }

    // A JSON number at m_pos, by the grammar; integers keep their value.
    Status readNumber(VocabItem& item)
    {
        bool negative = peek() == '-';
        if (negative) ++m_pos;
        unsigned long long value = 0;
        bool overflow = false;
        if (peek() == '0') {
            ++m_pos;
        } else if (peek() >= '1' && peek() <= '9') {
            while (peek() >= '0' && peek() <= '9') {
                auto digit = static_cast<unsigned>(peek() - '0');
                overflow = overflow || value > (ULLONG_MAX - digit) / 10;
                value = value * 10 + digit;
                ++m_pos;
            }
        } else {
            return fail("invalid JSON: bad number");
        }
        bool integer = true;
        if (peek() == '.') {
            integer = false;
            ++m_pos;
            if (!(peek() >= '0' && peek() <= '9')) return fail("invalid JSON: bad number");
            while (peek() >= '0' && peek() <= '9') ++m_pos;
        }
        if (peek() == 'e' || peek() == 'E') {
            integer = false;
            ++m_pos;
            if (peek() == '+' || peek() == '-') ++m_pos;
            if (!(peek() >= '0' && peek() <= '9')) return fail("invalid JSON: bad number");
            while (peek() >= '0' && peek() <= '9') ++m_pos;
        }
        item.isInteger = integer;
        if (!integer) return Status::ok();
        // Out-of-range ids are refused by the model; only their sign matters past int64.
        if (overflow || value > static_cast<unsigned long long>(LLONG_MAX)) item.id = negative ? LLONG_MIN : LLONG_MAX;
        else item.id = negative ? -static_cast<long long>(value) : static_cast<long long>(value);
        return Status::ok();
    }

    // A JSON string at m_pos (on its quote), validated as nlohmann does: no raw control
    // characters, valid escapes and surrogate pairs, well-formed UTF-8. Strings without escapes
    // are views into the text; the rest are decoded into m_out.unescaped.
    Status readString(std::string_view& out)
    {
        std::size_t start = ++m_pos;
        while (m_pos < m_text.size()) {
            auto c = static_cast<unsigned char>(m_text[m_pos]);
            if (c == '"') {
                out = m_text.substr(start, m_pos - start);
                ++m_pos;
                return Status::ok();
            }
            if (c == '\\') {
                std::string& decoded = m_out.unescaped.emplace_back(m_text.substr(start, m_pos - start));
                HEARTH_TRY_STATUS(readEscapedRest(decoded));
                out = decoded;
                return Status::ok();
            }
            HEARTH_TRY_STATUS(advanceRawChar(c));
        }
        return fail("invalid JSON: the file ends inside a string");
    }

    Status advanceRawChar(unsigned char c)
    {
        if (c < 0x20) return fail("invalid JSON: control character in a string");
        if (c < 0x80) {
            ++m_pos;
            return Status::ok();
        }
        std::size_t n = validSequenceLength(m_text, m_pos);
        if (n == 0) return fail("invalid JSON: invalid UTF-8 in a string");
        m_pos += n;
        return Status::ok();
    }

    Status readEscapedRest(std::string& decoded)
    {
        while (m_pos < m_text.size()) {
            auto c = static_cast<unsigned char>(m_text[m_pos]);
            if (c == '"') {
                ++m_pos;
                return Status::ok();
            }
            if (c != '\\') {
                std::size_t from = m_pos;
                HEARTH_TRY_STATUS(advanceRawChar(c));
                decoded.append(m_text.substr(from, m_pos - from));
                continue;
            }
            ++m_pos;
            char e = peek();
            ++m_pos;
            switch (e) {
            case '"': decoded.push_back('"'); break;
            case '\\': decoded.push_back('\\'); break;
            case '/': decoded.push_back('/'); break;
            case 'b': decoded.push_back('\b'); break;
            case 'f': decoded.push_back('\f'); break;
            case 'n': decoded.push_back('\n'); break;
            case 'r': decoded.push_back('\r'); break;
            case 't': decoded.push_back('\t'); break;
            case 'u': {
                int unit = readHex4();
                if (unit < 0) return fail("invalid JSON: bad \\u escape");
                char32_t cp = static_cast<char32_t>(unit);
                if (unit >= 0xDC00 && unit <= 0xDFFF) return fail("invalid JSON: lone low surrogate");
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    if (m_text.substr(m_pos, 2) != "\\u") return fail("invalid JSON: lone high surrogate");
                    m_pos += 2;
                    int low = readHex4();
                    if (low < 0xDC00 || low > 0xDFFF) return fail("invalid JSON: bad surrogate pair");
                    cp = 0x10000 + ((static_cast<char32_t>(unit) - 0xD800) << 10) + (static_cast<char32_t>(low) - 0xDC00);
                }
                appendUtf8(decoded, cp);
                break;
            }
            default: return fail("invalid JSON: bad escape");
            }
        }
        return fail("invalid JSON: the file ends inside a string");
    }

    int readHex4()
    {
        if (m_pos + 4 > m_text.size()) return -1;
        int value = 0;
        for (int i = 0; i < 4; ++i) {
            int h = hexValue(m_text[m_pos++]);
            if (h < 0) return -1;
            value = value * 16 + h;
        }
        return value;
    }

    std::string_view m_text;
    int m_maxDepth;
    TokenizerJsonScan& m_out;
    std::size_t m_pos = 0;
};

}  // namespace

Status scanTokenizerJson(std::string_view text, int maxDepth, TokenizerJsonScan& out)
{
    return Scanner(text, maxDepth, out).run();
}

}  // namespace hearth::tok
