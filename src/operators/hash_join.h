// HashJoin: inner and left outer equi-join on one or more keys, with an optional residual
// predicate. The right input is the build side (held in memory in a hash table keyed by
// the encoded key values); left batches are then probed one at a time, streaming.
// NULL keys never match (SQL `=`), so such left rows only appear in a LEFT join, padded
// with NULLs. Output columns: the left input's then the right input's.
//
// Call order: Make, Build(right batch) for every right batch, FinishBuild once, then
// Probe(left batch) for every left batch. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/key_table.h"
#include "types/batch.h"

namespace lakepipe::operators {

enum class JoinType { kInner, kLeft };

class HashJoin {
 public:
  // left_keys are bound against `left`, right_keys against `right` (pairwise: the planner
  // coerces them to common types; differing types are cast here). The residual, if any, is
  // bound against the output schema (left columns then right columns).
  static Result<std::unique_ptr<HashJoin>> Make(JoinType type, const Schema& left, const Schema& right,
                                                std::vector<expr::BoundExpr> left_keys,
                                                std::vector<expr::BoundExpr> right_keys,
                                                std::optional<expr::BoundExpr> residual);

  Status Build(const RecordBatch& right);
  Status FinishBuild();
  Result<RecordBatch> Probe(const RecordBatch& left);

  // Left fields then right fields; for a LEFT join the right fields become nullable.
  const Schema& output_schema() const { return output_schema_; }
  int64_t MemoryBytes() const;

 private:
  HashJoin() = default;
  JoinType type_ = JoinType::kInner;
  Schema left_schema_, right_schema_, output_schema_;
  std::vector<expr::BoundExpr> left_keys_, right_keys_;
  std::optional<expr::BoundExpr> residual_;
  std::vector<RecordBatch> build_batches_;
  RecordBatch build_;                 // all right rows, after FinishBuild
  KeyTable table_;                    // key -> id
  std::vector<int32_t> head_;         // id -> first build row
  std::vector<int32_t> next_;         // build row -> next build row with the same key, -1
  bool built_ = false;
};

}  // namespace lakepipe::operators
