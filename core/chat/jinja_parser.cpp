#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

namespace hearth::jinja {

namespace {

// Nesting of expressions and blocks; deeper templates are rejected rather than risking the stack.
constexpr int kMaxNesting = 150;

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : m_tokens(tokens) {}

    Program run()
    {
        Program p;
        std::string found;
        p.body = parseBody({}, found);
        return p;
    }

private:
    struct DepthGuard {
        explicit DepthGuard(Parser& p) : parser(p)
        {
            if (++parser.m_depth > kMaxNesting) {
                --parser.m_depth;
                parser.fail("template nested too deeply");
            }
        }
        ~DepthGuard() { --parser.m_depth; }
        Parser& parser;
    };

    const Token& cur() const { return m_tokens[std::min(m_pos, m_tokens.size() - 1)]; }
    const Token& peek(size_t n = 1) const { return m_tokens[std::min(m_pos + n, m_tokens.size() - 1)]; }
    const Token& next() { const Token& t = cur(); if (m_pos < m_tokens.size() - 1) ++m_pos; return t; }

    [[noreturn]] void fail(const std::string& message) const
    {
        throw TemplateError(message, cur().line, cur().column);
    }

    static std::string describe(const Token& t)
    {
        switch (t.type) {
        case TokenType::Eof: return "end of template";
        case TokenType::BlockEnd: return "end of statement block";
        case TokenType::VarEnd: return "end of print statement";
        case TokenType::Text: return "template data";
        case TokenType::String: return "string";
        default: return "'" + t.text + "'";
        }
    }

    bool isOp(const char* op) const { return cur().type == TokenType::Op && cur().text == op; }
    bool isName(const char* n) const { return cur().type == TokenType::Name && cur().text == n; }
    bool skipOp(const char* op) { if (!isOp(op)) return false; next(); return true; }
    bool skipName(const char* n) { if (!isName(n)) return false; next(); return true; }
    void expectOp(const char* op)
    {
        if (!skipOp(op))
            fail(std::string("expected '") + op + "', got " + describe(cur()));
    }
    std::string expectName()
    {
        if (cur().type != TokenType::Name)
            fail("expected a name, got " + describe(cur()));
        return next().text;
    }
    void expectBlockEnd()
    {
        if (cur().type != TokenType::BlockEnd)
            fail("expected end of statement block, got " + describe(cur()));
        next();
    }

    ExprPtr make(ExprKind kind, const Token& at)
    {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = at.line;
        e->column = at.column;
        return e;
    }

    StmtPtr makeStmt(StmtKind kind, const Token& at)
    {
        auto s = std::make_unique<Stmt>();
        s->kind = kind;
        s->line = at.line;
        s->column = at.column;
        return s;
    }

    // Parses statements until a block tag named in `stops`; leaves the position after that name.
    Body parseBody(std::initializer_list<const char*> stops, std::string& found)
    {
        DepthGuard guard(*this);
        Body body;
        while (true) {
            const Token& t = cur();
            if (t.type == TokenType::Eof) {
                if (stops.size() != 0)
                    fail(std::string("unexpected end of template, expected '") + *(stops.end() - 1) + "'");
                return body;
            }
            if (t.type == TokenType::Text) {
                auto s = makeStmt(StmtKind::Text, t);
                s->text = t.text;
                body.push_back(std::move(s));
                next();
            } else if (t.type == TokenType::VarBegin) {
                next();
                auto s = makeStmt(StmtKind::Output, t);
                s->expr = parseExpression();
                if (cur().type != TokenType::VarEnd)
                    fail("expected end of print statement, got " + describe(cur()));
                next();
                body.push_back(std::move(s));
            } else if (t.type == TokenType::BlockBegin) {
                const Token& nameTok = peek();
                if (nameTok.type != TokenType::Name)
                    fail("expected a statement name, got " + describe(nameTok));
                for (const char* stop : stops) {
                    if (nameTok.text == stop) {
                        next();
                        next();
                        found = stop;
                        return body;
                    }
                }
                next();
                body.push_back(parseStatement());
            } else {
                fail("unexpected " + describe(t));
            }
        }
    }

