// PostgreSQL column types -> lakepipe (Delta) types, and PostgreSQL's text output of a
// value -> a lakepipe Value (docs/postgres-cdc.md, "Types").
//
// The mapping keeps values exact: numeric(p,s) with p <= 38 is decimal(p,s); numeric
// without a precision (or wider than 38) is STRING, as are uuid, json/jsonb, time,
// interval, enums and every type without a lakepipe counterpart; one-dimensional arrays
// of mapped types are arrays. Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::pgcdc {

// A column as the catalog describes it: the type's oid (a domain resolved to its base
// type), its modifier, and for an array type the element type's oid (0 otherwise).
struct PgColumnType {
  uint32_t oid = 0;
  int32_t type_modifier = -1;
  uint32_t element_oid = 0;
  std::string pg_name;  // format_type(), for messages and docs
};

DataType MapPgType(const PgColumnType& column);

// Parses PostgreSQL's text output of a value of `type` (as MapPgType made it): "t"/"f",
// numbers incl. NaN/Infinity for floats, ISO dates and timestamps with an offset, bytea
// hex ("\x0a0b"), array literals ("{1,2,NULL}", quoted elements). InvalidArgument when
// the text does not fit (numeric NaN, an infinite timestamp, a BC date, a
// multi-dimensional array): the caller keeps the text in `_rescued_data`.
Result<Value> ParsePgText(std::string_view text, const DataType& type);

// Undoes COPY's text-format escaping of one field (\\, \t, \n, \r, \b, \f, \v, octal,
// \xHH); "\N" is NULL and is handled by the caller.
std::string UnescapeCopyField(std::string_view field);

}  // namespace lakepipe::pgcdc
