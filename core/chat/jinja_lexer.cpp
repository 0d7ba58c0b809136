#include "chat/jinja_lexer.h"

#include <algorithm>
#include <cctype>

#include "chat/jinja_text.h"
#include "chat/jinja_value.h"

namespace hearth::jinja {

namespace {

bool isNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool allWhitespace(const std::string& s, size_t from)
{
    if (from >= s.size())
        return false;  // jinja2 tests `\s+`, which needs at least one character
    for (char32_t cp : text::decode(std::string_view(s).substr(from)))
        if (!text::isSpace(cp))
            return false;
    return true;
}

class Lexer {
public:
    explicit Lexer(std::string source) : m_src(std::move(source))
    {
        for (size_t i = 0; i < m_src.size(); ++i)
            if (m_src[i] == '\n')
                m_lineStarts.push_back(i + 1);
    }

    std::vector<Token> run()
    {
        while (m_pos < m_src.size()) {
            const size_t start = findTagStart(m_pos);
            if (start == std::string::npos) {
                emitText(m_src.substr(m_pos), m_pos);
                break;
            }
            const char kind = m_src[start + 1];
            const char sign = start + 2 < m_src.size() ? m_src[start + 2] : '\0';
            size_t rawEnd = 0;
            const bool raw = kind == '%' && matchRawBegin(start, rawEnd);
            std::string data = m_src.substr(m_pos, start - m_pos);
            applyLeftStrip(data, sign, kind != '{');
            emitText(std::move(data), m_pos);
            if (kind == '#')
                lexComment(start, sign);
            else if (raw)
                lexRaw(start, rawEnd);
            else
                lexTag(start, kind, sign);
        }
        Token eof;
        eof.type = TokenType::Eof;
        setPosition(eof, m_src.size());
        m_tokens.push_back(eof);
        return std::move(m_tokens);
    }

private:
    size_t findTagStart(size_t from) const
    {
        for (size_t i = from; i + 1 < m_src.size(); ++i)
            if (m_src[i] == '{' && (m_src[i + 1] == '{' || m_src[i + 1] == '%' || m_src[i + 1] == '#'))
                return i;
        return std::string::npos;
    }

    void setPosition(Token& t, size_t offset) const
    {
        auto it = std::upper_bound(m_lineStarts.begin(), m_lineStarts.end(), offset);
        t.line = static_cast<int>(it - m_lineStarts.begin());
        t.column = static_cast<int>(offset - *(it - 1)) + 1;
    }

    [[noreturn]] void fail(const std::string& message, size_t offset) const
    {
        Token t;
        setPosition(t, offset);
        throw TemplateError(message, t.line, t.column);
    }

    void emitText(std::string data, size_t offset)
    {
        if (data.empty())
            return;
        Token t;
        t.type = TokenType::Text;
        t.text = std::move(data);
        setPosition(t, offset);
        m_tokens.push_back(std::move(t));
    }

    // jinja2: `{%-` strips all whitespace before the tag; otherwise lstrip_blocks removes the
    // indentation before a block or comment tag that starts its line.
    void applyLeftStrip(std::string& data, char sign, bool blockOrComment) const
    {
        if (sign == '-') {
            data = text::strip(data, nullptr, false, true);
        } else if (sign != '+' && blockOrComment) {
            const size_t nl = data.rfind('\n');
            const size_t lpos = nl == std::string::npos ? 0 : nl + 1;
            if ((lpos > 0 || m_lineStarting) && allWhitespace(data, lpos))
                data.resize(lpos);
        }
    }

    // After a tag end: `-` eats following whitespace, `+` nothing, else trim_blocks eats one '\n'.
    void afterTagEnd(char sign, bool trimNewline)
    {
        if (sign == '-') {
            while (m_pos < m_src.size()) {
                size_t i = m_pos;
                const std::vector<char32_t> cp = text::decode(std::string_view(m_src).substr(i, 4));
                if (cp.empty() || !text::isSpace(cp[0]))
                    break;
                std::string one;
                text::appendUtf8(one, cp[0]);
                m_pos += one.size();
            }
        } else if (sign != '+' && trimNewline && m_pos < m_src.size() && m_src[m_pos] == '\n') {
            ++m_pos;
        }
        m_lineStarting = m_pos > 0 && m_src[m_pos - 1] == '\n';
    }

    void lexComment(size_t start, char sign)
    {
        const size_t close = m_src.find("#}", start + 2 + (sign == '-' || sign == '+' ? 1 : 0));
        if (close == std::string::npos)
            fail("missing end of comment tag", start);
        const char endSign = close > start + 2 ? m_src[close - 1] : '\0';
        m_pos = close + 2;
        afterTagEnd(endSign == '-' || endSign == '+' ? endSign : '\0', true);
    }

