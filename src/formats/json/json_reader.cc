#include "formats/json/json_reader.h"
#include "formats/json/json_value.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::json {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Exact name first, then case-insensitive (Spark's default resolution).
int FindFieldIn(const std::vector<Field>& fields, std::string_view name) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (EqualsIgnoreCase(fields[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

// The raw text of a value for rescue: a string's own text, otherwise minified JSON.
std::string RawText(element e) {
  std::string_view sv;
  if (e.type() == element_type::STRING && e.get(sv) == simdjson::SUCCESS) return std::string(sv);
  return simdjson::minify(e);
}

// ---- inference ---------------------------------------------------------------------------

struct InferNode {
  enum Kind { kNone, kBool, kLong, kDouble, kString, kStruct, kArray };
  Kind kind = kNone;
  std::vector<std::string> names;     // struct field names, first-seen order
  std::vector<InferNode> children;    // struct fields, or the one array element
};

InferNode::Kind MergeScalar(InferNode::Kind a, InferNode::Kind b) {
  if (a == InferNode::kNone || a == b) return b;
  if ((a == InferNode::kLong && b == InferNode::kDouble) ||
      (a == InferNode::kDouble && b == InferNode::kLong))
    return InferNode::kDouble;
  return InferNode::kString;
}

void Observe(InferNode* n, element e, int depth) {
  if (n->kind == InferNode::kString || depth > 64) {
    n->kind = InferNode::kString;
    return;
  }
  switch (e.type()) {
    case element_type::NULL_VALUE: return;
    case element_type::BOOL: n->kind = MergeScalar(n->kind, InferNode::kBool); return;
    case element_type::INT64: n->kind = MergeScalar(n->kind, InferNode::kLong); return;
    case element_type::UINT64:
    case element_type::DOUBLE: n->kind = MergeScalar(n->kind, InferNode::kDouble); return;
    case element_type::STRING: n->kind = InferNode::kString; return;
    case element_type::OBJECT: {
      if (n->kind == InferNode::kNone) n->kind = InferNode::kStruct;
      if (n->kind != InferNode::kStruct) {
        n->kind = InferNode::kString;
        return;
      }
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) {
        size_t i = 0;
        while (i < n->names.size() && n->names[i] != field.key) ++i;
        if (i == n->names.size()) {
          n->names.emplace_back(field.key);
          n->children.emplace_back();
        }
        Observe(&n->children[i], field.value, depth + 1);
      }
      return;
    }
    case element_type::ARRAY: {
      if (n->kind == InferNode::kNone) {
        n->kind = InferNode::kArray;
        n->children.emplace_back();
      }
      if (n->kind != InferNode::kArray) {
        n->kind = InferNode::kString;
        return;
      }
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (element x : arr) Observe(&n->children[0], x, depth + 1);
      return;
    }
  }
}

DataType ToType(const InferNode& n) {
  switch (n.kind) {
    case InferNode::kBool: return DataType::Boolean();
    case InferNode::kLong: return DataType::Long();
    case InferNode::kDouble: return DataType::Double();
    case InferNode::kStruct: {
      std::vector<Field> fields;
      for (size_t i = 0; i < n.names.size(); ++i) {
        fields.push_back(Field{n.names[i], ToType(n.children[i]), true});
      }
      return DataType::Struct(std::move(fields));
    }
    case InferNode::kArray: return DataType::Array(ToType(n.children[0]));
    default: return DataType::String();
  }
}

Status CheckReadable(const DataType& t, const std::string& name) {
  switch (t.id()) {
    case TypeId::kNull:
      return Status::NotSupported("JSON column '" + name + "' has type void");
    case TypeId::kStruct:
      for (const auto& f : t.fields()) LP_RETURN_IF_ERROR(CheckReadable(f.type, name + "." + f.name));
      return Status::OK();
    case TypeId::kArray: return CheckReadable(t.element(), name);
    case TypeId::kMap:
      if (!t.key().is_binary_like()) {
        return Status::NotSupported("JSON column '" + name +
                                    "': map keys must be strings in JSON, not " +
                                    t.key().ToString());
      }
      return CheckReadable(t.value(), name);
    default: return Status::OK();
  }
}

bool ParseNonFinite(std::string_view s, double* d) {
  if (s == "NaN") {
    *d = std::nan("");
  } else if (s == "Infinity" || s == "+Infinity" || s == "INF" || s == "+INF") {
    *d = std::numeric_limits<double>::infinity();
  } else if (s == "-Infinity" || s == "-INF") {
    *d = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

// Where Convert notes the keys a struct lacks (JsonOptions::report_new_fields): the path
// of the struct being converted (top-level column first) and the paths found, each the
// struct's path then the key. Only through structs: a key missing inside an array element
// or a map value is not noted (its top-level value is rescued all the same).
struct NestedKeys {
  std::vector<std::string_view> path;
  std::vector<std::vector<std::string>> found;
};

// Appends exactly one value to `col`. Returns false when the value (or part of it) does
// not fit the type; the misfit part is NULL. `keys` (optional) collects the keys structs lack.
bool Convert(Column* col, element e, int depth, const JsonOptions& o, NestedKeys* keys = nullptr) {
  if (e.is_null()) {
    col->AppendNull();
    return true;
  }
  const DataType& t = col->type();
  element_type et = e.type();
  auto fail = [&]() {
    col->AppendNull();
    return false;
  };
  switch (t.id()) {
    case TypeId::kBoolean: {
      if (et != element_type::BOOL) return fail();
      col->AppendBool(e.get_bool().value_unsafe());
      return true;
    }
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: {
      if (et != element_type::INT64) return fail();
      int64_t x = e.get_int64().value_unsafe();
      switch (t.id()) {
        case TypeId::kByte:
          if (x < INT8_MIN || x > INT8_MAX) return fail();
          col->Append<int8_t>(static_cast<int8_t>(x));
          break;
        case TypeId::kShort:
          if (x < INT16_MIN || x > INT16_MAX) return fail();
          col->Append<int16_t>(static_cast<int16_t>(x));
          break;
        case TypeId::kInt:
          if (x < INT32_MIN || x > INT32_MAX) return fail();
          col->Append<int32_t>(static_cast<int32_t>(x));
          break;
        default: col->Append<int64_t>(x); break;
      }
      return true;
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d;
      if (et == element_type::INT64) {
        d = static_cast<double>(e.get_int64().value_unsafe());
      } else if (et == element_type::UINT64) {
        d = static_cast<double>(e.get_uint64().value_unsafe());
      } else if (et == element_type::DOUBLE) {
        d = e.get_double().value_unsafe();
      } else if (et == element_type::STRING) {
        if (!ParseNonFinite(e.get_string().value_unsafe(), &d)) return fail();
      } else {
        return fail();
      }
      if (t.id() == TypeId::kFloat) {
        col->Append<float>(static_cast<float>(d));
      } else {
        col->Append<double>(d);
      }
      return true;
    }
    case TypeId::kDecimal: {
      std::string text;
      if (et == element_type::INT64 || et == element_type::UINT64 || et == element_type::DOUBLE) {
        text = simdjson::minify(e);
      } else if (et == element_type::STRING) {
        text = std::string(e.get_string().value_unsafe());
      } else {
        return fail();
      }
      auto r = ParseDecimal(text, t.precision(), t.scale());
      if (!r.ok()) return fail();
      col->Append<int128_t>(*r);
      return true;
    }
    case TypeId::kString:
    case TypeId::kBinary: {
      if (et == element_type::STRING) {
        col->AppendString(e.get_string().value_unsafe());
      } else {
        col->AppendString(simdjson::minify(e));  // Spark keeps the raw JSON text
      }
      return true;
    }
    case TypeId::kDate: {
      if (et != element_type::STRING) return fail();
      if (o.parse_date) {
        std::optional<int32_t> d = o.parse_date(e.get_string().value_unsafe());
        if (!d) return fail();
        col->Append<int32_t>(*d);
        return true;
      }
      auto r = ParseDate(e.get_string().value_unsafe());
      if (!r.ok()) return fail();
      col->Append<int32_t>(*r);
      return true;
    }
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: {
      if (et == element_type::INT64) {  // seconds since the epoch, as Spark reads them
        int64_t s = e.get_int64().value_unsafe();
        if (s > INT64_MAX / kMicrosPerSecond || s < INT64_MIN / kMicrosPerSecond) return fail();
        col->Append<int64_t>(s * kMicrosPerSecond);
        return true;
      }
      if (et != element_type::STRING) return fail();
      if (o.parse_timestamp) {
        std::optional<int64_t> t = o.parse_timestamp(e.get_string().value_unsafe());
        if (!t) return fail();
        col->Append<int64_t>(*t);
        return true;
      }
      auto r = ParseTimestamp(e.get_string().value_unsafe());
      if (!r.ok()) return fail();
      col->Append<int64_t>(*r);
      return true;
    }
    case TypeId::kStruct: {
      if (et != element_type::OBJECT || depth > 64) return fail();
      const auto& fields = t.fields();
      std::vector<bool> filled(fields.size(), false);
      bool ok = true;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) {
        int i = FindFieldIn(fields, field.key);
        if (i < 0 && !o.unknown_keys_misfit) continue;
        if (i < 0 && keys != nullptr) {
          std::vector<std::string> at(keys->path.begin(), keys->path.end());
          at.emplace_back(field.key);
          if (std::find(keys->found.begin(), keys->found.end(), at) == keys->found.end()) keys->found.push_back(std::move(at));
        }
        if (i < 0 || filled[static_cast<size_t>(i)]) {
          ok = false;  // a key the struct lacks (or repeats): the top-level value is rescued
          continue;
        }
        filled[static_cast<size_t>(i)] = true;
        if (keys != nullptr) keys->path.push_back(field.key);
        ok &= Convert(&col->child(static_cast<size_t>(i)), field.value, depth + 1, o, keys);
        if (keys != nullptr) keys->path.pop_back();
      }
      for (size_t i = 0; i < fields.size(); ++i) {
        if (!filled[i]) col->child(i).AppendNull();
      }
      col->CloseStructRow();
      return ok;
    }
    case TypeId::kArray: {
      if (et != element_type::ARRAY || depth > 64) return fail();
      bool ok = true;
      simdjson::dom::array arr = e.get_array().value_unsafe();
      for (element x : arr) ok &= Convert(&col->child(0), x, depth + 1, o);
      col->CloseListRow();
      return ok;
    }
    case TypeId::kMap: {
      if (et != element_type::OBJECT || depth > 64) return fail();
      bool ok = true;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      for (auto field : obj) {
        col->child(0).AppendString(field.key);
        ok &= Convert(&col->child(1), field.value, depth + 1, o);
      }
      col->CloseListRow();
      return ok;
    }
    case TypeId::kNull:
    case TypeId::kDayTimeInterval:  // expression-only types: never a schema column
    case TypeId::kYearMonthInterval: return fail();
  }
  return fail();
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

class JsonReader::Impl {
 public:
  explicit Impl(JsonOptions o) : opt_(std::move(o)) {}

  Status Init() {
    if (opt_.batch_rows <= 0) return Status::InvalidArgument("JSON batch_rows must be positive");
    if (opt_.chunk_bytes < 64) opt_.chunk_bytes = 64;
    if (opt_.max_line_bytes < opt_.chunk_bytes) opt_.max_line_bytes = opt_.chunk_bytes;
    if (file_ != nullptr) LP_RETURN_IF_ERROR(ReadMore());
    if (opt_.multi_line) LP_RETURN_IF_ERROR(LoadWholeFile());
    if (end_ - begin_ >= 3 && std::memcmp(buf_.data() + begin_, "\xEF\xBB\xBF", 3) == 0) begin_ += 3;
    if (opt_.multi_line) ParseWholeFile();
    if (opt_.schema.has_value()) {
      data_schema_ = *opt_.schema;
      for (auto& f : data_schema_.mutable_fields()) f.nullable = true;
    } else {
      LP_RETURN_IF_ERROR(Infer());
    }
    for (const auto& f : data_schema_.fields()) LP_RETURN_IF_ERROR(CheckReadable(f.type, f.name));
    if (!opt_.rescued_data_column.empty() && data_schema_.FindField(opt_.rescued_data_column) >= 0) {
      return Status::InvalidArgument("the schema already has a column named '" +
                                     opt_.rescued_data_column + "' (the rescue column)");
    }
    out_schema_ = data_schema_;
    if (!opt_.rescued_data_column.empty()) {
      out_schema_.AddField(Field{opt_.rescued_data_column, DataType::String(), true});
    }
    return Status::OK();
  }

  const Schema& schema() const { return out_schema_; }
  const Schema& data_schema() const { return data_schema_; }
  const ReadStats& total() const { return total_; }

  Result<bool> Next(JsonBatch* out) {
    if (done_) return false;
    if (opt_.multi_line) return NextRecords(out);
    std::vector<Column> cols;
    for (const auto& f : out_schema_.fields()) cols.emplace_back(f.type);
    out->line_numbers.clear();
    ReadStats bs;
    int64_t rows = 0;
    while (rows < opt_.batch_rows) {
      std::string_view line;
      bool have = false;
      LP_RETURN_IF_ERROR(NextLine(&line, &have));
      if (!have) break;
      int64_t row_line = line_++;
      ++bs.lines;
      if (IsBlank(line)) continue;
      EmitRow(line, &cols, &bs, row_line);
      if (opt_.line_numbers) out->line_numbers.push_back(row_line);
      ++rows;
    }
    if (rows == 0) {
      done_ = true;
      total_.lines += bs.lines;
      return false;
    }
    bs.rows = rows;
    out->batch = RecordBatch::FromColumns(out_schema_, std::move(cols));
    out->stats = bs;
    total_.Add(bs);
    return true;
  }

  std::unique_ptr<RandomAccessFile> file_;
  int64_t file_pos_ = 0;
  int64_t file_size_ = 0;
  std::string buf_;   // always has SIMDJSON_PADDING bytes allocated past end_
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  JsonOptions opt_;

 private:
  Status ReadMore() {
    if (file_ == nullptr) {
      eof_ = true;
      return Status::OK();
    }
    size_t want = end_ + static_cast<size_t>(opt_.chunk_bytes);
    if (buf_.size() < want + simdjson::SIMDJSON_PADDING) buf_.resize(want + simdjson::SIMDJSON_PADDING);
    int64_t n = std::min<int64_t>(static_cast<int64_t>(want - end_), file_size_ - file_pos_);
    if (n > 0) {
      LP_RETURN_IF_ERROR(file_->ReadAt(file_pos_, n, buf_.data() + end_));
      file_pos_ += n;
      end_ += static_cast<size_t>(n);
    }
    if (file_pos_ >= file_size_) eof_ = true;
    return Status::OK();
  }

  Status MakeRoom() {
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (static_cast<int64_t>(end_) >= opt_.max_line_bytes) {
      return Status::Corruption((opt_.file_path.empty() ? "JSON input" : opt_.file_path) +
                                ": line " + std::to_string(line_) + " is longer than " +
                                std::to_string(opt_.max_line_bytes) + " bytes");
    }
    return ReadMore();
  }

  // The next line (without its newline), consumed from the window.
  Status NextLine(std::string_view* line, bool* have) {
    for (;;) {
      if (begin_ == end_) {
        if (eof_) {
          *have = false;
          return Status::OK();
        }
        begin_ = end_ = 0;
        LP_RETURN_IF_ERROR(ReadMore());
        continue;
      }
      const char* p = buf_.data() + begin_;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end_ - begin_));
      if (nl == nullptr && !eof_) {
        LP_RETURN_IF_ERROR(MakeRoom());
        continue;
      }
      const char* stop = nl != nullptr ? nl : buf_.data() + end_;
      *line = std::string_view(p, static_cast<size_t>(stop - p));
      if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
      begin_ = nl != nullptr ? static_cast<size_t>(nl + 1 - buf_.data()) : end_;
      *have = true;
      return Status::OK();
    }
  }

  // multiLine: the whole file is read (up to max_line_bytes) and parsed as one value.
  Status LoadWholeFile() {
    while (!eof_) {
      if (static_cast<int64_t>(end_) >= opt_.max_line_bytes) {
        return Status::Corruption((opt_.file_path.empty() ? "JSON input" : opt_.file_path) +
                                  ": a multiLine JSON file is read whole, and this one is longer than " +
                                  std::to_string(opt_.max_line_bytes) + " bytes");
      }
      LP_RETURN_IF_ERROR(ReadMore());
    }
    return Status::OK();
  }

  // Its records: the value itself when it is an object, the elements of a top-level array
  // otherwise. A file that does not parse is one corrupt record (as Spark's multiLine).
  void ParseWholeFile() {
    std::string_view text(buf_.data() + begin_, end_ - begin_);
    for (char c : text) file_lines_ += c == '\n';
    if (!text.empty() && text.back() != '\n') ++file_lines_;
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;  // no records
    element doc;
    auto error = parser_.parse(text.data(), text.size(), false).get(doc);
    if (error != simdjson::SUCCESS) {
      whole_file_error_ = std::string("malformed JSON: ") + simdjson::error_message(error);
      return;
    }
    simdjson::dom::array array;
    if (doc.get(array) == simdjson::SUCCESS) {
      for (element e : array) records_.push_back(e);
    } else {
      records_.push_back(doc);
    }
  }

  Result<bool> NextRecords(JsonBatch* out) {
    std::vector<Column> cols;
    for (const auto& f : out_schema_.fields()) cols.emplace_back(f.type);
    out->line_numbers.clear();
    ReadStats bs;
    if (!lines_counted_) {
      bs.lines = file_lines_;
      lines_counted_ = true;
    }
    int64_t rows = 0;
    if (!whole_file_error_.empty()) {
      EmitCorrupt(std::string_view(buf_.data() + begin_, end_ - begin_), whole_file_error_, &cols, &bs, 1);
      if (opt_.line_numbers) out->line_numbers.push_back(1);
      whole_file_error_.clear();
      rows = 1;
    }
    while (rows < opt_.batch_rows && next_record_ < records_.size()) {
      element e = records_[next_record_++];
      int64_t record = static_cast<int64_t>(next_record_);  // 1-based record number
      if (e.type() == element_type::OBJECT) {
        EmitObject(e, &cols, &bs, record);
      } else {
        EmitCorrupt(simdjson::minify(e), "the record is not a JSON object", &cols, &bs, record);
      }
      if (opt_.line_numbers) out->line_numbers.push_back(record);
      ++rows;
    }
    if (rows == 0) {
      done_ = true;
      total_.lines += bs.lines;
      return false;
    }
    bs.rows = rows;
    out->batch = RecordBatch::FromColumns(out_schema_, std::move(cols));
    out->stats = bs;
    total_.Add(bs);
    return true;
  }

  Status Infer() {
    InferNode root;
    root.kind = InferNode::kStruct;
    int64_t sampled = 0;
    if (opt_.multi_line) {
      for (element e : records_) {
        if (sampled >= opt_.infer_rows) break;
        if (e.type() != element_type::OBJECT) continue;
        Observe(&root, e, 0);
        ++sampled;
      }
      for (size_t i = 0; i < root.names.size(); ++i) {
        data_schema_.AddField(
            Field{root.names[i], opt_.infer_types ? ToType(root.children[i]) : DataType::String(), true});
      }
      return Status::OK();
    }
    size_t pos = begin_;
    while (sampled < opt_.infer_rows && pos < end_) {
      const char* p = buf_.data() + pos;
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', end_ - pos));
      if (nl == nullptr && !eof_) {
        if (sampled > 0) break;
        LP_RETURN_IF_ERROR(MakeRoom());
        pos = begin_;
        continue;
      }
      const char* stop = nl != nullptr ? nl : buf_.data() + end_;
      std::string_view line(p, static_cast<size_t>(stop - p));
      pos = nl != nullptr ? static_cast<size_t>(nl + 1 - buf_.data()) : end_;
      if (IsBlank(line)) continue;
      element doc;
      if (parser_.parse(line.data(), line.size(), false).get(doc) != simdjson::SUCCESS) continue;
      if (doc.type() != element_type::OBJECT) continue;
      Observe(&root, doc, 0);
      ++sampled;
    }
    for (size_t i = 0; i < root.names.size(); ++i) {
      data_schema_.AddField(
            Field{root.names[i], opt_.infer_types ? ToType(root.children[i]) : DataType::String(), true});
    }
    return Status::OK();
  }

  void NoteNewField(std::string_view key, ReadStats* bs, int64_t row_line) {
    NoteNewField(std::vector<std::string>{std::string(key)}, bs, row_line);
  }
  void NoteNewField(std::vector<std::string> path, ReadStats* bs, int64_t row_line) {
    for (const auto& f : bs->new_fields) {
      if (f.path == path) return;
    }
    for (const auto& f : total_.new_fields) {
      if (f.path == path) return;
    }
    std::string name;
    for (const auto& part : path) {
      if (!name.empty()) name += ".";
      // A key holding a dot is quoted, as schemaHints paths are.
      name += part.find('.') == std::string::npos ? part : "`" + part + "`";
    }
    bs->new_fields.push_back({std::move(name), row_line, std::move(path)});
  }

  void AddRescue(std::string_view key, std::string_view raw) {
    csv::AddRescueEntry(key, raw, &rescue_, &invalid_utf8_);
  }

  void FinishRescue(std::vector<Column>* cols, ReadStats* bs, int64_t line) {
    bool has_col = !opt_.rescued_data_column.empty();
    if (rescue_.empty()) {
      if (has_col) cols->back().AppendNull();
      return;
    }
    csv::FinishRescueRecord(opt_.file_path, &rescue_, &invalid_utf8_);
    if (has_col) cols->back().AppendString(rescue_);
    rescue_.clear();
    ++bs->rescued_rows;
    if (bs->first_bad_lines.size() < ReadStats::kMaxBadLines) bs->first_bad_lines.push_back(line);
  }

  void EmitRow(std::string_view line, std::vector<Column>* cols, ReadStats* bs, int64_t row_line) {
    element doc;
    auto error = parser_.parse(line.data(), line.size(), false).get(doc);
    if (error != simdjson::SUCCESS || doc.type() != element_type::OBJECT) {
      EmitCorrupt(line,
                  error != simdjson::SUCCESS ? std::string("malformed JSON: ") + simdjson::error_message(error)
                                             : std::string("the line is not a JSON object"),
                  cols, bs, row_line);
      return;
    }
    EmitObject(doc, cols, bs, row_line);
  }

  void EmitCorrupt(std::string_view raw, const std::string& why, std::vector<Column>* cols, ReadStats* bs,
                   int64_t row_line) {
    for (size_t c = 0; c < data_schema_.size(); ++c) (*cols)[c].AppendNull();
    AddRescue("_corrupt_record", raw);
    rescue_.append(",\"_error\":");
    csv::AppendJsonString(why, &rescue_);
    FinishRescue(cols, bs, row_line);
  }

  void EmitObject(element doc, std::vector<Column>* cols, ReadStats* bs, int64_t row_line) {
    size_t n = data_schema_.size();
    filled_.assign(n, false);
    simdjson::dom::object obj = doc.get_object().value_unsafe();
    for (auto field : obj) {
      int c = FindFieldIn(data_schema_.fields(), field.key);
      if (c < 0 && !opt_.unknown_keys_misfit) continue;
      if (c < 0 && opt_.report_new_fields) NoteNewField(field.key, bs, row_line);
      if (c < 0 || filled_[static_cast<size_t>(c)]) {
        AddRescue(field.key, RawText(field.value));
        continue;
      }
      filled_[static_cast<size_t>(c)] = true;
      Column* col = &(*cols)[static_cast<size_t>(c)];
      if (opt_.report_new_fields && col->type().id() == TypeId::kStruct) {
        // Keys a struct lacks, at any depth through structs: new fields too.
        nested_.path.assign(1, field.key);
        nested_.found.clear();
        bool fits = Convert(col, field.value, 0, opt_, &nested_);
        for (auto& path : nested_.found) NoteNewField(std::move(path), bs, row_line);
        if (!fits) AddRescue(field.key, RawText(field.value));
      } else if (!Convert(col, field.value, 0, opt_)) {
        AddRescue(field.key, RawText(field.value));
      }
    }
    for (size_t c = 0; c < n; ++c) {
      if (!filled_[c]) (*cols)[c].AppendNull();
    }
    FinishRescue(cols, bs, row_line);
  }

  Schema data_schema_;
  Schema out_schema_;
  NestedKeys nested_;  // EmitObject's, kept to reuse its buffers
  simdjson::dom::parser parser_;
  std::vector<bool> filled_;
  std::string rescue_;
  std::string invalid_utf8_;
  // multiLine state: the parsed file's records (pointing into parser_'s document).
  std::vector<element> records_;
  size_t next_record_ = 0;
  std::string whole_file_error_;
  int64_t file_lines_ = 0;
  bool lines_counted_ = false;
  int64_t line_ = 1;
  bool done_ = false;
  ReadStats total_;
};

JsonReader::JsonReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JsonReader::~JsonReader() = default;

Result<std::unique_ptr<JsonReader>> JsonReader::Open(FileSystem* fs, const std::string& path,
                                                     JsonOptions options) {
  if (options.file_path.empty()) options.file_path = path;
  auto impl = std::make_unique<Impl>(std::move(options));
  LP_ASSIGN_OR_RETURN(impl->file_, fs->NewRandomAccessFile(path));
  impl->file_size_ = impl->file_->Size();
  LP_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<JsonReader>(new JsonReader(std::move(impl)));
}

Result<std::unique_ptr<JsonReader>> JsonReader::OpenBuffer(std::string data, JsonOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->end_ = data.size();
  impl->buf_ = std::move(data);
  impl->buf_.resize(impl->end_ + simdjson::SIMDJSON_PADDING);
  impl->eof_ = true;
  LP_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<JsonReader>(new JsonReader(std::move(impl)));
}

const Schema& JsonReader::schema() const { return impl_->schema(); }
const Schema& JsonReader::data_schema() const { return impl_->data_schema(); }
Result<bool> JsonReader::Next(ReadBatch* out) { return impl_->Next(out); }
const ReadStats& JsonReader::total_stats() const { return impl_->total(); }

Result<RecordBatch> ReadJsonFile(FileSystem* fs, const std::string& path, JsonOptions options,
                                 ReadStats* stats) {
  LP_ASSIGN_OR_RETURN(auto reader, JsonReader::Open(fs, path, std::move(options)));
  return ReadAllBatches(reader.get(), stats);
}

Result<RecordBatch> ReadJsonBuffer(std::string data, JsonOptions options, ReadStats* stats) {
  LP_ASSIGN_OR_RETURN(auto reader, JsonReader::OpenBuffer(std::move(data), std::move(options)));
  return ReadAllBatches(reader.get(), stats);
}


// ---- JSON text in values (json_value.h) ---------------------------------------------------
// Here rather than in a file of its own: it shares Convert and the inference with the reader.

Result<JsonPath> ParseJsonPath(std::string_view text, PathSyntax syntax) {
  JsonPath path;
  path.wildcard_always_array = syntax == PathSyntax::kDatabricks;
  size_t i = 0;
  auto fail = [&](const std::string& what) -> Status {
    return Status::InvalidArgument("JSON path '" + std::string(text) + "' at offset " + std::to_string(i) + ": " + what);
  };
  bool databricks = syntax == PathSyntax::kDatabricks;
  if (!databricks) {
    if (text.empty() || text[0] != '$') return fail("a path starts with $");
    ++i;
  }
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80 || c == '$' || c == '-';
  };
  auto read_name = [&](JsonPathStep* step) -> Status {
    if (i < text.size() && text[i] == '`' && databricks) {
      ++i;
      while (i < text.size()) {
        if (text[i] == '`') {
          if (i + 1 < text.size() && text[i + 1] == '`') {
            step->key += '`';
            i += 2;
            continue;
          }
          break;
        }
        step->key += text[i++];
      }
      if (i >= text.size()) return fail("unclosed `");
      ++i;
    } else {
      size_t b = i;
      while (i < text.size() && is_name_char(text[i])) ++i;
      if (i == b) return fail("expected a field name");
      step->key = std::string(text.substr(b, i - b));
    }
    step->kind = JsonPathStep::kKey;
    step->case_insensitive = databricks;
    return Status::OK();
  };
  auto read_bracket = [&](JsonPathStep* step) -> Status {
    ++i;  // [
    if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      char q = text[i++];
      while (i < text.size() && text[i] != q) {
        if (text[i] == '\\' && i + 1 < text.size()) ++i;
        step->key += text[i++];
      }
      if (i >= text.size()) return fail("unclosed quote");
      ++i;
      step->kind = JsonPathStep::kKey;
    } else if (i < text.size() && text[i] == '*') {
      ++i;
      step->kind = JsonPathStep::kWildcard;
      path.has_wildcard = true;
    } else {
      size_t b = i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      if (i == b || i - b > 9) return fail("expected an index, a quoted name or * in [ ]");
      step->kind = JsonPathStep::kIndex;
      step->index = std::stoll(std::string(text.substr(b, i - b)));
    }
    if (i >= text.size() || text[i] != ']') return fail("expected ]");
    ++i;
    return Status::OK();
  };
  bool first = true;
  while (i < text.size()) {
    JsonPathStep step;
    if (text[i] == '[') {
      LP_RETURN_IF_ERROR(read_bracket(&step));
    } else if (text[i] == '.') {
      ++i;
      if (i < text.size() && text[i] == '*' && !databricks) {
        ++i;
        step.kind = JsonPathStep::kWildcard;
        path.has_wildcard = true;
      } else {
        LP_RETURN_IF_ERROR(read_name(&step));
      }
    } else if (first && databricks) {
      LP_RETURN_IF_ERROR(read_name(&step));
    } else {
      return fail("expected . or [");
    }
    first = false;
    path.steps.push_back(std::move(step));
  }
  if (databricks && path.steps.empty()) return fail("empty path");
  return path;
}

