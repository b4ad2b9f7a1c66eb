#include "types/schema.h"

#include <cctype>
#include <nlohmann/json.hpp>

namespace lakepipe {

using Json = nlohmann::json;

DataType DataType::Decimal(int precision, int scale) {
  DataType t(TypeId::kDecimal);
  t.precision_ = precision;
  t.scale_ = scale;
  return t;
}

DataType DataType::Struct(std::vector<Field> fields) {
  DataType t(TypeId::kStruct);
  t.fields_ = std::move(fields);
  return t;
}

DataType DataType::Array(DataType element, bool contains_null) {
  DataType t(TypeId::kArray);
  t.children_.push_back(std::move(element));
  t.contains_null_ = contains_null;
  return t;
}

DataType DataType::Map(DataType key, DataType value, bool value_contains_null) {
  DataType t(TypeId::kMap);
  t.children_.push_back(std::move(key));
  t.children_.push_back(std::move(value));
  t.contains_null_ = value_contains_null;
  return t;
}

int DataType::fixed_width() const {
  switch (id_) {
    case TypeId::kBoolean:
    case TypeId::kByte: return 1;
    case TypeId::kShort: return 2;
    case TypeId::kInt:
    case TypeId::kFloat:
    case TypeId::kDate:
    case TypeId::kYearMonthInterval: return 4;
    case TypeId::kLong:
    case TypeId::kDouble:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz:
    case TypeId::kDayTimeInterval: return 8;
    case TypeId::kDecimal: return 16;
    default: return 0;
  }
}

std::string DataType::ToString() const {
  switch (id_) {
    case TypeId::kNull: return "void";
    case TypeId::kBoolean: return "boolean";
    case TypeId::kByte: return "tinyint";
    case TypeId::kShort: return "smallint";
    case TypeId::kInt: return "int";
    case TypeId::kLong: return "bigint";
    case TypeId::kFloat: return "float";
    case TypeId::kDouble: return "double";
    case TypeId::kDecimal:
      return "decimal(" + std::to_string(precision_) + "," + std::to_string(scale_) + ")";
    case TypeId::kString: return "string";
    case TypeId::kBinary: return "binary";
    case TypeId::kDate: return "date";
    case TypeId::kTimestamp: return "timestamp";
    case TypeId::kTimestampNtz: return "timestamp_ntz";
    case TypeId::kDayTimeInterval: return precision_ == 1 ? "interval day" : "interval day to second";
    case TypeId::kYearMonthInterval: return "interval year to month";
    case TypeId::kArray: return "array<" + element().ToString() + ">";
    case TypeId::kMap: return "map<" + key().ToString() + "," + value().ToString() + ">";
    case TypeId::kStruct: {
      std::string s = "struct<";
      for (size_t i = 0; i < fields_.size(); ++i) {
        if (i) s += ",";
        s += fields_[i].name + ":" + fields_[i].type.ToString();
      }
      return s + ">";
    }
  }
  return "?";
}

std::string DataType::SparkJsonName() const {
  switch (id_) {
    case TypeId::kNull: return "void";
    case TypeId::kByte: return "byte";
    case TypeId::kShort: return "short";
    case TypeId::kInt: return "integer";
    case TypeId::kLong: return "long";
    default: return ToString();
  }
}

bool DataType::operator==(const DataType& o) const {
  if (id_ != o.id_) return false;
  switch (id_) {
    case TypeId::kDecimal: return precision_ == o.precision_ && scale_ == o.scale_;
    case TypeId::kStruct: return fields_ == o.fields_;
    case TypeId::kArray:
    case TypeId::kMap: return children_ == o.children_ && contains_null_ == o.contains_null_;
    default: return true;
  }
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// ---- Spark JSON ----------------------------------------------------------------------

Json TypeToJson(const DataType& t);

Json FieldToJson(const Field& f) {
  Json meta = Json::object();
  if (!f.metadata.empty()) {
    Json parsed = Json::parse(f.metadata, nullptr, false);
    if (parsed.is_object()) meta = parsed;
  }
  if (!f.comment.empty()) meta["comment"] = f.comment;
  return Json{{"name", f.name}, {"type", TypeToJson(f.type)}, {"nullable", f.nullable},
              {"metadata", meta}};
}

Json TypeToJson(const DataType& t) {
  switch (t.id()) {
    case TypeId::kStruct: {
      Json fields = Json::array();
      for (const auto& f : t.fields()) fields.push_back(FieldToJson(f));
      return Json{{"type", "struct"}, {"fields", fields}};
    }
    case TypeId::kArray:
      return Json{{"type", "array"},
                  {"elementType", TypeToJson(t.element())},
                  {"containsNull", t.contains_null()}};
    case TypeId::kMap:
      return Json{{"type", "map"},
                  {"keyType", TypeToJson(t.key())},
                  {"valueType", TypeToJson(t.value())},
                  {"valueContainsNull", t.contains_null()}};
    default: return t.SparkJsonName();
  }
}

Result<DataType> TypeFromJson(const Json& j, const std::string& where);

Result<Field> FieldFromJson(const Json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("type")) {
    return Status::Corruption(where + ": a schema field needs \"name\" and \"type\"");
  }
  Field f;
  f.name = j["name"].get<std::string>();
  LP_ASSIGN_OR_RETURN(f.type, TypeFromJson(j["type"], where + "." + f.name));
  f.nullable = j.value("nullable", true);
  if (j.contains("metadata") && j["metadata"].is_object()) {
    f.metadata = j["metadata"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (j["metadata"].contains("comment") && j["metadata"]["comment"].is_string())
      f.comment = j["metadata"]["comment"].get<std::string>();
  }
  return f;
}

Result<DataType> TypeFromJson(const Json& j, const std::string& where) {
  if (j.is_string()) {
    auto parsed = ParseDataType(j.get<std::string>());
    if (!parsed.ok()) {
      return Status::Corruption(where + ": unknown type \"" + j.get<std::string>() + "\"");
    }
    return parsed;
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return Status::Corruption(where + ": a type must be a string or an object with \"type\"");
  }
  std::string kind = j["type"].get<std::string>();
  if (kind == "struct") {
    if (!j.contains("fields") || !j["fields"].is_array())
      return Status::Corruption(where + ": struct without \"fields\"");
    std::vector<Field> fields;
    for (const auto& fj : j["fields"]) {
      LP_ASSIGN_OR_RETURN(Field f, FieldFromJson(fj, where));
      fields.push_back(std::move(f));
    }
    return DataType::Struct(std::move(fields));
  }
  if (kind == "array") {
    if (!j.contains("elementType")) return Status::Corruption(where + ": array without elementType");
    LP_ASSIGN_OR_RETURN(DataType e, TypeFromJson(j["elementType"], where + ".element"));
    return DataType::Array(std::move(e), j.value("containsNull", true));
  }
  if (kind == "map") {
    if (!j.contains("keyType") || !j.contains("valueType"))
      return Status::Corruption(where + ": map without keyType/valueType");
    LP_ASSIGN_OR_RETURN(DataType k, TypeFromJson(j["keyType"], where + ".key"));
    LP_ASSIGN_OR_RETURN(DataType v, TypeFromJson(j["valueType"], where + ".value"));
    return DataType::Map(std::move(k), std::move(v), j.value("valueContainsNull", true));
  }
  return Status::Corruption(where + ": unknown type \"" + kind + "\"");
}

// ---- DDL -----------------------------------------------------------------------------

class DdlParser {
 public:
  explicit DdlParser(std::string_view text) : s_(text) {}

  Result<Schema> ParseSchema() {
    Schema schema;
    SkipSpace();
    if (AtEnd()) return Error("empty schema");
    while (true) {
      LP_ASSIGN_OR_RETURN(Field f, ParseField(/*in_struct=*/false));
      if (schema.FindField(f.name) >= 0 && EqualsIgnoreCase(
              schema.field(schema.FindField(f.name)).name, f.name)) {
        return Error("column `" + f.name + "` is defined twice");
      }
      schema.AddField(std::move(f));
      SkipSpace();
      if (AtEnd()) break;
      if (!Consume(',')) return Error("expected ',' between columns");
    }
    return schema;
  }

  Result<DataType> ParseTypeOnly() {
    LP_ASSIGN_OR_RETURN(DataType t, ParseType());
    SkipSpace();
    if (!AtEnd()) return Error("unexpected text after the type");
    return t;
  }

 private:
  Result<Field> ParseField(bool in_struct) {
    SkipSpace();
    Field f;
    LP_ASSIGN_OR_RETURN(f.name, ParseIdentifier());
    SkipSpace();
    if (in_struct) Consume(':');
    auto type = ParseType();
    if (!type.ok()) {
      return Status::InvalidArgument("column `" + f.name + "`: " + type.status().message());
    }
    f.type = std::move(type).value();
    // Optional NOT NULL and COMMENT '...', in any order.
    while (true) {
      SkipSpace();
      if (ConsumeWord("NOT")) {
        SkipSpace();
        if (!ConsumeWord("NULL")) return Error("expected NULL after NOT");
        f.nullable = false;
      } else if (ConsumeWord("COMMENT")) {
        SkipSpace();
        LP_ASSIGN_OR_RETURN(f.comment, ParseQuoted());
      } else {
        break;
      }
    }
    return f;
  }

  // After INTERVAL: `unit [TO unit]` with year/month units (year-month) or day..second
  // units (day-time); `interval day` alone is the days-only day-time type.
  Result<DataType> ParseIntervalQualifier() {
    auto unit = [&]() -> std::string {
      SkipSpace();
      std::string w;
      while (!AtEnd() && std::isalpha(static_cast<unsigned char>(s_[pos_]))) {
        w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s_[pos_]))));
        ++pos_;
      }
      return w;
    };
    auto rank = [](const std::string& w) {
      if (w == "year") return 0;
      if (w == "month") return 1;
      if (w == "day") return 2;
      if (w == "hour") return 3;
      if (w == "minute") return 4;
      if (w == "second") return 5;
      return -1;
    };
    std::string from = unit();
    int a = rank(from);
    if (a < 0) return Error("expected an interval unit (YEAR, MONTH, DAY, HOUR, MINUTE or SECOND) after INTERVAL");
    int b = a;
    size_t save = pos_;
    SkipSpace();
    if (ConsumeWord("TO")) {
      b = rank(unit());
      if (b < a) return Error("expected a later unit after TO in the interval type");
    } else {
      pos_ = save;
    }
    if ((a <= 1) != (b <= 1)) return Error("an interval type is either YEAR TO MONTH or within DAY TO SECOND");
    if (a <= 1) return DataType::YearMonthInterval();
    return DataType::DayTimeInterval(/*days_only=*/a == 2 && b == 2);
  }

  Result<DataType> ParseType() {
    SkipSpace();
    size_t start = pos_;
    std::string word;
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s_[pos_]))));
      ++pos_;
    }
    if (word.empty()) return Error("expected a type name");
    if (word == "int" || word == "integer") return DataType::Int();
    if (word == "bigint" || word == "long") return DataType::Long();
    if (word == "smallint" || word == "short") return DataType::Short();
    if (word == "tinyint" || word == "byte") return DataType::Byte();
    if (word == "float" || word == "real") return DataType::Float();
    if (word == "double") return DataType::Double();
    if (word == "boolean" || word == "bool") return DataType::Boolean();
    if (word == "binary") return DataType::Binary();
    if (word == "date") return DataType::Date();
    if (word == "timestamp" || word == "timestamp_ltz") return DataType::Timestamp();
    if (word == "timestamp_ntz") return DataType::TimestampNtz();
    if (word == "void" || word == "null") return DataType::Null();
    if (word == "interval") return ParseIntervalQualifier();
    if (word == "string" || word == "varchar" || word == "char" || word == "text") {
      SkipSpace();
      if (Consume('(')) {  // VARCHAR(n): the length is not enforced, as in Spark
        while (!AtEnd() && s_[pos_] != ')') ++pos_;
        if (!Consume(')')) return Error("expected ')'");
      }
      return DataType::String();
    }
    if (word == "decimal" || word == "dec" || word == "numeric") {
      SkipSpace();
      int precision = 10, scale = 0;
      if (Consume('(')) {
        LP_ASSIGN_OR_RETURN(precision, ParseInt());
        SkipSpace();
        if (Consume(',')) {
          LP_ASSIGN_OR_RETURN(scale, ParseInt());
        }
        SkipSpace();
        if (!Consume(')')) return Error("expected ')' after decimal precision and scale");
      }
      if (precision < 1 || precision > 38 || scale < 0 || scale > precision) {
        return Error("decimal(" + std::to_string(precision) + "," + std::to_string(scale) +
                     ") is out of range: precision 1..38, scale 0..precision");
      }
      return DataType::Decimal(precision, scale);
    }
    if (word == "array") {
      SkipSpace();
      if (!Consume('<')) return Error("expected '<' after ARRAY");
      LP_ASSIGN_OR_RETURN(DataType e, ParseType());
      SkipSpace();
      if (!Consume('>')) return Error("expected '>' to close ARRAY<");
      return DataType::Array(std::move(e));
    }
    if (word == "map") {
      SkipSpace();
      if (!Consume('<')) return Error("expected '<' after MAP");
      LP_ASSIGN_OR_RETURN(DataType k, ParseType());
      SkipSpace();
      if (!Consume(',')) return Error("expected ',' between MAP key and value types");
      LP_ASSIGN_OR_RETURN(DataType v, ParseType());
      SkipSpace();
      if (!Consume('>')) return Error("expected '>' to close MAP<");
      return DataType::Map(std::move(k), std::move(v));
    }
    if (word == "struct") {
      SkipSpace();
      if (!Consume('<')) return Error("expected '<' after STRUCT");
      std::vector<Field> fields;
      SkipSpace();
      if (!Consume('>')) {
        while (true) {
          LP_ASSIGN_OR_RETURN(Field f, ParseField(/*in_struct=*/true));
          fields.push_back(std::move(f));
          SkipSpace();
          if (Consume('>')) break;
          if (!Consume(',')) return Error("expected ',' or '>' in STRUCT<");
        }
      }
      return DataType::Struct(std::move(fields));
    }
    pos_ = start;
    return Error("unknown type `" + word +
                 "` (supported: boolean, tinyint, smallint, int, bigint, float, double, "
                 "decimal(p,s), string, binary, date, timestamp, timestamp_ntz, array<>, "
                 "map<>, struct<>)");
  }

  Result<std::string> ParseIdentifier() {
    SkipSpace();
    if (Consume('`')) {
      std::string name;
      while (!AtEnd()) {
        if (s_[pos_] == '`') {
          if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '`') {
            name.push_back('`');
            pos_ += 2;
            continue;
          }
          ++pos_;
          return name;
        }
        name.push_back(s_[pos_++]);
      }
      return Error("unterminated `quoted` column name");
    }
    std::string name;
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                        static_cast<unsigned char>(s_[pos_]) >= 0x80)) {
      name.push_back(s_[pos_++]);
    }
    if (name.empty()) return Error("expected a column name");
    return name;
  }

  Result<std::string> ParseQuoted() {
    if (AtEnd() || (s_[pos_] != '\'' && s_[pos_] != '"')) return Error("expected a quoted string");
    char q = s_[pos_++];
    std::string out;
    while (!AtEnd()) {
      char c = s_[pos_++];
      if (c == '\\' && !AtEnd()) {
        out.push_back(s_[pos_++]);
      } else if (c == q) {
        return out;
      } else {
        out.push_back(c);
      }
    }
    return Error("unterminated string");
  }

  Result<int> ParseInt() {
    SkipSpace();
    int v = 0;
    size_t start = pos_;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[pos_])) && pos_ - start < 6) {
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) return Error("expected a number");
    return v;
  }

  bool ConsumeWord(std::string_view word) {
    size_t n = word.size();
    if (pos_ + n > s_.size() || !EqualsIgnoreCase(s_.substr(pos_, n), word)) return false;
    if (pos_ + n < s_.size() &&
        (std::isalnum(static_cast<unsigned char>(s_[pos_ + n])) || s_[pos_ + n] == '_'))
      return false;
    pos_ += n;
    return true;
  }
  bool Consume(char c) {
    if (!AtEnd() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void SkipSpace() {
    while (!AtEnd() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  Status Error(const std::string& what) const {
    return Status::InvalidArgument("schema: " + what + " at character " + std::to_string(pos_ + 1));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

std::string QuoteIdentifierIfNeeded(const std::string& name) {
  bool plain = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (plain) return name;
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  return out + "`";
}

}  // namespace

int Schema::FindField(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name == name) return static_cast<int>(i);
  for (size_t i = 0; i < fields_.size(); ++i)
    if (EqualsIgnoreCase(fields_[i].name, name)) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> Schema::names() const {
  std::vector<std::string> out;
  out.reserve(fields_.size());
  for (const auto& f : fields_) out.push_back(f.name);
  return out;
}

std::string Schema::ToSparkJson() const {
  Json fields = Json::array();
  for (const auto& f : fields_) fields.push_back(FieldToJson(f));
  return Json{{"type", "struct"}, {"fields", fields}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Schema> Schema::FromSparkJson(std::string_view json) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("schema JSON is not valid JSON");
  LP_ASSIGN_OR_RETURN(DataType t, TypeFromJson(j, "schema"));
  if (t.id() != TypeId::kStruct) return Status::Corruption("schema JSON must be a struct");
  return Schema(t.fields());
}

Result<Schema> Schema::ParseDDL(std::string_view ddl) { return DdlParser(ddl).ParseSchema(); }

std::string Schema::ToDDL() const {
  std::string out;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (i) out += ", ";
    out += QuoteIdentifierIfNeeded(fields_[i].name) + " " + fields_[i].type.ToString();
    if (!fields_[i].nullable) out += " NOT NULL";
  }
  return out;
}

bool SameTypeIgnoringNullability(const DataType& a, const DataType& b) {
  if (a.id() != b.id()) return false;
  switch (a.id()) {
    case TypeId::kDecimal: return a.precision() == b.precision() && a.scale() == b.scale();
    case TypeId::kStruct: {
      if (a.fields().size() != b.fields().size()) return false;
      for (size_t i = 0; i < a.fields().size(); ++i) {
        if (a.fields()[i].name != b.fields()[i].name ||
            !SameTypeIgnoringNullability(a.fields()[i].type, b.fields()[i].type))
          return false;
      }
      return true;
    }
    case TypeId::kArray: return SameTypeIgnoringNullability(a.element(), b.element());
    case TypeId::kMap:
      return SameTypeIgnoringNullability(a.key(), b.key()) &&
             SameTypeIgnoringNullability(a.value(), b.value());
    default: return true;
  }
}

Result<DataType> ParseDataType(std::string_view text) { return DdlParser(text).ParseTypeOnly(); }

}  // namespace lakepipe
