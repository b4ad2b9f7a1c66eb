#include "pgcdc/pg_type_map.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "types/datetime.h"
#include "types/decimal.h"

namespace lakepipe::pgcdc {
namespace {

// Built-in type oids (src/include/catalog/pg_type.dat).
constexpr uint32_t kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
                   kFloat8 = 701, kDate = 1082, kTimestamp = 1114, kTimestampTz = 1184, kNumeric = 1700;

DataType Scalar(uint32_t oid, int32_t typmod) {
  switch (oid) {
    case kBool: return DataType::Boolean();
    case kBytea: return DataType::Binary();
    case kInt2: return DataType::Short();
    case kInt4: return DataType::Int();
    case kInt8:
    case kOid: return DataType::Long();
    case kFloat4: return DataType::Float();
    case kFloat8: return DataType::Double();
    case kDate: return DataType::Date();
    case kTimestamp: return DataType::TimestampNtz();
    case kTimestampTz: return DataType::Timestamp();
    case kNumeric: {
      // typmod = ((precision << 16) | scale) + 4; -1 when unconstrained.
      if (typmod < 4) return DataType::String();
      int precision = ((typmod - 4) >> 16) & 0xffff;
      int scale = (typmod - 4) & 0xffff;
      if (precision < 1 || precision > 38 || scale > precision) return DataType::String();
      return DataType::Decimal(precision, scale);
    }
    default: return DataType::String();
  }
}

Status Bad(std::string_view text, const DataType& type, const std::string& why = "") {
  std::string shown(text.substr(0, 80));
  return Status::InvalidArgument("'" + shown + "' is not a " + type.ToString() + (why.empty() ? "" : " (" + why + ")"));
}

template <typename T>
Result<T> ParseInt(std::string_view text, const DataType& type) {
  T v{};
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return Bad(text, type);
  return v;
}

// Splits a one-dimensional array literal into element texts (nullopt for NULL).
Result<std::vector<std::optional<std::string>>> SplitArray(std::string_view text, const DataType& type) {
  std::vector<std::optional<std::string>> out;
  // A lower bound decoration ("[0:2]={...}") or nesting is refused.
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return Bad(text, type, "not an array literal");
  size_t i = 1, end = text.size() - 1;
  if (i == end) return out;
  while (i <= end) {
    std::string elem;
    bool quoted = false;
    if (text[i] == '{') return Bad(text, type, "multi-dimensional arrays are not mapped");
    if (text[i] == '"') {
      quoted = true;
      ++i;
      while (i < end && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < end) ++i;
        elem += text[i++];
      }
      if (i >= end) return Bad(text, type, "unterminated quote");
      ++i;  // closing quote
    } else {
      while (i < end && text[i] != ',') {
        if (text[i] == '\\' && i + 1 < end) ++i;
        elem += text[i++];
      }
    }
    if (!quoted && elem == "NULL") out.push_back(std::nullopt);
    else out.push_back(std::move(elem));
    if (i == end) break;
    if (text[i] != ',') return Bad(text, type, "expected ','");
    ++i;
  }
  return out;
}

}  // namespace

DataType MapPgType(const PgColumnType& column) {
  if (column.element_oid != 0) {
    // The element's modifier is the array column's (numeric(10,2)[] has typmod of numeric(10,2)).
    return DataType::Array(Scalar(column.element_oid, column.type_modifier));
  }
  return Scalar(column.oid, column.type_modifier);
}

Result<Value> ParsePgText(std::string_view text, const DataType& type) {
  switch (type.id()) {
    case TypeId::kBoolean:
      if (text == "t" || text == "true") return Value::Bool(true);
      if (text == "f" || text == "false") return Value::Bool(false);
      return Bad(text, type);
    case TypeId::kShort: {
      LP_ASSIGN_OR_RETURN(int16_t v, ParseInt<int16_t>(text, type));
      return Value::Int(v, TypeId::kShort);
    }
    case TypeId::kInt: {
      LP_ASSIGN_OR_RETURN(int32_t v, ParseInt<int32_t>(text, type));
      return Value::Int(v, TypeId::kInt);
    }
    case TypeId::kLong: {
      LP_ASSIGN_OR_RETURN(int64_t v, ParseInt<int64_t>(text, type));
      return Value::Int(v, TypeId::kLong);
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double v;
      if (text == "NaN") v = std::nan("");
      else if (text == "Infinity") v = HUGE_VAL;
      else if (text == "-Infinity") v = -HUGE_VAL;
      else {
        std::string s(text);
        char* endp = nullptr;
        v = std::strtod(s.c_str(), &endp);
        if (s.empty() || endp != s.c_str() + s.size()) return Bad(text, type);
      }
      return Value::Double(v, type.id());
    }
    case TypeId::kDecimal: {
      auto v = ParseDecimal(text, type.precision(), type.scale());
      if (!v.ok()) return Bad(text, type);
      return Value::Decimal(*v, type.precision(), type.scale());
    }
    case TypeId::kString:
      return Value::String(std::string(text));
    case TypeId::kBinary: {
      if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
        return Bad(text, type, "bytea_output must be hex");
      std::string out;
      out.reserve((text.size() - 2) / 2);
      for (size_t i = 2; i + 1 < text.size(); i += 2) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + i + 2, v, 16);
        if (ec != std::errc() || p != text.data() + i + 2) return Bad(text, type);
        out.push_back(static_cast<char>(v));
      }
      return Value::Binary(std::move(out));
    }
    case TypeId::kDate: {
      auto d = ParseDate(text);
      if (!d.ok()) return Bad(text, type);
      return Value::Date(*d);
    }
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: {
      auto t = ParseTimestamp(text);
      if (!t.ok()) return Bad(text, type);
      return Value::Timestamp(*t, type.id() == TypeId::kTimestampNtz);
    }
    case TypeId::kArray: {
      LP_ASSIGN_OR_RETURN(auto elems, SplitArray(text, type));
      std::vector<Value> values;
      values.reserve(elems.size());
      for (const auto& e : elems) {
        if (!e) {
          values.push_back(Value::Null());
          continue;
        }
        LP_ASSIGN_OR_RETURN(Value v, ParsePgText(*e, type.element()));
        values.push_back(std::move(v));
      }
      return Value::Array(std::move(values));
    }
    default:
      return Bad(text, type, "no mapping");
  }
}

std::string UnescapeCopyField(std::string_view f) {
  if (f.find('\\') == std::string_view::npos) return std::string(f);
  std::string out;
  out.reserve(f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c != '\\' || i + 1 == f.size()) {
      out += c;
      continue;
    }
    char n = f[++i];
    switch (n) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        unsigned v = 0;
        int k = 0;
        while (k < 2 && i + 1 < f.size() && std::isxdigit(static_cast<unsigned char>(f[i + 1]))) {
          char h = f[++i];
          v = v * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10);
          ++k;
        }
        out += static_cast<char>(v);
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          unsigned v = static_cast<unsigned>(n - '0');
          for (int k = 0; k < 2 && i + 1 < f.size() && f[i + 1] >= '0' && f[i + 1] <= '7'; ++k)
            v = v * 8 + static_cast<unsigned>(f[++i] - '0');
          out += static_cast<char>(v);
        } else {
          out += n;
        }
    }
  }
  return out;
}

}  // namespace lakepipe::pgcdc
