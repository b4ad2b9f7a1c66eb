#include "types/value.h"

#include <cmath>
#include <cstdio>

#include "types/datetime.h"
#include "types/interval.h"
#include "types/number_text.h"

namespace lakepipe {

Value Value::Decimal(int128_t unscaled, int precision, int scale) {
  Value v(TypeId::kDecimal, unscaled);
  v.precision_ = static_cast<uint8_t>(precision);
  v.scale_ = static_cast<uint8_t>(scale);
  return v;
}

Value Value::Nested(TypeId id, std::vector<Value> children) {
  return Value(id, std::shared_ptr<const std::vector<Value>>(
                       std::make_shared<std::vector<Value>>(std::move(children))));
}

double Value::AsDouble() const {
  if (auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* b = std::get_if<bool>(&v_)) return *b ? 1 : 0;
  if (auto* x = std::get_if<int128_t>(&v_)) return static_cast<double>(*x) / std::pow(10.0, scale_);
  return 0;
}


std::string Value::ToString() const {
  if (is_null()) return "NULL";
  switch (id_) {
    case TypeId::kBoolean: return bool_value() ? "true" : "false";
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: return std::to_string(int_value());
    case TypeId::kFloat:
    case TypeId::kDouble: {
      std::string text;
      AppendDoubleText(double_value(), id_ == TypeId::kFloat, &text);
      return text;
    }
    case TypeId::kDecimal: return FormatDecimal(decimal_value(), scale_);
    case TypeId::kString:
    case TypeId::kBinary: return string_value();
    case TypeId::kDate: return FormatDate(static_cast<int32_t>(int_value()));
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return FormatTimestamp(int_value());
    case TypeId::kDayTimeInterval: return FormatDayTimeInterval(int_value());
    case TypeId::kYearMonthInterval: return FormatYearMonthInterval(int_value());
    case TypeId::kStruct:
    case TypeId::kArray: {
      std::string s = id_ == TypeId::kStruct ? "{" : "[";
      const auto& c = children();
      for (size_t i = 0; i < c.size(); ++i) {
        if (i) s += ", ";
        s += c[i].ToString();
      }
      return s + (id_ == TypeId::kStruct ? "}" : "]");
    }
    case TypeId::kMap: {
      std::string s = "{";
      const auto& c = children();
      for (size_t i = 0; i + 1 < c.size(); i += 2) {
        if (i) s += ", ";
        s += c[i].ToString() + " -> " + c[i + 1].ToString();
      }
      return s + "}";
    }
    case TypeId::kNull: return "NULL";
  }
  return "?";
}

int Value::Compare(const Value& o) const {
  if (is_null() || o.is_null()) return (is_null() ? 0 : 1) - (o.is_null() ? 0 : 1);
  // Integers (and dates, timestamps) compare exactly.
  if (auto* a = std::get_if<int64_t>(&v_)) {
    if (auto* b = std::get_if<int64_t>(&o.v_)) return *a < *b ? -1 : (*a > *b ? 1 : 0);
  }
  if (auto* a = std::get_if<int128_t>(&v_)) {
    if (auto* b = std::get_if<int128_t>(&o.v_)) {
      if (scale_ == o.scale_) return *a < *b ? -1 : (*a > *b ? 1 : 0);
    }
  }
  if (auto* a = std::get_if<bool>(&v_)) {
    if (auto* b = std::get_if<bool>(&o.v_)) return static_cast<int>(*a) - static_cast<int>(*b);
  }
  if (auto* a = std::get_if<std::string>(&v_)) {
    if (auto* b = std::get_if<std::string>(&o.v_)) {
      int c = a->compare(*b);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
  bool a_num = std::holds_alternative<int64_t>(v_) || std::holds_alternative<double>(v_) ||
               std::holds_alternative<int128_t>(v_);
  bool b_num = std::holds_alternative<int64_t>(o.v_) || std::holds_alternative<double>(o.v_) ||
               std::holds_alternative<int128_t>(o.v_);
  if (a_num && b_num) {
    double a = AsDouble(), b = o.AsDouble();
    bool an = std::isnan(a), bn = std::isnan(b);
    if (an || bn) return (an ? 1 : 0) - (bn ? 1 : 0);
    return a < b ? -1 : (a > b ? 1 : 0);
  }
  if (std::holds_alternative<std::shared_ptr<const std::vector<Value>>>(v_) &&
      std::holds_alternative<std::shared_ptr<const std::vector<Value>>>(o.v_)) {
    const auto& a = children();
    const auto& b = o.children();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      int c = a[i].Compare(b[i]);
      if (c != 0) return c;
    }
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
  }
  // Different families: order by type id so that the order is total.
  return static_cast<int>(id_) < static_cast<int>(o.id_) ? -1 : 1;
}

}  // namespace lakepipe
