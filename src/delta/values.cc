// Partition values, add.stats and data skipping (PROTOCOL.md "Partition Value
// Serialization" and "Per-file Statistics").
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "delta/table_internal.h"
#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::delta {

using json = nlohmann::ordered_json;

namespace {

// Timestamps in partition values: ISO 8601 in UTC with microseconds, which the protocol
// allows and which no reader can misread in another time zone.
std::string IsoMicros(int64_t micros, bool with_zone) {
  int64_t days = FloorDiv(micros, kMicrosPerDay);
  int64_t rem = micros - days * kMicrosPerDay;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  int64_t secs = rem / kMicrosPerSecond, frac = rem % kMicrosPerSecond;
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lld%s",
                static_cast<long long>(y), mo, d, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60),
                static_cast<long long>(frac), with_zone ? "Z" : "");
  return buf;
}

// ISO 8601 with milliseconds, as Delta writes timestamp stats; `round_up` moves a value
// with sub-millisecond digits to the next millisecond so that a maximum stays an upper
// bound (a minimum is floored).
std::string IsoMillis(int64_t micros, bool round_up, bool with_zone) {
  int64_t ms = FloorDiv(micros, 1000);
  if (round_up && ms * 1000 != micros) ++ms;
  std::string iso = IsoMicros(ms * 1000, with_zone);
  // "....ss.mmm000Z" -> "....ss.mmmZ"
  size_t dot = iso.find('.');
  return iso.substr(0, dot + 4) + (with_zone ? "Z" : "");
}

std::string JavaDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.1f", d);
    return buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  // Shortest representation that round-trips.
  for (int p = 1; p <= 17; ++p) {
    char b2[64];
    std::snprintf(b2, sizeof(b2), "%.*g", p, d);
    if (std::strtod(b2, nullptr) == d) return b2;
  }
  return buf;
}

enum class Family { kNumber, kString, kDate, kTimestamp, kBool, kOther };
Family FamilyOf(TypeId id) {
  switch (id) {
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kFloat:
    case TypeId::kDouble:
    case TypeId::kDecimal: return Family::kNumber;
    case TypeId::kString:
    case TypeId::kBinary: return Family::kString;
    case TypeId::kDate: return Family::kDate;
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return Family::kTimestamp;
    case TypeId::kBoolean: return Family::kBool;
    default: return Family::kOther;
  }
}

bool Comparable(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return false;
  Family fa = FamilyOf(a.id()), fb = FamilyOf(b.id());
  return fa == fb && fa != Family::kOther;
}

// Number of UTF-8 code points in s.
size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
std::string PrefixCodePoints(std::string_view s, size_t n) {
  size_t count = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (count == n) break;
      ++count;
    }
  }
  return std::string(s.substr(0, i));
}

constexpr size_t kStringStatsPrefix = 32;  // Spark's dataSkippingStringPrefixLength

// One stats value, or a discarded json when the column gets no min/max.
json StatValue(const Value& v, const DataType& type, bool is_max) {
  if (v.is_null()) return json(json::value_t::discarded);
  switch (type.id()) {
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: return v.int_value();
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d = v.AsDouble();
      if (std::isnan(d)) return json(json::value_t::discarded);
      if (std::isinf(d)) return json(json::value_t::discarded);
      return d;
    }
    case TypeId::kDecimal: return v.AsDouble();
    case TypeId::kString: {
      const std::string& s = v.string_value();
      if (CodePoints(s) <= kStringStatsPrefix) return s;
      // A prefix is a valid lower bound; a truncated maximum is not an upper bound, so
      // the maximum is left out.
      if (is_max) return json(json::value_t::discarded);
      return PrefixCodePoints(s, kStringStatsPrefix);
    }
    case TypeId::kDate: return FormatDate(static_cast<int32_t>(v.int_value()));
    case TypeId::kTimestamp: return IsoMillis(v.int_value(), is_max, true);
    case TypeId::kTimestampNtz: return IsoMillis(v.int_value(), is_max, false);
    default: return json(json::value_t::discarded);
  }
}

void PutPath(json& root, const std::vector<std::string>& path, json value) {
  json* at = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    json& next = (*at)[path[i]];
    if (!next.is_object()) next = json::object();
    at = &next;
  }
  (*at)[path.back()] = std::move(value);
}

