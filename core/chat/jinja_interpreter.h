// Walks the AST and renders text. All state of one render lives here; limits on loop
// iterations, work, output size and nesting keep a hostile template from hanging or exhausting
// memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace hearth::jinja {

struct RenderLimits {
    uint64_t maxLoopIterations = 1'000'000;     // all loops of one render together
    uint64_t maxSteps = 20'000'000;             // expression/statement evaluations plus string work
    size_t maxOutputBytes = 16u * 1024 * 1024;  // also bounds any single string or list built
    int maxDepth = 250;                         // nested evaluation, macro calls included
};

// Local wall-clock time for strftime_now(); injectable so tests render a fixed date.
using LocalClock = std::function<std::tm()>;

class Interpreter {
public:
    Interpreter(RenderLimits limits, LocalClock clock);

    // Renders `program` with `variables` as the global scope. Throws TemplateError.
    std::string render(const Program& program, const DictPtr& variables);

    Value call(const Value& callee, const CallArgs& args);
    // Adds `units` of work to the render's budget; throws when it is spent.
    void charge(uint64_t units);
    // Throws when a string or list of `n` bytes/items would exceed the output limit.
    void checkSize(size_t n) const;
    std::tm localTime() const { return m_clock(); }

private:
    struct Frame {
        std::unordered_map<std::string, Value> vars;
    };
    struct DepthGuard {
        explicit DepthGuard(Interpreter& i);
        ~DepthGuard() { --interp.m_depth; }
        Interpreter& interp;
    };

    void execBody(const Body& body);
    void exec(const Stmt& s);
    void execFor(const Stmt& s);
    void execSet(const Stmt& s);
    void defineMacro(const Stmt& s);
    Value callMacro(const Stmt& macro, const CallArgs& args);
    std::string capture(const Body& body);
    void append(const std::string& s);

    Value eval(const Expr& e);
    Value evalInner(const Expr& e);
    Value evalBinary(const Expr& e);
    Value evalCompare(const Expr& e);
    Value evalCall(const Expr& e);
    Value evalFilter(const Expr& e, const Value* blockSubject);
    CallArgs evalArgs(const Expr& e, size_t firstArg);

    Value lookup(const std::string& name) const;
    void assign(const std::string& name, Value v) { m_frames.back()->vars[name] = std::move(v); }

    RenderLimits m_limits;
    LocalClock m_clock;
    std::vector<std::shared_ptr<Frame>> m_frames;
    std::string* m_out = nullptr;
    uint64_t m_iterations = 0;
    uint64_t m_steps = 0;
    int m_depth = 0;
    bool m_break = false;
    bool m_continue = false;
};

// Builtins, defined in jinja_filters.cpp, jinja_tests.cpp, string_methods.cpp and jinja_globals.cpp.
FunctionPtr makeFunction(std::string name, std::function<Value(const CallArgs&, Interpreter&)> fn);
Value applyFilter(Interpreter& in, const std::string& name, const Value& subject, const CallArgs& args);
bool applyTest(Interpreter& in, const std::string& name, const Value& subject, const CallArgs& args);
bool hasTest(const std::string& name);
Value getAttribute(Interpreter& in, const Value& obj, const std::string& name);
Value getItem(Interpreter& in, const Value& obj, const Value& key);
Value sliceValue(Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
std::vector<Value> iterate(const Value& v);  // list items, dict keys, string characters
bool containsValue(const Value& container, const Value& needle);
void addGlobals(Dict& globals);  // raise_exception, strftime_now, namespace, dict, range
[[noreturn]] void throwUndefined(const Value& v);

}  // namespace hearth::jinja
