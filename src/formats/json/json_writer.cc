#include "formats/json/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "formats/csv/csv_reader.h"  // AppendJsonString
#include "types/datetime.h"
#include "types/number_text.h"
#include "types/decimal.h"

namespace lakepipe::json {
namespace {

void AppendNumber(double d, bool is_float, std::string* out) {
  // JSON has no NaN or infinities: Spark writes them as strings.
  bool quoted = std::isnan(d) || std::isinf(d);
  if (quoted) out->push_back('"');
  AppendDoubleText(d, is_float, out);
  if (quoted) out->push_back('"');
}

void AppendTimestamp(int64_t micros, bool utc, std::string* out) {
  int64_t days = FloorDiv(micros, kMicrosPerDay);
  int64_t in_day = micros - days * kMicrosPerDay;
  int64_t secs = in_day / kMicrosPerSecond;
  int64_t frac = in_day % kMicrosPerSecond;
  char buf[64];
  int n;
  if (frac % 1000 == 0) {
    n = std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d.%03d", static_cast<int>(secs / 3600),
                      static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                      static_cast<int>(frac / 1000));
  } else {
    n = std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d.%06d", static_cast<int>(secs / 3600),
                      static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                      static_cast<int>(frac));
  }
  out->push_back('"');
  out->append(FormatDate(static_cast<int32_t>(days)));
  out->append(buf, static_cast<size_t>(n));
  if (utc) out->push_back('Z');
  out->push_back('"');
}

void AppendBase64(std::string_view in, std::string* out) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->push_back('"');
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out->push_back(k[v >> 18]);
    out->push_back(k[(v >> 12) & 63]);
    out->push_back(k[(v >> 6) & 63]);
    out->push_back(k[v & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out->push_back(k[v >> 18]);
    out->push_back(k[(v >> 12) & 63]);
    out->append("==");
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out->push_back(k[v >> 18]);
    out->push_back(k[(v >> 12) & 63]);
    out->push_back(k[(v >> 6) & 63]);
    out->push_back('=');
  }
  out->push_back('"');
}

void AppendObject(const std::vector<Field>& fields, const std::vector<const Column*>& cols,
                  int64_t row, const JsonWriteOptions& o, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (cols[i]->IsNull(row) && o.ignore_null_fields) continue;
    if (!first) out->push_back(',');
    first = false;
    csv::AppendJsonString(fields[i].name, out);
    out->push_back(':');
    AppendJsonValue(*cols[i], row, o, out);
  }
  out->push_back('}');
}

}  // namespace

void AppendJsonValue(const Column& col, int64_t i, const JsonWriteOptions& o, std::string* out) {
  if (col.IsNull(i)) {
    out->append("null");
    return;
  }
  switch (col.type().id()) {
    case TypeId::kNull: out->append("null"); return;
    case TypeId::kBoolean: out->append(col.Get<uint8_t>(i) ? "true" : "false"); return;
    case TypeId::kByte: out->append(std::to_string(col.Get<int8_t>(i))); return;
    case TypeId::kShort: out->append(std::to_string(col.Get<int16_t>(i))); return;
    case TypeId::kInt: out->append(std::to_string(col.Get<int32_t>(i))); return;
    case TypeId::kLong: out->append(std::to_string(col.Get<int64_t>(i))); return;
    case TypeId::kFloat: AppendNumber(col.Get<float>(i), true, out); return;
    case TypeId::kDouble: AppendNumber(col.Get<double>(i), false, out); return;
    case TypeId::kDecimal: out->append(FormatDecimal(col.Get<int128_t>(i), col.type().scale())); return;
    case TypeId::kString: csv::AppendJsonString(col.GetString(i), out); return;
    case TypeId::kBinary: AppendBase64(col.GetString(i), out); return;
    case TypeId::kDate:
      out->push_back('"');
      out->append(FormatDate(col.Get<int32_t>(i)));
      out->push_back('"');
      return;
    case TypeId::kTimestamp: AppendTimestamp(col.Get<int64_t>(i), true, out); return;
    case TypeId::kTimestampNtz: AppendTimestamp(col.Get<int64_t>(i), false, out); return;
    // Expression-only types (never a table column): their SQL text, as a JSON string.
    case TypeId::kDayTimeInterval:
    case TypeId::kYearMonthInterval: csv::AppendJsonString(col.GetValue(i).ToString(), out); return;
    case TypeId::kStruct: {
      std::vector<const Column*> children;
      for (size_t c = 0; c < col.num_children(); ++c) children.push_back(&col.child(c));
      AppendObject(col.type().fields(), children, i, o, out);
      return;
    }
    case TypeId::kArray: {
      out->push_back('[');
      for (int64_t k = col.offsets()[i]; k < col.offsets()[i + 1]; ++k) {
        if (k > col.offsets()[i]) out->push_back(',');
        AppendJsonValue(col.child(0), k, o, out);
      }
      out->push_back(']');
      return;
    }
    case TypeId::kMap: {
      out->push_back('{');
      std::string key;
      for (int64_t k = col.offsets()[i]; k < col.offsets()[i + 1]; ++k) {
        if (k > col.offsets()[i]) out->push_back(',');
        const Column& keys = col.child(0);
        key = keys.type().is_binary_like() ? std::string(keys.GetString(k)) : keys.GetValue(k).ToString();
        csv::AppendJsonString(key, out);
        out->push_back(':');
        AppendJsonValue(col.child(1), k, o, out);
      }
      out->push_back('}');
      return;
    }
  }
}

void AppendJsonLines(const RecordBatch& batch, const JsonWriteOptions& options, std::string* out) {
  std::vector<const Column*> cols;
  for (size_t c = 0; c < batch.num_columns(); ++c) cols.push_back(&batch.column(c));
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    AppendObject(batch.schema().fields(), cols, r, options, out);
    out->push_back('\n');
  }
}

Result<std::unique_ptr<JsonWriter>> JsonWriter::Open(FileSystem* fs, const std::string& path,
                                                     JsonWriteOptions options) {
  std::unique_ptr<JsonWriter> w(new JsonWriter());
  LP_ASSIGN_OR_RETURN(w->file_, fs->NewWritableFile(path, CreateMode::kTruncate));
  w->options_ = options;
  return w;
}

Status JsonWriter::Write(const RecordBatch& batch) {
  AppendJsonLines(batch, options_, &buffer_);
  if (buffer_.size() >= (4u << 20)) {
    LP_RETURN_IF_ERROR(file_->Append(buffer_));
    buffer_.clear();
  }
  return Status::OK();
}

Status JsonWriter::Close() {
  if (!buffer_.empty()) {
    LP_RETURN_IF_ERROR(file_->Append(buffer_));
    buffer_.clear();
  }
  LP_RETURN_IF_ERROR(file_->Sync());
  return file_->Close();
}

}  // namespace lakepipe::json
