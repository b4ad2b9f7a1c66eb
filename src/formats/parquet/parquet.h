// The public face of lakepipe's Parquet reader and writer (the only header other modules
// include). Files follow apache/parquet-format: data page v1, PLAIN / RLE_DICTIONARY,
// RLE/bit-packed levels, nested struct/list/map, ZSTD (default) / SNAPPY / uncompressed,
// and Spark's logical types (TIMESTAMP(MICROS, UTC), DATE, DECIMAL, STRING).
//
// FileWriter: one thread at a time; Open, then Write batches, then Close exactly once.
// FileReader: the metadata accessors are thread-safe; ReadRowGroup calls may run from
// several threads at once on one reader (each call has its own buffers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "types/batch.h"
#include "types/schema.h"
#include "types/value.h"

namespace lakepipe::parquet {

enum class Compression { kUncompressed, kSnappy, kGzip, kBrotli, kLz4, kLz4Raw, kZstd };

// "zstd", "snappy", "uncompressed"/"none", "gzip", "lz4", "lz4_raw", "brotli".
Result<Compression> CompressionFromName(std::string_view name);
std::string CompressionName(Compression c);

struct WriteOptions {
  Compression compression = Compression::kZstd;
  int compression_level = 1;               // zstd level
  int64_t row_group_bytes = 128LL << 20;   // close a row group at this many buffered bytes
  // ... or at this many rows (0: no limit), whichever comes first: dictionary-encoded
  // columns can make 128 MB hold tens of millions of rows, and a reader decodes a row
  // group whole (a streaming read of the table holds one: docs/execution.md).
  int64_t row_group_rows = 1LL << 20;
  int64_t page_bytes = 1 << 20;            // target uncompressed data page size
  bool dictionary = true;                  // RLE_DICTIONARY while the dictionary stays small
  int64_t dictionary_page_bytes = 1 << 20; // fall back to PLAIN past this dictionary size
  // AppendPatched refuses (NotSupported) a source with at least this many row groups that
  // average under row_group_bytes / 8 (uncompressed) and under row_group_rows / 8 rows
  // (row groups cut by the row limit are not small): the caller then writes its rows whole
  // and they merge into full row groups, instead of each row-level patch carrying every
  // small row group of the files it patched before. 0: never.
  int merge_row_groups = 8;
  std::string created_by = "lakepipe version 0.1.0";
  std::vector<std::pair<std::string, std::string>> key_value_metadata;
};

// Statistics of one leaf column over the whole file, for Delta's `add.stats`.
// `path` is the field path from the top ({"a"}, {"s", "x"}); leaves inside lists and maps
// are reported with has_min_max = false (Delta keeps stats for struct leaves only).
struct ColumnStatistics {
  std::vector<std::string> path;
  bool has_min_max = false;
  Value min;
  Value max;
  int64_t null_count = 0;
};

struct WriteResult {
  int64_t num_rows = 0;
  int64_t file_bytes = 0;
  std::vector<ColumnStatistics> columns;  // one per leaf column, in schema order
  // STRING values that were not valid UTF-8 and were written with each invalid byte
  // replaced by U+FFFD (a STRING column holds UTF-8 only; the readers rescue such
  // values before they get here, so this counts what came from elsewhere).
  int64_t invalid_utf8_values = 0;
  // Column-chunk bytes copied from other files by FileWriter::AppendPatched.
  int64_t copied_bytes = 0;
};

class FileWriter {
 public:
  virtual ~FileWriter() = default;
  // Creates `path` (which must not exist). Every field of `schema` is written as optional
  // unless it is non-nullable.
  static Result<std::unique_ptr<FileWriter>> Open(FileSystem* fs, const std::string& path,
                                                  const Schema& schema,
                                                  const WriteOptions& options = {});
  // Appends the rows of `batch`, whose schema must equal the writer's.
  virtual Status Write(const RecordBatch& batch) = 0;
  // Appends the rows of the Parquet file `source` as its row groups, copying each column
  // chunk byte for byte (pages, dictionaries, codec as they are), except the top-level
  // primitive columns of `replacement` (named as in the schema, holding exactly the
  // source's rows in order), which are encoded anew: copy-on-write that decodes and
  // encodes only the columns that change. The source must have this writer's Parquet
  // schema and complete footer statistics for the copied chunks, and not many small row
  // groups (WriteOptions::merge_row_groups), else NotSupported with nothing written (the
  // caller writes the rows instead); the file statistics of WriteResult include the copied
  // chunks'.
  virtual Status AppendPatched(FileSystem* fs, const std::string& source, const RecordBatch& replacement) = 0;
  // Flushes the last row group, writes the footer and fsyncs the file.
  virtual Result<WriteResult> Close() = 0;
  // Bytes written to the file plus bytes buffered, for rolling files by size.
  virtual int64_t EstimatedSize() const = 0;
};

// A conjunct for row-group skipping: `column op value`, on a top-level primitive column.
struct ColumnPredicate {
  enum class Op { kEq, kLt, kLe, kGt, kGe, kIsNull, kIsNotNull };
  std::string column;
  Op op = Op::kEq;
  Value value;
};

struct ReadOptions {
  // Top-level column names to read (case-insensitive); empty reads all.
  std::vector<std::string> columns;
  // Row groups whose statistics prove that no row satisfies all predicates are skipped.
  std::vector<ColumnPredicate> predicates;
  // Refuse any single page whose decompressed size exceeds this (decompression bombs).
  int64_t max_page_bytes = 1LL << 30;
};

class FileReader {
 public:
  virtual ~FileReader() = default;
  static Result<std::unique_ptr<FileReader>> Open(FileSystem* fs, const std::string& path);
  // Reads from memory; `name` is used in error messages.
  static Result<std::unique_ptr<FileReader>> OpenBuffer(std::string data, std::string name);

