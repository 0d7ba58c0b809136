// jinja2's filters as chat templates use them, with transformers' tojson (json.dumps with
// ensure_ascii=False and the caller's indent) in place of jinja2's HTML-safe one.
#include <algorithm>
#include <cfenv>
#include <cmath>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_text.h"

namespace hearth::jinja {

namespace {

Value argOr(const CallArgs& args, size_t pos, const char* name, Value fallback)
{
    const Value* v = args.get(pos, name);
    return v ? *v : std::move(fallback);
}

size_t lengthOf(const Value& v)
{
    switch (v.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return text::codepointCount(v.asString());
    case Value::Kind::List: return v.asList().size();
    case Value::Kind::Dict: return v.asDict().entries.size();
    default: throw TemplateError("object of type '" + v.typeName() + "' has no len()");
    }
}

// jinja2's make_attrgetter: "a.b.0" walks items then attributes; a missing part is Undefined.
Value attributePath(Interpreter& in, Value v, const std::string& path)
{
    size_t start = 0;
    while (start <= path.size()) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (v.isUndefined())
            return v;
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = numeric && part.size() < 18 ? getItem(in, v, Value(static_cast<int64_t>(std::stoll(part)))) : getItem(in, v, Value(part));
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return v;
}

std::string sortKeyString(const Value& v, bool caseSensitive)
{
    return caseSensitive ? v.asString() : text::lower(v.asString());
}

int compareForSort(const Value& a, const Value& b, bool caseSensitive)
{
    if (a.isString() && b.isString()) {
        const int c = sortKeyString(a, caseSensitive).compare(sortKeyString(b, caseSensitive));
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    return compareValues(a, b);
}

Value selectOrReject(Interpreter& in, const Value& seq, const CallArgs& args, bool select, bool byAttribute)
{
    size_t next = 0;
    std::string attribute;
    if (byAttribute) {
        const Value* a = args.get(0, nullptr);
        if (!a || !a->isString())
            throw TemplateError("selectattr/rejectattr need an attribute name");
        attribute = a->asString();
        next = 1;
    }
    const Value* testName = args.get(next, nullptr);
    CallArgs testArgs;
    for (size_t i = next + 1; i < args.positional.size(); ++i)
        testArgs.positional.push_back(args.positional[i]);
    List out;
    for (const Value& item : iterate(seq)) {
        const Value subject = byAttribute ? attributePath(in, item, attribute) : item;
        bool ok = false;
        if (testName) {
            if (!testName->isString())
                throw TemplateError("test name must be a string");
            ok = applyTest(in, testName->asString(), subject, testArgs);
        } else {
            ok = subject.truthy();
        }
        if (ok == select)
            out.push_back(item);
    }
    return Value(std::move(out));
}

std::string indentText(const std::string& s, const Value& width, bool first, bool blank)
{
    const std::string pad = width.isString() ? width.asString() : std::string(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(width.toInt(), 1 << 16))), ' ');
    std::vector<std::string> lines;
    // Python's splitlines() on s + "\n": split on \n, \r\n and \r (enough for chat text).
    const std::string t = s + "\n";
    size_t start = 0;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t[i] == '\n' || t[i] == '\r') {
            lines.push_back(t.substr(start, i - start));
            if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n')
                ++i;
            start = i + 1;
        }
    }
    std::string rv;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0)
            rv += "\n";
        rv += (i > 0 && (blank || !lines[i].empty()) ? pad : "") + lines[i];
    }
    return first ? pad + rv : rv;
}

double pyRound(double x, int64_t digits)
{
    const double scale = std::pow(10.0, static_cast<double>(digits));
    const int saved = std::fegetround();
    std::fesetround(FE_TONEAREST);
    const double r = std::nearbyint(x * scale) / scale;
    std::fesetround(saved);
    return r;
}

Value toJson(const Value& v, const CallArgs& args)
{
    JsonDumpOptions o;
    o.ensureAscii = argOr(args, 0, "ensure_ascii", Value(false)).truthy();
    const Value indent = argOr(args, 1, "indent", Value::none());
    if (indent.isInt() || indent.isBool())
        o.indent = static_cast<int>(std::clamp<int64_t>(indent.toInt(), 0, 64));
    else if (!indent.isNone() && !indent.isUndefined())
        throw TemplateError("tojson: indent must be an integer");
    const Value seps = argOr(args, 2, "separators", Value::none());
    if (seps.isList() && seps.asList().size() == 2 && seps.asList()[0].isString() && seps.asList()[1].isString()) {
        o.itemSeparator = seps.asList()[0].asString();
        o.keySeparator = seps.asList()[1].asString();
    }
    o.sortKeys = argOr(args, 3, "sort_keys", Value(false)).truthy();
    return Value(dumpJson(v, o));
}

}  // namespace

