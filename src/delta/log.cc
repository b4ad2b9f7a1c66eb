// Delta log actions <-> JSON lines, the log folder listing, and log replay.
#include "delta/log.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

#include <nlohmann/json.hpp>

#include "delta/commit_file_time.h"
#include "delta/log_internal.h"
#include "delta/mtime_kept.h"

namespace lakepipe::delta {

using json = nlohmann::ordered_json;

namespace {

// ---- reading JSON fields with errors that name the field ----------------------------

struct FieldReader {
  const json& obj;
  std::string_view where;  // "00000000000000000003.json line 2 add"

  Status Missing(std::string_view key) const {
    return Status::Corruption(std::string(where) + ": missing field '" + std::string(key) + "'");
  }
  Status Wrong(std::string_view key, std::string_view want) const {
    return Status::Corruption(std::string(where) + ": field '" + std::string(key) + "' is not " +
                              std::string(want));
  }
  const json* Find(std::string_view key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }
  Status String(std::string_view key, std::string* out) const {
    const json* v = Find(key);
    if (!v) return Missing(key);
    if (!v->is_string()) return Wrong(key, "a string");
    *out = v->get<std::string>();
    return Status::OK();
  }
  Status OptString(std::string_view key, std::optional<std::string>* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_string()) return Wrong(key, "a string");
    *out = v->get<std::string>();
    return Status::OK();
  }
  Status Int(std::string_view key, int64_t* out) const {
    const json* v = Find(key);
    if (!v) return Missing(key);
    if (!v->is_number_integer()) return Wrong(key, "an integer");
    *out = v->get<int64_t>();
    return Status::OK();
  }
  Status OptInt(std::string_view key, std::optional<int64_t>* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_number_integer()) return Wrong(key, "an integer");
    *out = v->get<int64_t>();
    return Status::OK();
  }
  Status Bool(std::string_view key, bool* out, bool fallback) const {
    const json* v = Find(key);
    if (!v) {
      *out = fallback;
      return Status::OK();
    }
    if (!v->is_boolean()) return Wrong(key, "a boolean");
    *out = v->get<bool>();
    return Status::OK();
  }
  Status OptBool(std::string_view key, std::optional<bool>* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_boolean()) return Wrong(key, "a boolean");
    *out = v->get<bool>();
    return Status::OK();
  }
  Status StrMap(std::string_view key, StringMap* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_object()) return Wrong(key, "an object");
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (it->is_null()) continue;
      if (it->is_string()) {
        (*out)[it.key()] = it->get<std::string>();
      } else {
        (*out)[it.key()] = it->dump();
      }
    }
    return Status::OK();
  }
  Status OptStrMap(std::string_view key, std::optional<StringMap>* out) const {
    if (!Find(key)) return Status::OK();
    StringMap m;
    LP_RETURN_IF_ERROR(StrMap(key, &m));
    *out = std::move(m);
    return Status::OK();
  }
  Status Partitions(std::string_view key, PartitionValues* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_object()) return Wrong(key, "an object");
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (it->is_null()) {
        (*out)[it.key()] = std::nullopt;
      } else if (it->is_string()) {
        (*out)[it.key()] = it->get<std::string>();
      } else {
        return Wrong(key, "a map of strings");
      }
    }
    return Status::OK();
  }
  Status StrList(std::string_view key, std::vector<std::string>* out) const {
    const json* v = Find(key);
    if (!v) return Status::OK();
    if (!v->is_array()) return Wrong(key, "an array");
    for (const auto& e : *v) {
      if (!e.is_string()) return Wrong(key, "an array of strings");
      out->push_back(e.get<std::string>());
    }
    return Status::OK();
  }
  Status Dv(std::optional<DeletionVector>* out) const {
    const json* v = Find("deletionVector");
    if (!v) return Status::OK();
    if (!v->is_object()) return Wrong("deletionVector", "an object");
    FieldReader r{*v, where};
    DeletionVector dv;
    LP_RETURN_IF_ERROR(r.String("storageType", &dv.storage_type));
    LP_RETURN_IF_ERROR(r.String("pathOrInlineDv", &dv.path_or_inline_dv));
    std::optional<int64_t> off;
    LP_RETURN_IF_ERROR(r.OptInt("offset", &off));
    if (off) dv.offset = static_cast<int32_t>(*off);
    int64_t n = 0;
    LP_RETURN_IF_ERROR(r.Int("sizeInBytes", &n));
    dv.size_in_bytes = static_cast<int32_t>(n);
    LP_RETURN_IF_ERROR(r.Int("cardinality", &dv.cardinality));
    *out = std::move(dv);
    return Status::OK();
  }
};