// The type of a leaf path in `schema`, or nullptr when the path crosses a list or map.
const DataType* LeafType(const Schema& schema, const std::vector<std::string>& path) {
  const std::vector<Field>* fields = &schema.fields();
  const DataType* type = nullptr;
  for (size_t i = 0; i < path.size(); ++i) {
    type = nullptr;
    for (const Field& f : *fields) {
      if (f.name == path[i]) {
        type = &f.type;
        break;
      }
    }
    if (type == nullptr) return nullptr;
    if (i + 1 < path.size()) {
      if (type->id() != TypeId::kStruct) return nullptr;
      fields = &type->fields();
    }
  }
  return type;
}

Result<Value> JsonStatToValue(const json& j, const DataType& type, bool is_max) {
  switch (type.id()) {
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong:
      if (j.is_number_integer()) return Value::Int(j.get<int64_t>(), type.id());
      break;
    case TypeId::kFloat:
    case TypeId::kDouble:
      if (j.is_number()) return Value::Double(j.get<double>(), type.id());
      break;
    case TypeId::kDecimal:
      if (j.is_number()) {
        std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        auto d = ParseDecimal(text, 38, type.scale());
        if (d.ok()) return Value::Decimal(*d, type.precision(), type.scale());
        return Value::Double(j.get<double>());
      }
      break;
    case TypeId::kString:
      if (j.is_string()) return Value::String(j.get<std::string>());
      break;
    case TypeId::kDate:
      if (j.is_string()) {
        LP_ASSIGN_OR_RETURN(int32_t d, ParseDate(j.get<std::string>().substr(0, 10)));
        return Value::Date(d);
      }
      break;
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz:
      if (j.is_string()) {
        LP_ASSIGN_OR_RETURN(int64_t t, ParseTimestamp(j.get<std::string>()));
        // Stats are truncated to milliseconds; widen a maximum by one millisecond.
        if (is_max) t += 999;
        return Value::Timestamp(t, type.id() == TypeId::kTimestampNtz);
      }
      break;
    default: return Value();
  }
  return Value();  // unexpected JSON type: treat as unknown
}

void CollectStats(const json& node, const std::vector<Field>& fields, const std::string& prefix,
                  bool is_max, std::map<std::string, Value>* out) {
  if (!node.is_object()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const Field* field = nullptr;
    for (const Field& f : fields) {
      if (f.name == it.key()) field = &f;
    }
    if (field == nullptr) continue;
    std::string name = prefix.empty() ? field->name : prefix + "." + field->name;
    if (field->type.id() == TypeId::kStruct) {
      CollectStats(*it, field->type.fields(), name, is_max, out);
      continue;
    }
    auto v = JsonStatToValue(*it, field->type, is_max);
    if (v.ok() && !v->is_null()) (*out)[name] = std::move(v).value();
  }
}

void CollectNullCounts(const json& node, const std::string& prefix,
                       std::map<std::string, int64_t>* out) {
  if (!node.is_object()) return;
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      CollectNullCounts(*it, name, out);
    } else if (it->is_number_integer()) {
      (*out)[name] = it->get<int64_t>();
    }
  }
}

}  // namespace

std::optional<std::string> SerializePartitionValue(const Value& v) {
  if (v.is_null()) return std::nullopt;
  switch (v.id()) {
    case TypeId::kBoolean: return std::string(v.bool_value() ? "true" : "false");
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: return std::to_string(v.int_value());
    case TypeId::kFloat:
    case TypeId::kDouble: return JavaDouble(v.double_value());
    case TypeId::kDecimal: return FormatDecimal(v.decimal_value(), v.scale());
    case TypeId::kString:
    case TypeId::kBinary: return v.string_value();
    case TypeId::kDate: return FormatDate(static_cast<int32_t>(v.int_value()));
    case TypeId::kTimestamp: return IsoMicros(v.int_value(), true);
    case TypeId::kTimestampNtz: return FormatTimestamp(v.int_value());
    default: return v.ToString();
  }
}

