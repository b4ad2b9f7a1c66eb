// Test support shared by every module's tests: temporary folders, the shared test data,
// and DuckDB (from npm) as an independent reader. Test-only; not linked into lakepipe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace lakepipe::testing {

// A fresh directory under $TMPDIR, removed (with its contents) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The repository's top folder (tests run with it as working directory).
std::string SourceDir();
// The build folder (where the `lakepipe` binary is).
std::string BinaryDir();

// ../shared/testdata, or $LAKEPIPE_TESTDATA; empty when absent. Tests that need it call
// GTEST_SKIP() with a message saying the folder is missing.
std::string TestdataDir();

// Runs `sql` in DuckDB (node, @duckdb/node-api from node_modules) and returns the result
// as JSON lines, one object per row, values rendered by DuckDB's JSON conversion.
// NotFound when node or the package is not installed (run `npm ci`).
Result<std::string> RunDuckDB(const std::string& sql);
// RunDuckDB's rows, parsed; a failure fails the calling test (and gives no rows).
std::vector<nlohmann::json> DuckDBRows(const std::string& sql);

// Runs a shell command, returning its stdout; a non-zero exit is an error with stderr.
Result<std::string> RunCommand(const std::string& command);

}  // namespace lakepipe::testing
