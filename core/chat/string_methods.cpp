// Attribute and item access: Python's str and dict methods that templates call, subscripts and
// slices, iteration and `in`. (The global functions transformers provides (raise_exception,
// strftime_now, namespace, dict) live in jinja_globals.cpp.)
#include <algorithm>
#include <cstdio>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_text.h"

namespace hearth::jinja {

FunctionPtr makeFunction(std::string name, std::function<Value(const CallArgs&, Interpreter&)> fn)
{
    auto f = std::make_shared<Function>();
    f->name = std::move(name);
    f->call = std::move(fn);
    return f;
}

namespace {

const std::string& stringArg(const CallArgs& args, size_t pos, const char* name, const char* method)
{
    const Value* v = args.get(pos, name);
    if (!v || !v->isString())
        throw TemplateError(std::string(method) + "() argument must be a string");
    return v->asString();
}

size_t byteToCodepointIndex(const std::string& s, size_t byteIndex)
{
    return text::codepointCount(std::string_view(s).substr(0, byteIndex));
}

List splitString(const std::string& s, const Value* sepValue, int64_t maxSplit, bool fromRight)
{
    List out;
    if (!sepValue || sepValue->isNone()) {
        // Runs of whitespace separate; leading and trailing whitespace is dropped.
        std::vector<char32_t> cps = text::decode(s);
        std::vector<std::pair<size_t, size_t>> words;
        size_t i = 0;
        while (i < cps.size()) {
            while (i < cps.size() && text::isSpace(cps[i]))
                ++i;
            if (i == cps.size())
                break;
            size_t j = i;
            while (j < cps.size() && !text::isSpace(cps[j]))
                ++j;
            words.emplace_back(i, j);
            i = j;
        }
        auto piece = [&](size_t b, size_t e) {
            return Value(text::encode(std::vector<char32_t>(cps.begin() + static_cast<std::ptrdiff_t>(b), cps.begin() + static_cast<std::ptrdiff_t>(e))));
        };
        if (maxSplit < 0 || static_cast<size_t>(maxSplit) + 1 >= words.size()) {
            for (auto [b, e] : words)
                out.push_back(piece(b, e));
            return out;
        }
        const auto m = static_cast<size_t>(maxSplit);
        if (!fromRight) {
            for (size_t k = 0; k < m; ++k)
                out.push_back(piece(words[k].first, words[k].second));
            size_t end = cps.size();
            while (end > words[m].first && text::isSpace(cps[end - 1]))
                --end;
            out.push_back(piece(words[m].first, end));
        } else {
            const size_t firstKept = words.size() - m;
            size_t begin = 0;
            while (begin < words[firstKept - 1].second && text::isSpace(cps[begin]))
                ++begin;
            out.push_back(piece(begin, words[firstKept - 1].second));
            for (size_t k = firstKept; k < words.size(); ++k)
                out.push_back(piece(words[k].first, words[k].second));
        }
        return out;
    }
    if (!sepValue->isString())
        throw TemplateError("must be str or None, not " + sepValue->typeName());
    const std::string& sep = sepValue->asString();
    if (sep.empty())
        throw TemplateError("empty separator");
    std::vector<std::string> parts;
    if (!fromRight) {
        size_t start = 0;
        int64_t n = 0;
        for (size_t pos = s.find(sep); pos != std::string::npos && (maxSplit < 0 || n < maxSplit); pos = s.find(sep, start), ++n) {
            parts.push_back(s.substr(start, pos - start));
            start = pos + sep.size();
        }
        parts.push_back(s.substr(start));
    } else {
        size_t end = s.size();
        int64_t n = 0;
        while (maxSplit < 0 || n < maxSplit) {
            if (end < sep.size())
                break;
            const size_t pos = s.rfind(sep, end - sep.size());
            if (pos == std::string::npos)
                break;
            parts.push_back(s.substr(pos + sep.size(), end - pos - sep.size()));
            end = pos;
            ++n;
        }
        parts.push_back(s.substr(0, end));
        std::reverse(parts.begin(), parts.end());
    }
    for (std::string& p : parts)
        out.push_back(Value(std::move(p)));
    return out;
}

std::string replaceString(Interpreter& in, const std::string& s, const std::string& from, const std::string& to, int64_t count)
{
    std::string out;
    if (from.empty()) {
        std::vector<size_t> offs = text::codepointOffsets(s);
        int64_t n = 0;
        for (size_t i = 0; i + 1 < offs.size() || i == 0; ++i) {
            if (count < 0 || n < count) {
                out += to;
                ++n;
            }
            if (i + 1 < offs.size())
                out.append(s, offs[i], offs[i + 1] - offs[i]);
            in.checkSize(out.size());
            if (i + 1 >= offs.size())
                break;
        }
        return out;
    }
    size_t start = 0;
    int64_t n = 0;
    for (size_t pos = s.find(from); pos != std::string::npos && (count < 0 || n < count); pos = s.find(from, start), ++n) {
        out.append(s, start, pos - start);
        out += to;
        start = pos + from.size();
        in.checkSize(out.size());
    }
    out.append(s, start, std::string::npos);
    in.checkSize(out.size());
    in.charge(out.size() / 64);
    return out;
}

bool matchesAffix(const std::string& s, const Value& affix, bool prefix)
{
    auto one = [&](const Value& a) {
        if (!a.isString())
            throw TemplateError(std::string(prefix ? "startswith" : "endswith") + " first arg must be str or a tuple of str");
        const std::string& x = a.asString();
        if (x.size() > s.size())
            return false;
        return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    if (affix.isList())
        return std::any_of(affix.asList().begin(), affix.asList().end(), one);
    return one(affix);
}

std::string formatString(const std::string& fmt, const CallArgs& args)
{
    std::string out;
    size_t autoIndex = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (c == '{') {
            const size_t close = fmt.find('}', i);
            if (close == std::string::npos)
                throw TemplateError("Single '{' encountered in format string");
            std::string field = fmt.substr(i + 1, close - i - 1);
            const size_t colon = field.find(':');
            if (colon != std::string::npos)
                field.resize(colon);
            const Value* v = nullptr;
            if (field.empty())
                v = args.get(autoIndex++, nullptr);
            else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; }) && field.size() < 9)
                v = args.get(static_cast<size_t>(std::stoul(field)), nullptr);
            else
                v = args.get(SIZE_MAX, field.c_str());
            if (!v)
                throw TemplateError("format(): missing argument for field '" + field + "'");
            out += v->str();
            i = close;
        } else if (c == '}') {
            throw TemplateError("Single '}' encountered in format string");
        } else {
            out += c;
        }
    }
    return out;
}