  // The logical schema, mapped from the Parquet schema as Spark maps it (INT96 and
  // TIMESTAMP(MILLIS/MICROS/NANOS) -> timestamp, legacy lists -> array, ...).
  virtual const Schema& schema() const = 0;
  virtual int64_t num_rows() const = 0;
  virtual int num_row_groups() const = 0;
  virtual int64_t row_group_num_rows(int row_group) const = 0;
  virtual std::vector<std::pair<std::string, std::string>> key_value_metadata() const = 0;
  virtual std::string created_by() const = 0;

  // Whether the row group's statistics allow a row satisfying every predicate.
  virtual bool RowGroupMayMatch(int row_group,
                                const std::vector<ColumnPredicate>& predicates) const = 0;
  // Reads one row group; `columns` are indices into schema() (empty: all). The batch's
  // schema holds just those fields, in the order given.
  virtual Result<RecordBatch> ReadRowGroup(int row_group, const std::vector<int>& columns,
                                           const ReadOptions& options = {}) const = 0;
  // Rows `rows` of one row group (ascending row numbers within it, no repeats), in that
  // order. Pages of flat columns holding none of them are skipped without being
  // decompressed, and of the others only the selected values are kept: taking a few rows
  // out of a large file costs a fraction of reading it. (Lists and maps are read whole
  // and the rows taken from them.)
  virtual Result<RecordBatch> ReadRowGroupRows(int row_group, const std::vector<int>& columns,
                                               const std::vector<int64_t>& rows,
                                               const ReadOptions& options = {}) const = 0;
  // One row group read in order as slices of at most `slice_rows` rows (> 0), columns as
  // ReadRowGroup. Flat columns decode their pages as the slice being read reaches them,
  // so a slice is ready before the row group is decoded and memory holds a slice and the
  // pages it spans, not the row group. (A row group with lists or maps is read whole and
  // cut.) The reader must outlive the slices; one thread at a time per RowGroupSlices.
  class RowGroupSlices {
   public:
    virtual ~RowGroupSlices() = default;
    // The next slice; false after the row group's last row.
    virtual Result<bool> Next(RecordBatch* out) = 0;
  };
  virtual Result<std::unique_ptr<RowGroupSlices>> SliceRowGroup(int row_group, const std::vector<int>& columns,
                                                                int64_t slice_rows,
                                                                const ReadOptions& options = {}) const = 0;
  // Reads every row group that may match, concatenated into one batch.
  virtual Result<RecordBatch> ReadAll(const ReadOptions& options = {}) const = 0;
  // The same batches without concatenating them (one per row group read, in file order,
  // none when no row group may match): a caller that takes few rows out of a large file
  // saves copying all of it once more.
  virtual Result<std::vector<RecordBatch>> ReadRowGroups(const ReadOptions& options = {}) const = 0;
};

}  // namespace lakepipe::parquet
