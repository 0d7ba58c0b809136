// The value type of the Jinja-subset engine: Python's data model as far as chat templates see it
// (None, bool, int, float, str, list, insertion-ordered dict, callables, namespace) plus jinja2's
// Undefined. Lists and dicts are immutable once built (transformers renders in jinja2's
// ImmutableSandboxedEnvironment); only a namespace() can be changed after creation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hearth::jinja {

// Thrown inside the engine only; ChatTemplate turns it into an Error before returning.
class TemplateError : public std::runtime_error {
public:
    TemplateError(std::string message, int line = 0, int column = 0, bool raised = false)
        : std::runtime_error(std::move(message)), m_line(line), m_column(column), m_raised(raised) {}
    int line() const { return m_line; }
    int column() const { return m_column; }
    bool raisedByTemplate() const { return m_raised; }  // raise_exception() in the template
    void setPosition(int line, int column) { m_line = line; m_column = column; }

private:
    int m_line;
    int m_column;
    bool m_raised;
};

class Value;
class Interpreter;
using List = std::vector<Value>;
using ListPtr = std::shared_ptr<const List>;

struct Dict {
    std::vector<std::pair<std::string, Value>> entries;  // insertion order, like a Python dict
    std::unordered_map<std::string, size_t> index;

    const Value* find(const std::string& key) const;
    void set(const std::string& key, Value value);
};
using DictPtr = std::shared_ptr<Dict>;

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> named;

    // The argument at `pos` or named `name`, or nullptr when absent.
    const Value* get(size_t pos, const char* name) const;
};

struct Function {
    std::string name;
    std::function<Value(const CallArgs&, Interpreter&)> call;
};
using FunctionPtr = std::shared_ptr<const Function>;

struct Undefined {
    std::string hint;  // what was looked up, for error messages: "'foo' is undefined"
};

class Value {
public:
    enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Function, Namespace };

    Value() : m_v(Undefined{}) {}
    static Value undefined(std::string hint) { Value v; v.m_v = Undefined{std::move(hint)}; return v; }
    static Value none() { Value v; v.m_v = nullptr; return v; }
    Value(bool b) : m_v(b) {}                      // NOLINT: implicit by design
    Value(int64_t i) : m_v(i) {}                   // NOLINT
    Value(int i) : m_v(static_cast<int64_t>(i)) {} // NOLINT
    Value(double d) : m_v(d) {}                    // NOLINT
    Value(std::string s) : m_v(std::move(s)) {}    // NOLINT
    Value(const char* s) : m_v(std::string(s)) {}  // NOLINT
    Value(List l) : m_v(std::make_shared<const List>(std::move(l))) {}  // NOLINT
    Value(ListPtr l) : m_v(std::move(l)) {}        // NOLINT
    Value(FunctionPtr f) : m_v(std::move(f)) {}    // NOLINT
    // A tuple behaves as a list except that it prints as (a, b), as Python's tuples do.
    static Value tuple(List l) { Value v(std::move(l)); v.m_isTuple = true; return v; }
    static Value dict(DictPtr d) { Value v; v.m_v = DictBox{std::move(d), false}; return v; }
    static Value ns(DictPtr d) { Value v; v.m_v = DictBox{std::move(d), true}; return v; }

    Kind kind() const;
    bool isUndefined() const { return kind() == Kind::Undefined; }
    bool isNone() const { return kind() == Kind::None; }
    bool isBool() const { return kind() == Kind::Bool; }
    bool isInt() const { return kind() == Kind::Int; }
    bool isFloat() const { return kind() == Kind::Float; }
    bool isNumber() const { return isInt() || isFloat() || isBool(); }
    bool isString() const { return kind() == Kind::String; }
    bool isList() const { return kind() == Kind::List; }
    bool isDict() const { return kind() == Kind::Dict; }
    bool isFunction() const { return kind() == Kind::Function; }
    bool isNamespace() const { return kind() == Kind::Namespace; }

    bool asBool() const { return std::get<bool>(m_v); }
    int64_t asInt() const { return std::get<int64_t>(m_v); }
    double asFloat() const { return std::get<double>(m_v); }
    double toDouble() const;  // for any number, bools included
    int64_t toInt() const;    // for int and bool
    const std::string& asString() const { return std::get<std::string>(m_v); }
    const List& asList() const { return *std::get<ListPtr>(m_v); }
    const ListPtr& listPtr() const { return std::get<ListPtr>(m_v); }
    const Dict& asDict() const { return *std::get<DictBox>(m_v).dict; }
    const DictPtr& dictPtr() const { return std::get<DictBox>(m_v).dict; }
    const Function& asFunction() const { return *std::get<FunctionPtr>(m_v); }
    const std::string& undefinedHint() const { return std::get<Undefined>(m_v).hint; }

    bool truthy() const;                // Python's bool()
    std::string str() const;            // Python's str(); Undefined prints as ""
    std::string repr() const;           // Python's repr(), used inside containers
    std::string typeName() const;       // Python's type name, for error messages

    // JSON objects keep their key order only when given as ordered_json (Python dicts do).
    static Value fromJson(const nlohmann::json& j);
    static Value fromJson(const nlohmann::ordered_json& j);

private:
    struct DictBox {
        DictPtr dict;
        bool isNamespace;
    };
    std::variant<Undefined, std::nullptr_t, bool, int64_t, double, std::string, ListPtr, DictBox, FunctionPtr> m_v;
    bool m_isTuple = false;
};

// Python equality (1 == 1.0 == True, deep for lists and dicts); Undefined equals only Undefined.
bool valuesEqual(const Value& a, const Value& b);
// Python ordering for numbers, strings and lists; throws TemplateError for other pairs.
int compareValues(const Value& a, const Value& b);
// Python's repr() of a float ("1.0", "0.1", "1e+16").
std::string formatFloat(double d);

struct JsonDumpOptions {
    int indent = -1;  // < 0: one line
    bool ensureAscii = false;
    bool sortKeys = false;
    std::string itemSeparator;  // empty: Python's default for the indent
    std::string keySeparator = ": ";
};
// Python's json.dumps(value, ...) as transformers' tojson filter calls it.
std::string dumpJson(const Value& v, const JsonDumpOptions& options);

}  // namespace hearth::jinja
