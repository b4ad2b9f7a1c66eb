#include "common/glob.h"

#include <fnmatch.h>

namespace lakepipe {
namespace {

// Expands the first top-level `{...}` of `p` (and, recursively, the rest) into `out`.
Status Expand(const std::string& p, std::vector<std::string>* out, const std::string& whole) {
  size_t open = std::string::npos;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[') {
      size_t j = i + 1;
      if (j < p.size() && (p[j] == '^' || p[j] == '!')) ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') ++j;
      if (j >= p.size()) return Status::InvalidArgument("pathGlobFilter '" + whole + "': unclosed [");
      i = j;
    } else if (p[i] == '{') {
      open = i;
      break;
    }
  }
  if (open == std::string::npos) {
    out->push_back(p);
    return Status::OK();
  }
  int depth = 0;
  std::vector<std::string> options;
  size_t start = open + 1;
  for (size_t i = open; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '{') {
      ++depth;
    } else if (p[i] == '}') {
      if (--depth == 0) {
        options.push_back(p.substr(start, i - start));
        for (const std::string& o : options) {
          LP_RETURN_IF_ERROR(Expand(p.substr(0, open) + o + p.substr(i + 1), out, whole));
        }
        return Status::OK();
      }
    } else if (p[i] == ',' && depth == 1) {
      options.push_back(p.substr(start, i - start));
      start = i + 1;
    }
  }
  return Status::InvalidArgument("pathGlobFilter '" + whole + "': unclosed {");
}

}  // namespace

Result<FileNameGlob> FileNameGlob::Compile(std::string_view pattern) {
  FileNameGlob g;
  g.pattern_ = std::string(pattern);
  if (!g.pattern_.empty() && g.pattern_.back() == '\\') {
    size_t backslashes = 0;
    for (size_t i = g.pattern_.size(); i > 0 && g.pattern_[i - 1] == '\\'; --i) ++backslashes;
    if (backslashes % 2 == 1) return Status::InvalidArgument("pathGlobFilter '" + g.pattern_ + "': ends with a lone \\");
  }
  LP_RETURN_IF_ERROR(Expand(g.pattern_, &g.alternatives_, g.pattern_));
  for (std::string& alt : g.alternatives_) {
    // Hadoop writes a negated class [^...]; fnmatch(3) wants [!...].
    for (size_t i = 0; i + 1 < alt.size(); ++i) {
      if (alt[i] == '\\') {
        ++i;
      } else if (alt[i] == '[' && alt[i + 1] == '^') {
        alt[i + 1] = '!';
      }
    }
  }
  return g;
}

bool FileNameGlob::Matches(std::string_view name) const {
  std::string n(name);
  for (const std::string& alt : alternatives_) {
    if (fnmatch(alt.c_str(), n.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace lakepipe
