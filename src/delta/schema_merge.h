// Struct fields added to a table's columns (Delta's schema evolution of nested fields:
// `mergeSchema`, or ALTER TABLE ADD COLUMNS (s.f ...)): which types only gain struct
// fields, the merged type, and reading a column of the narrower type as the wider one.
//
// Owns no state; the functions are pure and thread-safe.
#pragma once

#include "common/status.h"
#include "types/column.h"
#include "types/schema.h"

namespace lakepipe::delta {

// Whether `wider` is `narrower` with fields added to structs, at any depth through
// structs: every field of a narrower struct is in the wider one (by name, exact, the
// same way) and nothing else differs (nullability aside). Equal types gain nothing and
// give false. Arrays and maps must be equal.
bool GainsStructFields(const DataType& narrower, const DataType& wider);

// `table`'s type with the struct fields `data` adds appended after each struct's own,
// at any depth. Requires GainsStructFields(table, data) or equal types.
DataType MergeStructFields(const DataType& table, const DataType& data);

// `in` (a column of a narrower type, see GainsStructFields) as a column of `to`: the
// struct fields it lacks are NULL. `in` returned as is when the types are the same.
Result<Column> WidenStructColumn(const Column& in, const DataType& to);

}  // namespace lakepipe::delta
