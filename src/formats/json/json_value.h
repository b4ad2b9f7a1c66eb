// JSON text held in a STRING value, for the SQL JSON functions (expr/json_functions.cc):
// from_json (text -> a typed value, with the JSON reader's conversion rules), get_json_object
// and Databricks' `raw:a.b[0]` paths (text -> the text at a path), schema_of_json and
// json_tuple.
//
// Paths (JsonPath) come in two spellings, parsed once at bind time:
//   get_json_object (Spark):   $ then .name | ['name'] | ["name"] | [n] | [*]   keys exact
//   `:` (Databricks):          name | `name` | ['name'] | [n] | [*], then .name | [..] ...
//                              bare and backticked names match case-insensitively (exact
//                              first), bracketed names exactly
// Extraction yields NULL for malformed JSON, a missing key, an index out of range and a
// JSON null; a string yields its unescaped text, anything else its minified JSON text.
//
// JsonTextParser holds simdjson's parser buffers: one per thread (per kernel call), not
// shared. ParseJsonPath and the free functions are pure.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "types/column.h"
#include "types/schema.h"

namespace lakepipe::json {

struct JsonPathStep {
  enum Kind { kKey, kIndex, kWildcard };
  Kind kind = kKey;
  std::string key;
  int64_t index = 0;
  bool case_insensitive = false;
};

struct JsonPath {
  std::vector<JsonPathStep> steps;
  bool has_wildcard = false;
  // Databricks' `:`: a path with [*] always gives a JSON array; Spark's get_json_object
  // gives the single match itself.
  bool wildcard_always_array = false;
};

enum class PathSyntax { kSpark, kDatabricks };
// InvalidArgument naming the offset of the problem.
Result<JsonPath> ParseJsonPath(std::string_view text, PathSyntax syntax);

enum class JsonFit {
  kOk,         // the whole value fits the type
  kMisfit,     // parsed, but parts do not fit (those parts are NULL); extra keys count too
  kMalformed,  // not JSON: nothing appended
};

class JsonTextParser {
 public:
  JsonTextParser();
  ~JsonTextParser();
  JsonTextParser(const JsonTextParser&) = delete;
  JsonTextParser& operator=(const JsonTextParser&) = delete;

  // Appends `text` converted to col->type() (the JSON reader's rules: docs/file-formats.md);
  // on kMalformed nothing is appended and the caller decides what the row becomes.
  JsonFit AppendAs(std::string_view text, Column* col);
  // Whether a key the struct lacks makes AppendAs report kMisfit (default true, as the
  // file readers rescue such records; from_json ignores unknown keys, as Spark does).
  void set_unknown_keys_misfit(bool misfit);
  // The text at `path` (see above); false for NULL.
  bool Extract(std::string_view text, const JsonPath& path, std::string* out);
  // The values of the top-level keys `keys` of a JSON object, as Extract gives them (one
  // entry per key; false where NULL). False when `text` is not a JSON object.
  bool TopLevelValues(std::string_view text, const std::vector<std::string>& keys,
                      std::vector<std::pair<bool, std::string>>* out);
  // Spark's schema_of_json: the type of the value, struct fields sorted by name, integers
  // bigint, other numbers double, nulls and empty arrays' elements string.
  Result<DataType> InferType(std::string_view text);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakepipe::json