    StmtPtr parseStatement()
    {
        const Token& at = cur();
        const std::string name = next().text;
        std::string found;
        if (name == "if") {
            auto s = makeStmt(StmtKind::If, at);
            ExprPtr cond = parseExpression();
            expectBlockEnd();
            while (true) {
                Body b = parseBody({"elif", "else", "endif"}, found);
                s->branches.emplace_back(std::move(cond), std::move(b));
                if (found == "elif") {
                    cond = parseExpression();
                    expectBlockEnd();
                } else if (found == "else") {
                    expectBlockEnd();
                    s->branches.emplace_back(nullptr, parseBody({"endif"}, found));
                    expectBlockEnd();
                    return s;
                } else {
                    expectBlockEnd();
                    return s;
                }
            }
        }
        if (name == "for") {
            auto s = makeStmt(StmtKind::For, at);
            s->targets = parseTargets();
            if (!skipName("in"))
                fail("expected 'in' in for loop, got " + describe(cur()));
            s->expr = parseExpression(false);
            if (skipName("if"))
                s->loopFilter = parseExpression(false);
            if (isName("recursive"))
                fail("recursive for loops are not supported");
            expectBlockEnd();
            s->body = parseBody({"else", "endfor"}, found);
            if (found == "else") {
                expectBlockEnd();
                s->elseBody = parseBody({"endfor"}, found);
            }
            expectBlockEnd();
            return s;
        }
        if (name == "set") {
            auto s = makeStmt(StmtKind::Set, at);
            s->targets = parseTargets();
            if (s->targets.size() == 1 && skipOp(".")) {
                s->attribute = expectName();
            }
            if (skipOp("=")) {
                s->expr = parseExpression();
                if (isOp(",")) {
                    auto tuple = make(ExprKind::TupleLit, cur());
                    tuple->args.push_back(std::move(s->expr));
                    while (skipOp(",") && cur().type != TokenType::BlockEnd)
                        tuple->args.push_back(parseExpression());
                    s->expr = std::move(tuple);
                }
                expectBlockEnd();
                return s;
            }
            if (s->targets.size() != 1 || !s->attribute.empty())
                fail("expected '=' in set statement");
            s->kind = StmtKind::SetBlock;
            expectBlockEnd();
            s->body = parseBody({"endset"}, found);
            expectBlockEnd();
            return s;
        }
        if (name == "macro") {
            auto s = makeStmt(StmtKind::Macro, at);
            s->text = expectName();
            expectOp("(");
            while (!isOp(")")) {
                if (!s->params.empty())
                    expectOp(",");
                if (isOp(")"))
                    break;
                s->params.push_back(expectName());
                s->defaults.push_back(skipOp("=") ? parseExpression() : nullptr);
            }
            expectOp(")");
            expectBlockEnd();
            s->body = parseBody({"endmacro"}, found);
            if (cur().type == TokenType::Name)
                next();
            expectBlockEnd();
            return s;
        }
        if (name == "break" || name == "continue") {
            auto s = makeStmt(name == "break" ? StmtKind::Break : StmtKind::Continue, at);
            expectBlockEnd();
            return s;
        }
        if (name == "filter") {
            auto s = makeStmt(StmtKind::FilterBlock, at);
            s->expr = parseFilterChain(nullptr);
            expectBlockEnd();
            s->body = parseBody({"endfilter"}, found);
            expectBlockEnd();
            return s;
        }
        if (name == "generation") {
            // transformers' {% generation %} marks assistant text for masks; it renders its body.
            auto s = makeStmt(StmtKind::Scope, at);
            expectBlockEnd();
            s->body = parseBody({"endgeneration"}, found);
            expectBlockEnd();
            return s;
        }
        m_pos -= 1;
        fail("unknown or unsupported tag '" + name + "'");
    }

    std::vector<std::string> parseTargets()
    {
        std::vector<std::string> names;
        const bool paren = skipOp("(");
        names.push_back(expectName());
        while (skipOp(","))
            names.push_back(expectName());
        if (paren)
            expectOp(")");
        return names;
    }

    ExprPtr parseFilterChain(ExprPtr subject)
    {
        do {
            const Token& at = cur();
            auto f = make(ExprKind::Filter, at);
            f->name = expectName();
            f->args.push_back(std::move(subject));
            if (isOp("("))
                parseCallArgs(*f);
            subject = std::move(f);
        } while (skipOp("|"));
        return subject;
    }

public:
    ExprPtr parseExpression(bool withCond = true)
    {
        DepthGuard guard(*this);
        ExprPtr e = parseOr();
        if (!withCond)
            return e;
        while (isName("if")) {
            const Token& at = next();
            auto c = make(ExprKind::Cond, at);
            c->args.push_back(std::move(e));
            c->args.push_back(parseOr());
            c->args.push_back(skipName("else") ? parseExpression() : nullptr);
            e = std::move(c);
        }
        return e;
    }

private:
    ExprPtr binary(const Token& at, const std::string& op, ExprPtr l, ExprPtr r)
    {
        auto b = make(ExprKind::Binary, at);
        b->name = op;
        b->args.push_back(std::move(l));
        b->args.push_back(std::move(r));
        return b;
    }

