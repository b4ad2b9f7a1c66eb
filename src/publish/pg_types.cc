#include "publish/pg_types.h"

#include <charconv>
#include <cmath>

#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::publish {
namespace {

void AppendEscaped(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '\\': *out += "\\\\"; break;
      case '\t': *out += "\\t"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      default: *out += c;
    }
  }
}

void AppendJsonString(std::string_view text, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  *out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          *out += kHex[c >> 4];
          *out += kHex[c & 15];
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

// Shortest text that reads back as the same float/double.
void AppendFloating(double v, bool is_float, std::string* out) {
  if (std::isnan(v)) {
    *out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    *out += v > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  auto r = is_float ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v))
                    : std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

std::string Base64(std::string_view data) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t n = uint8_t(data[i]) << 16;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// "2019-12-09T10:05:00.5" (+ "Z" for a UTC timestamp): ISO text for JSON.
std::string IsoTimestamp(int64_t micros, bool utc) {
  std::string text = FormatTimestamp(micros);
  if (text.size() > 10 && text[10] == ' ') text[10] = 'T';
  return utc ? text + "Z" : text;
}

}  // namespace

Result<std::string> PostgresType(const DataType& type) {
  switch (type.id()) {
    case TypeId::kBoolean: return std::string("boolean");
    case TypeId::kByte:
    case TypeId::kShort: return std::string("smallint");
    case TypeId::kInt: return std::string("integer");
    case TypeId::kLong: return std::string("bigint");
    case TypeId::kFloat: return std::string("real");
    case TypeId::kDouble: return std::string("double precision");
    case TypeId::kDecimal:
      return "numeric(" + std::to_string(type.precision()) + "," + std::to_string(type.scale()) + ")";
    case TypeId::kString: return std::string("text");
    case TypeId::kBinary: return std::string("bytea");
    case TypeId::kDate: return std::string("date");
    case TypeId::kTimestamp: return std::string("timestamp with time zone");
    case TypeId::kTimestampNtz: return std::string("timestamp without time zone");
    case TypeId::kStruct:
    case TypeId::kArray:
    case TypeId::kMap: return std::string("jsonb");
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval:
      return Status::NotSupported("a column of type " + type.ToString() +
                                  " cannot be published (intervals are expression-only); cast it to a string or a number "
                                  "in the SQL");
    case TypeId::kNull: break;
  }
  return Status::NotSupported("a column of type void (an untyped NULL) cannot be published; cast it in the SQL");
}

std::string PgName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string QuoteIdent(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLiteral(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

void AppendJson(const Value& value, const DataType& type, std::string* out) {
  if (value.is_null()) {
    *out += "null";
    return;
  }
  switch (type.id()) {
    case TypeId::kBoolean: *out += value.bool_value() ? "true" : "false"; return;
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: *out += std::to_string(value.int_value()); return;
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double v = value.double_value();
      if (!std::isfinite(v)) {
        std::string text;
        AppendFloating(v, false, &text);
        AppendJsonString(text, out);
      } else {
        AppendFloating(v, type.id() == TypeId::kFloat, out);
      }
      return;
    }
    case TypeId::kDecimal: *out += FormatDecimal(value.decimal_value(), value.scale()); return;
    case TypeId::kString: AppendJsonString(value.string_value(), out); return;
    case TypeId::kBinary: AppendJsonString(Base64(value.string_value()), out); return;
    case TypeId::kDate: AppendJsonString(FormatDate(static_cast<int32_t>(value.int_value())), out); return;
    case TypeId::kTimestamp: AppendJsonString(IsoTimestamp(value.int_value(), true), out); return;
    case TypeId::kTimestampNtz: AppendJsonString(IsoTimestamp(value.int_value(), false), out); return;
    case TypeId::kStruct: {
      *out += '{';
      const auto& children = value.children();
      for (size_t i = 0; i < type.fields().size() && i < children.size(); ++i) {
        if (i > 0) *out += ',';
        AppendJsonString(type.fields()[i].name, out);
        *out += ':';
        AppendJson(children[i], type.fields()[i].type, out);
      }
      *out += '}';
      return;
    }
    case TypeId::kArray: {
      *out += '[';
      const auto& children = value.children();
      for (size_t i = 0; i < children.size(); ++i) {
        if (i > 0) *out += ',';
        AppendJson(children[i], type.element(), out);
      }
      *out += ']';
      return;
    }
    case TypeId::kMap: {
      const auto& kv = value.children();
      bool string_keys = type.key().id() == TypeId::kString;
      *out += string_keys ? '{' : '[';
      for (size_t i = 0; i + 1 < kv.size(); i += 2) {
        if (i > 0) *out += ',';
        if (string_keys) {
          AppendJsonString(kv[i].is_null() ? "" : kv[i].string_value(), out);
          *out += ':';
          AppendJson(kv[i + 1], type.value(), out);
        } else {
          *out += "{\"key\":";
          AppendJson(kv[i], type.key(), out);
          *out += ",\"value\":";
          AppendJson(kv[i + 1], type.value(), out);
          *out += '}';
        }
      }
      *out += string_keys ? '}' : ']';
      return;
    }
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval:  // refused by PostgresType before any row is written
    case TypeId::kNull: *out += "null"; return;
  }
}

void AppendCopyField(const Value& value, const DataType& type, std::string* out) {
  if (value.is_null()) {
    *out += "\\N";
    return;
  }
  switch (type.id()) {
    case TypeId::kBoolean: *out += value.bool_value() ? 't' : 'f'; return;
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: *out += std::to_string(value.int_value()); return;
    case TypeId::kFloat:
    case TypeId::kDouble: AppendFloating(value.double_value(), type.id() == TypeId::kFloat, out); return;
    case TypeId::kDecimal: *out += FormatDecimal(value.decimal_value(), value.scale()); return;
    case TypeId::kString: AppendEscaped(value.string_value(), out); return;
    case TypeId::kBinary: {
      static const char* kHex = "0123456789abcdef";
      *out += "\\\\x";  // bytea hex input, its backslash escaped for COPY
      for (unsigned char c : value.string_value()) {
        *out += kHex[c >> 4];
        *out += kHex[c & 15];
      }
      return;
    }
    case TypeId::kDate: *out += FormatDate(static_cast<int32_t>(value.int_value())); return;
    case TypeId::kTimestamp: *out += FormatTimestamp(value.int_value()) + "+00"; return;
    case TypeId::kTimestampNtz: *out += FormatTimestamp(value.int_value()); return;
    case TypeId::kStruct:
    case TypeId::kArray:
    case TypeId::kMap: {
      std::string json;
      AppendJson(value, type, &json);
      AppendEscaped(json, out);
      return;
    }
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval:  // refused by PostgresType before any row is written
    case TypeId::kNull: *out += "\\N"; return;
  }
}

}  // namespace lakepipe::publish