namespace {

void SortFields(DataType* t) {
  if (t->id() == TypeId::kStruct) {
    std::vector<Field> fields = t->fields();
    for (auto& f : fields) SortFields(&f.type);
    std::sort(fields.begin(), fields.end(), [](const Field& a, const Field& b) { return a.name < b.name; });
    *t = DataType::Struct(std::move(fields));
  } else if (t->id() == TypeId::kArray) {
    DataType e = t->element();
    SortFields(&e);
    *t = DataType::Array(e);
  }
}

void Walk(element e, const JsonPath& path, size_t at, std::vector<element>* found) {
  if (at == path.steps.size()) {
    found->push_back(e);
    return;
  }
  const JsonPathStep& s = path.steps[at];
  switch (s.kind) {
    case JsonPathStep::kKey: {
      if (e.type() != element_type::OBJECT) return;
      simdjson::dom::object obj = e.get_object().value_unsafe();
      bool have = false;
      element match;
      for (auto field : obj) {
        if (field.key == s.key) {
          match = field.value;
          have = true;
          break;
        }
      }
      if (!have && s.case_insensitive) {
        for (auto field : obj) {
          if (EqualsIgnoreCase(field.key, s.key)) {
            match = field.value;
            have = true;
            break;
          }
        }
      }
      if (have) Walk(match, path, at + 1, found);
      return;
    }
    case JsonPathStep::kIndex: {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) return;
      element v;
      if (arr.at(static_cast<size_t>(s.index)).get(v) == simdjson::SUCCESS) Walk(v, path, at + 1, found);
      return;
    }
    case JsonPathStep::kWildcard: {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) return;
      for (element x : arr) Walk(x, path, at + 1, found);
      return;
    }
  }
}

