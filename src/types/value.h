// Value: one datum of any lakepipe type, for the row-at-a-time paths (literals, statistics,
// partition values, tests, display). Hot paths use Column instead. Immutable value type;
// nested children are shared, so copies are cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "types/decimal.h"
#include "types/schema.h"

namespace lakepipe {

class Value {
 public:
  Value() = default;  // NULL
  static Value Null() { return Value(); }
  static Value Bool(bool v) { return Value(TypeId::kBoolean, v); }
  // Any integer type; `id` says which (kByte, kShort, kInt, kLong).
  static Value Int(int64_t v, TypeId id = TypeId::kLong) { return Value(id, v); }
  static Value Double(double v, TypeId id = TypeId::kDouble) { return Value(id, v); }
  static Value Decimal(int128_t unscaled, int precision, int scale);
  static Value String(std::string v) { return Value(TypeId::kString, std::move(v)); }
  static Value Binary(std::string v) { return Value(TypeId::kBinary, std::move(v)); }
  static Value Date(int32_t days) { return Value(TypeId::kDate, static_cast<int64_t>(days)); }
  static Value Timestamp(int64_t micros, bool ntz = false) {
    return Value(ntz ? TypeId::kTimestampNtz : TypeId::kTimestamp, micros);
  }
  static Value DayTimeInterval(int64_t micros) { return Value(TypeId::kDayTimeInterval, micros); }
  static Value YearMonthInterval(int64_t months) { return Value(TypeId::kYearMonthInterval, months); }
  static Value Struct(std::vector<Value> fields) { return Nested(TypeId::kStruct, std::move(fields)); }
  static Value Array(std::vector<Value> elements) { return Nested(TypeId::kArray, std::move(elements)); }
  // Keys and values interleaved: k0, v0, k1, v1, ...
  static Value Map(std::vector<Value> keys_and_values) {
    return Nested(TypeId::kMap, std::move(keys_and_values));
  }

  bool is_null() const { return std::holds_alternative<std::monostate>(v_); }
  TypeId id() const { return id_; }
  bool bool_value() const { return std::get<bool>(v_); }
  // Integers, dates (days), timestamps (micros) and intervals (micros or months).
  int64_t int_value() const { return std::get<int64_t>(v_); }
  double double_value() const { return std::get<double>(v_); }
  int128_t decimal_value() const { return std::get<int128_t>(v_); }
  int precision() const { return precision_; }
  int scale() const { return scale_; }
  const std::string& string_value() const { return std::get<std::string>(v_); }
  const std::vector<Value>& children() const { return *std::get<std::shared_ptr<const std::vector<Value>>>(v_); }

  // Numeric value as a double (integers, decimals, floats); 0 for others.
  double AsDouble() const;

  // Display text: NULL as "NULL"; dates "2019-12-09"; timestamps "2019-12-09 10:00:00";
  // decimals with their scale; nested values as Spark prints them ([1, 2], {a -> 1}).
  std::string ToString() const;

  // Total order within one type family (numbers compare across integer/float/decimal):
  // NULL first, NaN greater than every number. Returns <0, 0, >0.
  int Compare(const Value& other) const;
  bool operator==(const Value& other) const { return Compare(other) == 0 && is_null() == other.is_null(); }
  bool operator!=(const Value& other) const { return !(*this == other); }

 private:
  template <typename T>
  Value(TypeId id, T v) : id_(id), v_(std::move(v)) {}
  static Value Nested(TypeId id, std::vector<Value> children);

  TypeId id_ = TypeId::kNull;
  uint8_t precision_ = 0;
  uint8_t scale_ = 0;
  std::variant<std::monostate, bool, int64_t, double, int128_t, std::string,
               std::shared_ptr<const std::vector<Value>>>
      v_;
};

}  // namespace lakepipe
