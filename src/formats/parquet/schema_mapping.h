// Parquet schema -> lakepipe Schema, and the plan for assembling records from levels.
//
// Owns the rules of apache/parquet-format LogicalTypes.md (logical types first, legacy
// converted types when absent; the backward-compatibility rules for LIST and MAP: 2-level
// lists, repeated fields without a LIST annotation, `array` / `<name>_tuple` element
// groups, MAP_KEY_VALUE, maps without values), mapped the way Spark maps them:
// INT96 and TIMESTAMP(*) -> timestamp (timestamp_ntz when not UTC-adjusted), UINT_8/16 ->
// int, UINT_32 -> bigint, UINT_64 -> decimal(20,0), FLOAT16 -> float, UUID -> string,
// binary without annotation -> binary. TIME and INTERVAL are refused with NotSupported
// (lakepipe has no such types). Pure functions over immutable data; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/parquet/metadata.h"
#include "types/schema.h"

namespace lakepipe::parquet {

// How a leaf's physical values become values of its logical type.
enum class Conversion : uint8_t {
  kCopy,             // same layout: boolean, int32->int/date, int64->bigint, float, double
  kInt32ToByte,
  kInt32ToShort,
  kUint32ToLong,
  kInt32ToDecimal,
  kInt64ToDecimal,
  kUint64ToDecimal,
  kMillisToMicros,   // INT64 TIMESTAMP(MILLIS)
  kNanosToMicros,    // INT64 TIMESTAMP(NANOS), floor division
  kInt96ToMicros,    // Julian day + nanoseconds of the day
  kBytes,            // BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY -> string or binary
  kBigEndianDecimal, // BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY two's complement, big-endian
  kFloat16ToFloat,
  kUuidToString,     // 16 bytes -> "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  kAllNull,          // LogicalType UNKNOWN: always null (void)
};

// One leaf column of the file, in column-chunk order.
struct LeafColumn {
  std::vector<std::string> path;  // names from the top, as ColumnMetaData.path_in_schema
  PhysicalType physical = PhysicalType::kInt32;
  int32_t type_length = 0;        // FIXED_LEN_BYTE_ARRAY width
  int16_t max_def = 0;
  int16_t max_rep = 0;
  DataType type;                  // logical type of the values
  Conversion conversion = Conversion::kCopy;
  // Physical values compare in signed order with the deprecated Statistics.min/max and
  // TypeDefined order coincides with it (no unsigned, no byte arrays, no INT96).
  bool signed_stats_ok = false;
  std::string PathString() const;
};

// A node of the assembly plan; mirrors the lakepipe type tree.
struct AssemblyNode {
  enum class Kind : uint8_t { kLeaf, kStruct, kList, kMap };
  Kind kind = Kind::kLeaf;
  DataType type;
  // The node holds a (non-null) value where the definition level is >= def_level.
  int16_t def_level = 0;
  // kList / kMap: the repeated field's repetition level (a new element starts where the
  // repetition level equals it) and definition level (the list has an element where the
  // definition level is >= it).
  int16_t rep_level = 0;
  int16_t element_def_level = 0;
  int leaf = -1;                  // kLeaf: index into FileSchema::leaves
  int first_leaf = 0;             // leaves [first_leaf, first_leaf + num_leaves) lie below
  int num_leaves = 0;
  bool value_missing = false;     // kMap without a value field: values are all null
  std::vector<AssemblyNode> children;  // struct fields; list: element; map: key, value
};

struct FileSchema {
  Schema schema;
  std::vector<AssemblyNode> fields;  // one per top-level field of `schema`
  std::vector<LeafColumn> leaves;
};

// Maps the flattened schema of a footer. `file` names the file in errors.
Result<FileSchema> MapSchema(const std::vector<SchemaElement>& elements, const std::string& file);

}  // namespace lakepipe::parquet