// A value as get_json_object returns it: a string unquoted, anything else minified JSON.
void ValueText(element e, std::string* out) {
  std::string_view sv;
  if (e.type() == element_type::STRING && e.get(sv) == simdjson::SUCCESS) {
    out->assign(sv);
  } else {
    *out = simdjson::minify(e);
  }
}

}  // namespace

struct JsonTextParser::Impl {
  simdjson::dom::parser parser;
  JsonOptions options;  // defaults: ISO dates and timestamps, as from_json without options

  simdjson::simdjson_result<element> Parse(std::string_view text) {
    // An empty value may have no buffer at all; simdjson copies from the pointer even for
    // zero bytes (memcpy from null: undefined, found by kafka_payload_fuzz).
    static const char kNothing[1] = {0};
    return parser.parse(text.empty() ? kNothing : text.data(), text.size(), true);
  }
};

JsonTextParser::JsonTextParser() : impl_(std::make_unique<Impl>()) {}

void JsonTextParser::set_unknown_keys_misfit(bool misfit) { impl_->options.unknown_keys_misfit = misfit; }
JsonTextParser::~JsonTextParser() = default;

JsonFit JsonTextParser::AppendAs(std::string_view text, Column* col) {
  auto doc = impl_->Parse(text);
  if (doc.error() != simdjson::SUCCESS) return JsonFit::kMalformed;
  return Convert(col, doc.value_unsafe(), 0, impl_->options) ? JsonFit::kOk : JsonFit::kMisfit;
}

