// parquet::OpenBatchReader: a FileReader behind the BatchReader interface.
#include "formats/parquet/batch_reader.h"
#include "formats/parquet/parquet.h"

namespace lakepipe::parquet {
namespace {

class RowGroupReader final : public BatchReader {
 public:
  explicit RowGroupReader(std::unique_ptr<FileReader> file) : file_(std::move(file)) {}
  const Schema& schema() const override { return file_->schema(); }
  const Schema& data_schema() const override { return file_->schema(); }
  Result<bool> Next(ReadBatch* out) override {
    // Row groups of no rows are skipped: a batch returned always has rows, as the text readers'.
    while (next_ < file_->num_row_groups() && file_->row_group_num_rows(next_) == 0) ++next_;
    if (next_ >= file_->num_row_groups()) return false;
    LP_ASSIGN_OR_RETURN(out->batch, file_->ReadRowGroup(next_++, {}));
    out->line_numbers.clear();
    out->stats = ReadStats{};
    out->stats.rows = out->batch.num_rows();
    total_.Add(out->stats);
    return true;
  }
  const ReadStats& total_stats() const override { return total_; }

 private:
  std::unique_ptr<FileReader> file_;
  int next_ = 0;
  ReadStats total_;
};

}  // namespace

Result<std::unique_ptr<BatchReader>> OpenBatchReader(FileSystem* fs, const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto file, FileReader::Open(fs, path));
  return std::unique_ptr<BatchReader>(new RowGroupReader(std::move(file)));
}

}  // namespace lakepipe::parquet
