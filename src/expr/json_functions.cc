// JSON in STRING values: from_json, to_json, schema_of_json, get_json_object, and
// `$json_path`, which Databricks' `raw:a.b[0]` operator becomes (sql/rewrite.h). The JSON
// work itself is formats/json/json_value.h; this file binds the calls and runs it per row.
//
// Malformed text never raises by default: from_json gives a struct of NULL fields (Spark 3+
// PERMISSIVE) or NULL for an array/map schema, and, when the struct schema has the corrupt
// record field (`_corrupt_record STRING`, or the name of the columnNameOfCorruptRecord
// option), that field holds the raw text of a record that is not JSON or does not fit the
// schema, as Spark's does; mode FAILFAST raises instead. The path functions give NULL.
#include <algorithm>

#include "expr/eval_internal.h"
#include "expr/function.h"
#include "formats/json/json_value.h"
#include "formats/json/json_writer.h"

namespace lakepipe::expr {
namespace {

struct PathState : KernelState {
  json::JsonPath path;
};

// from_json's options, fixed at bind time.
struct FromJsonState : KernelState {
  bool failfast = false;
  int corrupt_field = -1;  // the result struct's corrupt record field, if it has one
  DataType parse_type;     // the result type without that field (what the text is parsed as)
};

constexpr size_t kMaxQuotedRecord = 200;

std::string Quoted(std::string_view text) {
  std::string s(text.substr(0, kMaxQuotedRecord));
  return "`" + s + (text.size() > kMaxQuotedRecord ? "...`" : "`");
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Spark's catalogString-like DDL that schema_of_json prints: STRUCT<a: BIGINT, b: ARRAY<STRING>>.
std::string SparkDdl(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct: {
      std::string s = "STRUCT<";
      for (size_t i = 0; i < t.fields().size(); ++i) {
        const std::string& n = t.fields()[i].name;
        bool plain = !n.empty() && std::all_of(n.begin(), n.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
        std::string name = plain ? n : "`" + n + "`";
        s += (i ? ", " : "") + name + ": " + SparkDdl(t.fields()[i].type);
      }
      return s + ">";
    }
    case TypeId::kArray: return "ARRAY<" + SparkDdl(t.element()) + ">";
    case TypeId::kMap: return "MAP<" + SparkDdl(t.key()) + ", " + SparkDdl(t.value()) + ">";
    default: return Upper(t.ToString());
  }
}

// 'a INT, b STRING' (a struct's fields) or a type: 'ARRAY<...>', 'MAP<...>', 'STRUCT<...>'.
Result<DataType> ParseSchemaArgument(const std::string& text) {
  std::string head;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) && head.empty()) continue;
    if (!std::isalpha(static_cast<unsigned char>(c))) break;
    head += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t after = text.find_first_not_of(" \t\r\n", text.find_first_not_of(" \t\r\n") + head.size());
  if ((head == "struct" || head == "array" || head == "map") && after != std::string::npos && text[after] == '<') {
    return ParseDataType(text);
  }
  LP_ASSIGN_OR_RETURN(Schema s, Schema::ParseDDL(text));
  return DataType::Struct(s.fields());
}

Status CheckFromJsonType(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct:
      for (const auto& f : t.fields()) LP_RETURN_IF_ERROR(CheckFromJsonType(f.type));
      return Status::OK();
    case TypeId::kArray: return CheckFromJsonType(t.element());
    case TypeId::kMap:
      if (t.key().id() != TypeId::kString) return Status::NotSupported("map keys in JSON are strings, not " + t.key().ToString());
      return CheckFromJsonType(t.value());
    case TypeId::kNull:
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval: return Status::NotSupported("type " + t.ToString() + " in a JSON schema");
    default: return Status::OK();
  }
}