    size_t skipSpaces(size_t i) const
    {
        while (i < m_src.size() && std::isspace(static_cast<unsigned char>(m_src[i])))
            ++i;
        return i;
    }

    // `{% raw %}` / `{%- raw -%}`: sets `end` to the offset just past the tag.
    bool matchRawBegin(size_t start, size_t& end) const
    {
        size_t i = start + 2;
        if (i < m_src.size() && (m_src[i] == '-' || m_src[i] == '+'))
            ++i;
        i = skipSpaces(i);
        if (m_src.compare(i, 3, "raw") != 0 || (i + 3 < m_src.size() && isNameChar(m_src[i + 3])))
            return false;
        i = skipSpaces(i + 3);
        if (m_src.compare(i, 3, "-%}") == 0) {
            end = i + 3;
            return true;
        }
        if (m_src.compare(i, 2, "%}") == 0) {
            end = i + 2;
            return true;
        }
        return false;
    }

    void lexRaw(size_t start, size_t beginEnd)
    {
        m_pos = beginEnd;
        afterTagEnd(m_src[beginEnd - 3] == '-' ? '-' : '+', false);
        for (size_t i = m_src.find("{%", m_pos); i != std::string::npos; i = m_src.find("{%", i + 2)) {
            size_t j = i + 2;
            const char sign = j < m_src.size() && (m_src[j] == '-' || m_src[j] == '+') ? m_src[j] : '\0';
            if (sign)
                ++j;
            j = skipSpaces(j);
            if (m_src.compare(j, 6, "endraw") != 0)
                continue;
            j = skipSpaces(j + 6);
            char endSign = '\0';
            if (j < m_src.size() && (m_src[j] == '-' || m_src[j] == '+'))
                endSign = m_src[j++];
            if (m_src.compare(j, 2, "%}") != 0)
                continue;
            std::string data = m_src.substr(m_pos, i - m_pos);
            applyLeftStrip(data, sign, true);
            emitText(std::move(data), m_pos);
            m_pos = j + 2;
            afterTagEnd(endSign, true);
            return;
        }
        fail("missing end of raw directive", start);
    }

    void lexTag(size_t start, char kind, char sign)
    {
        Token begin;
        begin.type = kind == '{' ? TokenType::VarBegin : TokenType::BlockBegin;
        setPosition(begin, start);
        m_tokens.push_back(begin);
        size_t i = start + 2 + (sign == '-' || sign == '+' ? 1 : 0);
        const char closeChar = kind == '{' ? '}' : '%';
        int depth = 0;
        while (true) {
            while (i < m_src.size() && std::isspace(static_cast<unsigned char>(m_src[i])))
                ++i;
            if (i >= m_src.size())
                fail(kind == '{' ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'",
                     start);
            if (depth == 0) {
                char endSign = '\0';
                size_t j = i;
                if ((m_src[j] == '-' || m_src[j] == '+') && j + 1 < m_src.size() && m_src[j + 1] == closeChar)
                    endSign = m_src[j++];
                if (m_src[j] == closeChar && j + 1 < m_src.size() && m_src[j + 1] == '}') {
                    Token end;
                    end.type = kind == '{' ? TokenType::VarEnd : TokenType::BlockEnd;
                    setPosition(end, i);
                    m_tokens.push_back(end);
                    m_pos = j + 2;
                    afterTagEnd(endSign, kind == '%');
                    return;
                }
            }
            i = lexExpressionToken(i, depth);
        }
    }

    size_t lexExpressionToken(size_t i, int& depth)
    {
        Token t;
        setPosition(t, i);
        const char c = m_src[i];
        if (isNameStart(c)) {
            size_t j = i;
            while (j < m_src.size() && isNameChar(m_src[j]))
                ++j;
            t.type = TokenType::Name;
            t.text = m_src.substr(i, j - i);
            m_tokens.push_back(std::move(t));
            return j;
        }
        if (isDigit(c))
            return lexNumber(i, std::move(t));
        if (c == '\'' || c == '"')
            return lexString(i, std::move(t));
        static const char* const kTwo[] = {"**", "//", "==", "!=", "<=", ">="};
        for (const char* op : kTwo) {
            if (m_src.compare(i, 2, op) == 0) {
                t.type = TokenType::Op;
                t.text = op;
                m_tokens.push_back(std::move(t));
                return i + 2;
            }
        }
        static const std::string kOne = "+-*/%~<>=.,:|()[]{}";
        if (kOne.find(c) == std::string::npos)
            fail(std::string("unexpected char '") + c + "'", i);
        if (c == '(' || c == '[' || c == '{')
            ++depth;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0)
            --depth;
        t.type = TokenType::Op;
        t.text = std::string(1, c);
        m_tokens.push_back(std::move(t));
        return i + 1;
    }

