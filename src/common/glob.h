// FileNameGlob: the file-name patterns of read_files' pathGlobFilter, with Hadoop's
// GlobFilter syntax as Spark uses it: `*` (any run of characters), `?` (one character),
// `[abc]` / `[a-z]` / `[^abc]` (one of / not one of), `{a,b}` (either alternative; nested
// braces allowed) and `\` to quote the next character. A pattern matches a file's name
// (not its folder path), as in Spark.
//
// Immutable after Compile; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe {

class FileNameGlob {
 public:
  // InvalidArgument naming the pattern for an unclosed `[` or `{`, or a trailing `\`.
  static Result<FileNameGlob> Compile(std::string_view pattern);
  bool Matches(std::string_view name) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::vector<std::string> alternatives_;  // brace-free patterns for fnmatch(3)
};

}  // namespace lakepipe