bool JsonTextParser::Extract(std::string_view text, const JsonPath& path, std::string* out) {
  auto doc = impl_->Parse(text);
  if (doc.error() != simdjson::SUCCESS) return false;
  std::vector<element> found;
  Walk(doc.value_unsafe(), path, 0, &found);
  if (found.empty()) return false;
  if (path.has_wildcard && (found.size() > 1 || path.wildcard_always_array)) {
    out->assign("[");
    for (size_t k = 0; k < found.size(); ++k) {
      if (k) out->push_back(',');
      out->append(simdjson::minify(found[k]));
    }
    out->push_back(']');
    return true;
  }
  if (found[0].is_null()) return false;
  ValueText(found[0], out);
  return true;
}

bool JsonTextParser::TopLevelValues(std::string_view text, const std::vector<std::string>& keys,
                                    std::vector<std::pair<bool, std::string>>* out) {
  out->assign(keys.size(), {false, ""});
  auto doc = impl_->Parse(text);
  if (doc.error() != simdjson::SUCCESS || doc.value_unsafe().type() != element_type::OBJECT) return false;
  simdjson::dom::object obj = doc.value_unsafe().get_object().value_unsafe();
  for (size_t k = 0; k < keys.size(); ++k) {
    for (auto field : obj) {
      if (field.key == keys[k]) {
        if (!field.value.is_null()) {
          (*out)[k].first = true;
          ValueText(field.value, &(*out)[k].second);
        }
        break;
      }
    }
  }
  return true;
}

Result<DataType> JsonTextParser::InferType(std::string_view text) {
  auto doc = impl_->Parse(text);
  if (doc.error() != simdjson::SUCCESS) {
    return Status::InvalidArgument(std::string("not JSON: ") + simdjson::error_message(doc.error()));
  }
  InferNode n;
  Observe(&n, doc.value_unsafe(), 0);
  DataType t = ToType(n);
  SortFields(&t);
  return t;
}

}  // namespace lakepipe::json
