// Splits a template into text and tag tokens with jinja2's whitespace rules as transformers sets
// them: trim_blocks and lstrip_blocks on, keep_trailing_newline off, `-`/`+` modifiers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::jinja {

enum class TokenType { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    TokenType type = TokenType::Eof;
    std::string text;  // Text data, name, operator, or the decoded string literal
    int64_t intValue = 0;
    double floatValue = 0.0;
    int line = 1;
    int column = 1;
};

// Throws TemplateError (with the line) on an unterminated tag, string or comment.
std::vector<Token> tokenize(const std::string& source);

}  // namespace hearth::jinja
