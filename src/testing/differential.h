// DuckDB differential testing: lakepipe's rows and DuckDB's rows for the same question, in
// one canonical text form, compared as multisets. Used by the query-level corpus tests
// (src/runtime/*_differential_test.cc, aggregate_query_test.cc): each sets up the same
// input on both sides (a pipeline table and a DuckDB view) and lists cases.
//
// Canonical form: one string per row, each value followed by "|"; NULL is "NULL"; numbers
// (and text that is a whole number) to 9 significant digits, so that the order of a
// floating-point sum does not matter; arrays as "[a,b]"; booleans "true"/"false".
//
// Test-only (lp_testing_differential). Thread-safety: functions are pure except that
// DuckDBDifferential runs node processes; call from the test thread.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "types/batch.h"
#include "types/value.h"

namespace lakepipe::testing {

std::string CanonicalNumber(const std::string& text);
std::string CanonicalValue(const Value& v);
std::string CanonicalJson(const nlohmann::ordered_json& v);
// lakepipe's rows, sorted.
std::vector<std::string> CanonicalRows(const std::vector<RecordBatch>& batches);

struct DifferentialCase {
  const char* name;
  std::string ours;  // lakepipe (Spark SQL)
  std::string duck;  // DuckDB, where its spelling differs; empty: the same text
};

class DuckDBDifferential {
 public:
  using QueryFn = std::function<Result<std::vector<RecordBatch>>(const std::string& sql)>;
  // `duck_prefix` runs before every DuckDB query (it defines the same input as views).
  DuckDBDifferential(QueryFn ours, std::string duck_prefix) : ours_(std::move(ours)), duck_prefix_(std::move(duck_prefix)) {}

  // Sorted canonical rows; a failing query fails the calling test and gives no rows.
  std::vector<std::string> Ours(const std::string& sql) const;
  std::vector<std::string> Duck(const std::string& sql) const;
  // Every case: DuckDB must return rows (else the case tests nothing) and lakepipe the same.
  void ExpectCorpusEqual(const std::vector<DifferentialCase>& corpus) const;

 private:
  QueryFn ours_;
  std::string duck_prefix_;
};

}  // namespace lakepipe::testing