Value stringMethod(Interpreter& in, const std::string& s, const std::string& name)
{
    auto bind = [&](auto fn) {
        return Value(makeFunction(name, [s, fn](const CallArgs& args, Interpreter& interp) -> Value { return fn(s, args, interp); }));
    };
    if (name == "startswith" || name == "endswith") {
        const bool prefix = name == "startswith";
        return bind([prefix](const std::string& str, const CallArgs& args, Interpreter&) {
            const Value* a = args.get(0, nullptr);
            if (!a)
                throw TemplateError("startswith/endswith need an argument");
            return Value(matchesAffix(str, *a, prefix));
        });
    }
    if (name == "split" || name == "rsplit") {
        const bool right = name == "rsplit";
        return bind([right](const std::string& str, const CallArgs& args, Interpreter& interp) {
            const Value* maxSplit = args.get(1, "maxsplit");
            List parts = splitString(str, args.get(0, "sep"), maxSplit ? maxSplit->toInt() : -1, right);
            interp.charge(parts.size());
            return Value(std::move(parts));
        });
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        const bool left = name != "rstrip";
        const bool rightSide = name != "lstrip";
        return bind([left, rightSide](const std::string& str, const CallArgs& args, Interpreter&) {
            const Value* chars = args.get(0, "chars");
            const bool useChars = chars && chars->isString();
            return Value(text::strip(str, useChars ? &chars->asString() : nullptr, left, rightSide));
        });
    }
    if (name == "replace")
        return bind([](const std::string& str, const CallArgs& args, Interpreter& interp) {
            const Value* count = args.get(2, "count");
            return Value(replaceString(interp, str, stringArg(args, 0, "old", "replace"), stringArg(args, 1, "new", "replace"),
                                       count ? count->toInt() : -1));
        });
    if (name == "upper")
        return bind([](const std::string& str, const CallArgs&, Interpreter&) { return Value(text::upper(str)); });
    if (name == "lower")
        return bind([](const std::string& str, const CallArgs&, Interpreter&) { return Value(text::lower(str)); });
    if (name == "title")
        return bind([](const std::string& str, const CallArgs&, Interpreter&) { return Value(text::pyTitle(str)); });
    if (name == "capitalize")
        return bind([](const std::string& str, const CallArgs&, Interpreter&) { return Value(text::capitalize(str)); });
    if (name == "format")
        return bind([](const std::string& str, const CallArgs& args, Interpreter&) { return Value(formatString(str, args)); });
    if (name == "count" || name == "find" || name == "rfind" || name == "index" || name == "rindex") {
        const std::string op = name;
        return bind([op](const std::string& str, const CallArgs& args, Interpreter&) {
            const std::string& sub = stringArg(args, 0, "sub", op.c_str());
            if (op == "count") {
                if (sub.empty())
                    return Value(static_cast<int64_t>(text::codepointCount(str) + 1));
                int64_t n = 0;
                for (size_t pos = str.find(sub); pos != std::string::npos; pos = str.find(sub, pos + sub.size()))
                    ++n;
                return Value(n);
            }
            const size_t pos = op[0] == 'r' ? str.rfind(sub) : str.find(sub);
            if (pos == std::string::npos) {
                if (op == "index" || op == "rindex")
                    throw TemplateError("substring not found");
                return Value(static_cast<int64_t>(-1));
            }
            return Value(static_cast<int64_t>(byteToCodepointIndex(str, pos)));
        });
    }
    if (name == "join")
        return bind([](const std::string& sep, const CallArgs& args, Interpreter& interp) {
            const Value* items = args.get(0, nullptr);
            if (!items)
                throw TemplateError("join() takes exactly one argument");
            std::string out;
            bool first = true;
            for (const Value& item : iterate(*items)) {
                if (!item.isString())
                    throw TemplateError("sequence item: expected str instance, " + item.typeName() + " found");
                if (!first)
                    out += sep;
                first = false;
                out += item.asString();
                interp.checkSize(out.size());
            }
            return Value(std::move(out));
        });
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "isupper" ||
        name == "islower") {
        const std::string op = name;
        return bind([op](const std::string& str, const CallArgs&, Interpreter&) {
            if (op == "isupper" || op == "islower") {
                const bool up = op == "isupper";
                return Value((up ? text::upper(str) : text::lower(str)) == str && (up ? text::lower(str) : text::upper(str)) != str);
            }
            const std::vector<char32_t> cps = text::decode(str);
            if (cps.empty())
                return Value(false);
            return Value(std::all_of(cps.begin(), cps.end(), [&](char32_t cp) {
                if (op == "isspace")
                    return text::isSpace(cp);
                const bool digit = cp >= '0' && cp <= '9';
                const bool alpha = cp < 0x80 ? std::isalpha(static_cast<int>(cp)) != 0 : !text::isSpace(cp);
                return op == "isdigit" ? digit : op == "isalpha" ? alpha : (digit || alpha);
            }));
        });
    }
    if (name == "splitlines")
        return bind([](const std::string& str, const CallArgs&, Interpreter&) {
            List out;
            size_t start = 0;
            for (size_t i = 0; i < str.size(); ++i) {
                if (str[i] == '\n' || str[i] == '\r') {
                    out.push_back(Value(str.substr(start, i - start)));
                    if (str[i] == '\r' && i + 1 < str.size() && str[i + 1] == '\n')
                        ++i;
                    start = i + 1;
                }
            }
            if (start < str.size())
                out.push_back(Value(str.substr(start)));
            return Value(std::move(out));
        });
    (void)in;
    return Value::undefined("'str object' has no attribute '" + name + "'");
}