Status BindFromJson(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (c.arg_type(1).id() != TypeId::kString || c.arg(1).literal.is_null()) {
    return c.Error("the schema of `from_json` is a string constant such as 'a INT, b ARRAY<STRING>'");
  }
  auto state = std::make_shared<FromJsonState>();
  std::string corrupt_name = "_corrupt_record";  // Spark's spark.sql.columnNameOfCorruptRecord
  if (c.num_args() > 2) {
    // A map of string constants, as Databricks documents: map('mode', 'FAILFAST').
    const BoundExpr& o = c.arg(2);
    bool constants = o.kind == BoundKind::kCall && o.function == "map" && o.args.size() % 2 == 0;
    for (const auto& a : o.args) constants = constants && a.is_literal() && a.type.id() == TypeId::kString && !a.literal.is_null();
    if (!constants) {
      return c.Error("the options of `from_json` are a map of string constants, e.g. map('mode', 'FAILFAST', "
                     "'columnNameOfCorruptRecord', '_rescued_data')");
    }
    for (size_t i = 0; i < o.args.size(); i += 2) {
      std::string key = o.args[i].literal.string_value();
      std::string value = o.args[i + 1].literal.string_value();
      std::string lower = key;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == "mode") {
        std::string mode = Upper(value);
        if (mode == "FAILFAST") {
          state->failfast = true;
        } else if (mode == "DROPMALFORMED") {
          return c.Error("`from_json` does not support the DROPMALFORMED mode (a function cannot drop rows; Spark "
                         "refuses it too): use PERMISSIVE with a corrupt record field, select it as a column "
                         "and add an expectation `EXPECT (<that column> IS NULL) ON VIOLATION DROP ROW`, or use "
                         "FAILFAST");
        } else if (mode != "PERMISSIVE") {
          return c.Error("`from_json` option mode is PERMISSIVE or FAILFAST, not `" + value + "`");
        }
      } else if (lower == "columnnameofcorruptrecord") {
        if (value.empty()) return c.Error("`from_json` option columnNameOfCorruptRecord needs a field name");
        corrupt_name = value;
      } else {
        return c.Unsupported("option `" + key + "` of `from_json` is not built yet (built: mode, "
                             "columnNameOfCorruptRecord; dates and timestamps are read as ISO 8601: read them as "
                             "strings and convert with to_date/to_timestamp)");
      }
    }
  }
  auto type = ParseSchemaArgument(c.arg(1).literal.string_value());
  if (!type.ok()) return c.Error("`from_json` schema: " + type.status().message());
  Status ok = CheckFromJsonType(*type);
  if (!ok.ok()) return c.Unsupported("`from_json` schema: " + ok.message());
  state->parse_type = *type;
  if (type->id() == TypeId::kStruct) {
    std::vector<Field> rest;
    for (size_t i = 0; i < type->fields().size(); ++i) {
      const Field& f = type->fields()[i];
      if (f.name != corrupt_name) {
        rest.push_back(f);
        continue;
      }
      if (f.type.id() != TypeId::kString) {
        return c.Error("`from_json`: the corrupt record field `" + f.name + "` must be STRING, not " + f.type.ToString());
      }
      state->corrupt_field = static_cast<int>(i);
    }
    if (state->corrupt_field >= 0) state->parse_type = DataType::Struct(rest);
  }
  c.bound().state = std::move(state);
  c.SetResult(*type);
  c.bound().nullable = true;
  return Status::OK();
}

Result<ColumnPtr> FromJson(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  const auto& state = static_cast<const FromJsonState&>(*e.state);
  // With a corrupt record field the text is parsed as the struct without it, and the
  // field is put back in its place afterwards.
  const bool corrupt = state.corrupt_field >= 0;
  Column out(corrupt ? state.parse_type : e.type);
  Column raw(DataType::String());
  std::vector<int64_t> null_rows;
  json::JsonTextParser parser;
  parser.set_unknown_keys_misfit(false);  // Spark ignores keys the schema lacks
  for (int64_t i = 0; i < n; ++i) {
    if (in.type().id() == TypeId::kNull || in.IsNull(i)) {
      out.AppendNull();
      if (corrupt) {
        raw.AppendNull();
        null_rows.push_back(i);
      }
      continue;
    }
    std::string_view text = in.GetString(i);
    json::JsonFit fit = parser.AppendAs(text, &out);
    if (fit == json::JsonFit::kMalformed) {
      if (out.type().id() == TypeId::kStruct) {
        for (size_t f = 0; f < out.num_children(); ++f) out.child(f).AppendNull();
        out.CloseStructRow();
      } else {
        out.AppendNull();
      }
    }
    if (fit != json::JsonFit::kOk && state.failfast) {
      return Status::InvalidArgument(PositionPrefix(e.pos) + "from_json: malformed record in FAILFAST mode (" +
                                     (fit == json::JsonFit::kMalformed ? "not JSON" : "does not fit the schema") +
                                     "): " + Quoted(text) +
                                     "; to keep such records as NULL fields with their text in a corrupt record "
                                     "field, use the mode PERMISSIVE");
    }
    if (corrupt) {
      if (fit == json::JsonFit::kOk) raw.AppendNull();
      else raw.AppendString(text);
    }
  }
  if (!corrupt) return MakeColumn(std::move(out));
  Column result(e.type);
  size_t from = 0;
  for (size_t f = 0; f < result.num_children(); ++f) {
    result.child(f) = static_cast<int>(f) == state.corrupt_field ? std::move(raw) : std::move(out.child(from++));
  }
  for (int64_t i = 0; i < n; ++i) result.CloseStructRow();
  for (int64_t i : null_rows) result.SetNull(i);
  return MakeColumn(std::move(result));
}

