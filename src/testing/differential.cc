#include "testing/differential.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "testing/testing.h"

namespace lakepipe::testing {

std::string CanonicalNumber(const std::string& text) {
  if (text.empty()) return text;
  char* end = nullptr;
  double d = std::strtod(text.c_str(), &end);
  if (end != nullptr && *end == '\0') {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", d);
    return buf;
  }
  return text;
}

std::string CanonicalValue(const Value& v) {
  if (v.is_null()) return "NULL";
  if (v.id() == TypeId::kArray) {
    std::string s = "[";
    for (size_t i = 0; i < v.children().size(); ++i) s += (i ? "," : "") + CanonicalValue(v.children()[i]);
    return s + "]";
  }
  return CanonicalNumber(v.ToString());
}

std::string CanonicalJson(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "NULL";
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + CanonicalJson(v[i]);
    return s + "]";
  }
  if (v.is_string()) return CanonicalNumber(v.get<std::string>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return CanonicalNumber(v.dump());
}

std::vector<std::string> CanonicalRows(const std::vector<RecordBatch>& batches) {
  std::vector<std::string> rows;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string row;
      for (size_t c = 0; c < b.num_columns(); ++c) row += CanonicalValue(b.column(c).GetValue(r)) + "|";
      rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::string> DuckDBDifferential::Ours(const std::string& sql) const {
  auto result = ours_(sql);
  EXPECT_TRUE(result.ok()) << sql << "\n" << result.status().ToString();
  if (!result.ok()) return {};
  return CanonicalRows(*result);
}

std::vector<std::string> DuckDBDifferential::Duck(const std::string& sql) const {
  auto out = RunDuckDB(duck_prefix_ + sql);
  EXPECT_TRUE(out.ok()) << sql << "\n" << out.status().ToString();
  std::vector<std::string> rows;
  if (!out.ok()) return rows;
  std::istringstream in(*out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // Keep the column order of the SELECT: parse preserving insertion order.
    nlohmann::ordered_json row = nlohmann::ordered_json::parse(line);
    std::string text;
    for (auto it = row.begin(); it != row.end(); ++it) text += CanonicalJson(it.value()) + "|";
    rows.push_back(std::move(text));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

void DuckDBDifferential::ExpectCorpusEqual(const std::vector<DifferentialCase>& corpus) const {
  for (const auto& c : corpus) {
    SCOPED_TRACE(c.name);
    auto ours = Ours(c.ours);
    auto duck = Duck(c.duck.empty() ? c.ours : c.duck);
    EXPECT_FALSE(duck.empty()) << "the DuckDB side returned no rows: the case tests nothing";
    EXPECT_EQ(ours.size(), duck.size());
    EXPECT_EQ(ours, duck);
  }
}

}  // namespace lakepipe::testing
