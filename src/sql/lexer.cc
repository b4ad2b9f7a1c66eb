#include "sql/lexer.h"

#include <cctype>

namespace lakepipe::sql {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool Token::IsWord(std::string_view keyword) const {
  return kind == TokenKind::kWord && EqualsIgnoreCase(text, keyword);
}

namespace {

bool IsWordStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (static_cast<unsigned char>(c) >= 0x80);
}
bool IsWordChar(char c) {
  return IsWordStart(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$';
}

// Skips a comment starting at `i` if there is one; returns false on an unterminated block
// comment. `*skipped` tells whether a comment was there.
bool SkipComment(std::string_view s, size_t& i, bool* skipped) {
  *skipped = false;
  if (s.compare(i, 2, "--") == 0) {
    while (i < s.size() && s[i] != '\n') ++i;
    *skipped = true;
    return true;
  }
  if (s.compare(i, 2, "/*") == 0) {
    size_t close = s.find("*/", i + 2);
    *skipped = true;
    if (close == std::string_view::npos) return false;
    i = close + 2;
    return true;
  }
  return true;
}

// Reads a quoted literal starting at s[i] == quote. Backslash escapes apply to strings
// (not to backtick identifiers, where a doubled backtick is the escape).
bool ReadQuoted(std::string_view s, size_t& i, char quote, std::string* value) {
  ++i;
  bool backslash_escapes = quote != '`';
  while (i < s.size()) {
    char c = s[i];
    if (backslash_escapes && c == '\\' && i + 1 < s.size()) {
      char e = s[i + 1];
      switch (e) {
        case 'n': value->push_back('\n'); break;
        case 't': value->push_back('\t'); break;
        case 'r': value->push_back('\r'); break;
        case 'b': value->push_back('\b'); break;
        case '0': value->push_back('\0'); break;
        case '%': value->append("\\%"); break;  // Spark keeps these two for LIKE patterns
        case '_': value->append("\\_"); break;
        default: value->push_back(e); break;
      }
      i += 2;
      continue;
    }
    if (c == quote) {
      if (i + 1 < s.size() && s[i + 1] == quote) {  // doubled quote
        value->push_back(quote);
        i += 2;
        continue;
      }
      ++i;
      return true;
    }
    value->push_back(c);
    ++i;
  }
  return false;
}

}  // namespace

Result<std::vector<Token>> Lex(const MappedText& mapped) {
  std::string_view s = mapped.text();
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (c == '\0') return ErrorAt(mapped.Locate(start), "unexpected NUL byte (is this a text file?)");
    bool skipped = false;
    if (!SkipComment(s, i, &skipped)) {
      return ErrorAt(mapped.Locate(start), "unterminated /* comment");
    }
    if (skipped) continue;
    Token t;
    t.begin = start;
    if (c == '\'' || c == '"' || c == '`') {
      if (!ReadQuoted(s, i, c, &t.value)) {
        const char* what = c == '`' ? "unterminated `quoted identifier`" : "unterminated string literal";
        return ErrorAt(mapped.Locate(start), what);
      }
      t.kind = c == '\'' ? TokenKind::kString : c == '"' ? TokenKind::kDoubleQuoted : TokenKind::kQuotedIdent;
    } else if (IsWordStart(c)) {
      while (i < s.size() && IsWordChar(s[i])) ++i;
      t.kind = TokenKind::kWord;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) {
          i = j;
          while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        }
      }
      t.kind = TokenKind::kNumber;
    } else {
      static const char* kMulti[] = {"<=>", "::", "=>", "<=", ">=", "<>", "!=", "==", "||", "->"};
      size_t len = 1;
      for (const char* m : kMulti) {
        size_t n = std::char_traits<char>::length(m);
        if (s.compare(i, n, m) == 0) {
          len = n;
          break;
        }
      }
      i += len;
      t.kind = TokenKind::kSymbol;
    }
    t.end = i;
    t.text = std::string(s.substr(start, i - start));
    if (t.kind != TokenKind::kString && t.kind != TokenKind::kDoubleQuoted && t.kind != TokenKind::kQuotedIdent) {
      t.value = t.text;
    }
    tokens.push_back(std::move(t));
  }
  return tokens;
}

Result<MappedText> SubstituteVariables(const MappedText& in,
                                       const std::map<std::string, std::string>& configuration) {
  std::string_view s = in.text();
  MappedText out;
  out.set_file(in.file());
  size_t copied = 0;  // s[copied, i) not yet appended
  size_t i = 0;
  char quote = 0;
  while (i < s.size()) {
    char c = s[i];
    if (quote) {
      if (c == '\\' && quote != '`') {
        i += 2;
        continue;
      }
      if (c == quote) quote = 0;
    } else {
      bool skipped = false;
      size_t before = i;
      if (!SkipComment(s, i, &skipped)) return ErrorAt(in.Locate(before), "unterminated /* comment");
      if (skipped) continue;
      if (c == '\'' || c == '"' || c == '`') quote = c;
    }
    if (c == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      size_t close = s.find('}', i + 2);
      if (close == std::string_view::npos) return ErrorAt(in.Locate(i), "unterminated ${ variable");
      std::string key(s.substr(i + 2, close - i - 2));
      auto it = configuration.find(key);
      if (it == configuration.end()) {
        std::string known;
        for (const auto& [k, v] : configuration) known += (known.empty() ? "" : ", ") + k;
        return ErrorAt(in.Locate(i), "unknown configuration key ${" + key + "}; pipeline.yaml `configuration` has: " +
                                         (known.empty() ? "(none)" : known));
      }
      out.AppendMapped(in, copied, i);
      out.AppendSynthetic(it->second, in.OriginOf(i));
      i = close + 1;
      copied = i;
      continue;
    }
    ++i;
  }
  out.AppendMapped(in, copied, s.size());
  if (s.empty()) out = in;
  return out;
}

}  // namespace lakepipe::sql