Status BindToJson(CallBinder& c) {
  if (c.num_args() > 1) return c.Unsupported("options of `to_json` are not built yet");
  if (!c.arg_type(0).is_nested()) {
    return c.Error("`to_json` takes a struct, an array or a map, got " + c.arg_type(0).ToString() + " in `" + c.expr().ToString() + "`");
  }
  c.SetResult(DataType::String());
  return Status::OK();
}

Result<ColumnPtr> ToJson(const BoundExpr&, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  Column out(DataType::String());
  json::JsonWriteOptions options;
  std::string buf;
  for (int64_t i = 0; i < n; ++i) {
    if (in.IsNull(i)) {
      out.AppendNull();
      continue;
    }
    buf.clear();
    json::AppendJsonValue(in, i, options, &buf);
    out.AppendString(buf);
  }
  return MakeColumn(std::move(out));
}

Status BindSchemaOfJson(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectLiteral(0));
  if (c.arg_type(0).id() != TypeId::kString || c.arg(0).literal.is_null()) {
    return c.Error("`schema_of_json` takes a string constant (a sample JSON value)");
  }
  if (c.num_args() > 1) return c.Unsupported("options of `schema_of_json` are not built yet");
  json::JsonTextParser parser;
  auto t = parser.InferType(c.arg(0).literal.string_value());
  if (!t.ok()) return c.Error("`schema_of_json`: " + t.status().message());
  c.BecomeLiteral(Value::String(SparkDdl(*t)), DataType::String());
  return Status::OK();
}

Result<ColumnPtr> NeverCalled(const BoundExpr& e, const std::vector<ColumnPtr>&, int64_t) {
  return Status::Internal(PositionPrefix(e.pos) + "schema_of_json is folded at bind time");
}

template <json::PathSyntax kSyntax>
Status BindPath(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectType(0, DataType::String()));
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (c.arg_type(1).id() != TypeId::kString || c.arg(1).literal.is_null()) {
    return c.Error("the path of `" + c.written_name() + "` is a string constant such as '$.a.b[0]'");
  }
  auto path = json::ParseJsonPath(c.arg(1).literal.string_value(), kSyntax);
  if (!path.ok()) return c.Error(path.status().message());
  auto state = std::make_shared<PathState>();
  state->path = std::move(*path);
  c.bound().state = std::move(state);
  c.SetResult(DataType::String());
  c.bound().nullable = true;
  return Status::OK();
}

Result<ColumnPtr> ExtractPath(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& in = *args[0];
  const auto& state = static_cast<const PathState&>(*e.state);
  Column out(DataType::String());
  json::JsonTextParser parser;
  std::string buf;
  for (int64_t i = 0; i < n; ++i) {
    if (in.type().id() == TypeId::kNull || in.IsNull(i) || !parser.Extract(in.GetString(i), state.path, &buf)) {
      out.AppendNull();
    } else {
      out.AppendString(buf);
    }
  }
  return MakeColumn(std::move(out));
}

}  // namespace

void RegisterJsonFunctions(FunctionRegistry* r) {
  r->Add({"from_json", 2, 3, BindFromJson, FromJson, nullptr, false});
  r->Add({"to_json", 1, 2, BindToJson, ToJson, nullptr, false});
  r->Add({"schema_of_json", 1, 2, BindSchemaOfJson, NeverCalled, nullptr, false});
  r->Add({"get_json_object", 2, 2, BindPath<json::PathSyntax::kSpark>, ExtractPath, nullptr, false});
  r->Add({"$json_path", 2, 2, BindPath<json::PathSyntax::kDatabricks>, ExtractPath, nullptr, false});
}

}  // namespace lakepipe::expr
