#include "chat/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "chat/jinja_text.h"

namespace hearth::jinja {

namespace {

constexpr int kMaxJsonDepth = 256;

std::string pyStringRepr(const std::string& s)
{
    const bool useDouble = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char quote = useDouble ? '"' : '\'';
    std::string out(1, quote);
    for (char32_t cp : text::decode(s)) {
        switch (cp) {
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (cp == static_cast<char32_t>(quote)) {
                out += '\\';
                out += quote;
            } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
                out += buf;
            } else {
                text::appendUtf8(out, cp);
            }
        }
    }
    out += quote;
    return out;
}

void dumpJsonString(std::string& out, const std::string& s, bool ensureAscii)
{
    out += '"';
    for (char32_t cp : text::decode(s)) {
        switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (cp < 0x20 || (ensureAscii && cp >= 0x7F)) {
                char buf[16];
                if (cp >= 0x10000) {
                    const char32_t v = cp - 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 | (v >> 10)),
                                  static_cast<unsigned>(0xDC00 | (v & 0x3FF)));
                } else {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                }
                out += buf;
            } else {
                text::appendUtf8(out, cp);
            }
        }
    }
    out += '"';
}

void dumpJsonImpl(std::string& out, const Value& v, const JsonDumpOptions& o, int level)
{
    if (level > kMaxJsonDepth)
        throw TemplateError("tojson: value nested too deeply");
    const std::string itemSep = !o.itemSeparator.empty() ? o.itemSeparator : (o.indent >= 0 ? "," : ", ");
    auto newline = [&](int lvl) {
        if (o.indent < 0)
            return;
        out += '\n';
        out.append(static_cast<size_t>(o.indent) * static_cast<size_t>(lvl), ' ');
    };
    switch (v.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += v.asBool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(v.asInt()); return;
    case Value::Kind::Float: {
        const double d = v.asFloat();
        out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : formatFloat(d);
        return;
    }
    case Value::Kind::String: dumpJsonString(out, v.asString(), o.ensureAscii); return;
    case Value::Kind::List: {
        const List& l = v.asList();
        if (l.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t i = 0; i < l.size(); ++i) {
            if (i)
                out += itemSep;
            newline(level + 1);
            dumpJsonImpl(out, l[i], o, level + 1);
        }
        newline(level);
        out += ']';
        return;
    }
    case Value::Kind::Dict: {
        const Dict& d = v.asDict();
        if (d.entries.empty()) {
            out += "{}";
            return;
        }
        std::vector<const std::pair<std::string, Value>*> items;
        for (const auto& e : d.entries)
            items.push_back(&e);
        if (o.sortKeys)
            std::stable_sort(items.begin(), items.end(), [](auto a, auto b) { return a->first < b->first; });
        out += '{';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i)
                out += itemSep;
            newline(level + 1);
            dumpJsonString(out, items[i]->first, o.ensureAscii);
            out += o.keySeparator;
            dumpJsonImpl(out, items[i]->second, o, level + 1);
        }
        newline(level);
        out += '}';
        return;
    }
    default:
        throw TemplateError("tojson: Object of type " + v.typeName() + " is not JSON serializable");
    }
}

}  // namespace

const Value* Dict::find(const std::string& key) const
{
    auto it = index.find(key);
    return it == index.end() ? nullptr : &entries[it->second].second;
}

void Dict::set(const std::string& key, Value value)
{
    auto it = index.find(key);
    if (it != index.end()) {
        entries[it->second].second = std::move(value);
        return;
    }
    index.emplace(key, entries.size());
    entries.emplace_back(key, std::move(value));
}

const Value* CallArgs::get(size_t pos, const char* name) const
{
    if (pos < positional.size())
        return &positional[pos];
    if (name)
        for (const auto& [k, v] : named)
            if (k == name)
                return &v;
    return nullptr;
}

Value::Kind Value::kind() const
{
    switch (m_v.index()) {
    case 0: return Kind::Undefined;
    case 1: return Kind::None;
    case 2: return Kind::Bool;
    case 3: return Kind::Int;
    case 4: return Kind::Float;
    case 5: return Kind::String;
    case 6: return Kind::List;
    case 7: return std::get<DictBox>(m_v).isNamespace ? Kind::Namespace : Kind::Dict;
    default: return Kind::Function;
    }
}

double Value::toDouble() const
{
    if (isFloat())
        return asFloat();
    return static_cast<double>(toInt());
}

int64_t Value::toInt() const
{
    if (isBool())
        return asBool() ? 1 : 0;
    if (isFloat())
        return static_cast<int64_t>(asFloat());
    return asInt();
}

bool Value::truthy() const
{
    switch (kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return asBool();
    case Kind::Int: return asInt() != 0;
    case Kind::Float: return asFloat() != 0.0;
    case Kind::String: return !asString().empty();
    case Kind::List: return !asList().empty();
    case Kind::Dict: return !asDict().entries.empty();
    default: return true;
    }
}

