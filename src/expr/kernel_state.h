// Internal to expr/: state compiled once at bind time for pattern and datetime kernels
// (LIKE/ILIKE matchers, regular expressions, Spark datetime patterns), and the helpers
// that use it. Immutable after construction; shared read-only between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"

namespace lakepipe::expr {

// LIKE / ILIKE: the pattern split into literal runs, '_' (one character) and '%'.
struct LikePattern : KernelState {
  enum class Kind { kLiteral, kOne, kAny };
  struct Token {
    Kind kind;
    std::string text;
  };
  std::vector<Token> tokens;
  bool case_insensitive = false;
  bool Matches(std::string_view s) const;
};

// RLIKE / regexp_replace. std::regex (ECMAScript grammar), the only engine available here;
// compiled once per expression.
struct RegexPattern : KernelState {
  std::regex regex;
  std::string source;
};

// A Spark datetime pattern ("M/d/yyyy H:mm"), tokenized.
struct DatetimeFormat : KernelState {
  struct Field {
    char letter = 0;    // 0 = literal text
    int count = 0;      // pattern letter repeat count
    std::string text;   // literal text
    // Adjacent numeric fields (yyyyMMdd, HHmmss), parsed as java.time does: a field that
    // directly follows another numeric field takes exactly `count` digits (`fixed`), and
    // the first field of such a run leaves `reserve` digits for the fields after it.
    bool fixed = false;
    int reserve = 0;
  };
  std::vector<Field> fields;
  std::string source;
};

enum class PatternKind { kLike, kILike, kRegex };
Result<std::shared_ptr<const KernelState>> CompilePattern(PatternKind kind, const std::string& pattern, char escape);

// `s LIKE pattern` (case-sensitive) without compiling the pattern: for a pattern that
// differs per row (`x LIKE '%,' || y || ',%'`), where compiling it each row cost more
// than matching. The same result as CompilePattern(kLike, ...)->Matches(s), and the same
// error for an escape not followed by '_', '%' or itself.
Result<bool> LikeMatchesUncompiled(std::string_view s, std::string_view pattern, char escape);
Result<std::shared_ptr<const KernelState>> CompileDatetimeFormat(const std::string& format, bool parsing);

// Parses `text` with `format` into microseconds since the epoch (UTC); nullopt when it does
// not match the pattern or names an invalid date.
std::optional<int64_t> ParseWithFormat(const DatetimeFormat& format, std::string_view text);
// Appends `micros` formatted with `format` to `out`.
void FormatWithFormat(const DatetimeFormat& format, int64_t micros, std::string* out);

// Spark's CAST(string AS DATE/TIMESTAMP) text rules (trimmed; date accepts yyyy, yyyy-[m]m,
// yyyy-[m]m-[d]d with an ignored time part).
std::optional<int32_t> CastStringToDate(std::string_view text);
std::optional<int64_t> CastStringToTimestamp(std::string_view text);

}  // namespace lakepipe::expr