    ExprPtr parseOr()
    {
        ExprPtr e = parseAnd();
        while (isName("or")) {
            const Token& at = next();
            e = binary(at, "or", std::move(e), parseAnd());
        }
        return e;
    }

    ExprPtr parseAnd()
    {
        ExprPtr e = parseNot();
        while (isName("and")) {
            const Token& at = next();
            e = binary(at, "and", std::move(e), parseNot());
        }
        return e;
    }

    ExprPtr parseNot()
    {
        DepthGuard guard(*this);
        if (isName("not")) {
            const Token& at = next();
            auto u = make(ExprKind::Unary, at);
            u->name = "not";
            u->args.push_back(parseNot());
            return u;
        }
        return parseCompare();
    }

    ExprPtr parseCompare()
    {
        const Token& at = cur();
        ExprPtr first = parseMath1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == TokenType::Op &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
                 cur().text == "<=" || cur().text == ">=")) {
                op = next().text;
            } else if (isName("in")) {
                next();
                op = "in";
            } else if (isName("not") && peek().type == TokenType::Name && peek().text == "in") {
                next();
                next();
                op = "notin";
            } else {
                break;
            }
            if (!cmp) {
                cmp = make(ExprKind::Compare, at);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parseMath1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parseMath1()
    {
        ExprPtr e = parseConcat();
        while (isOp("+") || isOp("-")) {
            const Token& at = next();
            e = binary(at, at.text, std::move(e), parseConcat());
        }
        return e;
    }

    ExprPtr parseConcat()
    {
        ExprPtr e = parseMath2();
        while (isOp("~")) {
            const Token& at = next();
            e = binary(at, "~", std::move(e), parseMath2());
        }
        return e;
    }

    ExprPtr parseMath2()
    {
        ExprPtr e = parsePow();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            const Token& at = next();
            e = binary(at, at.text, std::move(e), parsePow());
        }
        return e;
    }

    ExprPtr parsePow()
    {
        ExprPtr e = parseUnary(true);
        while (isOp("**")) {
            const Token& at = next();
            e = binary(at, "**", std::move(e), parseUnary(true));
        }
        return e;
    }

    ExprPtr parseUnary(bool withFilter)
    {
        DepthGuard guard(*this);
        ExprPtr e;
        if (isOp("-") || isOp("+")) {
            const Token& at = next();
            e = make(ExprKind::Unary, at);
            e->name = at.text;
            e->args.push_back(parseUnary(false));
        } else {
            e = parsePrimary();
        }
        e = parsePostfix(std::move(e));
        if (withFilter)
            e = parseFilterExpr(std::move(e));
        return e;
    }

    ExprPtr parsePrimary()
    {
        DepthGuard guard(*this);
        const Token& t = cur();
        switch (t.type) {
        case TokenType::Name: {
            next();
            auto e = make(ExprKind::Literal, t);
            if (t.text == "true" || t.text == "True")
                e->literal = Value(true);
            else if (t.text == "false" || t.text == "False")
                e->literal = Value(false);
            else if (t.text == "none" || t.text == "None")
                e->literal = Value::none();
            else {
                e->kind = ExprKind::Name;
                e->name = t.text;
            }
            return e;
        }
        case TokenType::String: {
            std::string s;
            while (cur().type == TokenType::String)
                s += next().text;
            auto e = make(ExprKind::Literal, t);
            e->literal = Value(std::move(s));
            return e;
        }
        case TokenType::Int: {
            next();
            auto e = make(ExprKind::Literal, t);
            e->literal = Value(t.intValue);
            return e;
        }
        case TokenType::Float: {
            next();
            auto e = make(ExprKind::Literal, t);
            e->literal = Value(t.floatValue);
            return e;
        }
        default: break;
        }
        if (isOp("(")) {
            next();
            if (skipOp(")"))
                return make(ExprKind::TupleLit, t);
            ExprPtr inner = parseExpression();
            if (isOp(",")) {
                auto tuple = make(ExprKind::TupleLit, t);
                tuple->args.push_back(std::move(inner));
                while (skipOp(",") && !isOp(")"))
                    tuple->args.push_back(parseExpression());
                inner = std::move(tuple);
            }
            expectOp(")");
            return inner;
        }
        if (isOp("[")) {
            next();
            auto list = make(ExprKind::ListLit, t);
            while (!isOp("]")) {
                if (!list->args.empty())
                    expectOp(",");
                if (isOp("]"))
                    break;
                list->args.push_back(parseExpression());
            }
            expectOp("]");
            return list;
        }
        if (isOp("{")) {
            next();
            auto dict = make(ExprKind::DictLit, t);
            while (!isOp("}")) {
                if (!dict->dictItems.empty())
                    expectOp(",");
                if (isOp("}"))
                    break;
                ExprPtr k = parseExpression();
                expectOp(":");
                dict->dictItems.emplace_back(std::move(k), parseExpression());
            }
            expectOp("}");
            return dict;
        }
        fail("unexpected " + describe(t));
    }