    size_t lexNumber(size_t i, Token t)
    {
        size_t j = i;
        auto digits = [&]() {
            while (j < m_src.size() && (isDigit(m_src[j]) || (m_src[j] == '_' && j + 1 < m_src.size() && isDigit(m_src[j + 1]))))
                ++j;
        };
        digits();
        bool isFloat = false;
        if (j + 1 < m_src.size() && m_src[j] == '.' && isDigit(m_src[j + 1])) {
            isFloat = true;
            ++j;
            digits();
        }
        if (j < m_src.size() && (m_src[j] == 'e' || m_src[j] == 'E')) {
            size_t k = j + 1;
            if (k < m_src.size() && (m_src[k] == '+' || m_src[k] == '-'))
                ++k;
            if (k < m_src.size() && isDigit(m_src[k])) {
                isFloat = true;
                j = k;
                digits();
            }
        }
        std::string num;
        for (size_t k = i; k < j; ++k)
            if (m_src[k] != '_')
                num += m_src[k];
        if (isFloat) {
            t.type = TokenType::Float;
            t.floatValue = std::strtod(num.c_str(), nullptr);
        } else {
            t.type = TokenType::Int;
            errno = 0;
            const unsigned long long v = std::strtoull(num.c_str(), nullptr, 10);
            if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX))
                fail("integer literal too large", i);
            t.intValue = static_cast<int64_t>(v);
        }
        t.text = std::move(num);
        m_tokens.push_back(std::move(t));
        return j;
    }

    size_t lexString(size_t i, Token t)
    {
        const char quote = m_src[i];
        std::string out;
        size_t j = i + 1;
        while (true) {
            if (j >= m_src.size())
                fail("unterminated string", i);
            const char c = m_src[j];
            if (c == quote)
                break;
            if (c != '\\' || j + 1 >= m_src.size()) {
                out += c;
                ++j;
                continue;
            }
            j = lexEscape(j, out);
        }
        t.type = TokenType::String;
        t.text = std::move(out);
        m_tokens.push_back(std::move(t));
        return j + 1;
    }

    // Python's unicode-escape decoding of one backslash sequence at m_src[j].
    size_t lexEscape(size_t j, std::string& out) const
    {
        const char e = m_src[j + 1];
        auto hex = [&](size_t from, int n, char32_t& cp) {
            cp = 0;
            for (int k = 0; k < n; ++k) {
                if (from + k >= m_src.size() || !std::isxdigit(static_cast<unsigned char>(m_src[from + k])))
                    return false;
                const char h = m_src[from + k];
                cp = cp * 16 + static_cast<char32_t>(isDigit(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
            }
            return true;
        };
        switch (e) {
        case 'n': out += '\n'; return j + 2;
        case 't': out += '\t'; return j + 2;
        case 'r': out += '\r'; return j + 2;
        case '\\': out += '\\'; return j + 2;
        case '\'': out += '\''; return j + 2;
        case '"': out += '"'; return j + 2;
        case 'a': out += '\a'; return j + 2;
        case 'b': out += '\b'; return j + 2;
        case 'f': out += '\f'; return j + 2;
        case 'v': out += '\v'; return j + 2;
        case '\n': return j + 2;
        case 'x':
        case 'u':
        case 'U': {
            const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            char32_t cp = 0;
            if (!hex(j + 2, n, cp) || cp > 0x10FFFF)
                fail("invalid escape in string literal", j);
            text::appendUtf8(out, cp);
            return j + 2 + static_cast<size_t>(n);
        }
        default:
            if (e >= '0' && e <= '7') {
                char32_t cp = 0;
                size_t k = j + 1;
                for (int n = 0; n < 3 && k < m_src.size() && m_src[k] >= '0' && m_src[k] <= '7'; ++n, ++k)
                    cp = cp * 8 + static_cast<char32_t>(m_src[k] - '0');
                text::appendUtf8(out, cp);
                return k;
            }
            out += '\\';  // unknown escapes stay as written, as in Python
            return j + 1;
        }
    }

    std::string m_src;
    std::vector<size_t> m_lineStarts{0};
    std::vector<Token> m_tokens;
    size_t m_pos = 0;
    bool m_lineStarting = true;
};

std::string normalizeNewlines(const std::string& source)
{
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n')
                ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n')
        out.pop_back();  // keep_trailing_newline=False
    return out;
}

}  // namespace

std::vector<Token> tokenize(const std::string& source)
{
    return Lexer(normalizeNewlines(source)).run();
}

}  // namespace hearth::jinja
