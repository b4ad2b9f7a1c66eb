// Helpers for tests that run the built `lakepipe` binary (in the build folder the tests
// were built in; LAKEPIPE_BINARY_DIR overrides it). Test-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testing/testing.h"

namespace lakepipe {

inline std::string Binary() { return testing::BinaryDir() + "/lakepipe"; }

inline std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Runs lakepipe; fails the test when it exits non-zero.
inline std::string Lakepipe(const std::string& args) {
  auto r = testing::RunCommand(Binary() + " " + args);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : "";
}

// Runs lakepipe expecting failure; returns its stderr.
inline std::string LakepipeFails(const std::string& args) {
  auto r = testing::RunCommand(Binary() + " " + args);
  EXPECT_FALSE(r.ok()) << "expected failure: lakepipe " << args;
  if (r.ok()) return "";
  const std::string& m = r.status().message();
  size_t nl = m.find('\n');
  return nl == std::string::npos ? "" : m.substr(nl + 1);
}

inline void ExpectOneErrorLine(const std::string& stderr_text, const std::string& needle) {
  EXPECT_EQ(stderr_text.rfind("lakepipe: error: ", 0), 0u) << stderr_text;
  EXPECT_EQ(std::count(stderr_text.begin(), stderr_text.end(), '\n'), 1) << stderr_text;
  EXPECT_NE(stderr_text.find(needle), std::string::npos) << stderr_text;
}

inline std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> rows;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) rows.push_back(nlohmann::json::parse(text.substr(start, nl - start)));
    start = nl + 1;
  }
  return rows;
}

}  // namespace lakepipe
