#include <cctype>

#include "expr/kernel_state.h"

namespace lakepipe::expr {
namespace {

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool MatchTokens(const std::vector<LikePattern::Token>& tokens, std::string_view s) {
  size_t ti = 0, si = 0;
  size_t star_ti = std::string::npos, star_si = 0;
  while (true) {
    if (ti < tokens.size()) {
      const auto& tok = tokens[ti];
      if (tok.kind == LikePattern::Kind::kAny) {
        star_ti = ti++;
        star_si = si;
        continue;
      }
      if (tok.kind == LikePattern::Kind::kOne) {
        if (si < s.size()) {
          si += Utf8Length(static_cast<unsigned char>(s[si]));
          ++ti;
          continue;
        }
      } else if (s.size() - si >= tok.text.size() && s.compare(si, tok.text.size(), tok.text) == 0) {
        si += tok.text.size();
        ++ti;
        continue;
      }
    } else if (si >= s.size()) {
      return true;
    }
    // Mismatch: let the last '%' swallow one more character, or fail.
    if (star_ti == std::string::npos || star_si >= s.size()) return false;
    star_si += Utf8Length(static_cast<unsigned char>(s[star_si]));
    si = star_si;
    ti = star_ti + 1;
  }
}

}  // namespace

bool LikePattern::Matches(std::string_view s) const {
  if (!case_insensitive) return MatchTokens(tokens, s);
  std::string lower = AsciiLower(s);
  return MatchTokens(tokens, lower);
}

Result<bool> LikeMatchesUncompiled(std::string_view s, std::string_view pattern, char escape) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != escape) continue;
    if (i + 1 >= pattern.size() || (pattern[i + 1] != '_' && pattern[i + 1] != '%' && pattern[i + 1] != escape)) {
      return CompilePattern(PatternKind::kLike, std::string(pattern), escape).status();  // its message
    }
    ++i;
  }
  // MatchTokens' walk over the pattern's bytes: a literal byte (or an escaped one) must
  // match, '_' takes one character, and on a mismatch the last '%' takes one more.
  size_t si = 0, pi = 0;
  size_t star_pi = std::string_view::npos, star_si = 0;
  while (true) {
    if (pi < pattern.size()) {
      char c = pattern[pi];
      if (c == escape) {
        if (si < s.size() && s[si] == pattern[pi + 1]) {
          ++si;
          pi += 2;
          continue;
        }
      } else if (c == '%') {
        star_pi = ++pi;
        star_si = si;
        continue;
      } else if (c == '_') {
        if (si < s.size()) {
          si += Utf8Length(static_cast<unsigned char>(s[si]));
          ++pi;
          continue;
        }
      } else if (si < s.size() && s[si] == c) {
        ++si;
        ++pi;
        continue;
      }
    } else if (si >= s.size()) {
      return true;
    }
    if (star_pi == std::string_view::npos || star_si >= s.size()) return false;
    star_si += Utf8Length(static_cast<unsigned char>(s[star_si]));
    si = star_si;
    pi = star_pi;
  }
}

Result<std::shared_ptr<const KernelState>> CompilePattern(PatternKind kind, const std::string& pattern, char escape) {
  if (kind != PatternKind::kRegex) {
    auto p = std::make_shared<LikePattern>();
    p->case_insensitive = kind == PatternKind::kILike;
    std::string source = p->case_insensitive ? AsciiLower(pattern) : pattern;
    std::string literal;
    auto flush = [&] {
      if (!literal.empty()) p->tokens.push_back({LikePattern::Kind::kLiteral, literal});
      literal.clear();
    };
    for (size_t i = 0; i < source.size(); ++i) {
      char c = source[i];
      if (c == escape) {
        // Spark: the escape may only precede '_', '%' or the escape itself.
        if (i + 1 >= source.size() ||
            (source[i + 1] != '_' && source[i + 1] != '%' && source[i + 1] != escape)) {
          return Status::InvalidArgument("invalid LIKE pattern '" + pattern + "': the escape character must be followed by '_', '%' or itself");
        }
        literal += source[++i];
      } else if (c == '%') {
        flush();
        if (p->tokens.empty() || p->tokens.back().kind != LikePattern::Kind::kAny) {
          p->tokens.push_back({LikePattern::Kind::kAny, ""});
        }
      } else if (c == '_') {
        flush();
        p->tokens.push_back({LikePattern::Kind::kOne, ""});
      } else {
        literal += c;
      }
    }
    flush();
    return std::shared_ptr<const KernelState>(p);
  }
  auto r = std::make_shared<RegexPattern>();
  r->source = pattern;
  try {
    r->regex = std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Status::InvalidArgument("invalid regular expression '" + pattern + "': " + e.what());
  }
  return std::shared_ptr<const KernelState>(r);
}

}  // namespace lakepipe::expr
