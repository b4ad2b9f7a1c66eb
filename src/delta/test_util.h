// Test helpers for tests that look at a Delta table's history (delta/, runtime/, jobs/
// tests). Test-only: included by *_test.cc files.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "delta/table.h"

namespace lakepipe::delta::test {

// The schema `id BIGINT` and a batch of its ids [from, to): the rows most table tests write.
inline Schema IdSchema() { return *Schema::ParseDDL("id BIGINT"); }
inline RecordBatch Ids(int64_t from, int64_t to) {
  Column c(DataType::Long());
  for (int64_t i = from; i < to; ++i) c.Append<int64_t>(i);
  std::vector<Column> cols;
  cols.push_back(std::move(c));
  return RecordBatch::FromColumns(IdSchema(), std::move(cols));
}

// How many commits of the table at `table_path` have the operation `operation` ("WRITE",
// "OPTIMIZE", "VACUUM END", ...); -1 when the table or its history cannot be read, so that
// an expectation of a count fails rather than passing on zero.
inline int CountCommits(const std::string& table_path, const std::string& operation) {
  auto table = DeltaTable::Open(table_path);
  if (!table.ok()) return -1;
  auto history = (*table)->History();
  if (!history.ok()) return -1;
  int n = 0;
  for (const auto& h : *history) n += h.operation == operation;
  return n;
}

}  // namespace lakepipe::delta::test