Value applyFilter(Interpreter& in, const std::string& name, const Value& v, const CallArgs& args)
{
    if (name == "length" || name == "count")
        return Value(static_cast<int64_t>(lengthOf(v)));
    if (name == "tojson") {
        std::string s = toJson(v, args).asString();
        in.checkSize(s.size());
        in.charge(s.size() / 64);
        return Value(std::move(s));
    }
    if (name == "default" || name == "d") {
        const bool boolean = argOr(args, 1, "boolean", Value(false)).truthy();
        if (v.isUndefined() || (boolean && !v.truthy()))
            return argOr(args, 0, "default_value", Value(std::string()));
        return v;
    }
    if (name == "safe")
        return v;
    if (name == "string")
        return Value(v.str());
    if (name == "list")
        return Value(List(iterate(v)));
    if (name == "items") {
        if (v.isUndefined())
            return Value(List{});
        if (!v.isDict())
            throw TemplateError("items filter needs a mapping, got " + v.typeName());
        List out;
        for (const auto& [k, val] : v.asDict().entries)
            out.push_back(Value::tuple(List{Value(k), val}));
        return Value(std::move(out));
    }
    if (name == "first" || name == "last") {
        std::vector<Value> items = iterate(v);
        if (items.empty())
            return Value::undefined("no first item, sequence was empty");
        return name == "first" ? items.front() : items.back();
    }
    if (name == "reverse") {
        if (v.isString()) {
            std::vector<char32_t> cps = text::decode(v.asString());
            std::reverse(cps.begin(), cps.end());
            return Value(text::encode(cps));
        }
        std::vector<Value> items = iterate(v);
        std::reverse(items.begin(), items.end());
        return Value(List(std::move(items)));
    }
    if (name == "join") {
        const std::string sep = argOr(args, 0, "d", Value(std::string())).str();
        const Value attr = argOr(args, 1, "attribute", Value::none());
        std::string out;
        bool first = true;
        for (const Value& item : iterate(v)) {
            if (!first)
                out += sep;
            first = false;
            out += (attr.isString() ? attributePath(in, item, attr.asString()) : item).str();
            in.checkSize(out.size());
        }
        in.charge(out.size() / 64);
        return Value(std::move(out));
    }
    if (name == "map") {
        const Value* attr = args.get(SIZE_MAX, "attribute");
        List out;
        for (const Value& item : iterate(v)) {
            if (attr) {
                Value got = attributePath(in, item, attr->str());
                if (got.isUndefined())
                    if (const Value* dflt = args.get(SIZE_MAX, "default"))
                        got = *dflt;
                out.push_back(std::move(got));
            } else {
                const Value* filterName = args.get(0, nullptr);
                if (!filterName || !filterName->isString())
                    throw TemplateError("map needs a filter name or attribute=");
                CallArgs rest;
                rest.positional.assign(args.positional.begin() + 1, args.positional.end());
                out.push_back(applyFilter(in, filterName->asString(), item, rest));
            }
        }
        return Value(std::move(out));
    }
    if (name == "select" || name == "reject")
        return selectOrReject(in, v, args, name == "select", false);
    if (name == "selectattr" || name == "rejectattr")
        return selectOrReject(in, v, args, name == "selectattr", true);
    if (name == "unique" || name == "sort" || name == "min" || name == "max" || name == "dictsort") {
        const bool caseSensitive = argOr(args, name == "sort" ? 1 : 0, "case_sensitive", Value(false)).truthy();
        if (name == "dictsort") {
            if (!v.isDict())
                throw TemplateError("dictsort needs a mapping");
            const bool byValue = argOr(args, 1, "by", Value("key")).str() == "value";
            const bool reverse = argOr(args, 2, "reverse", Value(false)).truthy();
            List pairs;
            for (const auto& [k, val] : v.asDict().entries)
                pairs.push_back(Value::tuple(List{Value(k), val}));
            std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
                const int c = compareForSort(a.asList()[byValue ? 1 : 0], b.asList()[byValue ? 1 : 0], caseSensitive);
                return reverse ? c > 0 : c < 0;
            });
            return Value(std::move(pairs));
        }
        const Value attr = argOr(args, name == "sort" ? 2 : 1, "attribute", Value::none());
        auto key = [&](const Value& item) { return attr.isString() ? attributePath(in, item, attr.asString()) : item; };
        std::vector<Value> items = iterate(v);
        if (name == "unique") {
            List out;
            std::vector<Value> seen;
            for (const Value& item : items) {
                Value k = key(item);
                if (k.isString() && !caseSensitive)
                    k = Value(text::lower(k.asString()));
                if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return valuesEqual(s, k); })) {
                    seen.push_back(k);
                    out.push_back(item);
                }
            }
            return Value(std::move(out));
        }
        if (name == "sort") {
            const bool reverse = argOr(args, 0, "reverse", Value(false)).truthy();
            std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
                const int c = compareForSort(key(a), key(b), caseSensitive);
                return reverse ? c > 0 : c < 0;
            });
            return Value(List(std::move(items)));
        }
        if (items.empty())
            return Value::undefined("no " + name + " item, sequence was empty");
        Value best = items[0];
        for (const Value& item : items) {
            const int c = compareForSort(key(item), key(best), caseSensitive);
            if ((name == "min" && c < 0) || (name == "max" && c > 0))
                best = item;
        }
        return best;
    }
    if (name == "sum") {
        const Value attr = argOr(args, 0, "attribute", Value::none());
        Value total = argOr(args, 1, "start", Value(0));
        for (const Value& item : iterate(v)) {
            const Value x = attr.isString() ? attributePath(in, item, attr.asString()) : item;
            if (!x.isNumber() || !total.isNumber())
                throw TemplateError("sum needs numbers");
            total = total.isFloat() || x.isFloat() ? Value(total.toDouble() + x.toDouble()) : Value(total.toInt() + x.toInt());
        }
        return total;
    }
    if (name == "int") {
        const Value dflt = argOr(args, 0, "default", Value(0));
        if (v.isInt() || v.isBool())
            return Value(v.toInt());
        if (v.isFloat())
            return std::isfinite(v.asFloat()) && std::fabs(v.asFloat()) < 9.2e18 ? Value(static_cast<int64_t>(v.asFloat())) : dflt;
        if (v.isString()) {
            const std::string s = text::strip(v.asString(), nullptr, true, true);
            char* end = nullptr;
            errno = 0;
            const long long i = std::strtoll(s.c_str(), &end, 10);
            if (!s.empty() && *end == '\0' && errno == 0)
                return Value(static_cast<int64_t>(i));
            const double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18)
                return Value(static_cast<int64_t>(d));
        }
        return dflt;
    }
    if (name == "float") {
        const Value dflt = argOr(args, 0, "default", Value(0.0));
        if (v.isNumber())
            return Value(v.toDouble());
        if (v.isString()) {
            const std::string s = text::strip(v.asString(), nullptr, true, true);
            char* end = nullptr;
            const double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && *end == '\0')
                return Value(d);
        }
        return dflt;
    }
    if (name == "abs") {
        if (v.isFloat())
            return Value(std::fabs(v.asFloat()));
        if (v.isInt() || v.isBool()) {
            if (v.toInt() == INT64_MIN)
                throw TemplateError("integer overflow");
            return Value(v.toInt() < 0 ? -v.toInt() : v.toInt());
        }
        throw TemplateError("bad operand type for abs(): '" + v.typeName() + "'");
    }
    if (name == "round") {
        const int64_t precision = argOr(args, 0, "precision", Value(0)).toInt();
        const std::string method = argOr(args, 1, "method", Value("common")).str();
        if (!v.isNumber())
            throw TemplateError("round needs a number, got " + v.typeName());
        if (method == "common" && !v.isFloat())
            return Value(v.toInt());
        const double scale = std::pow(10.0, static_cast<double>(precision));
        if (method == "ceil")
            return Value(std::ceil(v.toDouble() * scale) / scale);
        if (method == "floor")
            return Value(std::floor(v.toDouble() * scale) / scale);
        return Value(pyRound(v.toDouble(), precision));
    }
    if (name == "wordcount") {
        int64_t words = 0;
        bool inWord = false;
        for (char32_t cp : text::decode(v.str())) {
            const bool wordChar = cp == '_' || (cp < 0x80 ? std::isalnum(static_cast<int>(cp)) != 0 : !text::isSpace(cp));
            if (wordChar && !inWord)
                ++words;
            inWord = wordChar;
        }
        return Value(words);
    }
    if (name == "indent")
        return Value(indentText(v.str(), argOr(args, 0, "width", Value(4)), argOr(args, 1, "first", Value(false)).truthy(),
                                argOr(args, 2, "blank", Value(false)).truthy()));
    if (name == "escape" || name == "e") {
        std::string out;
        for (char c : v.str()) {
            switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
            }
        }
        return Value(std::move(out));
    }
    if (name == "center") {
        const std::string s = v.str();
        const int64_t width = std::min<int64_t>(argOr(args, 0, "width", Value(80)).toInt(), 1 << 16);
        const auto len = static_cast<int64_t>(text::codepointCount(s));
        if (width <= len)
            return Value(s);
        const int64_t total = width - len;
        const int64_t left = total / 2 + (total & width & 1);
        return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
    }
    // The rest take the value as a string, as jinja2's soft_str does.
    const std::string s = v.str();
    if (name == "trim") {
        const Value chars = argOr(args, 0, "chars", Value::none());
        const std::string set = chars.isString() ? chars.asString() : std::string();
        return Value(text::strip(s, chars.isString() ? &set : nullptr, true, true));
    }
    if (name == "upper")
        return Value(text::upper(s));
    if (name == "lower")
        return Value(text::lower(s));
    if (name == "capitalize")
        return Value(text::capitalize(s));
    if (name == "title")
        return Value(text::jinjaTitle(s));
    if (name == "replace") {
        const Value* from = args.get(0, "old");
        const Value* to = args.get(1, "new");
        if (!from || !to)
            throw TemplateError("replace needs old and new strings");
        const Value strValue(s);
        CallArgs callArgs;
        callArgs.positional = {Value(from->str()), Value(to->str())};
        if (const Value* count = args.get(2, "count"))
            callArgs.positional.push_back(*count);
        return in.call(getAttribute(in, strValue, "replace"), callArgs);
    }
    throw TemplateError("no filter named '" + name + "'");
}

}  // namespace hearth::jinja
