#include "runtime/taken_segments.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include <nlohmann/json.hpp>

namespace lakepipe::runtime {
namespace {

// Appends `s` as a JSON string. Names are ASCII almost always; others go through
// nlohmann, as the plans' names do (so a name is spelt the same in both).
void AppendJsonString(std::string& out, std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out.append(s);
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AppendInt(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

Status NotASegment(const std::string& file, const std::string& what) {
  return Status::Corruption(file + ": not a segment file of the flow's compact file: " + what);
}

}  // namespace

std::string SerializeSegment(const std::string& source_path, const TakenFiles& taken, size_t begin, size_t end) {
  std::string out;
  out.reserve(64 + (end - begin) * 48);
  out += "{\"segment\":1,\"source\":";
  AppendJsonString(out, source_path);
  out += ",\"files\":[";
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += ',';
    out += '[';
    AppendJsonString(out, taken.PathAt(i));
    out += ',';
    AppendInt(out, taken.MtimeAt(i));
    out += ']';
  }
  out += "]}\n";
  return out;
}

Status ParseSegment(std::string_view text, const std::string& file, const std::string& source_path,
                    int64_t expected_files, const std::function<void(std::string_view, int64_t)>& visit) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  static const char kNothing[] = "";
  if (parser.parse(text.empty() ? kNothing : text.data(), text.size(), true).get(doc) != simdjson::SUCCESS)
    return NotASegment(file, "not JSON");
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return NotASegment(file, "not a JSON object");
  int64_t format = 0;
  if (object["segment"].get_int64().get(format) != simdjson::SUCCESS) return NotASegment(file, "segment: missing or not an integer");
  if (format != 1)
    return Status::Corruption(file + ": segment format " + std::to_string(format) +
                              " is not one this lakepipe reads (1): written by a newer lakepipe?");
  std::string_view source;
  if (object["source"].get_string().get(source) != simdjson::SUCCESS) return NotASegment(file, "source: missing or not a string");
  if (source != source_path)
    return NotASegment(file, "it lists the files of " + std::string(source) + ", not of " + source_path);
  simdjson::dom::array files;
  if (object["files"].get_array().get(files) != simdjson::SUCCESS) return NotASegment(file, "files: missing or not an array");
  int64_t n = 0;
  for (simdjson::dom::element e : files) {
    simdjson::dom::array pair;
    std::string_view path;
    int64_t mtime = 0;
    if (e.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
        pair.at(0).get_string().get(path) != simdjson::SUCCESS ||
        pair.at(1).get_int64().get(mtime) != simdjson::SUCCESS) {
      return NotASegment(file, "files[" + std::to_string(n) + "]: not [path, mtime]");
    }
    visit(path, mtime);
    ++n;
  }
  if (n != expected_files)
    return NotASegment(file, "it lists " + std::to_string(n) + " files, the compact file says " +
                                 std::to_string(expected_files));
  return Status::OK();
}

Status ReadSegment(FileSystem* fs, const std::string& dir, const PlannedSource& source, const PlannedSegment& ref,
                   const std::function<void(std::string_view, int64_t)>& visit) {
  const int64_t forgotten_before = source.forgotten_before_micros;
  // A segment whose files were all forgotten is not even read; the next compaction drops it.
  if (forgotten_before != INT64_MIN && ref.newest_micros != INT64_MIN && ref.newest_micros < forgotten_before)
    return Status::OK();
  std::string file = JoinPath(dir, ref.name);
  auto text = fs->ReadFile(file);
  if (!text.ok()) {
    if (text.status().IsNotFound())
      return Status::Corruption(file + ": missing, but the flow's compact file lists it (segment of " + source.path +
                                ")");
    return text.status();
  }
  return ParseSegment(*text, file, source.path, ref.files, [&](std::string_view path, int64_t mtime) {
    if (forgotten_before == INT64_MIN || mtime >= forgotten_before) visit(path, mtime);
  });
}

Status TakenSegments::Load(FileSystem* fs, const std::string& dir, const PlannedSource& source, TakenFiles* taken) {
  if (taken->size() != 0 || !segments_.empty())
    return Status::Internal("segments of " + source.path + " loaded after other files");
  // What the compact file says is coming (no segment lists more than kMaxFiles: a
  // damaged count reserves no more than that, and its segment is refused on reading).
  int64_t listed = 0;
  for (const PlannedSegment& ref : source.segments) listed += std::clamp<int64_t>(ref.files, 0, kMaxFiles);
  taken->Reserve(static_cast<size_t>(listed));
  for (const PlannedSegment& ref : source.segments) {
    // Without noting the newest time: the compact file's "newest" says it (and a file
    // kept as of an upgrade must not move it).
    LP_RETURN_IF_ERROR(ReadSegment(fs, dir, source, ref, [taken](std::string_view path, int64_t mtime) {
      taken->InsertWithoutTime(path, mtime);
    }));
    segments_.push_back({ref, taken->size()});
  }
  return Status::OK();
}

size_t TakenSegments::Forget(TakenFiles* taken, int64_t horizon, const std::function<void(std::string_view)>& forgotten) {
  if (horizon == TakenFiles::kNoHorizon) return 0;
  if (taken->CountOlderThan(horizon) * kForgetShare < taken->size()) {
    taken->NoteForgottenBefore(horizon);
    return 0;
  }
  std::vector<size_t> ends;
  ends.reserve(segments_.size());
  for (const Segment& s : segments_) ends.push_back(s.end);
  size_t n = taken->ForgetOlderThan(horizon, forgotten, &ends);
  for (size_t i = 0; i < segments_.size(); ++i) segments_[i].end = ends[i];
  return n;
}

Result<TakenSegments> TakenSegments::Compact(
    const TakenFiles& taken, const std::string& source_path, int64_t batch_id, int* sequence,
    const std::function<Status(const std::string& name, std::string_view text)>& write) const {
  struct Work {
    Segment s;
    size_t begin = 0;
    bool rewrite = false;
  };
  std::vector<Work> list;
  size_t begin = 0;
  for (const Segment& s : segments_) {
    size_t live = s.end - begin;
    if (live > 0) list.push_back({s, begin, static_cast<int64_t>(live) * 2 < s.ref.files});
    begin = s.end;
  }
  auto merge_tail = [&list] {
    while (list.size() >= static_cast<size_t>(kFanIn)) {
      size_t first = list.size() - kFanIn;
      int level = list.back().s.ref.level;
      if (level >= kFullLevel) return;
      for (size_t i = first; i < list.size(); ++i)
        if (list[i].s.ref.level != level) return;
      if (list.back().s.end - list[first].begin > static_cast<size_t>(kMaxFiles)) {
        for (size_t i = first; i < list.size(); ++i) list[i].s.ref.level = kFullLevel;
        return;
      }
      Work merged;
      merged.begin = list[first].begin;
      merged.s.end = list.back().s.end;
      merged.s.ref.level = level + 1;
      merged.rewrite = true;
      list.resize(first);
      list.push_back(std::move(merged));
    }
  };
  for (size_t from = begin; from < taken.size();) {
    size_t to = std::min(taken.size(), from + static_cast<size_t>(kMaxFiles));
    Work fresh;
    fresh.begin = from;
    fresh.s.end = to;
    fresh.s.ref.level = to - from == static_cast<size_t>(kMaxFiles) ? kFullLevel : 0;
    fresh.rewrite = true;
    list.push_back(std::move(fresh));
    merge_tail();
    from = to;
  }
  TakenSegments out;
  out.segments_.reserve(list.size());
  for (Work& w : list) {
    if (w.rewrite) {
      w.s.ref.name = std::to_string(batch_id) + "-" + std::to_string((*sequence)++) + ".json";
      w.s.ref.files = static_cast<int64_t>(w.s.end - w.begin);
      int64_t newest = INT64_MIN;
      for (size_t i = w.begin; i < w.s.end; ++i) newest = std::max(newest, taken.MtimeAt(i));
      w.s.ref.newest_micros = newest;
      LP_RETURN_IF_ERROR(write(w.s.ref.name, SerializeSegment(source_path, taken, w.begin, w.s.end)));
    }
    out.segments_.push_back(std::move(w.s));
  }
  return out;
}

std::vector<PlannedSegment> TakenSegments::Refs() const {
  std::vector<PlannedSegment> refs;
  refs.reserve(segments_.size());
  for (const Segment& s : segments_) refs.push_back(s.ref);
  return refs;
}

}  // namespace lakepipe::runtime