Status ParseProtocol(const FieldReader& r, Protocol* p) {
  int64_t v = 0;
  LP_RETURN_IF_ERROR(r.Int("minReaderVersion", &v));
  p->min_reader_version = static_cast<int32_t>(v);
  LP_RETURN_IF_ERROR(r.Int("minWriterVersion", &v));
  p->min_writer_version = static_cast<int32_t>(v);
  if (r.Find("readerFeatures")) {
    p->reader_features.emplace();
    LP_RETURN_IF_ERROR(r.StrList("readerFeatures", &*p->reader_features));
  }
  if (r.Find("writerFeatures")) {
    p->writer_features.emplace();
    LP_RETURN_IF_ERROR(r.StrList("writerFeatures", &*p->writer_features));
  }
  return Status::OK();
}

Status ParseMetadata(const FieldReader& r, Metadata* m) {
  LP_RETURN_IF_ERROR(r.String("id", &m->id));
  LP_RETURN_IF_ERROR(r.OptString("name", &m->name));
  LP_RETURN_IF_ERROR(r.OptString("description", &m->description));
  if (const json* f = r.Find("format")) {
    if (!f->is_object()) return r.Wrong("format", "an object");
    FieldReader fr{*f, r.where};
    std::optional<std::string> provider;
    LP_RETURN_IF_ERROR(fr.OptString("provider", &provider));
    if (provider) m->format.provider = *provider;
    LP_RETURN_IF_ERROR(fr.StrMap("options", &m->format.options));
  }
  // Spark's Metadata() default has no schemaString (a table with no columns yet).
  std::optional<std::string> schema_string;
  LP_RETURN_IF_ERROR(r.OptString("schemaString", &schema_string));
  m->schema_string = schema_string.value_or("");
  LP_RETURN_IF_ERROR(r.StrList("partitionColumns", &m->partition_columns));
  LP_RETURN_IF_ERROR(r.StrMap("configuration", &m->configuration));
  LP_RETURN_IF_ERROR(r.OptInt("createdTime", &m->created_time));
  return Status::OK();
}

Status ParseAdd(const FieldReader& r, AddFile* a) {
  LP_RETURN_IF_ERROR(r.String("path", &a->path));
  LP_RETURN_IF_ERROR(r.Partitions("partitionValues", &a->partition_values));
  LP_RETURN_IF_ERROR(r.Int("size", &a->size));
  std::optional<int64_t> mt;
  LP_RETURN_IF_ERROR(r.OptInt("modificationTime", &mt));
  a->modification_time = mt.value_or(0);
  LP_RETURN_IF_ERROR(r.Bool("dataChange", &a->data_change, true));
  LP_RETURN_IF_ERROR(r.OptString("stats", &a->stats));
  LP_RETURN_IF_ERROR(r.OptStrMap("tags", &a->tags));
  LP_RETURN_IF_ERROR(r.Dv(&a->deletion_vector));
  LP_RETURN_IF_ERROR(r.OptInt("baseRowId", &a->base_row_id));
  LP_RETURN_IF_ERROR(r.OptInt("defaultRowCommitVersion", &a->default_row_commit_version));
  LP_RETURN_IF_ERROR(r.OptString("clusteringProvider", &a->clustering_provider));
  return Status::OK();
}

Status ParseRemove(const FieldReader& r, RemoveFile* a) {
  LP_RETURN_IF_ERROR(r.String("path", &a->path));
  LP_RETURN_IF_ERROR(r.OptInt("deletionTimestamp", &a->deletion_timestamp));
  LP_RETURN_IF_ERROR(r.Bool("dataChange", &a->data_change, true));
  LP_RETURN_IF_ERROR(r.OptBool("extendedFileMetadata", &a->extended_file_metadata));
  if (r.Find("partitionValues")) {
    a->partition_values.emplace();
    LP_RETURN_IF_ERROR(r.Partitions("partitionValues", &*a->partition_values));
  }
  LP_RETURN_IF_ERROR(r.OptInt("size", &a->size));
  LP_RETURN_IF_ERROR(r.OptString("stats", &a->stats));
  LP_RETURN_IF_ERROR(r.OptStrMap("tags", &a->tags));
  LP_RETURN_IF_ERROR(r.Dv(&a->deletion_vector));
  LP_RETURN_IF_ERROR(r.OptInt("baseRowId", &a->base_row_id));
  LP_RETURN_IF_ERROR(r.OptInt("defaultRowCommitVersion", &a->default_row_commit_version));
  return Status::OK();
}

Status ParseTxn(const FieldReader& r, Txn* t) {
  LP_RETURN_IF_ERROR(r.String("appId", &t->app_id));
  LP_RETURN_IF_ERROR(r.Int("version", &t->version));
  LP_RETURN_IF_ERROR(r.OptInt("lastUpdated", &t->last_updated));
  return Status::OK();
}

Status ParseCommitInfo(const FieldReader& r, CommitInfo* c) {
  c->json = r.obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (const json* t = r.Find("timestamp"); t && t->is_number_integer()) c->timestamp = t->get<int64_t>();
  if (const json* t = r.Find("inCommitTimestamp"); t && t->is_number_integer())
    c->in_commit_timestamp = t->get<int64_t>();
  if (const json* o = r.Find("operation"); o && o->is_string()) c->operation = o->get<std::string>();
  return Status::OK();
}

