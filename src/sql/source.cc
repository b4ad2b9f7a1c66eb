#include "sql/source.h"

#include <algorithm>

namespace lakepipe::sql {

std::string SourceLocation::ToString() const {
  if (!known()) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

SourceFile::SourceFile(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

SourceLocation SourceFile::Locate(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line_index = static_cast<size_t>(it - line_starts_.begin()) - 1;
  SourceLocation loc;
  loc.file = path_;
  loc.line = static_cast<int>(line_index + 1);
  loc.column = static_cast<int>(offset - line_starts_[line_index] + 1);
  return loc;
}

MappedText MappedText::Of(const SourceFilePtr& file) {
  MappedText m;
  m.file_ = file;
  m.AppendVerbatim(file->text(), 0);
  return m;
}

MappedText MappedText::Slice(size_t begin, size_t end) const {
  MappedText m;
  m.file_ = file_;
  m.AppendMapped(*this, begin, end);
  return m;
}

void MappedText::AppendVerbatim(std::string_view s, size_t origin_offset) {
  if (!origin_.empty()) origin_.pop_back();
  text_.append(s);
  for (size_t i = 0; i < s.size(); ++i) origin_.push_back(static_cast<uint32_t>(origin_offset + i));
  origin_.push_back(static_cast<uint32_t>(origin_offset + s.size()));
}

void MappedText::AppendSynthetic(std::string_view s, size_t origin_offset) {
  if (!origin_.empty()) origin_.pop_back();
  text_.append(s);
  for (size_t i = 0; i < s.size(); ++i) origin_.push_back(static_cast<uint32_t>(origin_offset));
  origin_.push_back(static_cast<uint32_t>(origin_offset));
}

void MappedText::AppendMapped(const MappedText& other, size_t begin, size_t end) {
  end = std::min(end, other.text_.size());
  if (begin >= end) return;
  if (!origin_.empty()) origin_.pop_back();
  text_.append(other.text_, begin, end - begin);
  for (size_t i = begin; i < end; ++i) origin_.push_back(other.origin_[i]);
  origin_.push_back(other.origin_[end]);
}

size_t MappedText::OriginOf(size_t offset) const {
  if (origin_.empty()) return 0;
  return origin_[std::min(offset, origin_.size() - 1)];
}

SourceLocation MappedText::Locate(size_t offset) const {
  if (!file_) return {};
  return file_->Locate(OriginOf(offset));
}

Status ErrorAt(const SourceLocation& loc, const std::string& message) {
  return Status::InvalidArgument(loc.ToString() + ": " + message);
}

Status NotSupportedAt(const SourceLocation& loc, const std::string& message) {
  return Status::NotSupported(loc.ToString() + ": not supported: " + message);
}

}  // namespace lakepipe::sql