Value dictMethod(const Value& obj, const std::string& name)
{
    const DictPtr d = obj.dictPtr();
    if (name == "items")
        return Value(makeFunction(name, [d](const CallArgs&, Interpreter&) {
            List out;
            for (const auto& [k, v] : d->entries)
                out.push_back(Value::tuple(List{Value(k), v}));
            return Value(std::move(out));
        }));
    if (name == "keys")
        return Value(makeFunction(name, [d](const CallArgs&, Interpreter&) {
            List out;
            for (const auto& e : d->entries)
                out.push_back(Value(e.first));
            return Value(std::move(out));
        }));
    if (name == "values")
        return Value(makeFunction(name, [d](const CallArgs&, Interpreter&) {
            List out;
            for (const auto& e : d->entries)
                out.push_back(e.second);
            return Value(std::move(out));
        }));
    if (name == "get")
        return Value(makeFunction(name, [d](const CallArgs& args, Interpreter&) {
            const Value* key = args.get(0, "key");
            if (!key)
                throw TemplateError("get expected at least 1 argument");
            const Value* found = key->isString() ? d->find(key->asString()) : nullptr;
            if (found)
                return *found;
            const Value* dflt = args.get(1, "default");
            return dflt ? *dflt : Value::none();
        }));
    if (name == "update" || name == "pop" || name == "popitem" || name == "setdefault" || name == "clear")
        throw TemplateError("access to attribute '" + name + "' of 'dict' object is unsafe");
    return Value();
}

}  // namespace

