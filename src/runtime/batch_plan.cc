#include "runtime/batch_plan.h"

namespace lakepipe::runtime {

using Json = nlohmann::json;

namespace {

const char* KindName(PlannedSource::Kind kind) {
  switch (kind) {
    case PlannedSource::Kind::kFiles: return "files";
    case PlannedSource::Kind::kDelta: return "delta";
    case PlannedSource::Kind::kSnapshot: return "snapshot";
    case PlannedSource::Kind::kStream: return "stream";
  }
  return "files";
}

// Reads fields of one JSON object, remembering the first problem with its path.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path, std::string* error) : j_(object), path_(std::move(path)), error_(error) {
    if (!j_.is_object()) Fail("", "not an object");
  }
  bool ok() const { return error_->empty(); }

  std::string String(const char* key) {
    const Json* v = Get(key, true);
    if (v == nullptr) return "";
    if (!v->is_string()) return Fail(key, "not a string"), "";
    return v->get<std::string>();
  }
  int64_t Integer(const char* key, bool required, int64_t absent = 0) {
    const Json* v = Get(key, required);
    if (v == nullptr) return absent;
    if (!v->is_number_integer()) return Fail(key, "not an integer"), absent;
    return v->get<int64_t>();
  }
  bool Bool(const char* key) {
    const Json* v = Get(key, false);
    if (v == nullptr) return false;
    if (!v->is_boolean()) return Fail(key, "not true or false"), false;
    return v->get<bool>();
  }
  // An array member (nullptr when absent and optional, or wrong).
  const Json* Array(const char* key, bool required) {
    const Json* v = Get(key, required);
    if (v != nullptr && !v->is_array()) return Fail(key, "not an array"), nullptr;
    return v;
  }
  const Json* Any(const char* key) { return Get(key, true); }
  std::string Path(const std::string& sub) const { return path_.empty() ? sub : path_ + "." + sub; }

  void Fail(const std::string& key, const std::string& what) {
    if (!error_->empty()) return;
    std::string where = key.empty() ? path_ : Path(key);
    *error_ = (where.empty() ? "" : where + ": ") + what;
  }

 private:
  const Json* Get(const char* key, bool required) {
    if (!j_.is_object()) return nullptr;
    auto it = j_.find(key);
    if (it == j_.end()) {
      if (required) Fail(key, "missing");
      return nullptr;
    }
    return &*it;
  }

  const Json& j_;
  std::string path_;
  std::string* error_;
};

// A segment's name must stay inside taken/: a plain file name.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

// `with_segments`: a compact file of format 3, whose files sources list segment files.
PlannedSource ParseSource(const Json& j, const std::string& path, bool with_segments, std::string* error) {
  FieldReader r(j, path, error);
  PlannedSource s;
  std::string kind = r.String("kind");
  if (!r.ok()) return s;
  if (kind == "files") {
    s.kind = PlannedSource::Kind::kFiles;
    s.path = r.String("path");
    const Json* segments = with_segments ? r.Array("segments", true) : nullptr;
    for (size_t i = 0; segments != nullptr && i < segments->size() && r.ok(); ++i) {
      FieldReader g((*segments)[i], r.Path("segments[" + std::to_string(i) + "]"), error);
      PlannedSegment segment;
      segment.name = g.String("name");
      int64_t level = g.Integer("level", true);
      segment.files = g.Integer("files", true);
      segment.newest_micros = g.Integer("newest", false, INT64_MIN);
      if (!g.ok()) break;
      if (!IsPlainFileName(segment.name)) g.Fail("name", "not a file name: '" + segment.name + "'");
      else if (level < 0 || level > 1000) g.Fail("level", "out of range");
      else if (segment.files < 0) g.Fail("files", "negative");
      segment.level = static_cast<int>(level);
      s.segments.push_back(std::move(segment));
    }
    if (const Json* files = r.Array("files", !with_segments)) {
      for (size_t i = 0; i < files->size() && r.ok(); ++i) {
        FieldReader f((*files)[i], r.Path("files[" + std::to_string(i) + "]"), error);
        PlannedFile file;
        file.path = f.String("path");
        // A compact file keeps paths only.
        file.size = f.Integer("size", false);
        file.mtime_known = (*files)[i].is_object() && (*files)[i].contains("mtime");
        file.mtime_micros = f.Integer("mtime", false);
        s.files.push_back(std::move(file));
      }
    }
    if (const Json* skipped = r.Array("skippedExisting", false)) {
      for (size_t i = 0; i < skipped->size() && r.ok(); ++i) {
        const Json& e = (*skipped)[i];
        PlannedFile file;
        if (e.is_string()) {  // written before the times were recorded
          file.path = e.get<std::string>();
          file.mtime_known = false;
        } else {
          FieldReader f(e, r.Path("skippedExisting[" + std::to_string(i) + "]"), error);
          file.path = f.String("path");
          file.mtime_micros = f.Integer("mtime", true);
        }
        s.skipped_existing.push_back(std::move(file));
      }
    }
    s.newest_mtime_micros = r.Integer("newest", false, INT64_MIN);
    s.forgotten_before_micros = r.Integer("forgottenBefore", false, INT64_MIN);
  } else if (kind == "delta") {
    s.kind = PlannedSource::Kind::kDelta;
    s.table = r.String("table");
    s.start_version = r.Integer("startVersion", false);
    s.end_version = r.Integer("endVersion", true);
  } else if (kind == "snapshot") {
    s.kind = PlannedSource::Kind::kSnapshot;
    s.table = r.String("table");
    s.version = r.Integer("version", true);
  } else if (kind == "stream") {
    s.kind = PlannedSource::Kind::kStream;
    s.key = r.String("key");
    if (const Json* range = r.Any("range")) s.range = *range;
  } else {
    r.Fail("kind", "unknown source kind '" + kind + "'");
  }
  return s;
}

}  // namespace

