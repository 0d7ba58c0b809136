// jinja2's tests (`x is defined`, `x is string`, ...) with the semantics of its Python code.
#include <unordered_set>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_text.h"

namespace hearth::jinja {

namespace {

const Value& arg(const CallArgs& args, const std::string& test)
{
    const Value* v = args.get(0, nullptr);
    if (!v)
        throw TemplateError("test '" + test + "' needs an argument");
    return *v;
}

bool isLowerOrUpper(const Value& v, bool upper)
{
    if (!v.isString())
        return false;
    const std::string& s = v.asString();
    // Python: str.islower() is true when there is a cased character and none of the other case.
    const std::string mapped = upper ? text::upper(s) : text::lower(s);
    const std::string other = upper ? text::lower(s) : text::upper(s);
    return mapped == s && other != s;
}

}  // namespace

bool hasTest(const std::string& name)
{
    static const std::unordered_set<std::string> kTests = {
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer",
        "float", "boolean", "true", "false", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le", "<=", "gt",
        ">", "ge", ">=", "greaterthan", "lessthan", "in", "odd", "even", "divisibleby", "lower", "upper",
        "callable", "sameas", "escaped", "filter", "test"};
    return kTests.count(name) != 0;
}

bool applyTest(Interpreter& in, const std::string& name, const Value& v, const CallArgs& args)
{
    (void)in;
    if (name == "defined")
        return !v.isUndefined();
    if (name == "undefined")
        return v.isUndefined();
    if (name == "none")
        return v.isNone();
    if (name == "string")
        return v.isString();
    if (name == "mapping")
        return v.isDict();
    if (name == "iterable")
        return v.isString() || v.isList() || v.isDict() || v.isUndefined();
    if (name == "sequence")
        return v.isString() || v.isList() || v.isDict() || v.isUndefined();
    if (name == "number")
        return v.isNumber();
    if (name == "integer")
        return v.isInt();
    if (name == "float")
        return v.isFloat();
    if (name == "boolean")
        return v.isBool();
    if (name == "true")
        return v.isBool() && v.asBool();
    if (name == "false")
        return v.isBool() && !v.asBool();
    if (name == "callable")
        return v.isFunction();
    if (name == "escaped")
        return false;
    if (name == "equalto" || name == "eq" || name == "==")
        return valuesEqual(v, arg(args, name));
    if (name == "ne" || name == "!=")
        return !valuesEqual(v, arg(args, name));
    if (name == "sameas") {
        const Value& other = arg(args, name);
        if (v.isNone() || v.isBool() || other.isNone() || other.isBool())
            return v.kind() == other.kind() && valuesEqual(v, other);
        return false;
    }
    if (name == "lt" || name == "<" || name == "lessthan")
        return compareValues(v, arg(args, name)) < 0;
    if (name == "le" || name == "<=")
        return compareValues(v, arg(args, name)) <= 0;
    if (name == "gt" || name == ">" || name == "greaterthan")
        return compareValues(v, arg(args, name)) > 0;
    if (name == "ge" || name == ">=")
        return compareValues(v, arg(args, name)) >= 0;
    if (name == "in")
        return containsValue(arg(args, name), v);
    if (name == "odd" || name == "even" || name == "divisibleby") {
        if (v.isUndefined())
            throwUndefined(v);
        if (!v.isInt() && !v.isBool())
            throw TemplateError("test '" + name + "' needs an integer, got " + v.typeName());
        const int64_t x = v.toInt();
        if (name == "odd")
            return x % 2 != 0;
        if (name == "even")
            return x % 2 == 0;
        const Value& d = arg(args, name);
        if (!d.isInt() || d.asInt() == 0)
            throw TemplateError("divisibleby needs a non-zero integer");
        return x % d.asInt() == 0;
    }
    if (name == "lower")
        return isLowerOrUpper(v, false);
    if (name == "upper")
        return isLowerOrUpper(v, true);
    if (name == "filter" || name == "test") {
        const Value& n = v;
        if (!n.isString())
            return false;
        if (name == "test")
            return hasTest(n.asString());
        static const std::unordered_set<std::string> kFilters = {
            "length", "count", "tojson", "trim", "upper", "lower", "title", "capitalize", "default", "d",
            "first", "last", "join", "replace", "items", "list", "map", "select", "reject", "selectattr",
            "rejectattr", "string", "int", "float", "abs", "round", "safe", "indent", "dictsort", "unique",
            "sort", "reverse", "wordcount", "sum", "min", "max", "e", "escape", "center", "batch"};
        return kFilters.count(n.asString()) != 0;
    }
    throw TemplateError("no test named '" + name + "'");
}

}  // namespace hearth::jinja