// ---- writing ------------------------------------------------------------------------

json PartitionsJson(const PartitionValues& pv) {
  json o = json::object();
  for (const auto& [k, v] : pv) o[k] = v ? json(*v) : json(nullptr);
  return o;
}

json StrMapJson(const StringMap& m) {
  json o = json::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json DvJson(const DeletionVector& dv) {
  json o = json::object();
  o["storageType"] = dv.storage_type;
  o["pathOrInlineDv"] = dv.path_or_inline_dv;
  if (dv.offset) o["offset"] = *dv.offset;
  o["sizeInBytes"] = dv.size_in_bytes;
  o["cardinality"] = dv.cardinality;
  return o;
}

json ActionJson(const Action& action) {
  json o = json::object();
  if (const auto* p = std::get_if<Protocol>(&action)) {
    json v = json::object();
    v["minReaderVersion"] = p->min_reader_version;
    v["minWriterVersion"] = p->min_writer_version;
    if (p->reader_features) v["readerFeatures"] = *p->reader_features;
    if (p->writer_features) v["writerFeatures"] = *p->writer_features;
    o["protocol"] = std::move(v);
  } else if (const auto* m = std::get_if<Metadata>(&action)) {
    json v = json::object();
    v["id"] = m->id;
    if (m->name) v["name"] = *m->name;
    if (m->description) v["description"] = *m->description;
    v["format"] = {{"provider", m->format.provider}, {"options", StrMapJson(m->format.options)}};
    v["schemaString"] = m->schema_string;
    v["partitionColumns"] = m->partition_columns;
    v["configuration"] = StrMapJson(m->configuration);
    if (m->created_time) v["createdTime"] = *m->created_time;
    o["metaData"] = std::move(v);
  } else if (const auto* a = std::get_if<AddFile>(&action)) {
    json v = json::object();
    v["path"] = a->path;
    v["partitionValues"] = PartitionsJson(a->partition_values);
    v["size"] = a->size;
    v["modificationTime"] = a->modification_time;
    v["dataChange"] = a->data_change;
    if (a->stats) v["stats"] = *a->stats;
    if (a->tags) v["tags"] = StrMapJson(*a->tags);
    if (a->deletion_vector) v["deletionVector"] = DvJson(*a->deletion_vector);
    if (a->base_row_id) v["baseRowId"] = *a->base_row_id;
    if (a->default_row_commit_version) v["defaultRowCommitVersion"] = *a->default_row_commit_version;
    if (a->clustering_provider) v["clusteringProvider"] = *a->clustering_provider;
    o["add"] = std::move(v);
  } else if (const auto* r = std::get_if<RemoveFile>(&action)) {
    json v = json::object();
    v["path"] = r->path;
    if (r->deletion_timestamp) v["deletionTimestamp"] = *r->deletion_timestamp;
    v["dataChange"] = r->data_change;
    if (r->extended_file_metadata) v["extendedFileMetadata"] = *r->extended_file_metadata;
    if (r->partition_values) v["partitionValues"] = PartitionsJson(*r->partition_values);
    if (r->size) v["size"] = *r->size;
    if (r->stats) v["stats"] = *r->stats;
    if (r->tags) v["tags"] = StrMapJson(*r->tags);
    if (r->deletion_vector) v["deletionVector"] = DvJson(*r->deletion_vector);
    if (r->base_row_id) v["baseRowId"] = *r->base_row_id;
    if (r->default_row_commit_version) v["defaultRowCommitVersion"] = *r->default_row_commit_version;
    o["remove"] = std::move(v);
  } else if (const auto* t = std::get_if<Txn>(&action)) {
    json v = json::object();
    v["appId"] = t->app_id;
    v["version"] = t->version;
    if (t->last_updated) v["lastUpdated"] = *t->last_updated;
    o["txn"] = std::move(v);
  } else if (const auto* c = std::get_if<CommitInfo>(&action)) {
    json v = json::parse(c->json.empty() ? std::string("{}") : c->json, nullptr, false);
    if (v.is_discarded() || !v.is_object()) v = json::object();
    o["commitInfo"] = std::move(v);
  } else if (const auto* x = std::get_if<OtherAction>(&action)) {
    json v = json::parse(x->json, nullptr, false);
    if (v.is_discarded()) v = json::object();
    o[x->kind] = std::move(v);
  }
  return o;
}

std::string LineWhere(std::string_view name, int line, std::string_view kind) {
  return std::string(name) + " line " + std::to_string(line) + " " + std::string(kind);
}

}  // namespace

// ---- public: actions ----------------------------------------------------------------