std::string formatFloat(double d)
{
    if (std::isnan(d))
        return "nan";
    if (std::isinf(d))
        return d > 0 ? "inf" : "-inf";
    // Shortest round-trip digits, then Python's repr layout: fixed for 1e-4 <= |d| < 1e16.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    const size_t ePos = sci.find('e');
    std::string mant = sci.substr(0, ePos);
    const int exp = std::stoi(sci.substr(ePos + 1));
    const bool neg = !mant.empty() && mant[0] == '-';
    if (neg)
        mant.erase(0, 1);
    std::string digits;
    for (char c : mant)
        if (c != '.')
            digits += c;
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0.";
            out.append(static_cast<size_t>(-exp - 1), '0');
            out += digits;
        } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
            out += digits;
            out.append(static_cast<size_t>(exp) + 1 - digits.size(), '0');
            out += ".0";
        } else {
            out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr(1);
    char ebuf[16];
    std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + ebuf;
}

std::string Value::str() const
{
    switch (kind()) {
    case Kind::Undefined: return "";
    case Kind::String: return asString();
    default: return repr();
    }
}

std::string Value::repr() const
{
    switch (kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "None";
    case Kind::Bool: return asBool() ? "True" : "False";
    case Kind::Int: return std::to_string(asInt());
    case Kind::Float: return formatFloat(asFloat());
    case Kind::String: return pyStringRepr(asString());
    case Kind::List: {
        std::string out = m_isTuple ? "(" : "[";
        const List& l = asList();
        for (size_t i = 0; i < l.size(); ++i)
            out += (i ? ", " : "") + l[i].repr();
        if (m_isTuple)
            return out + (l.size() == 1 ? ",)" : ")");
        return out + "]";
    }
    case Kind::Dict: {
        std::string out = "{";
        bool first = true;
        for (const auto& [k, v] : asDict().entries) {
            out += (first ? "" : ", ") + pyStringRepr(k) + ": " + v.repr();
            first = false;
        }
        return out + "}";
    }
    case Kind::Namespace: return "<Namespace>";
    case Kind::Function: return "<function " + asFunction().name + ">";
    }
    return "";
}

std::string Value::typeName() const
{
    switch (kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Function: return "function";
    }
    return "?";
}

template <typename Json>
Value valueFromJson(const Json& j, int depth)
{
    if (depth > kMaxJsonDepth)
        throw TemplateError("input JSON nested too deeply");
    switch (j.type()) {
    case nlohmann::detail::value_t::null: return Value::none();
    case nlohmann::detail::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::detail::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::detail::value_t::number_unsigned: {
        const auto u = j.template get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX))
            return Value(static_cast<double>(u));
        return Value(static_cast<int64_t>(u));
    }
    case nlohmann::detail::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::detail::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::detail::value_t::array: {
        List l;
        l.reserve(j.size());
        for (const auto& e : j)
            l.push_back(valueFromJson(e, depth + 1));
        return Value(std::move(l));
    }
    case nlohmann::detail::value_t::object: {
        auto d = std::make_shared<Dict>();
        for (auto it = j.begin(); it != j.end(); ++it)
            d->set(it.key(), valueFromJson(it.value(), depth + 1));
        return Value::dict(std::move(d));
    }
    default: return Value::none();
    }
}

Value Value::fromJson(const nlohmann::json& j) { return valueFromJson(j, 0); }
Value Value::fromJson(const nlohmann::ordered_json& j) { return valueFromJson(j, 0); }

bool valuesEqual(const Value& a, const Value& b)
{
    if (a.isNumber() && b.isNumber()) {
        if (a.isFloat() || b.isFloat())
            return a.toDouble() == b.toDouble();
        return a.toInt() == b.toInt();
    }
    if (a.kind() != b.kind())
        return false;
    switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return a.asString() == b.asString();
    case Value::Kind::List: {
        const List& x = a.asList();
        const List& y = b.asList();
        if (x.size() != y.size())
            return false;
        for (size_t i = 0; i < x.size(); ++i)
            if (!valuesEqual(x[i], y[i]))
                return false;
        return true;
    }
    case Value::Kind::Dict: {
        const Dict& x = a.asDict();
        const Dict& y = b.asDict();
        if (x.entries.size() != y.entries.size())
            return false;
        for (const auto& [k, v] : x.entries) {
            const Value* other = y.find(k);
            if (!other || !valuesEqual(v, *other))
                return false;
        }
        return true;
    }
    case Value::Kind::Namespace: return a.dictPtr() == b.dictPtr();
    case Value::Kind::Function: return &a.asFunction() == &b.asFunction();
    default: return false;
    }
}

int compareValues(const Value& a, const Value& b)
{
    if (a.isNumber() && b.isNumber()) {
        if (a.isFloat() || b.isFloat()) {
            const double x = a.toDouble();
            const double y = b.toDouble();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        const int64_t x = a.toInt();
        const int64_t y = b.toInt();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.isString() && b.isString()) {
        const int c = a.asString().compare(b.asString());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.isList() && b.isList()) {
        const List& x = a.asList();
        const List& y = b.asList();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!valuesEqual(x[i], y[i]))
                return compareValues(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
    }
    throw TemplateError("'<' not supported between instances of '" + a.typeName() + "' and '" + b.typeName() + "'");
}

std::string dumpJson(const Value& v, const JsonDumpOptions& options)
{
    std::string out;
    dumpJsonImpl(out, v, options, 0);
    return out;
}

}  // namespace hearth::jinja
