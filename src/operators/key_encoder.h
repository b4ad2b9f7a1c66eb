// KeyEncoder: turns the values of some columns of a row into a byte string such that two
// rows get equal bytes exactly when their values are equal as grouping keys (Spark's
// rules: NULLs group together, -0.0 equals 0.0, all NaNs are one value). Used by hash
// aggregation, hash join and deduplication, and as the key of a persistent seen-set.
//
// The encoding: per column a tag byte (0 = NULL, 1 = value) then the value's fixed bytes,
// or for strings/binary a 4-byte length then the bytes. Nested values (struct, array, map)
// are encoded recursively (key_encoder.cc, AppendNested) so that SCD type 2 histories can
// keep them; they are still refused as grouping and join keys (CheckKeyType).
// Not thread-safe (holds a scratch buffer); one per operator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "types/column.h"

namespace lakepipe::operators {

class KeyEncoder {
 public:
  // InvalidArgument when a type cannot be a key (struct/array/map).
  static Status CheckKeyType(const DataType& type, const std::string& what);

  // Encodes row `row` of `columns` into `out` (cleared first).
  static void Encode(const std::vector<const Column*>& columns, int64_t row, std::string* out);
  // Encodes every row: keys[i] is a view into `arena` (valid until the next call). The keys
  // lie in the arena row after row from its start; the arena may be longer than they are.
  static void EncodeAll(const std::vector<const Column*>& columns, int64_t rows, std::string* arena,
                        std::vector<std::string_view>* keys);
  // Encodes rows [first_row, first_row + rows) the same way: keys[i] is row first_row + i.
  // A caller that works through a large batch a slice at a time keeps the arena small
  // enough to stay in the CPU's cache between encoding a key and using it.
  static void EncodeRows(const std::vector<const Column*>& columns, int64_t first_row, int64_t rows,
                         std::string* arena, std::vector<std::string_view>* keys);
  // Appends one column's value at `row` (tag + bytes) to `out`.
  static void AppendOne(const Column& column, int64_t row, std::string* out);
  // True when any of the key columns is NULL at `row` (join keys never match then).
  static bool AnyNull(const std::vector<const Column*>& columns, int64_t row);

  // The reverse, for state that keeps values as these bytes (SCD type 2 histories): the
  // length of the one value of `type` that `in` starts with, or Corruption when `in` is
  // too short. A decoded float keeps its normalisation (-0.0 is 0.0, one NaN).
  static Result<size_t> ValueLength(std::string_view in, const DataType& type);
  // Appends that value (exactly ValueLength bytes of `in`) to `column`.
  static Status DecodeOne(std::string_view in, Column* column);
};

// 64-bit hash of a key's bytes (not stable across versions; never persist it).
uint64_t HashKey(std::string_view key);

}  // namespace lakepipe::operators
