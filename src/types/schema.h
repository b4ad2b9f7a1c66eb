// DataType, Field and Schema: the logical types of Delta Lake / Spark SQL.
//
// Primitive types: boolean, byte, short, int, bigint, float, double, decimal(p,s), string,
// binary, date, timestamp (UTC, microseconds), timestamp_ntz; nested: struct, array, map;
// `void` (the type of an untyped NULL literal); and, in expressions only, the intervals
// `interval day to second` and `interval year to month`. Schemas convert to and from Spark's
// JSON schema format (Delta's `schemaString`) and from the SQL DDL used by `--schema` and
// `read_files(schema => ...)`. Immutable value types; safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakepipe {

enum class TypeId : uint8_t {
  kNull,  // Spark's "void"
  kBoolean,
  kByte,
  kShort,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kDecimal,
  kString,
  kBinary,
  kDate,          // days since 1970-01-01, int32
  kTimestamp,     // microseconds since the epoch, UTC, int64
  kTimestampNtz,  // microseconds, no time zone, int64
  kStruct,
  kArray,
  kMap,
  // Expression-only types (types/interval.h): never a table column (Delta cannot store
  // them; resolve refuses such a column).
  kDayTimeInterval,    // microseconds, int64
  kYearMonthInterval,  // months, int32
};

struct Field;

class DataType {
 public:
  DataType();  // void
  explicit DataType(TypeId id);
  // Special members are defined below Field (which must be complete for them: clang
  // instantiates std::vector<Field>'s members where they are defined).
  DataType(const DataType&);
  DataType(DataType&&) noexcept;
  DataType& operator=(const DataType&);
  DataType& operator=(DataType&&) noexcept;
  ~DataType();

  static DataType Null() { return DataType(TypeId::kNull); }
  static DataType Boolean() { return DataType(TypeId::kBoolean); }
  static DataType Byte() { return DataType(TypeId::kByte); }
  static DataType Short() { return DataType(TypeId::kShort); }
  static DataType Int() { return DataType(TypeId::kInt); }
  static DataType Long() { return DataType(TypeId::kLong); }
  static DataType Float() { return DataType(TypeId::kFloat); }
  static DataType Double() { return DataType(TypeId::kDouble); }
  static DataType String() { return DataType(TypeId::kString); }
  static DataType Binary() { return DataType(TypeId::kBinary); }
  static DataType Date() { return DataType(TypeId::kDate); }
  static DataType Timestamp() { return DataType(TypeId::kTimestamp); }
  static DataType TimestampNtz() { return DataType(TypeId::kTimestampNtz); }
  // `days_only`: Spark's `interval day` (INTERVAL n DAY), which date arithmetic keeps a
  // date; otherwise `interval day to second`. Both are one type for equality.
  static DataType DayTimeInterval(bool days_only = false) {
    DataType t(TypeId::kDayTimeInterval);
    t.precision_ = days_only ? 1 : 0;
    return t;
  }
  static DataType YearMonthInterval() { return DataType(TypeId::kYearMonthInterval); }
  static DataType Decimal(int precision, int scale);
  static DataType Struct(std::vector<Field> fields);
  static DataType Array(DataType element, bool contains_null = true);
  static DataType Map(DataType key, DataType value, bool value_contains_null = true);

  TypeId id() const { return id_; }
  int precision() const { return precision_; }
  int scale() const { return scale_; }
  const std::vector<Field>& fields() const { return fields_; }  // struct
  const DataType& element() const { return children_[0]; }     // array
  const DataType& key() const { return children_[0]; }         // map
  const DataType& value() const { return children_[1]; }       // map
  // Array elements / map values may be null.
  bool contains_null() const { return contains_null_; }

