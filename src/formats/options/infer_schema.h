// Schema inference for read_files(...) without `schema =>` (Auto Loader's rules) and
// schemaHints. docs/sql-reference.md ("read_files", "Schema inference") states the rules.
//
// Owns: sampling the files, merging the columns each file gives (first-seen order, types
// widened), the STRING-by-default rule (inferColumnTypes), and the hints' grammar and
// application. Not where the schema is kept (runtime/file_source_schema.h).
//
// Pure functions over the given files; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "formats/options/read_options.h"
#include "types/schema.h"

namespace lakepipe::formats {

// Auto Loader samples the first 50 GB or 1000 files it discovers; so does lakepipe.
struct InferenceSample {
  int64_t max_files = 1000;
  int64_t max_bytes = 50LL << 30;
};

// The data columns of `paths` (read in this order), each file read as settings.format
// says without a schema: JSON objects of each file's first `infer_rows` records, CSV
// headers and rows, Parquet footers. Columns are merged by name (case-insensitive) in
// first-seen order; a column whose files disagree takes the wider type (MergeInferredTypes).
// With settings.inference.infer_column_types false, every top-level CSV / JSON column is
// STRING. Errors: NotFound-like InvalidArgument when there is no file or no column.
Result<Schema> InferFilesSchema(FileSystem* fs, const std::vector<std::string>& paths,
                                const ReadFilesSettings& settings, const InferenceSample& sample = {});

// The type that holds values of both: the same type; int < bigint < double; date <
// timestamp; structs merged field by field (fields of both, in a's order then b's new
// ones); arrays by element; anything else STRING.
DataType MergeInferredTypes(const DataType& a, const DataType& b);

// One schemaHints entry: a column path (`a`, `b.c`, backquoted parts allowed) and a type.
struct SchemaHint {
  std::vector<std::string> path;
  DataType type;
};
// Parses 'a INT, b.c DATE, `x.y` STRING'. Errors name the entry.
Result<std::vector<SchemaHint>> ParseSchemaHints(const std::string& text);
// `schema` with each hint applied: the column (or nested struct field) takes the hinted
// type; one that does not exist is added (as Auto Loader adds hinted columns), with any
// missing parent structs. A path through a non-struct is InvalidArgument.
Result<Schema> ApplySchemaHints(Schema schema, const std::vector<SchemaHint>& hints);

}  // namespace lakepipe::formats