[[noreturn]] void throwUndefined(const Value& v)
{
    throw TemplateError(v.isUndefined() && !v.undefinedHint().empty() ? v.undefinedHint() : "value is undefined");
}

Value getAttribute(Interpreter& in, const Value& obj, const std::string& name)
{
    switch (obj.kind()) {
    case Value::Kind::Dict: {
        Value m = dictMethod(obj, name);
        if (!m.isUndefined())
            return m;
        if (const Value* v = obj.asDict().find(name))
            return *v;
        return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::Namespace:
        if (const Value* v = obj.asDict().find(name))
            return *v;
        return Value::undefined("'Namespace object' has no attribute '" + name + "'");
    case Value::Kind::String: return stringMethod(in, obj.asString(), name);
    case Value::Kind::List:
        if (name == "append" || name == "extend" || name == "insert" || name == "pop" || name == "remove" ||
            name == "clear" || name == "sort" || name == "reverse")
            throw TemplateError("access to attribute '" + name + "' of 'list' object is unsafe");
        return Value::undefined("'list object' has no attribute '" + name + "'");
    case Value::Kind::Undefined: throwUndefined(obj);
    default: return Value::undefined("'" + obj.typeName() + " object' has no attribute '" + name + "'");
    }
}

Value getItem(Interpreter& in, const Value& obj, const Value& key)
{
    if (obj.isUndefined())
        throwUndefined(obj);
    if ((obj.isList() || obj.isString()) && (key.isInt() || key.isBool())) {
        int64_t i = key.toInt();
        if (obj.isList()) {
            const auto n = static_cast<int64_t>(obj.asList().size());
            if (i < 0)
                i += n;
            if (i < 0 || i >= n)
                return Value::undefined("list index out of range");
            return obj.asList()[static_cast<size_t>(i)];
        }
        const std::vector<size_t> offs = text::codepointOffsets(obj.asString());
        const auto n = static_cast<int64_t>(offs.size()) - 1;
        if (i < 0)
            i += n;
        if (i < 0 || i >= n)
            return Value::undefined("string index out of range");
        return Value(obj.asString().substr(offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1] - offs[static_cast<size_t>(i)]));
    }
    if ((obj.isDict() || obj.isNamespace()) && key.isString()) {
        if (const Value* v = obj.asDict().find(key.asString()))
            return *v;
    }
    if (key.isString())
        return getAttribute(in, obj, key.asString());
    return Value::undefined("'" + obj.typeName() + " object' has no item " + key.repr());
}

