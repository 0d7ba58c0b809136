#include "chat/jinja_interpreter.h"

#include <cmath>

namespace hearth::jinja {

namespace {

[[noreturn]] void unsupportedOperands(const std::string& op, const Value& a, const Value& b)
{
    if (a.isUndefined())
        throwUndefined(a);
    if (b.isUndefined())
        throwUndefined(b);
    throw TemplateError("unsupported operand type(s) for " + op + ": '" + a.typeName() + "' and '" + b.typeName() + "'");
}

template <typename Op>
Value checkedInt(Op op, int64_t a, int64_t b)
{
    int64_t r = 0;
    if (op(a, b, &r))
        throw TemplateError("integer overflow");
    return Value(r);
}

bool addOverflow(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool subOverflow(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mulOverflow(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

Value repeat(Interpreter& in, const Value& seq, int64_t n)
{
    if (n <= 0)
        return seq.isString() ? Value(std::string()) : Value(List{});
    if (seq.isString()) {
        const std::string& s = seq.asString();
        in.checkSize(s.size() * static_cast<uint64_t>(std::min<int64_t>(n, 1 << 30)));
        std::string out;
        for (int64_t i = 0; i < n; ++i)
            out += s;
        in.charge(out.size() / 64);
        return Value(std::move(out));
    }
    const List& l = seq.asList();
    in.checkSize(l.size() * static_cast<uint64_t>(std::min<int64_t>(n, 1 << 30)));
    List out;
    for (int64_t i = 0; i < n; ++i)
        out.insert(out.end(), l.begin(), l.end());
    in.charge(out.size());
    return Value(std::move(out));
}

Value arithmetic(Interpreter& in, const std::string& op, const Value& a, const Value& b)
{
    const bool nums = a.isNumber() && b.isNumber();
    const bool ints = nums && !a.isFloat() && !b.isFloat();
    if (op == "+") {
        if (ints)
            return checkedInt(addOverflow, a.toInt(), b.toInt());
        if (nums)
            return Value(a.toDouble() + b.toDouble());
        if (a.isString() && b.isString()) {
            in.checkSize(a.asString().size() + b.asString().size());
            in.charge((a.asString().size() + b.asString().size()) / 64);
            return Value(a.asString() + b.asString());
        }
        if (a.isList() && b.isList()) {
            in.checkSize(a.asList().size() + b.asList().size());
            in.charge(a.asList().size() + b.asList().size());
            List out = a.asList();
            out.insert(out.end(), b.asList().begin(), b.asList().end());
            return Value(std::move(out));
        }
    } else if (op == "-") {
        if (ints)
            return checkedInt(subOverflow, a.toInt(), b.toInt());
        if (nums)
            return Value(a.toDouble() - b.toDouble());
    } else if (op == "*") {
        if (ints)
            return checkedInt(mulOverflow, a.toInt(), b.toInt());
        if (nums)
            return Value(a.toDouble() * b.toDouble());
        if ((a.isString() || a.isList()) && (b.isInt() || b.isBool()))
            return repeat(in, a, b.toInt());
        if ((b.isString() || b.isList()) && (a.isInt() || a.isBool()))
            return repeat(in, b, a.toInt());
    } else if (op == "/") {
        if (nums) {
            if (b.toDouble() == 0.0)
                throw TemplateError("division by zero");
            return Value(a.toDouble() / b.toDouble());
        }
    } else if (op == "//" || op == "%") {
        if (ints) {
            const int64_t x = a.toInt();
            const int64_t y = b.toInt();
            if (y == 0)
                throw TemplateError(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
            if (x == INT64_MIN && y == -1)
                throw TemplateError("integer overflow");
            int64_t q = x / y;
            int64_t m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                --q;
                m += y;
            }
            return op == "//" ? Value(q) : Value(m);
        }
        if (nums) {
            const double x = a.toDouble();
            const double y = b.toDouble();
            if (y == 0.0)
                throw TemplateError("float division by zero");
            if (op == "//")
                return Value(std::floor(x / y));
            double m = std::fmod(x, y);
            if (m != 0.0 && ((m < 0) != (y < 0)))
                m += y;
            return Value(m);
        }
    } else if (op == "**") {
        if (ints && b.toInt() >= 0) {
            int64_t result = 1;
            int64_t base = a.toInt();
            for (int64_t e = b.toInt(); e > 0; --e) {
                if (__builtin_mul_overflow(result, base, &result))
                    throw TemplateError("integer overflow");
                if (result == 0 || result == 1)
                    break;
            }
            return Value(result);
        }
        if (nums)
            return Value(std::pow(a.toDouble(), b.toDouble()));
    }
    unsupportedOperands(op, a, b);
}

}  // namespace

Interpreter::DepthGuard::DepthGuard(Interpreter& i) : interp(i)
{
    if (++interp.m_depth > interp.m_limits.maxDepth) {
        --interp.m_depth;
        throw TemplateError("template recursion or nesting too deep (limit " + std::to_string(interp.m_limits.maxDepth) + ")");
    }
}

Interpreter::Interpreter(RenderLimits limits, LocalClock clock) : m_limits(limits), m_clock(std::move(clock)) {}

std::string Interpreter::render(const Program& program, const DictPtr& variables)
{
    auto globals = std::make_shared<Frame>();
    for (const auto& [k, v] : variables->entries)
        globals->vars[k] = v;
    m_frames = {globals, std::make_shared<Frame>()};
    std::string out;
    m_out = &out;
    execBody(program.body);
    m_out = nullptr;
    return out;
}

void Interpreter::charge(uint64_t units)
{
    m_steps += units + 1;
    if (m_steps > m_limits.maxSteps)
        throw TemplateError("template exceeded its work limit (" + std::to_string(m_limits.maxSteps) + " steps)");
}

void Interpreter::checkSize(size_t n) const
{
    if (n > m_limits.maxOutputBytes)
        throw TemplateError("template output or value too large (limit " + std::to_string(m_limits.maxOutputBytes) + " bytes)");
}

void Interpreter::append(const std::string& s)
{
    checkSize(m_out->size() + s.size());
    charge(s.size() / 64);
    *m_out += s;
}

Value Interpreter::lookup(const std::string& name) const
{
    for (auto it = m_frames.rbegin(); it != m_frames.rend(); ++it) {
        auto found = (*it)->vars.find(name);
        if (found != (*it)->vars.end())
            return found->second;
    }
    return Value::undefined("'" + name + "' is undefined");
}

std::string Interpreter::capture(const Body& body)
{
    std::string buffer;
    std::string* saved = m_out;
    m_out = &buffer;
    try {
        execBody(body);
    } catch (...) {
        m_out = saved;
        throw;
    }
    m_out = saved;
    return buffer;
}

void Interpreter::execBody(const Body& body)
{
    for (const StmtPtr& s : body) {
        exec(*s);
        if (m_break || m_continue)
            return;
    }
}

void Interpreter::exec(const Stmt& s)
{
    DepthGuard guard(*this);
    charge(1);
    try {
        switch (s.kind) {
        case StmtKind::Text: append(s.text); break;
        case StmtKind::Output: append(eval(*s.expr).str()); break;
        case StmtKind::If:
            for (const auto& [cond, body] : s.branches) {
                if (!cond || eval(*cond).truthy()) {
                    execBody(body);
                    break;
                }
            }
            break;
        case StmtKind::For: execFor(s); break;
        case StmtKind::Set: execSet(s); break;
        case StmtKind::SetBlock: assign(s.targets[0], Value(capture(s.body))); break;
        case StmtKind::Macro: defineMacro(s); break;
        case StmtKind::Break: m_break = true; break;
        case StmtKind::Continue: m_continue = true; break;
        case StmtKind::FilterBlock: {
            const Value body(capture(s.body));
            append(evalFilter(*s.expr, &body).str());
            break;
        }
        case StmtKind::Scope:
            m_frames.push_back(std::make_shared<Frame>());
            try {
                execBody(s.body);
            } catch (...) {
                m_frames.pop_back();
                throw;
            }
            m_frames.pop_back();
            break;
        }
    } catch (TemplateError& err) {
        if (err.line() == 0)
            err.setPosition(s.line, s.column);
        throw;
    }
}

void Interpreter::execFor(const Stmt& s)
{
    const Value iterable = eval(*s.expr);
    if (iterable.isNone() || iterable.isNumber() || iterable.isFunction() || iterable.isNamespace())
        throw TemplateError("'" + iterable.typeName() + "' object is not iterable");
    std::vector<Value> items = iterate(iterable);
    charge(items.size());

    auto bind = [&](Frame& f, const Value& item) {
        if (s.targets.size() == 1) {
            f.vars[s.targets[0]] = item;
            return;
        }
        std::vector<Value> parts = iterate(item);
        if (item.isUndefined() || parts.size() != s.targets.size())
            throw TemplateError("cannot unpack " + item.typeName() + " into " + std::to_string(s.targets.size()) + " loop variables");
        for (size_t i = 0; i < parts.size(); ++i)
            f.vars[s.targets[i]] = parts[i];
    };

    if (s.loopFilter) {
        std::vector<Value> kept;
        for (const Value& item : items) {
            auto frame = std::make_shared<Frame>();
            bind(*frame, item);
            m_frames.push_back(frame);
            bool keep = false;
            try {
                keep = eval(*s.loopFilter).truthy();
            } catch (...) {
                m_frames.pop_back();
                throw;
            }
            m_frames.pop_back();
            if (keep)
                kept.push_back(item);
        }
        items = std::move(kept);
    }
    if (items.empty()) {
        execBody(s.elseBody);
        return;
    }
    const auto n = static_cast<int64_t>(items.size());
    // One loop object and frame per loop, refreshed each iteration: cheaper than rebuilding.
    auto loop = std::make_shared<Dict>();
    for (const char* key : {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                            "previtem", "nextitem", "cycle"})
        loop->set(key, Value());
    auto cycle = std::make_shared<Function>();
    cycle->name = "loop.cycle";
    cycle->call = [weak = std::weak_ptr<Dict>(loop)](const CallArgs& args, Interpreter&) {
        auto d = weak.lock();
        if (args.positional.empty())
            throw TemplateError("no items for cycling given");
        const int64_t i = d ? d->entries[1].second.toInt() : 0;
        return args.positional[static_cast<size_t>(i) % args.positional.size()];
    };
    loop->entries[11].second = Value(FunctionPtr(cycle));
    auto frame = std::make_shared<Frame>();
    for (int64_t i = 0; i < n; ++i) {
        if (++m_iterations > m_limits.maxLoopIterations)
            throw TemplateError("template exceeded its loop limit (" + std::to_string(m_limits.maxLoopIterations) + " iterations)");
        frame->vars.clear();
        bind(*frame, items[static_cast<size_t>(i)]);
        auto& e = loop->entries;
        e[0].second = Value(i + 1);
        e[1].second = Value(i);
        e[2].second = Value(n - i);
        e[3].second = Value(n - i - 1);
        e[4].second = Value(i == 0);
        e[5].second = Value(i == n - 1);
        e[6].second = Value(n);
        e[7].second = Value(1);
        e[8].second = Value(0);
        e[9].second = i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item");
        e[10].second = i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item");
        frame->vars["loop"] = Value::dict(loop);
        m_frames.push_back(frame);
        try {
            execBody(s.body);
        } catch (...) {
            m_frames.pop_back();
            throw;
        }
        m_frames.pop_back();
        m_continue = false;
        if (m_break) {
            m_break = false;
            break;
        }
    }
}

void Interpreter::execSet(const Stmt& s)
{
    Value v = eval(*s.expr);
    if (!s.attribute.empty()) {
        const Value target = lookup(s.targets[0]);
        if (!target.isNamespace())
            throw TemplateError("cannot assign attribute on non-namespace object '" + s.targets[0] + "'");
        if (s.attribute[0] == '_')
            throw TemplateError("chat templates cannot store underscore-prefixed attributes on a namespace");
        target.dictPtr()->set(s.attribute, std::move(v));
        return;
    }
    if (s.targets.size() == 1) {
        assign(s.targets[0], std::move(v));
        return;
    }
    std::vector<Value> parts = iterate(v);
    if (v.isUndefined() || parts.size() != s.targets.size())
        throw TemplateError("cannot unpack " + v.typeName() + " into " + std::to_string(s.targets.size()) + " names");
    for (size_t i = 0; i < parts.size(); ++i)
        assign(s.targets[i], parts[i]);
}

void Interpreter::defineMacro(const Stmt& s)
{
    auto fn = std::make_shared<Function>();
    fn->name = s.text;
    const Stmt* macro = &s;
    fn->call = [macro](const CallArgs& args, Interpreter& in) { return in.callMacro(*macro, args); };
    assign(s.text, Value(FunctionPtr(fn)));
}

Value Interpreter::callMacro(const Stmt& macro, const CallArgs& args)
{
    DepthGuard guard(*this);
    if (args.positional.size() > macro.params.size())
        throw TemplateError("macro '" + macro.text + "' takes not more than " + std::to_string(macro.params.size()) + " argument(s)");
    for (const auto& [k, v] : args.named) {
        bool known = false;
        for (const std::string& p : macro.params)
            known = known || p == k;
        if (!known)
            throw TemplateError("macro '" + macro.text + "' takes no keyword argument '" + k + "'");
    }
    // A macro sees the globals and the template's top-level names, not its caller's locals.
    std::vector<std::shared_ptr<Frame>> saved = {m_frames.begin() + 2, m_frames.end()};
    m_frames.resize(2);
    m_frames.push_back(std::make_shared<Frame>());
    const bool savedBreak = m_break;
    const bool savedContinue = m_continue;
    std::string result;
    try {
        for (size_t i = 0; i < macro.params.size(); ++i) {
            const Value* given = args.get(i, nullptr);
            for (const auto& [k, v] : args.named)
                if (k == macro.params[i])
                    given = &v;
            if (given)
                assign(macro.params[i], *given);
            else if (macro.defaults[i])
                assign(macro.params[i], eval(*macro.defaults[i]));
            else
                assign(macro.params[i], Value::undefined("'" + macro.params[i] + "' is undefined"));
        }
        result = capture(macro.body);
    } catch (...) {
        m_frames.resize(2);
        m_frames.insert(m_frames.end(), saved.begin(), saved.end());
        throw;
    }
    m_frames.resize(2);
    m_frames.insert(m_frames.end(), saved.begin(), saved.end());
    m_break = savedBreak;
    m_continue = savedContinue;
    return Value(std::move(result));
}

Value Interpreter::call(const Value& callee, const CallArgs& args)
{
    if (callee.isUndefined())
        throwUndefined(callee);
    if (!callee.isFunction())
        throw TemplateError("'" + callee.typeName() + "' object is not callable");
    DepthGuard guard(*this);
    return callee.asFunction().call(args, *this);
}

Value Interpreter::eval(const Expr& e)
{
    DepthGuard guard(*this);
    charge(1);
    try {
        return evalInner(e);
    } catch (TemplateError& err) {
        if (err.line() == 0)
            err.setPosition(e.line, e.column);
        throw;
    }
}

CallArgs Interpreter::evalArgs(const Expr& e, size_t firstArg)
{
    CallArgs args;
    for (size_t i = firstArg; i < e.args.size(); ++i)
        args.positional.push_back(eval(*e.args[i]));
    for (const auto& [k, v] : e.kwargs)
        args.named.emplace_back(k, eval(*v));
    return args;
}

Value Interpreter::evalInner(const Expr& e)
{
    switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Name: return lookup(e.name);
    case ExprKind::ListLit:
    case ExprKind::TupleLit: {
        List l;
        for (const ExprPtr& a : e.args)
            l.push_back(eval(*a));
        return e.kind == ExprKind::TupleLit ? Value::tuple(std::move(l)) : Value(std::move(l));
    }
    case ExprKind::DictLit: {
        auto d = std::make_shared<Dict>();
        for (const auto& [k, v] : e.dictItems) {
            const Value key = eval(*k);
            d->set(key.str(), eval(*v));
        }
        return Value::dict(d);
    }
    case ExprKind::Attr: {
        const Value obj = eval(*e.args[0]);
        if (obj.isUndefined())
            throwUndefined(obj);
        return getAttribute(*this, obj, e.name);
    }
    case ExprKind::Item: {
        const Value obj = eval(*e.args[0]);
        return getItem(*this, obj, eval(*e.args[1]));
    }
    case ExprKind::Slice: {
        const Value obj = eval(*e.args[0]);
        auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value::none(); };
        return sliceValue(*this, obj, part(1), part(2), part(3));
    }
    case ExprKind::Call: return evalCall(e);
    case ExprKind::Filter: return evalFilter(e, nullptr);
    case ExprKind::Test: {
        const Value subject = eval(*e.args[0]);
        const bool result = applyTest(*this, e.name, subject, evalArgs(e, 1));
        return Value(e.negated ? !result : result);
    }
    case ExprKind::Unary: {
        const Value v = eval(*e.args[0]);
        if (e.name == "not")
            return Value(!v.truthy());
        if (v.isUndefined())
            throwUndefined(v);
        if (!v.isNumber())
            throw TemplateError("bad operand type for unary " + e.name + ": '" + v.typeName() + "'");
        if (e.name == "+")
            return v.isBool() ? Value(v.toInt()) : v;
        if (v.isFloat())
            return Value(-v.asFloat());
        if (v.toInt() == INT64_MIN)
            throw TemplateError("integer overflow");
        return Value(-v.toInt());
    }
    case ExprKind::Binary: return evalBinary(e);
    case ExprKind::Compare: return evalCompare(e);
    case ExprKind::Cond:
        if (eval(*e.args[1]).truthy())
            return eval(*e.args[0]);
        return e.args[2] ? eval(*e.args[2]) : Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
    return Value();
}

Value Interpreter::evalBinary(const Expr& e)
{
    if (e.name == "and") {
        Value a = eval(*e.args[0]);
        return a.truthy() ? eval(*e.args[1]) : a;
    }
    if (e.name == "or") {
        Value a = eval(*e.args[0]);
        return a.truthy() ? a : eval(*e.args[1]);
    }
    const Value a = eval(*e.args[0]);
    const Value b = eval(*e.args[1]);
    if (e.name == "~") {
        std::string s = a.str();
        const std::string t = b.str();
        checkSize(s.size() + t.size());
        charge((s.size() + t.size()) / 64);
        return Value(s + t);
    }
    return arithmetic(*this, e.name, a, b);
}

Value Interpreter::evalCompare(const Expr& e)
{
    Value left = eval(*e.args[0]);
    for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1]);
        const std::string& op = e.ops[i];
        bool ok = false;
        if (op == "==")
            ok = valuesEqual(left, right);
        else if (op == "!=")
            ok = !valuesEqual(left, right);
        else if (op == "in" || op == "notin")
            ok = containsValue(right, left) == (op == "in");
        else {
            if (left.isUndefined())
                throwUndefined(left);
            if (right.isUndefined())
                throwUndefined(right);
            const int c = compareValues(left, right);
            ok = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
        }
        if (!ok)
            return Value(false);
        left = std::move(right);
    }
    return Value(true);
}

Value Interpreter::evalCall(const Expr& e)
{
    const Value callee = eval(*e.args[0]);
    return call(callee, evalArgs(e, 1));
}

Value Interpreter::evalFilter(const Expr& e, const Value* blockSubject)
{
    Value subject;
    if (e.args[0])
        subject = e.args[0]->kind == ExprKind::Filter && blockSubject ? evalFilter(*e.args[0], blockSubject)
                                                                       : eval(*e.args[0]);
    else if (blockSubject)
        subject = *blockSubject;
    return applyFilter(*this, e.name, subject, evalArgs(e, 1));
}

}  // namespace hearth::jinja
