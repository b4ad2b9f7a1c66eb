#include "testing/testing.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/fs.h"

namespace lakepipe::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/lakepipe-test-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  path_ = made ? std::string(made) : std::string();
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

std::string SourceDir() {
  const char* dir = std::getenv("LAKEPIPE_SOURCE_DIR");
  return dir ? std::string(dir) : std::string(LAKEPIPE_DEFAULT_SOURCE_DIR);
}

std::string BinaryDir() {
  const char* dir = std::getenv("LAKEPIPE_BINARY_DIR");
  return dir ? std::string(dir) : std::string(LAKEPIPE_DEFAULT_BINARY_DIR);
}

std::string TestdataDir() {
  if (const char* env = std::getenv("LAKEPIPE_TESTDATA")) return env;
  std::string dir = SourceDir() + "/../shared/testdata";
  if (std::filesystem::is_directory(dir)) return std::filesystem::canonical(dir).string();
  return "";
}

std::vector<nlohmann::json> DuckDBRows(const std::string& sql) {
  auto out = RunDuckDB(sql);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  std::vector<nlohmann::json> rows;
  if (!out.ok()) return rows;
  std::istringstream in(*out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

Result<std::string> RunCommand(const std::string& command) {
  std::string err_file = "/tmp/lakepipe-cmd-" + std::to_string(::getpid()) + ".err";
  std::string full = command + " 2>" + err_file;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (pipe == nullptr) return Status::IOError("cannot run: " + command);
  std::string out;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int rc = ::pclose(pipe);
  std::ifstream err_in(err_file);
  std::stringstream err;
  err << err_in.rdbuf();
  std::remove(err_file.c_str());
  if (rc != 0) {
    return Status::IOError("command failed (exit " + std::to_string(WEXITSTATUS(rc)) +
                           "): " + command + "\n" + err.str());
  }
  return out;
}

Result<std::string> RunDuckDB(const std::string& sql) {
  std::string script = SourceDir() + "/tests/duckdb/query.mjs";
  if (!std::filesystem::exists(SourceDir() + "/node_modules/@duckdb/node-api")) {
    return Status::NotFound("node_modules/@duckdb/node-api is missing: run `npm ci`");
  }
  // The SQL travels through a file so that no shell quoting can alter it.
  std::string sql_file = "/tmp/lakepipe-duckdb-" + std::to_string(::getpid()) + ".sql";
  LP_RETURN_IF_ERROR(FileSystem::Default()->WriteFile(sql_file, sql));
  auto out = RunCommand("node " + script + " " + sql_file);
  std::remove(sql_file.c_str());
  return out;
}

}  // namespace lakepipe::testing