    ExprPtr parsePostfix(ExprPtr e)
    {
        while (true) {
            const Token& at = cur();
            if (isOp(".")) {
                next();
                if (cur().type == TokenType::Int) {
                    auto item = make(ExprKind::Item, at);
                    item->args.push_back(std::move(e));
                    auto idx = make(ExprKind::Literal, cur());
                    idx->literal = Value(next().intValue);
                    item->args.push_back(std::move(idx));
                    e = std::move(item);
                } else {
                    auto attr = make(ExprKind::Attr, at);
                    attr->name = expectName();
                    attr->args.push_back(std::move(e));
                    e = std::move(attr);
                }
            } else if (isOp("[")) {
                next();
                e = parseSubscript(std::move(e), at);
                expectOp("]");
            } else if (isOp("(")) {
                auto call = make(ExprKind::Call, at);
                call->args.push_back(std::move(e));
                parseCallArgs(*call);
                e = std::move(call);
            } else {
                return e;
            }
        }
    }

    ExprPtr parseSubscript(ExprPtr subject, const Token& at)
    {
        ExprPtr first;
        if (!isOp(":")) {
            first = parseExpression();
            if (!isOp(":")) {
                auto item = make(ExprKind::Item, at);
                item->args.push_back(std::move(subject));
                item->args.push_back(std::move(first));
                return item;
            }
        }
        auto slice = make(ExprKind::Slice, at);
        slice->args.push_back(std::move(subject));
        slice->args.push_back(std::move(first));
        expectOp(":");
        slice->args.push_back(isOp("]") || isOp(":") ? nullptr : parseExpression());
        if (skipOp(":"))
            slice->args.push_back(isOp("]") ? nullptr : parseExpression());
        else
            slice->args.push_back(nullptr);
        return slice;
    }

    void parseCallArgs(Expr& call)
    {
        expectOp("(");
        bool first = true;
        while (!isOp(")")) {
            if (!first)
                expectOp(",");
            first = false;
            if (isOp(")"))
                break;
            if (isOp("*") || isOp("**"))
                fail("*args and **kwargs in calls are not supported");
            if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().text == "=") {
                std::string key = next().text;
                next();
                call.kwargs.emplace_back(std::move(key), parseExpression());
            } else {
                if (!call.kwargs.empty())
                    fail("positional argument after keyword argument");
                call.args.push_back(parseExpression());
            }
        }
        expectOp(")");
    }

    ExprPtr parseFilterExpr(ExprPtr e)
    {
        while (true) {
            if (isOp("|")) {
                next();
                const Token& at = cur();
                auto f = make(ExprKind::Filter, at);
                f->name = expectName();
                f->args.push_back(std::move(e));
                if (isOp("("))
                    parseCallArgs(*f);
                e = std::move(f);
            } else if (isName("is")) {
                const Token& at = next();
                auto t = make(ExprKind::Test, at);
                t->negated = skipName("not");
                t->name = expectName();
                t->args.push_back(std::move(e));
                const Token& c = cur();
                if (isOp("(")) {
                    parseCallArgs(*t);
                } else if ((c.type == TokenType::Name || c.type == TokenType::String || c.type == TokenType::Int ||
                            c.type == TokenType::Float || isOp("[") || isOp("{")) &&
                           !(isName("else") || isName("or") || isName("and") || isName("if") || isName("is"))) {
                    t->args.push_back(parsePostfix(parsePrimary()));
                }
                e = std::move(t);
            } else if (isOp("(")) {
                auto call = make(ExprKind::Call, cur());
                call->args.push_back(std::move(e));
                parseCallArgs(*call);
                e = std::move(call);
            } else {
                return e;
            }
        }
    }

    const std::vector<Token>& m_tokens;
    size_t m_pos = 0;
    int m_depth = 0;
};

}  // namespace

Program parseTemplate(const std::vector<Token>& tokens)
{
    return Parser(tokens).run();
}

}  // namespace hearth::jinja