Value sliceValue(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step)
{
    if (obj.isUndefined())
        throwUndefined(obj);
    if (!obj.isList() && !obj.isString())
        throw TemplateError("'" + obj.typeName() + "' object is not subscriptable");
    auto intOf = [](const Value& v, const char* what) {
        if (!v.isInt() && !v.isBool())
            throw TemplateError(std::string("slice ") + what + " must be an integer or None");
        return v.toInt();
    };
    const std::vector<size_t> offs = obj.isString() ? text::codepointOffsets(obj.asString()) : std::vector<size_t>{};
    const int64_t n = obj.isString() ? static_cast<int64_t>(offs.size()) - 1 : static_cast<int64_t>(obj.asList().size());
    const int64_t st = step.isNone() ? 1 : intOf(step, "step");
    if (st == 0)
        throw TemplateError("slice step cannot be zero");
    // Python's slice.indices().
    auto clampIndex = [&](const Value& v, int64_t dflt) {
        if (v.isNone())
            return dflt;
        int64_t i = intOf(v, "index");
        if (i < 0)
            i = std::max<int64_t>(i + n, st < 0 ? -1 : 0);
        else
            i = std::min<int64_t>(i, st < 0 ? n - 1 : n);
        return i;
    };
    const int64_t b = clampIndex(start, st < 0 ? n - 1 : 0);
    const int64_t e = clampIndex(stop, st < 0 ? -1 : n);
    std::vector<int64_t> idx;
    for (int64_t i = b; st > 0 ? i < e : i > e; i += st)
        idx.push_back(i);
    in.charge(idx.size());
    if (obj.isString()) {
        std::string out;
        const std::string& s = obj.asString();
        if (st == 1 && !idx.empty())
            return Value(s.substr(offs[static_cast<size_t>(b)], offs[static_cast<size_t>(e)] - offs[static_cast<size_t>(b)]));
        for (int64_t i : idx)
            out.append(s, offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1] - offs[static_cast<size_t>(i)]);
        return Value(std::move(out));
    }
    List out;
    out.reserve(idx.size());
    for (int64_t i : idx)
        out.push_back(obj.asList()[static_cast<size_t>(i)]);
    return Value(std::move(out));
}

std::vector<Value> iterate(const Value& v)
{
    switch (v.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return v.asList();
    case Value::Kind::Dict: {
        std::vector<Value> keys;
        for (const auto& e : v.asDict().entries)
            keys.push_back(Value(e.first));
        return keys;
    }
    case Value::Kind::String: {
        std::vector<Value> chars;
        const std::vector<size_t> offs = text::codepointOffsets(v.asString());
        for (size_t i = 0; i + 1 < offs.size(); ++i)
            chars.push_back(Value(v.asString().substr(offs[i], offs[i + 1] - offs[i])));
        return chars;
    }
    default: throw TemplateError("'" + v.typeName() + "' object is not iterable");
    }
}

bool containsValue(const Value& container, const Value& needle)
{
    switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
        if (!needle.isString())
            throw TemplateError("'in <string>' requires string as left operand, not " + needle.typeName());
        return container.asString().find(needle.asString()) != std::string::npos;
    case Value::Kind::List:
        return std::any_of(container.asList().begin(), container.asList().end(),
                           [&](const Value& item) { return valuesEqual(item, needle); });
    case Value::Kind::Dict: return needle.isString() && container.asDict().find(needle.asString()) != nullptr;
    default: throw TemplateError("argument of type '" + container.typeName() + "' is not iterable");
    }
}

}  // namespace hearth::jinja
