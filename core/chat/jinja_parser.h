// Builds the AST from tokens with jinja2's grammar and operator precedence.
#pragma once

#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace hearth::jinja {

// Throws TemplateError naming the line of the first syntax error.
Program parseTemplate(const std::vector<Token>& tokens);

}  // namespace hearth::jinja
