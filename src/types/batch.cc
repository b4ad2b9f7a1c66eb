#include "types/batch.h"

namespace lakepipe {

RecordBatch RecordBatch::FromColumns(Schema schema, std::vector<Column> columns) {
  int64_t rows = columns.empty() ? 0 : columns[0].size();
  std::vector<ColumnPtr> ptrs;
  ptrs.reserve(columns.size());
  for (auto& c : columns) ptrs.push_back(MakeColumn(std::move(c)));
  return RecordBatch(std::move(schema), std::move(ptrs), rows);
}

RecordBatch RecordBatch::Empty(const Schema& schema) {
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  return FromColumns(schema, std::move(cols));
}

const Column* RecordBatch::ColumnByName(std::string_view name) const {
  int i = schema_.FindField(name);
  return i < 0 ? nullptr : columns_[static_cast<size_t>(i)].get();
}

Status RecordBatch::Validate() const {
  if (columns_.size() != schema_.size()) {
    return Status::Internal("batch has " + std::to_string(columns_.size()) + " columns but its schema " +
                            std::to_string(schema_.size()));
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i]->size() != num_rows_) {
      return Status::Internal("column " + schema_.field(i).name + " has " +
                              std::to_string(columns_[i]->size()) + " rows, batch " +
                              std::to_string(num_rows_));
    }
    if (columns_[i]->type() != schema_.field(i).type) {
      return Status::Internal("column " + schema_.field(i).name + " is " +
                              columns_[i]->type().ToString() + " but its field says " +
                              schema_.field(i).type.ToString());
    }
  }
  return Status::OK();
}

std::vector<Value> RecordBatch::Row(int64_t i) const {
  std::vector<Value> row;
  row.reserve(columns_.size());
  for (const auto& c : columns_) row.push_back(c->GetValue(i));
  return row;
}

RecordBatch RecordBatch::Slice(int64_t offset, int64_t n) const {
  std::vector<ColumnPtr> cols;
  for (const auto& c : columns_) cols.push_back(MakeColumn(c->Slice(offset, n)));
  return RecordBatch(schema_, std::move(cols), n);
}

int64_t RecordBatch::MemoryBytes() const {
  int64_t bytes = 0;
  for (const auto& c : columns_) bytes += c->MemoryBytes();
  return bytes;
}

RecordBatch RecordBatch::Concat(const Schema& schema, const std::vector<RecordBatch>& batches) {
  if (batches.size() == 1) return batches[0];
  std::vector<Column> cols;
  int64_t total = 0;
  for (const auto& b : batches) total += b.num_rows();
  for (size_t c = 0; c < schema.size(); ++c) {
    Column col(schema.field(c).type);
    col.Reserve(total);
    if (col.type().is_binary_like()) {
      // The bytes too: growing them append by append copies a whole file's strings again
      // and again (a row-level change reads files of many row groups).
      size_t bytes = 0;
      for (const auto& b : batches) bytes += b.column(c).raw_data().size();
      col.raw_data().reserve(bytes);
    }
    for (const auto& b : batches) col.AppendRange(b.column(c), 0, b.num_rows());
    cols.push_back(std::move(col));
  }
  RecordBatch out = FromColumns(schema, std::move(cols));
  out.num_rows_ = total;
  return out;
}

}  // namespace lakepipe