  bool is_nested() const {
    return id_ == TypeId::kStruct || id_ == TypeId::kArray || id_ == TypeId::kMap;
  }
  bool is_integer() const {
    return id_ == TypeId::kByte || id_ == TypeId::kShort || id_ == TypeId::kInt ||
           id_ == TypeId::kLong;
  }
  bool is_floating() const { return id_ == TypeId::kFloat || id_ == TypeId::kDouble; }
  bool is_numeric() const { return is_integer() || is_floating() || id_ == TypeId::kDecimal; }
  bool is_binary_like() const { return id_ == TypeId::kString || id_ == TypeId::kBinary; }
  bool is_timestamp() const { return id_ == TypeId::kTimestamp || id_ == TypeId::kTimestampNtz; }
  bool interval_days_only() const { return id_ == TypeId::kDayTimeInterval && precision_ == 1; }
  bool is_interval() const { return id_ == TypeId::kDayTimeInterval || id_ == TypeId::kYearMonthInterval; }
  // Bytes per value in a Column's data buffer; 0 for string/binary/nested/void.
  int fixed_width() const;

  // SQL/DDL spelling: "int", "bigint", "decimal(10,2)", "array<string>",
  // "struct<a:int,b:string>", "map<string,bigint>".
  std::string ToString() const;
  // Spark's JSON name of a primitive type: "integer", "long", "decimal(10,2)", ...
  std::string SparkJsonName() const;

  bool operator==(const DataType& other) const;
  bool operator!=(const DataType& other) const { return !(*this == other); }

 private:
  TypeId id_ = TypeId::kNull;
  int precision_ = 0;
  int scale_ = 0;
  std::vector<Field> fields_;
  std::vector<DataType> children_;
  bool contains_null_ = true;
};

struct Field {
  std::string name;
  DataType type;
  bool nullable = true;
  std::string metadata = "{}";  // Spark field metadata, a JSON object, kept verbatim
  std::string comment;          // column comment (also stored in metadata by Spark)

  bool operator==(const Field& o) const {
    return name == o.name && type == o.type && nullable == o.nullable;
  }
};

// Defined here, where Field is complete (clang instantiates the member vectors eagerly).
inline DataType::DataType() = default;
inline DataType::DataType(TypeId id) : id_(id) {}
inline DataType::DataType(const DataType&) = default;
inline DataType::DataType(DataType&&) noexcept = default;
inline DataType& DataType::operator=(const DataType&) = default;
inline DataType& DataType::operator=(DataType&&) noexcept = default;
inline DataType::~DataType() = default;

class Schema {
 public:
  Schema() = default;
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  const std::vector<Field>& fields() const { return fields_; }
  std::vector<Field>& mutable_fields() { return fields_; }
  size_t size() const { return fields_.size(); }
  const Field& field(size_t i) const { return fields_[i]; }
  void AddField(Field f) { fields_.push_back(std::move(f)); }

  // Index of the field named `name`: an exact match first, then case-insensitive (Spark's
  // default resolution). -1 when absent.
  int FindField(std::string_view name) const;
  std::vector<std::string> names() const;

  // Spark's JSON schema: {"type":"struct","fields":[{"name":..,"type":..,"nullable":..,
  // "metadata":{}}]}.
  std::string ToSparkJson() const;
  static Result<Schema> FromSparkJson(std::string_view json);

  // "a INT, b STRING NOT NULL, c DECIMAL(10,2) COMMENT 'x', d ARRAY<INT>,
  //  e STRUCT<x: INT, y: STRING>, f MAP<STRING, BIGINT>". Type names follow Spark SQL
  // (INT/INTEGER, BIGINT/LONG, SMALLINT/SHORT, TINYINT/BYTE, FLOAT/REAL, DOUBLE,
  // DECIMAL/DEC/NUMERIC, STRING/VARCHAR(n)/CHAR(n), BINARY, BOOLEAN, DATE, TIMESTAMP,
  // TIMESTAMP_NTZ). Errors name the column and the character position.
  static Result<Schema> ParseDDL(std::string_view ddl);
  std::string ToDDL() const;

  bool operator==(const Schema& o) const { return fields_ == o.fields_; }
  bool operator!=(const Schema& o) const { return !(*this == o); }

 private:
  std::vector<Field> fields_;
};

// Whether two types have the same structure (ids, decimal precision/scale, struct field
// names) whatever their nullability flags (containsNull, valueContainsNull, nullable
// fields). Such types share one Column layout.
bool SameTypeIgnoringNullability(const DataType& a, const DataType& b);

// Parses one type in DDL spelling ("decimal(10,2)", "array<int>").
Result<DataType> ParseDataType(std::string_view text);

}  // namespace lakepipe