Result<Value> ParsePartitionValue(const std::optional<std::string>& text, const DataType& type) {
  // Spark writes an empty string partition value as null.
  if (!text || text->empty()) return Value();
  const std::string& s = *text;
  auto bad = [&]() {
    return Status::Corruption("partition value '" + s + "' is not a valid " + type.ToString());
  };
  switch (type.id()) {
    case TypeId::kBoolean:
      if (s == "true") return Value::Bool(true);
      if (s == "false") return Value::Bool(false);
      return bad();
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: {
      char* end = nullptr;
      errno = 0;
      long long x = std::strtoll(s.c_str(), &end, 10);
      if (errno != 0 || end != s.c_str() + s.size()) return bad();
      return Value::Int(x, type.id());
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      if (s == "NaN") return Value::Double(std::nan(""), type.id());
      if (s == "Infinity") return Value::Double(INFINITY, type.id());
      if (s == "-Infinity") return Value::Double(-INFINITY, type.id());
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (end != s.c_str() + s.size()) return bad();
      return Value::Double(d, type.id());
    }
    case TypeId::kDecimal: {
      auto d = ParseDecimal(s, type.precision(), type.scale());
      if (!d.ok()) return bad();
      return Value::Decimal(*d, type.precision(), type.scale());
    }
    case TypeId::kString: return Value::String(s);
    case TypeId::kBinary: return Value::Binary(s);
    case TypeId::kDate: {
      auto d = ParseDate(s);
      if (!d.ok()) return bad();
      return Value::Date(*d);
    }
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: {
      auto t = ParseTimestamp(s);
      if (!t.ok()) return bad();
      return Value::Timestamp(*t, type.id() == TypeId::kTimestampNtz);
    }
    default:
      return Status::NotSupported("partition column of type " + type.ToString());
  }
}

std::string EscapePartitionPathComponent(std::string_view value) {
  // Hive's / Spark's escapePathName character set.
  static const std::string_view kEscape = "\"#%'*/:=?\\{[]^";
  std::string out;
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7F || kEscape.find(static_cast<char>(c)) != std::string_view::npos) {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string BuildStatsJson(const parquet::WriteResult& written, const Schema& data_schema,
                           int num_indexed_cols, const std::set<std::string>& nan_columns) {
  json stats = json::object();
  stats["numRecords"] = written.num_rows;
  json mins = json::object(), maxs = json::object(), nulls = json::object();
  int leaves = 0;
  for (const auto& col : written.columns) {
    if (col.path.empty()) continue;
    const DataType* type = LeafType(data_schema, col.path);
    if (type == nullptr || type->is_nested()) continue;  // inside a list or map
    if (num_indexed_cols >= 0 && leaves >= num_indexed_cols) break;
    ++leaves;
    PutPath(nulls, col.path, col.null_count);
    if (!col.has_min_max) continue;
    std::string dotted;
    for (const auto& part : col.path) dotted += (dotted.empty() ? "" : ".") + part;
    if (nan_columns.count(dotted)) continue;
    json mn = StatValue(col.min, *type, false);
    json mx = StatValue(col.max, *type, true);
    if (!mn.is_discarded()) PutPath(mins, col.path, std::move(mn));
    if (!mx.is_discarded()) PutPath(maxs, col.path, std::move(mx));
  }
  stats["minValues"] = std::move(mins);
  stats["maxValues"] = std::move(maxs);
  stats["nullCount"] = std::move(nulls);
  return stats.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<FileStats> ParseStatsJson(std::string_view text, const Schema& schema,
                                 const std::string& file) {
  FileStats out;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("add.stats of " + file + " is not a JSON object");
  }
  if (auto it = j.find("numRecords"); it != j.end() && it->is_number_integer())
    out.num_records = it->get<int64_t>();
  if (auto it = j.find("minValues"); it != j.end())
    CollectStats(*it, schema.fields(), "", false, &out.min_values);
  if (auto it = j.find("maxValues"); it != j.end())
    CollectStats(*it, schema.fields(), "", true, &out.max_values);
  if (auto it = j.find("nullCount"); it != j.end()) CollectNullCounts(*it, "", &out.null_count);
  return out;
}

bool FileMayMatch(const DataFile& file, const FileStats* stats, const Schema& schema,
                  const std::vector<std::string>& partition_columns,
                  const std::vector<parquet::ColumnPredicate>& predicates) {
  using Op = parquet::ColumnPredicate::Op;
  for (const auto& p : predicates) {
    int idx = schema.FindField(p.column);
    if (idx < 0) continue;
    const std::string& name = schema.field(idx).name;
    bool is_partition = false;
    for (const auto& pc : partition_columns) {
      if (pc == name) is_partition = true;
    }
    if (is_partition) {
      auto it = file.partition_values.find(name);
      if (it == file.partition_values.end()) continue;
      const Value& v = it->second;
      switch (p.op) {
        case Op::kIsNull:
          if (!v.is_null()) return false;
          continue;
        case Op::kIsNotNull:
          if (v.is_null()) return false;
          continue;
        default: break;
      }
      if (v.is_null()) return false;  // NULL never satisfies a comparison
      if (!Comparable(v, p.value)) continue;
      int c = v.Compare(p.value);
      bool ok = true;
      switch (p.op) {
        case Op::kEq: ok = c == 0; break;
        case Op::kLt: ok = c < 0; break;
        case Op::kLe: ok = c <= 0; break;
        case Op::kGt: ok = c > 0; break;
        case Op::kGe: ok = c >= 0; break;
        default: break;
      }
      if (!ok) return false;
      continue;
    }
    if (stats == nullptr || !stats->num_records) continue;
    int64_t n = *stats->num_records;
    auto nc = stats->null_count.find(name);
    std::optional<int64_t> nulls;
    if (nc != stats->null_count.end()) nulls = nc->second;
    if (p.op == Op::kIsNull) {
      if (nulls && *nulls == 0) return false;
      continue;
    }
    if (p.op == Op::kIsNotNull) {
      if (nulls && *nulls == n) return false;
      continue;
    }
    if (nulls && *nulls == n && n > 0) return false;  // all NULL: no comparison holds
    auto mn = stats->min_values.find(name);
    auto mx = stats->max_values.find(name);
    const Value* lo = mn == stats->min_values.end() ? nullptr : &mn->second;
    const Value* hi = mx == stats->max_values.end() ? nullptr : &mx->second;
    if (lo && !Comparable(*lo, p.value)) lo = nullptr;
    if (hi && !Comparable(*hi, p.value)) hi = nullptr;
    switch (p.op) {
      case Op::kEq:
        if ((lo && lo->Compare(p.value) > 0) || (hi && hi->Compare(p.value) < 0)) return false;
        break;
      case Op::kLt:
        if (lo && lo->Compare(p.value) >= 0) return false;
        break;
      case Op::kLe:
        if (lo && lo->Compare(p.value) > 0) return false;
        break;
      case Op::kGt:
        if (hi && hi->Compare(p.value) <= 0) return false;
        break;
      case Op::kGe:
        if (hi && hi->Compare(p.value) < 0) return false;
        break;
      default: break;
    }
  }
  return true;
}

namespace {
DataType NullableType(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct: {
      std::vector<Field> fields;
      for (Field f : t.fields()) {
        f.nullable = true;
        f.type = NullableType(f.type);
        fields.push_back(std::move(f));
      }
      return DataType::Struct(std::move(fields));
    }
    case TypeId::kArray: return DataType::Array(NullableType(t.element()), true);
    case TypeId::kMap: return DataType::Map(NullableType(t.key()), NullableType(t.value()), true);
    default: return t;
  }
}
}  // namespace

