#include "operators/selection.h"

#include <algorithm>

#include "operators/filter.h"

namespace lakepipe::operators {

SelectedBatch::SelectedBatch(RecordBatch b, std::vector<int32_t> selected) : batch(std::move(b)) {
  // Every row selected is kept as "all", so consumers take the no-copy path.
  if (static_cast<int64_t>(selected.size()) != batch.num_rows()) rows = std::move(selected);
}

RecordBatch SelectedBatch::Materialize() const {
  if (!rows) return batch;
  return TakeRows(batch, *rows);
}

void SelectedBatch::CompactIfSparse() {
  if (rows && static_cast<int64_t>(rows->size()) * 4 < batch.num_rows() * 3) *this = SelectedBatch(Materialize());
}

SelectedBatch SelectedBatch::Relabel(const Schema& schema) const {
  SelectedBatch out;
  out.batch = RecordBatch(schema, batch.columns(), batch.num_rows());
  out.rows = rows;
  return out;
}

std::vector<int32_t> IntersectRows(const std::vector<int32_t>& selected, const std::vector<int32_t>& subset) {
  std::vector<int32_t> out;
  out.reserve(std::min(selected.size(), subset.size()));
  size_t i = 0, j = 0;
  while (i < selected.size() && j < subset.size()) {
    if (selected[i] < subset[j]) {
      ++i;
    } else if (subset[j] < selected[i]) {
      ++j;
    } else {
      out.push_back(selected[i]);
      ++i;
      ++j;
    }
  }
  return out;
}

int64_t CountSelectedRows(const std::vector<SelectedBatch>& batches) {
  int64_t n = 0;
  for (const auto& b : batches) n += b.num_rows();
  return n;
}

}  // namespace lakepipe::operators