Json BatchPlan::ToJson() const {
  Json j = {{"batchId", batch_id}};
  if (planned_at_millis != 0) j["plannedAt"] = planned_at_millis;
  if (compact) {
    j["compact"] = true;
    j["version"] = compact_format;
  }
  if (once) j["once"] = true;
  if (snapshot_end) j["snapshotEnd"] = true;
  Json list = Json::array();
  for (const auto& s : sources) {
    Json e = {{"kind", KindName(s.kind)}};
    switch (s.kind) {
      case PlannedSource::Kind::kFiles: {
        e["path"] = s.path;
        bool with_segments = compact && compact_format >= 3;
        if (with_segments) {
          Json segments = Json::array();
          for (const auto& g : s.segments) {
            Json one = {{"name", g.name}, {"level", g.level}, {"files", g.files}};
            if (g.newest_micros != INT64_MIN) one["newest"] = g.newest_micros;
            segments.push_back(std::move(one));
          }
          e["segments"] = std::move(segments);
        }
        if (!with_segments || !s.files.empty()) {
          Json files = Json::array();
          for (const auto& f : s.files) {
            if (compact) files.push_back({{"path", f.path}, {"mtime", f.mtime_micros}});
            else files.push_back({{"path", f.path}, {"size", f.size}, {"mtime", f.mtime_micros}});
          }
          e["files"] = std::move(files);
        }
        if (!s.skipped_existing.empty()) {
          Json skipped = Json::array();
          for (const auto& f : s.skipped_existing) skipped.push_back({{"path", f.path}, {"mtime", f.mtime_micros}});
          e["skippedExisting"] = std::move(skipped);
        }
        if (compact && s.newest_mtime_micros != INT64_MIN) e["newest"] = s.newest_mtime_micros;
        if (compact && s.forgotten_before_micros != INT64_MIN) e["forgottenBefore"] = s.forgotten_before_micros;
        break;
      }
      case PlannedSource::Kind::kDelta:
        e["table"] = s.table;
        if (!compact) e["startVersion"] = s.start_version;
        e["endVersion"] = s.end_version;
        break;
      case PlannedSource::Kind::kSnapshot:
        e["table"] = s.table;
        e["version"] = s.version;
        break;
      case PlannedSource::Kind::kStream:
        e["key"] = s.key;
        e["range"] = s.range;
        break;
    }
    list.push_back(std::move(e));
  }
  j["sources"] = std::move(list);
  return j;
}

std::string BatchPlan::Serialize() const {
  return ToJson().dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<BatchPlan> ParseBatchPlan(std::string_view text, const std::string& file) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(file + ": not a batch plan (a JSON object)");
  std::string error;
  FieldReader r(j, "", &error);
  BatchPlan plan;
  plan.batch_id = r.Integer("batchId", false, -1);
  plan.planned_at_millis = r.Integer("plannedAt", false);
  plan.once = r.Bool("once");
  plan.snapshot_end = r.Bool("snapshotEnd");
  plan.compact = r.Bool("compact");
  if (plan.compact) {
    plan.compact_format = static_cast<int>(r.Integer("version", false, 1));
    if (error.empty() && (plan.compact_format < 1 || plan.compact_format > BatchPlan::kCompactFormat)) {
      return Status::Corruption(file + ": compact file format " + std::to_string(plan.compact_format) +
                                " is not one this lakepipe reads (1 to " + std::to_string(BatchPlan::kCompactFormat) +
                                "): written by a newer lakepipe?");
    }
  }
  if (const Json* sources = r.Array("sources", true)) {
    for (size_t i = 0; i < sources->size() && error.empty(); ++i)
      plan.sources.push_back(ParseSource((*sources)[i], "sources[" + std::to_string(i) + "]",
                                         plan.compact && plan.compact_format >= 3, &error));
  }
  if (!error.empty()) return Status::Corruption(file + ": not a batch plan: " + error);
  return plan;
}

}  // namespace lakepipe::runtime