Schema MakeNullable(const Schema& schema) {
  Schema out;
  for (Field f : schema.fields()) {
    f.nullable = true;
    f.type = NullableType(f.type);
    out.AddField(std::move(f));
  }
  return out;
}

Status ListDataFilesRecursive(FileSystem* fs, const std::string& root, const std::string& rel,
                              std::vector<FileInfo>* out) {
  std::string dir = rel.empty() ? root : JoinPath(root, rel);
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(dir));
  for (const FileInfo& e : entries) {
    if (e.name == "_delta_log" && rel.empty()) continue;
    // Hidden files (checksums, temp files) are never data files. A leading '_' is only
    // hidden when it is not a partition folder ("_2=bar").
    if (!e.name.empty() && e.name[0] == '.') continue;
    // `_change_data` (change data feed files) is listed too, as Delta's VACUUM does: its
    // files are never referenced by a snapshot and go once older than the retention.
    if (!e.name.empty() && e.name[0] == '_' && e.name.find('=') == std::string::npos &&
        !(rel.empty() && e.name == "_change_data"))
      continue;
    std::string child = rel.empty() ? e.name : JoinPath(rel, e.name);
    if (e.is_dir) {
      LP_RETURN_IF_ERROR(ListDataFilesRecursive(fs, root, child, out));
    } else {
      FileInfo f = e;
      f.name = child;
      out->push_back(std::move(f));
    }
  }
  return Status::OK();
}

}  // namespace lakepipe::delta
