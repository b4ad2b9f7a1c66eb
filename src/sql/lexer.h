// The tokenizer for Lakeflow / Spark SQL text: used by the DDL parser (statement.h), the
// Spark -> PostgreSQL rewrite (rewrite.h) and `${key}` substitution.
//
// Comments (`-- ...` to end of line, `/* ... */`) are skipped. Strings follow Spark: '...'
// and "..." are both string literals (Spark's default), with backslash escapes; `...` is a
// quoted identifier (a doubled backtick stands for one). Offsets are byte offsets into the
// lexed text; an unterminated string, identifier or comment is an error at its start.
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sql/source.h"

namespace lakepipe::sql {

enum class TokenKind {
  kWord,          // identifier or keyword, unquoted
  kQuotedIdent,   // `name`
  kString,        // 'text'
  kDoubleQuoted,  // "text" (a string in Spark SQL)
  kNumber,        // 42, 1.5, 1e3
  kSymbol,        // ( ) , ; . * + - / % = < > <= >= <> != == <=> || :: => -> ...
};

struct Token {
  TokenKind kind = TokenKind::kSymbol;
  size_t begin = 0;  // byte offset of the first character
  size_t end = 0;    // one past the last character
  std::string text;  // the raw characters
  std::string value; // unescaped content of strings and quoted identifiers; else == text

  bool IsWord(std::string_view keyword) const;  // unquoted word, case-insensitive
  bool IsSymbol(std::string_view symbol) const { return kind == TokenKind::kSymbol && text == symbol; }
  bool IsString() const { return kind == TokenKind::kString || kind == TokenKind::kDoubleQuoted; }
  bool IsIdentifier() const { return kind == TokenKind::kWord || kind == TokenKind::kQuotedIdent; }
};

// Tokenizes `text` (whose positions are reported through `text.Locate`).
Result<std::vector<Token>> Lex(const MappedText& text);

// Replaces every `${key}` outside comments (in code and inside string literals) with
// configuration[key]. An unknown key is an error naming it and its file:line:col, and
// listing the known keys.
Result<MappedText> SubstituteVariables(const MappedText& text,
                                       const std::map<std::string, std::string>& configuration);

std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace lakepipe::sql