Result<Action> ParseActionObject(const nlohmann::ordered_json& obj, const std::string& where) {
  if (!obj.is_object() || obj.size() != 1) {
    // The protocol has exactly one action per line; take the first known key if several.
    if (!obj.is_object() || obj.empty())
      return Status::Corruption(where + ": an action must be a JSON object with one key");
  }
  const std::string kind = obj.begin().key();
  const json& body = obj.begin().value();
  if (!body.is_object()) return Status::Corruption(where + ": action '" + kind + "' is not an object");
  std::string w = where + " " + kind;
  FieldReader r{body, w};
  if (kind == "protocol") {
    Protocol p;
    LP_RETURN_IF_ERROR(ParseProtocol(r, &p));
    return Action(std::move(p));
  }
  if (kind == "metaData") {
    Metadata m;
    LP_RETURN_IF_ERROR(ParseMetadata(r, &m));
    return Action(std::move(m));
  }
  if (kind == "add") {
    AddFile a;
    LP_RETURN_IF_ERROR(ParseAdd(r, &a));
    return Action(std::move(a));
  }
  if (kind == "remove") {
    RemoveFile a;
    LP_RETURN_IF_ERROR(ParseRemove(r, &a));
    return Action(std::move(a));
  }
  if (kind == "txn") {
    Txn t;
    LP_RETURN_IF_ERROR(ParseTxn(r, &t));
    return Action(std::move(t));
  }
  if (kind == "commitInfo") {
    CommitInfo c;
    LP_RETURN_IF_ERROR(ParseCommitInfo(r, &c));
    return Action(std::move(c));
  }
  return Action(OtherAction{kind, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

Result<std::vector<Action>> ParseActions(std::string_view text, std::string_view name) {
  std::vector<Action> out;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded()) {
      return Status::Corruption(std::string(name) + " line " + std::to_string(line_no) +
                                ": not valid JSON");
    }
    LP_ASSIGN_OR_RETURN(Action a, ParseActionObject(obj, LineWhere(name, line_no, "")));
    out.push_back(std::move(a));
  }
  // Every writer puts at least commitInfo or one action in a commit, so a file without
  // any is an emptied or cut-off commit, not an empty one: reading it as "nothing
  // happened" would silently drop that version's rows (issue 19).
  if (out.empty()) {
    return Status::Corruption(std::string(name) + ": holds no action (" +
                              (text.empty() ? std::string("0 bytes") : std::to_string(text.size()) + " bytes of blank lines") +
                              "); the commit file was emptied or truncated");
  }
  return out;
}

std::string SerializeAction(const Action& action) { return ActionJson(action).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string SerializeActions(const std::vector<Action>& actions) {
  std::string out;
  for (const auto& a : actions) {
    out += SerializeAction(a);
    out += '\n';
  }
  return out;
}

std::string DeletionVector::UniqueId() const {
  std::string id = storage_type + path_or_inline_dv;
  if (offset) id += "@" + std::to_string(*offset);
  return id;
}

// ---- paths --------------------------------------------------------------------------

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      int h = i + 2 < text.size() ? hex(text[i + 1]) : -1;
      int l = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (h < 0 || l < 0) {
        return Status::Corruption("bad percent-escape at offset " + std::to_string(i) + " in '" +
                                  std::string(text) + "'");
      }
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string EncodeLogPath(std::string_view relative_path) {
  // java.net.URI's multi-argument constructor (used by Spark) quotes every character
  // that is not unreserved, punctuation allowed in a path, or '/'. Notably ' ' -> %20,
  // '%' -> %25, '#' -> %23, '?' -> %3F; non-ASCII (UTF-8) bytes are left as they are.
  static const std::string_view kAllowed = "-_.!~*'()/:@&=+$,;";
  std::string out;
  for (unsigned char c : relative_path) {
    if (std::isalnum(c) || kAllowed.find(static_cast<char>(c)) != std::string_view::npos ||
        c >= 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

Result<std::string> ResolveDataPath(const std::string& table_path, std::string_view log_path) {
  // A scheme is letters followed by ':' before any '/'.
  size_t colon = log_path.find(':');
  size_t slash = log_path.find('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash) &&
      colon > 0) {
    std::string_view scheme = log_path.substr(0, colon);
    if (scheme != "file") {
      return Status::NotSupported("data file URI scheme '" + std::string(scheme) +
                                  "' (only relative paths and file: URIs are supported): " +
                                  std::string(log_path));
    }
    std::string_view rest = log_path.substr(colon + 1);
    // file:///a/b, file:/a/b, file://localhost/a/b
    if (rest.substr(0, 2) == "//") {
      rest.remove_prefix(2);
      size_t s = rest.find('/');
      if (s == std::string_view::npos) return Status::Corruption("bad file URI: " + std::string(log_path));
      rest.remove_prefix(s);
    }
    return PercentDecode(rest);
  }
  LP_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(log_path));
  if (!decoded.empty() && decoded[0] == '/') return decoded;
  return JoinPath(table_path, decoded);
}

// ---- the log folder -----------------------------------------------------------------

std::string LogDir(const std::string& table_path) { return JoinPath(table_path, "_delta_log"); }

std::string CommitFileName(int64_t version) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRId64 ".json", version);
  return buf;
}

std::string CheckpointFileName(int64_t version) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%020" PRId64 ".checkpoint.parquet", version);
  return buf;
}

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

int64_t CommitFileMillis(FileSystem* fs, const std::string& table_path, const FileInfo& commit) {
  if (commit.mtime_micros != 0) return commit.mtime_micros / 1000;
  auto st = fs->Stat(JoinPath(LogDir(table_path), commit.name));
  return st.ok() ? st->mtime_micros / 1000 : 0;
}

Result<LogListing> ListLog(FileSystem* fs, const std::string& table_path) {
  std::string dir = LogDir(table_path);
  // Names only: a stat per entry made every listing cost O(log size) system calls, and a
  // streaming table lists its log several times per batch. The few callers that need a
  // commit's time stat that one file (CommitFileMillis).
  auto listed = fs->ListNames(dir);
  if (!listed.ok()) {
    if (listed.status().IsNotFound()) {
      return Status::NotFound("no Delta table at " + table_path + " (no _delta_log folder)");
    }
    return listed.status();
  }
  LogListing out;
  // (version, parts) -> part numbers seen
  std::map<std::pair<int64_t, int>, std::set<int>> multipart;
  std::map<int64_t, std::vector<std::string>> multipart_paths;
  std::map<int64_t, CheckpointFiles> checkpoints;
  for (const FileInfo& f : *listed) {
    std::string_view n = f.name;
    if (f.is_dir || n.size() < 21 || !AllDigits(n.substr(0, 20)) || n[20] != '.') continue;
    int64_t version = std::stoll(std::string(n.substr(0, 20)));
    std::string_view rest = n.substr(21);
    if (rest == "json") {
      out.versions.push_back(version);
      out.commit_files.push_back(f);
    } else if (rest == "checkpoint.parquet") {
      CheckpointFiles c;
      c.version = version;
      c.paths.push_back(JoinPath(dir, f.name));
      checkpoints[version] = std::move(c);
    } else if (rest.substr(0, 11) == "checkpoint.") {
      std::string_view tail = rest.substr(11);
      // multi-part: %010d.%010d.parquet
      if (tail.size() == 10 + 1 + 10 + 8 && AllDigits(tail.substr(0, 10)) && tail[10] == '.' &&
          AllDigits(tail.substr(11, 10)) && tail.substr(21) == ".parquet") {
        int part = std::stoi(std::string(tail.substr(0, 10)));
        int parts = std::stoi(std::string(tail.substr(11, 10)));
        multipart[{version, parts}].insert(part);
        multipart_paths[version * 100000 + parts].push_back(JoinPath(dir, f.name));
        if (static_cast<int>(multipart[{version, parts}].size()) == parts && part >= 1) {
          CheckpointFiles c;
          c.version = version;
          c.paths = multipart_paths[version * 100000 + parts];
          std::sort(c.paths.begin(), c.paths.end());
          if (!checkpoints.count(version)) checkpoints[version] = std::move(c);
        }
      } else if (tail.size() > 5 && (tail.substr(tail.size() - 5) == ".json" ||
                                      (tail.size() > 8 && tail.substr(tail.size() - 8) == ".parquet"))) {
        // v2: checkpoint.<uuid>.json|parquet
        CheckpointFiles c;
        c.version = version;
        c.v2 = true;
        c.paths.push_back(JoinPath(dir, f.name));
        if (!checkpoints.count(version)) checkpoints[version] = std::move(c);
      }
    }
  }
  // Multi-part sets are complete only when every part 1..n is present.
  for (auto& [k, parts_seen] : multipart) {
    int parts = k.second;
    bool complete = static_cast<int>(parts_seen.size()) == parts && *parts_seen.begin() == 1 &&
                    *parts_seen.rbegin() == parts;
    if (!complete) {
      auto it = checkpoints.find(k.first);
      if (it != checkpoints.end() && it->second.paths.size() > 1 &&
          static_cast<int>(it->second.paths.size()) == parts) {
        checkpoints.erase(it);
      }
    }
  }
  for (auto& [v, c] : checkpoints) out.checkpoints.push_back(std::move(c));
  return out;
}

std::optional<LastCheckpoint> ReadLastCheckpoint(FileSystem* fs, const std::string& table_path) {
  auto text = fs->ReadFile(JoinPath(LogDir(table_path), "_last_checkpoint"));
  if (!text.ok()) return std::nullopt;
  json o = json::parse(*text, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return std::nullopt;
  auto it = o.find("version");
  if (it == o.end() || !it->is_number_integer()) return std::nullopt;
  LastCheckpoint lc;
  lc.version = it->get<int64_t>();
  if (auto s = o.find("size"); s != o.end() && s->is_number_integer()) lc.size = s->get<int64_t>();
  if (auto s = o.find("parts"); s != o.end() && s->is_number_integer()) lc.parts = s->get<int32_t>();
  if (auto s = o.find("sizeInBytes"); s != o.end() && s->is_number_integer())
    lc.size_in_bytes = s->get<int64_t>();
  if (auto s = o.find("numOfAddFiles"); s != o.end() && s->is_number_integer())
    lc.num_of_add_files = s->get<int64_t>();
  return lc;
}

std::string SerializeLastCheckpoint(const LastCheckpoint& lc) {
  json o = json::object();
  o["version"] = lc.version;
  o["size"] = lc.size;
  if (lc.parts) o["parts"] = *lc.parts;
  if (lc.size_in_bytes) o["sizeInBytes"] = *lc.size_in_bytes;
  if (lc.num_of_add_files) o["numOfAddFiles"] = *lc.num_of_add_files;
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<LogListing> ListLogFromHint(FileSystem* fs, const std::string& table_path) {
  std::optional<LastCheckpoint> hint = ReadLastCheckpoint(fs, table_path);
  if (!hint || hint->version < 0) return std::nullopt;
  const std::string dir = LogDir(table_path);
  CheckpointFiles checkpoint;
  checkpoint.version = hint->version;
  if (hint->parts && *hint->parts > 1) {
    for (int32_t part = 1; part <= *hint->parts; ++part) {
      char buf[80];
      std::snprintf(buf, sizeof(buf), "%020" PRId64 ".checkpoint.%010d.%010d.parquet", hint->version, part,
                    *hint->parts);
      checkpoint.paths.push_back(JoinPath(dir, buf));
    }
  } else {
    // A v2 checkpoint's name holds a UUID that only a listing finds.
    checkpoint.paths.push_back(JoinPath(dir, CheckpointFileName(hint->version)));
  }
  for (const std::string& path : checkpoint.paths) {
    if (!fs->Exists(path)) return std::nullopt;
  }
  LogListing out;
  out.checkpoints.push_back(std::move(checkpoint));
  // The checkpoint's own commit (kept by log cleanup; it gives the version's time), then
  // every commit after it until the first missing one.
  for (int64_t v = hint->version;; ++v) {
    auto info = fs->Stat(JoinPath(dir, CommitFileName(v)));
    if (!info.ok()) {
      if (v == hint->version) continue;
      // A commit after the gap means a damaged log: the listing says so.
      if (fs->Exists(JoinPath(dir, CommitFileName(v + 1)))) return std::nullopt;
      break;
    }
    info->name = CommitFileName(v);
    out.versions.push_back(v);
    out.commit_files.push_back(std::move(info).value());
  }
  return out;
}

bool LogHasEntries(FileSystem* fs, const std::string& table_path) {
  const std::string dir = LogDir(table_path);
  if (fs->Exists(JoinPath(dir, CommitFileName(0))) || fs->Exists(JoinPath(dir, "_last_checkpoint"))) return true;
  auto listing = ListLog(fs, table_path);
  return listing.ok() && (!listing->versions.empty() || !listing->checkpoints.empty());
}

// ---- replay -------------------------------------------------------------------------

Result<std::string> FileKey(std::string_view path, const std::optional<DeletionVector>& dv) {
  // Paths are compared decoded and without a file: scheme, so "a%20b" and "a b", or
  // "file:/t/x" and "/t/x", name one file (Delta canonicalises paths the same way).
  std::string_view p = path;
  if (p.substr(0, 5) == "file:") {
    p.remove_prefix(5);
    if (p.substr(0, 2) == "//") {
      p.remove_prefix(2);
      size_t s = p.find('/');
      p = s == std::string_view::npos ? std::string_view() : p.substr(s);
    }
  }
  LP_ASSIGN_OR_RETURN(std::string key, PercentDecode(p));
  if (dv) {
    key += '\x1f';
    key += dv->UniqueId();
  }
  return key;
}

Tombstone Tombstone::Of(const std::string& key, RemoveFile remove) {
  Tombstone t;
  if (remove.path != key) t.path = std::move(remove.path);
  t.deletion_timestamp = remove.deletion_timestamp;
  t.size = remove.size;
  t.data_change = remove.data_change;
  t.extended_file_metadata = remove.extended_file_metadata;
  t.mtime_kept = HasMtimeKeptTag(remove.tags);
  t.has_partition_values = remove.partition_values.has_value();
  if (remove.partition_values && remove.partition_values->empty()) remove.partition_values.reset();
  if (remove.partition_values || remove.deletion_vector || remove.base_row_id ||
      remove.default_row_commit_version) {
    auto extras = std::make_shared<Extras>();
    extras->partition_values = std::move(remove.partition_values);
    extras->deletion_vector = std::move(remove.deletion_vector);
    extras->base_row_id = remove.base_row_id;
    extras->default_row_commit_version = remove.default_row_commit_version;
    t.extras = std::move(extras);
  }
  return t;
}

RemoveFile Tombstone::ToRemove(const std::string& key) const {
  RemoveFile r;
  r.path = LogPath(key);
  r.deletion_timestamp = deletion_timestamp;
  r.size = size;
  r.data_change = data_change;
  r.extended_file_metadata = extended_file_metadata;
  if (mtime_kept) r.tags = StringMap{{kMtimeKeptTag, "true"}};
  if (has_partition_values) r.partition_values.emplace();
  if (extras) {
    if (extras->partition_values) r.partition_values = extras->partition_values;
    r.deletion_vector = extras->deletion_vector;
    r.base_row_id = extras->base_row_id;
    r.default_row_commit_version = extras->default_row_commit_version;
  }
  return r;
}

Status ApplyActions(TableState* state, std::vector<Action> actions, std::vector<std::string>* added_keys) {
  // File changes are gathered (in order: the last action on a key wins) and applied to
  // the copy-on-write maps at once, so a commit rebuilds each touched chunk once.
  std::vector<FileMap<AddFile>::Change> file_changes;
  std::vector<FileMap<Tombstone>::Change> tombstone_changes;
  // Deletion-vector files counted per key as they stand after the actions.
  std::map<std::string, bool> dv_after;
  for (Action& action : actions) {
    if (auto* p = std::get_if<Protocol>(&action)) {
      state->protocol = std::move(*p);
      state->has_protocol = true;
      state->metadata_version = state->version + 1;
    } else if (auto* m = std::get_if<Metadata>(&action)) {
      state->metadata = std::move(*m);
      state->has_metadata = true;
      state->metadata_version = state->version + 1;
    } else if (auto* a = std::get_if<AddFile>(&action)) {
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(a->path, a->deletion_vector));
      if (added_keys != nullptr) added_keys->push_back(key);
      dv_after[key] = a->deletion_vector.has_value();
      tombstone_changes.emplace_back(key, std::nullopt);
      // An add of a file with a new DV replaces the same path without a DV only through
      // an explicit remove; keying by (path, dv) follows the protocol.
      file_changes.emplace_back(std::move(key), std::move(*a));
    } else if (auto* r = std::get_if<RemoveFile>(&action)) {
      LP_ASSIGN_OR_RETURN(std::string key, FileKey(r->path, r->deletion_vector));
      dv_after[key] = false;
      file_changes.emplace_back(key, std::nullopt);
      Tombstone tombstone = Tombstone::Of(key, std::move(*r));
      tombstone_changes.emplace_back(std::move(key), std::move(tombstone));
    } else if (auto* t = std::get_if<Txn>(&action)) {
      state->txns[t->app_id] = std::move(*t);
    }
  }
  for (const auto& [key, has_dv] : dv_after) {
    const AddFile* before = state->files.Find(key);
    if (before != nullptr && before->deletion_vector) --state->files_with_deletion_vectors;
    if (has_dv) ++state->files_with_deletion_vectors;
  }
  state->files.Apply(std::move(file_changes));
  state->tombstones.Apply(std::move(tombstone_changes));
  return Status::OK();
}

Status ApplyCommit(TableState* state, int64_t version, std::vector<Action> actions, int64_t file_mtime_millis,
                   std::vector<std::string>* added_keys) {
  std::optional<int64_t> ict;
  for (const auto& a : actions) {
    if (const auto* c = std::get_if<CommitInfo>(&a)) ict = c->in_commit_timestamp;
  }
  // metadata_version is version + 1 relative to the state before the commit.
  state->version = version - 1;
  LP_RETURN_IF_ERROR(ApplyActions(state, std::move(actions), added_keys));
  state->version = version;
  state->commit_timestamp = ict ? *ict : file_mtime_millis;
  return Status::OK();
}

namespace {

Result<TableState> ReplayListed(FileSystem* fs, const std::string& table_path, const ReplayOptions& options,
                                const LogListing& listing);

}  // namespace

Result<TableState> ReplayLog(FileSystem* fs, const std::string& table_path,
                             const ReplayOptions& options) {
  // The usual case, the latest version or one after the newest checkpoint, from
  // `_last_checkpoint` without listing the folder; anything it cannot do, and every
  // error, is done again from a full listing (which also words the error).
  if (!options.ignore_checkpoints) {
    if (std::optional<LogListing> tail = ListLogFromHint(fs, table_path);
        tail && !tail->versions.empty() &&
        (options.version < 0 ||
         (options.version >= tail->checkpoints.front().version && options.version <= tail->versions.back()))) {
      auto state = ReplayListed(fs, table_path, options, *tail);
      if (state.ok()) return state;
    }
  }
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs, table_path));
  return ReplayListed(fs, table_path, options, listing);
}

