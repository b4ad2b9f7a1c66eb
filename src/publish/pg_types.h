// How Delta/Spark types and values become PostgreSQL columns and COPY text — the type
// mapping of docs/publish.md, in one place for CREATE TABLE, the schema check and COPY.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::publish {

// The PostgreSQL column type of a Delta type, spelled as PostgreSQL's format_type()
// prints it ("bigint", "numeric(10,2)", "timestamp with time zone", "jsonb"), so that an
// existing column can be compared with it. `void` columns are refused (NotSupported).
Result<std::string> PostgresType(const DataType& type);

// A published identifier: lower case (PostgreSQL folds unquoted names, so BI tools can
// write `SELECT country FROM revenue`), double-quoted for the SQL text.
std::string PgName(std::string_view name);
std::string QuoteIdent(std::string_view lowered_name);
std::string QuoteLiteral(std::string_view text);

// Appends `value` (of Delta type `type`) as one field of COPY's text format: \N for NULL,
// backslash escapes for tab, newline, carriage return and backslash. Nested values become
// JSON (jsonb), binary `\x` hex (bytea), timestamps ISO text ("+00" for timestamptz),
// floats in their shortest exact form, NaN/Infinity as PostgreSQL spells them.
void AppendCopyField(const Value& value, const DataType& type, std::string* out);

// A value as JSON text (for jsonb): numbers as numbers (NaN/Infinity as strings), dates and
// timestamps as ISO strings, binary as base64, structs as objects, maps as objects when
// their keys are strings (else as [{"key":..,"value":..}] arrays).
void AppendJson(const Value& value, const DataType& type, std::string* out);

}  // namespace lakepipe::publish
