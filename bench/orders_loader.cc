#include "orders_loader.h"

#include <charconv>
#include <fast_float/fast_float.h>

#include "common/fs.h"

#ifdef LAKEPIPE_BENCH_HAVE_CSV
#include "formats/csv/csv_reader.h"
#endif

namespace lakepipe::bench {

Schema OrdersSchema() {
  auto s = Schema::ParseDDL(
      "TransactionNo STRING, Date STRING, ProductNo STRING, ProductName STRING, "
      "Price DOUBLE, Quantity INT, CustomerNo STRING, Country STRING");
  return s.ok() ? *s : Schema();
}

#ifdef LAKEPIPE_BENCH_HAVE_CSV

const char* OrdersLoaderName() { return "lakepipe csv reader"; }

Result<std::vector<RecordBatch>> LoadOrdersCsv(const std::string& path, int64_t batch_rows) {
  csv::CsvOptions options;
  options.schema = OrdersSchema();
  options.rescued_data_column = "";  // DuckDB's table has no rescue column either
  options.batch_rows = batch_rows;
  LP_ASSIGN_OR_RETURN(auto reader, csv::CsvReader::Open(FileSystem::Default(), path, options));
  std::vector<RecordBatch> batches;
  csv::CsvBatch batch;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, reader->Next(&batch));
    if (!more) break;
    batches.push_back(std::move(batch.batch));
  }
  return batches;
}

#else

const char* OrdersLoaderName() { return "bench loader (lakepipe csv reader not built)"; }

namespace {

// Splits one line into at most 8 fields (RFC 4180 quoting), unescaping into `scratch`.
int SplitLine(std::string_view line, std::string_view fields[8], std::string scratch[8]) {
  int n = 0;
  size_t i = 0;
  while (n < 8) {
    if (i < line.size() && line[i] == '"') {
      std::string& s = scratch[n];
      s.clear();
      ++i;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            s += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        s += line[i++];
      }
      fields[n++] = s;
      while (i < line.size() && line[i] != ',') ++i;
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      fields[n++] = line.substr(i, end - i);
      i = end;
    }
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return n;
}

}  // namespace

Result<std::vector<RecordBatch>> LoadOrdersCsv(const std::string& path, int64_t batch_rows) {
  LP_ASSIGN_OR_RETURN(std::string text, FileSystem::Default()->ReadFile(path));
  const Schema schema = OrdersSchema();
  std::vector<RecordBatch> batches;
  std::vector<Column> cols;
  auto reset = [&] {
    cols.clear();
    for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  };
  reset();
  int64_t rows = 0;
  std::string_view fields[8];
  std::string scratch[8];
  size_t pos = text.find('\n');  // skip the header
  pos = pos == std::string::npos ? text.size() : pos + 1;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    int n = SplitLine(line, fields, scratch);
    for (int c = 0; c < 8; ++c) {
      std::string_view v = c < n ? fields[c] : std::string_view();
      if (c == 4) {
        double d;
        auto r = fast_float::from_chars(v.data(), v.data() + v.size(), d);
        if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) {
          cols[4].AppendNull();
        } else {
          cols[4].Append<double>(d);
        }
      } else if (c == 5) {
        int32_t q;
        auto r = std::from_chars(v.data(), v.data() + v.size(), q);
        if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) {
          cols[5].AppendNull();
        } else {
          cols[5].Append<int32_t>(q);
        }
      } else if (v.empty()) {
        cols[static_cast<size_t>(c)].AppendNull();
      } else {
        cols[static_cast<size_t>(c)].AppendString(v);
      }
    }
    if (++rows == batch_rows) {
      batches.push_back(RecordBatch::FromColumns(schema, std::move(cols)));
      reset();
      rows = 0;
    }
  }
  if (rows > 0) batches.push_back(RecordBatch::FromColumns(schema, std::move(cols)));
  return batches;
}

#endif

}  // namespace lakepipe::bench