namespace {

Result<TableState> ReplayListed(FileSystem* fs, const std::string& table_path, const ReplayOptions& options,
                                const LogListing& listing) {
  if (listing.versions.empty() && listing.checkpoints.empty()) {
    return Status::NotFound("no Delta table at " + table_path + " (_delta_log has no commits)");
  }
  int64_t latest = listing.versions.empty() ? -1 : listing.versions.back();
  for (const auto& c : listing.checkpoints) latest = std::max(latest, c.version);
  int64_t target = options.version < 0 ? latest : options.version;
  if (target > latest) {
    return Status::NotFound("version " + std::to_string(target) + " of " + table_path +
                            " does not exist (latest is " + std::to_string(latest) + ")");
  }

  // Choose the newest complete checkpoint at or before the target. _last_checkpoint is
  // a hint; listing is the truth (and covers a missing or corrupted hint).
  const CheckpointFiles* start = nullptr;
  if (!options.ignore_checkpoints) {
    for (auto it = listing.checkpoints.rbegin(); it != listing.checkpoints.rend(); ++it) {
      if (it->version <= target) {
        start = &*it;
        break;
      }
    }
  }

  std::vector<Action> checkpoint_actions;
  while (start != nullptr) {
    auto read = ReadCheckpoint(fs, table_path, *start);
    if (read.ok()) {
      checkpoint_actions = std::move(read).value();
      break;
    }
    // An unreadable checkpoint: fall back to an older one, or to JSON from version 0 if
    // the commits are all there. A NotSupported (e.g. a feature) is reported as is.
    if (read.status().code() == StatusCode::kNotSupported && listing.versions.empty()) {
      return read.status();
    }
    const CheckpointFiles* older = nullptr;
    for (auto it = listing.checkpoints.rbegin(); it != listing.checkpoints.rend(); ++it) {
      if (it->version < start->version) {
        older = &*it;
        break;
      }
    }
    if (older == nullptr && (listing.versions.empty() || listing.versions.front() != 0)) {
      return read.status();
    }
    start = older;
  }

  TableState state;
  int64_t first_commit = 0;
  if (start != nullptr) {
    state.checkpoint_version = start->version;
    state.version = start->version - 1;  // so that metadata_version is the checkpoint's
    LP_RETURN_IF_ERROR(ApplyActions(&state, std::move(checkpoint_actions)));
    state.version = start->version;
    first_commit = start->version + 1;
  }

  // The commits (first_commit .. target) must all be present and contiguous.
  std::map<int64_t, const FileInfo*> commit_by_version;
  for (size_t i = 0; i < listing.versions.size(); ++i)
    commit_by_version[listing.versions[i]] = &listing.commit_files[i];
  for (int64_t v = first_commit; v <= target; ++v) {
    auto it = commit_by_version.find(v);
    if (it == commit_by_version.end()) {
      if (start == nullptr && v == 0) {
        if (!listing.versions.empty() && listing.versions.front() > target) {
          return Status::NotFound("version " + std::to_string(target) + " of " + table_path +
                                  " is no longer available (the log starts at version " +
                                  std::to_string(listing.versions.front()) + ")");
        }
        return Status::Corruption("Delta log of " + table_path +
                                  " does not start at version 0 and has no usable checkpoint");
      }
      return Status::Corruption("Delta log of " + table_path + " is not contiguous: version " +
                                std::to_string(v) + " is missing");
    }
  }

  for (int64_t v = first_commit; v <= target; ++v) {
    const FileInfo* info = commit_by_version[v];
    std::string path = JoinPath(LogDir(table_path), info->name);
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
    auto parsed = ParseActions(text, info->name);
    if (!parsed.ok()) return parsed.status().WithContext("Delta log of " + table_path);
    LP_RETURN_IF_ERROR(ApplyCommit(&state, v, std::move(parsed).value(), CommitFileMillis(fs, table_path, *info)));
  }
  if (state.version != target) {
    return Status::Corruption("Delta log of " + table_path + ": could not reach version " +
                              std::to_string(target));
  }
  if (first_commit > target) {
    // The target is the checkpoint's own version: its timestamp is its commit file's.
    auto it = commit_by_version.find(target);
    if (it != commit_by_version.end()) {
      state.commit_timestamp = CommitFileMillis(fs, table_path, *it->second);
      auto text = fs->ReadFile(JoinPath(LogDir(table_path), it->second->name));
      if (text.ok()) {
        auto actions = ParseActions(*text, it->second->name);
        if (actions.ok()) {
          for (const auto& a : *actions) {
            if (const auto* c = std::get_if<CommitInfo>(&a); c && c->in_commit_timestamp)
              state.commit_timestamp = *c->in_commit_timestamp;
          }
        }
      }
    }
  }
  if (!state.has_protocol) {
    return Status::Corruption("Delta table " + table_path + " has no protocol action at version " +
                              std::to_string(target));
  }
  if (!state.has_metadata) {
    return Status::Corruption("Delta table " + table_path + " has no metaData action at version " +
                              std::to_string(target));
  }
  return state;
}

}  // namespace

}  // namespace lakepipe::delta
