// Sort (ORDER BY) and Limit/Offset.
//
// Sort buffers every pushed batch, then sorts once in Finish: multi-key, ASC/DESC, NULLS
// FIRST/LAST with Spark's defaults (ASC -> NULLS FIRST, DESC -> NULLS LAST); NaN sorts
// above every other double; strings by their UTF-8 bytes. Stable: ties keep input order.
// An optional limit keeps only the first rows of the result.
// Call order: Make, Push*, Finish once. Not thread-safe.
//
// Limit passes through the first `offset + limit` rows of a stream, dropping the first
// `offset`. Call Apply per batch in stream order; done() says no further rows can pass.
// Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "types/batch.h"

namespace lakepipe::operators {

struct SortKey {
  expr::BoundExpr expr;
  bool ascending = true;
  std::optional<bool> nulls_first;  // unset: Spark's default for the direction
};

// Compares rows a and b of one column whose values at a and b are both non-null: <0, 0,
// >0, in Sort's order (NaN above every double, strings by UTF-8 bytes). Shared with
// Window, which orders partitions the same way.
int CompareNonNull(const Column& c, int64_t a, int64_t b);

class Sort {
 public:
  static Result<std::unique_ptr<Sort>> Make(const Schema& input, std::vector<SortKey> keys,
                                            std::optional<int64_t> limit = std::nullopt);
  Status Push(const RecordBatch& batch);
  Result<std::vector<RecordBatch>> Finish();

 private:
  Sort() = default;
  Schema schema_;
  std::vector<SortKey> keys_;
  std::optional<int64_t> limit_;
  std::vector<RecordBatch> batches_;
};

class Limit {
 public:
  Limit(int64_t limit, int64_t offset = 0) : limit_(limit), offset_(offset) {}
  RecordBatch Apply(const RecordBatch& batch);
  bool done() const { return emitted_ >= limit_; }

 private:
  int64_t limit_;
  int64_t offset_;
  int64_t skipped_ = 0;
  int64_t emitted_ = 0;
};

}  // namespace lakepipe::operators
