// BatchReader: the one interface every file format reader implements (Arrow's
// RecordBatchReader is the model). A reader yields RecordBatches of a bounded number of
// rows until the input ends; the file source (runtime/file_source.cc), `lakepipe table
// write` and the tests run one read loop over it whatever the format.
//
// What it owns: nothing beyond the interface and the counters (ReadStats) that readers
// with rescue semantics (CSV, JSON) fill. A reader owns its input window and one batch.
//
// Call order: construct through the format's Open (csv::CsvReader::Open,
// json::JsonReader::Open, parquet::OpenBatchReader), then Next() until it returns false.
// One thread at a time per reader; different readers are independent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "types/batch.h"
#include "types/schema.h"

namespace lakepipe {

// Counters of one batch or of the whole read so far.
struct ReadStats {
  int64_t rows = 0;           // rows produced
  int64_t rescued_rows = 0;   // rows with a non-null _rescued_data (or that would have one)
  int64_t lines = 0;          // source lines consumed (including header and blank lines)
  std::vector<int64_t> first_bad_lines;  // line numbers of the first kMaxBadLines rescued rows
  static constexpr size_t kMaxBadLines = 10;
  // Fields the schema lacks, each once with the line it first appears on, when the reader
  // was asked to report them (json::JsonOptions::report_new_fields): top-level ones, and
  // keys a struct column lacks (through structs only), e.g. `post.device`.
  struct NewField {
    std::string name;               // the path as text: "device", "post.device"
    int64_t line = 0;
    std::vector<std::string> path;  // its parts: {"post", "device"}
  };
  std::vector<NewField> new_fields;

  void Add(const ReadStats& other) {
    rows += other.rows;
    rescued_rows += other.rescued_rows;
    lines += other.lines;
    for (int64_t l : other.first_bad_lines) {
      if (first_bad_lines.size() >= kMaxBadLines) break;
      first_bad_lines.push_back(l);
    }
    for (const NewField& f : other.new_fields) {
      bool seen = false;
      for (const NewField& g : new_fields) seen |= g.path == f.path;
      if (!seen) new_fields.push_back(f);
    }
  }
};

// One batch and what the reader knows about its rows.
struct ReadBatch {
  RecordBatch batch;
  std::vector<int64_t> line_numbers;  // one per row when the reader was asked for them
  ReadStats stats;                    // this batch only
};

class BatchReader {
 public:
  virtual ~BatchReader() = default;
  // The schema of every batch: the data columns, then the rescue column if any.
  virtual const Schema& schema() const = 0;
  // The data columns only (without the rescue column).
  virtual const Schema& data_schema() const = 0;
  // Fills `out` with the next batch; false at end of input. Errors: the input's (IOError,
  // Corruption for input the format cannot frame, e.g. a row past the size limit).
  virtual Result<bool> Next(ReadBatch* out) = 0;
  // Totals over every batch returned so far.
  virtual const ReadStats& total_stats() const = 0;
};

// Reads every remaining batch into one (for the CLI and tests); totals added to *stats.
Result<RecordBatch> ReadAllBatches(BatchReader* reader, ReadStats* stats = nullptr);

}  // namespace lakepipe
