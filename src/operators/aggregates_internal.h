// Internal to operators/aggregates_*.cc: helpers shared by the accumulator families and
// the factory of each family (aggregate_functions.cc maps names to them).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "operators/aggregate_functions.h"

namespace lakepipe::operators::internal {

// Reads any integer-like column value as int64.
int64_t IntAt(const Column& c, int64_t i);

// Orders two non-null values of the same primitive type as Spark does (NaN above every
// other double, strings and binaries by bytes): <0, 0, >0.
int CompareRows(const Column& a, int64_t i, const Column& b, int64_t j);

// One optional value per group, of a primitive type: "no value", NULL, or a value.
class GroupValues {
 public:
  explicit GroupValues(DataType type);
  void Resize(int32_t groups);
  bool has(size_t k) const { return state_[k] != 0; }
  bool is_null(size_t k) const { return state_[k] == 1; }
  // Stores row `row` of `c` (possibly NULL) as group k's value.
  void Set(size_t k, const Column& c, int64_t row);
  // Compares group k's (non-null) value with c[row] (non-null).
  int Compare(size_t k, const Column& c, int64_t row) const;
  // Appends group k's value, or NULL when it has none.
  void AppendTo(size_t k, Column* out) const;
  const DataType& type() const { return type_; }
  int64_t MemoryBytes() const;

 private:
  DataType type_;
  int width_;
  std::vector<uint8_t> state_;  // 0 none, 1 null, 2 value
  std::vector<uint8_t> fixed_;
  std::vector<std::string> strings_;
};

// A list of values per group in arrival order (collect_list, percentile states): the
// values in one column with their group ids, grouped at Finish/Export with a stable sort.
class GroupLists {
 public:
  explicit GroupLists(DataType type) : type_(type), values_(type) {}
  void Add(const Column& c, int64_t row, int32_t group) {
    values_.AppendRange(c, row, 1);
    groups_.push_back(group);
  }
  // Row indexes into values() per group [0, groups), each in arrival order.
  std::vector<std::vector<int32_t>> ByGroup(int32_t groups) const;
  // An array<type> column with one row per group.
  Column ToArrays(int32_t groups) const;
  // Adds the elements of the array rows of `arrays` (row i into groups[i]).
  void AddArrays(const Column& arrays, const std::vector<int32_t>& groups, int64_t n);
  const Column& values() const { return values_; }
  int64_t MemoryBytes() const { return values_.MemoryBytes() + static_cast<int64_t>(groups_.size() * 4); }

 private:
  DataType type_;
  Column values_;
  std::vector<int32_t> groups_;
};

// Family factories (one per aggregates_*.cc).
Result<std::unique_ptr<Accumulator>> MakeBasic(const expr::BoundExpr& call);        // count, sum, avg, min, max, count_if
Result<std::unique_ptr<Accumulator>> MakePositional(const expr::BoundExpr& call);   // first, last, any_value, max_by, min_by, collect_*
Result<std::unique_ptr<Accumulator>> MakeStatistical(const expr::BoundExpr& call);  // stddev/variance, percentile, approx_*

}  // namespace lakepipe::operators::internal
