#include "formats/csv/csv_writer.h"

#include <charconv>
#include <cmath>

#include "types/datetime.h"
#include "types/number_text.h"
#include "types/decimal.h"

namespace lakepipe::csv {
namespace {

void AppendField(std::string_view text, const CsvWriteOptions& o, std::string* out) {
  bool needs_quotes = text.empty();
  for (char c : text) {
    if (c == o.delimiter || c == o.quote || c == '\n' || c == '\r') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) {
    out->append(text);
    return;
  }
  out->push_back(o.quote);
  for (char c : text) {
    if (c == o.quote) out->push_back(o.quote);
    out->push_back(c);
  }
  out->push_back(o.quote);
}

}  // namespace

void AppendCsvValueText(const Column& col, int64_t i, std::string* out) {
  switch (col.type().id()) {
    case TypeId::kBoolean: out->append(col.Get<uint8_t>(i) ? "true" : "false"); return;
    case TypeId::kByte: out->append(std::to_string(col.Get<int8_t>(i))); return;
    case TypeId::kShort: out->append(std::to_string(col.Get<int16_t>(i))); return;
    case TypeId::kInt: {
      char buf[16];
      auto r = std::to_chars(buf, buf + sizeof buf, col.Get<int32_t>(i));
      out->append(buf, r.ptr);
      return;
    }
    case TypeId::kLong: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, col.Get<int64_t>(i));
      out->append(buf, r.ptr);
      return;
    }
    case TypeId::kFloat: AppendDoubleText(col.Get<float>(i), true, out); return;
    case TypeId::kDouble: AppendDoubleText(col.Get<double>(i), false, out); return;
    case TypeId::kDecimal: out->append(FormatDecimal(col.Get<int128_t>(i), col.type().scale())); return;
    case TypeId::kString:
    case TypeId::kBinary: out->append(col.GetString(i)); return;
    case TypeId::kDate: out->append(FormatDate(col.Get<int32_t>(i))); return;
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: out->append(FormatTimestamp(col.Get<int64_t>(i))); return;
    default: out->append(col.GetValue(i).ToString()); return;
  }
}

void AppendCsvHeader(const Schema& schema, const CsvWriteOptions& options, std::string* out) {
  for (size_t c = 0; c < schema.size(); ++c) {
    if (c > 0) out->push_back(options.delimiter);
    AppendField(schema.field(c).name, options, out);
  }
  out->append(options.line_end);
}

void AppendCsvRows(const RecordBatch& batch, const CsvWriteOptions& options, std::string* out) {
  std::string text;
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    for (size_t c = 0; c < batch.num_columns(); ++c) {
      if (c > 0) out->push_back(options.delimiter);
      const Column& col = batch.column(c);
      if (col.IsNull(r)) continue;
      text.clear();
      AppendCsvValueText(col, r, &text);
      AppendField(text, options, out);
    }
    out->append(options.line_end);
  }
}

Result<std::unique_ptr<CsvWriter>> CsvWriter::Open(FileSystem* fs, const std::string& path,
                                                   CsvWriteOptions options) {
  std::unique_ptr<CsvWriter> w(new CsvWriter());
  LP_ASSIGN_OR_RETURN(w->file_, fs->NewWritableFile(path, CreateMode::kTruncate));
  w->options_ = std::move(options);
  return w;
}

Status CsvWriter::Write(const RecordBatch& batch) {
  if (!wrote_header_ && options_.header) AppendCsvHeader(batch.schema(), options_, &buffer_);
  wrote_header_ = true;
  AppendCsvRows(batch, options_, &buffer_);
  if (buffer_.size() >= (4u << 20)) {
    LP_RETURN_IF_ERROR(file_->Append(buffer_));
    buffer_.clear();
  }
  return Status::OK();
}

Status CsvWriter::Close() {
  if (!buffer_.empty()) {
    LP_RETURN_IF_ERROR(file_->Append(buffer_));
    buffer_.clear();
  }
  LP_RETURN_IF_ERROR(file_->Sync());
  return file_->Close();
}

}  // namespace lakepipe::csv
