// SelectedBatch: a batch and which of its rows are meant, so that operators that drop rows
// (DISTINCT, filters, expectations) can hand their result on without copying the batch:
// the kept rows are copied once, by Materialize, where a consumer needs them dense, and
// not at all when every row survives (docs/execution.md, "Selections").
//
// An operator may evaluate expressions over the whole batch, unselected rows included,
// only where that cannot change the result: EvaluateOverSelection (below) does so and, when
// the evaluation fails, evaluates again over the selected rows alone, so an error raised
// by a row that was dropped never surfaces.
//
// A SelectedBatch is a value: the batch's columns are shared (immutable), the row list is
// its own. Not synchronised; hand it between threads as a whole.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::operators {

struct SelectedBatch {
  RecordBatch batch;
  // Ascending indexes into `batch` of the rows meant; nullopt means every row.
  std::optional<std::vector<int32_t>> rows;

  SelectedBatch() = default;
  explicit SelectedBatch(RecordBatch all) : batch(std::move(all)) {}
  SelectedBatch(RecordBatch b, std::vector<int32_t> selected);

  bool all() const { return !rows.has_value(); }
  int64_t num_rows() const { return rows ? static_cast<int64_t>(rows->size()) : batch.num_rows(); }
  // The selected rows as a dense batch: the batch itself when every row is selected, else
  // one gather per column.
  RecordBatch Materialize() const;
  // Makes the batch dense (every row selected) when the selection keeps less than 3/4 of
  // it: evaluating expressions over many dropped rows would then cost more than one copy.
  void CompactIfSparse();
  // The same rows under another schema with the same columns (an alias, a rename).
  SelectedBatch Relabel(const Schema& schema) const;
};

// Rows of `selected` (ascending indexes) that are also in `subset` (ascending indexes into
// the same batch): the intersection, ascending.
std::vector<int32_t> IntersectRows(const std::vector<int32_t>& selected, const std::vector<int32_t>& subset);

// Calls eval(batch) over the whole batch of `in` (unselected rows are evaluated too, which
// costs little when few rows were dropped; a sparse selection is compacted first). When that fails and `in` has a selection, the
// rows are materialised (*in becomes the dense batch, every row selected) and eval is
// called again, so the status returned is the one the selected rows alone give.
template <typename T>
Result<T> EvaluateOverSelection(SelectedBatch* in, const std::function<Result<T>(const RecordBatch&)>& eval) {
  in->CompactIfSparse();
  Result<T> out = eval(in->batch);
  if (out.ok() || in->all()) return out;
  *in = SelectedBatch(in->Materialize());
  return eval(in->batch);
}

// Counts the rows of a list of selected batches.
int64_t CountSelectedRows(const std::vector<SelectedBatch>& batches);

}  // namespace lakepipe::operators
