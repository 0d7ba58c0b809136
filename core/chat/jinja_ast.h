// The parsed form of a template: expressions and statements, each with its source position so
// runtime errors can name the line.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace hearth::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
    Literal,    // literal
    Name,       // name
    ListLit,    // args
    TupleLit,   // args
    DictLit,    // kwargs-like pairs in dictItems
    Attr,       // args[0] . name
    Item,       // args[0] [ args[1] ]
    Slice,      // args[0] [ args[1] : args[2] : args[3] ] (null parts allowed)
    Call,       // args[0] ( args[1..], kwargs )
    Filter,     // name: args[0] | name(args[1..], kwargs)
    Test,       // name: args[0] is [not] name(args[1..]); negated
    Unary,      // op: "-", "+", "not"
    Binary,     // op: + - * / // % ** ~ and or
    Compare,    // args[0] ops[0] args[1] ops[1] args[2] ...; ops: == != < > <= >= in notin
    Cond,       // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
    ExprKind kind = ExprKind::Literal;
    int line = 0;
    int column = 0;
    std::string name;  // name, attribute, filter/test name or operator
    Value literal;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::pair<ExprPtr, ExprPtr>> dictItems;
    std::vector<std::string> ops;
    bool negated = false;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind { Text, Output, If, For, Set, SetBlock, Macro, Break, Continue, FilterBlock, Scope };

struct Stmt {
    StmtKind kind = StmtKind::Text;
    int line = 0;
    int column = 0;
    std::string text;                              // Text: the data; Macro: its name
    ExprPtr expr;                                  // Output/Set value, For iterable, FilterBlock filter
    std::vector<std::pair<ExprPtr, Body>> branches;  // If: (condition, body); else has no condition
    std::vector<std::string> targets;              // For/Set names (several for unpacking)
    std::string attribute;                         // Set `ns.attr = ...`: targets[0] is ns
    ExprPtr loopFilter;                            // For ... if condition
    Body body;                                     // For/SetBlock/Macro/FilterBlock/Scope body
    Body elseBody;                                 // For ... else
    std::vector<std::string> params;               // Macro parameters
    std::vector<ExprPtr> defaults;                 // Macro defaults, aligned with params (may be null)
};

struct Program {
    Body body;
};

}  // namespace hearth::jinja
