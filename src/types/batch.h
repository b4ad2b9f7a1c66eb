// RecordBatch: a schema and one column per field, all of num_rows() rows; the unit that
// flows between readers, operators and writers. Columns are shared (ColumnPtr), so
// projecting or renaming a batch copies no data. Treat a batch as immutable once built.
#pragma once

#include <string>
#include <vector>

#include "types/column.h"
#include "types/schema.h"

namespace lakepipe {

class RecordBatch {
 public:
  RecordBatch() = default;
  RecordBatch(Schema schema, std::vector<ColumnPtr> columns, int64_t num_rows)
      : schema_(std::move(schema)), columns_(std::move(columns)), num_rows_(num_rows) {}
  // Builds a batch from columns, taking num_rows from the first column (0 if none).
  static RecordBatch FromColumns(Schema schema, std::vector<Column> columns);
  // An empty batch (0 rows) with one empty column per field.
  static RecordBatch Empty(const Schema& schema);

  const Schema& schema() const { return schema_; }
  int64_t num_rows() const { return num_rows_; }
  size_t num_columns() const { return columns_.size(); }
  const Column& column(size_t i) const { return *columns_[i]; }
  const ColumnPtr& column_ptr(size_t i) const { return columns_[i]; }
  const std::vector<ColumnPtr>& columns() const { return columns_; }
  // The column named `name` (Spark's case-insensitive rule), or nullptr.
  const Column* ColumnByName(std::string_view name) const;

  // Checks that every column has num_rows() rows and the type its field says.
  Status Validate() const;
  // Row i as values (slow; for tests and display).
  std::vector<Value> Row(int64_t i) const;
  RecordBatch Slice(int64_t offset, int64_t n) const;
  int64_t MemoryBytes() const;

  // Concatenates batches of the same schema.
  static RecordBatch Concat(const Schema& schema, const std::vector<RecordBatch>& batches);

 private:
  Schema schema_;
  std::vector<ColumnPtr> columns_;
  int64_t num_rows_ = 0;
};

}  // namespace lakepipe
