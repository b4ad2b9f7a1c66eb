// Source text and positions: every statement, expression and error of the SQL front end
// points at file:line:column in the text the user wrote.
//
// A SourceFile owns one file's text and turns byte offsets into line:column. A MappedText
// is text derived from a SourceFile (after `${key}` substitution or the Spark -> PostgreSQL
// rewrite) in which every byte remembers the offset in the original file it came from, so
// an offset reported by libpg-query in rewritten text maps back to what the user typed.
// Value types; immutable once built; safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe::sql {

struct SourceLocation {
  std::string file;  // as given to the loader (usually relative to the pipeline folder)
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based, in bytes

  bool known() const { return line > 0; }
  // "file:line:col" ("file" alone when the position is unknown).
  std::string ToString() const;
};

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  // Location of a byte offset (clamped to the end of the text).
  SourceLocation Locate(size_t offset) const;

 private:
  std::string path_;
  std::string text_;
  std::vector<size_t> line_starts_;
};
using SourceFilePtr = std::shared_ptr<const SourceFile>;

// Text whose bytes map back to offsets in a SourceFile. `origin` has text.size() + 1
// entries (the last one maps the end of the text).
class MappedText {
 public:
  MappedText() = default;
  // The identity mapping of a whole file.
  static MappedText Of(const SourceFilePtr& file);
  // The sub-range [begin, end) of another mapped text, keeping its mapping.
  MappedText Slice(size_t begin, size_t end) const;

  // Appends bytes copied from the original: byte i maps to origin_offset + i.
  void AppendVerbatim(std::string_view s, size_t origin_offset);
  // Appends synthesized bytes that all map to one original offset.
  void AppendSynthetic(std::string_view s, size_t origin_offset);
  // Appends bytes of another mapped text over the same file.
  void AppendMapped(const MappedText& other, size_t begin, size_t end);

  const std::string& text() const { return text_; }
  const SourceFilePtr& file() const { return file_; }
  void set_file(SourceFilePtr f) { file_ = std::move(f); }
  size_t OriginOf(size_t offset) const;
  SourceLocation Locate(size_t offset) const;

 private:
  SourceFilePtr file_;
  std::string text_;
  std::vector<uint32_t> origin_;  // origin_[i] = original offset of text_[i]
};

// An InvalidArgument status "file:line:col: message".
Status ErrorAt(const SourceLocation& loc, const std::string& message);
// A NotSupported status "file:line:col: not supported: message".
Status NotSupportedAt(const SourceLocation& loc, const std::string& message);

}  // namespace lakepipe::sql
