// The parquet-format Thrift structures (apache/parquet-format parquet.thrift) that
// lakepipe reads and writes: FileMetaData and everything under it, and PageHeader.
//
// Each struct has Serialize (compact protocol, via CompactWriter) and Deserialize (via a
// hardened CompactReader). Deserialize skips unknown fields and fields whose wire type does
// not match (as Thrift-generated code does), and returns Corruption when a required field
// is missing or an enum value is out of range where the value decides how bytes are read
// (physical type, repetition). Other enum values (encodings, codecs, page types) are kept
// as read; the reader refuses the ones it does not implement. Plain value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "formats/parquet/thrift_compact.h"

namespace lakepipe::parquet {

enum class PhysicalType : int32_t {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixedLenByteArray = 7,
};

enum class ConvertedType : int32_t {
  kUtf8 = 0,
  kMap = 1,
  kMapKeyValue = 2,
  kList = 3,
  kEnum = 4,
  kDecimal = 5,
  kDate = 6,
  kTimeMillis = 7,
  kTimeMicros = 8,
  kTimestampMillis = 9,
  kTimestampMicros = 10,
  kUint8 = 11,
  kUint16 = 12,
  kUint32 = 13,
  kUint64 = 14,
  kInt8 = 15,
  kInt16 = 16,
  kInt32 = 17,
  kInt64 = 18,
  kJson = 19,
  kBson = 20,
  kInterval = 21,
};

enum class Repetition : int32_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

enum class Encoding : int32_t {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9,
};

enum class CompressionCodec : int32_t {
  kUncompressed = 0,
  kSnappy = 1,
  kGzip = 2,
  kLzo = 3,
  kBrotli = 4,
  kLz4 = 5,  // Hadoop-framed LZ4 (deprecated)
  kZstd = 6,
  kLz4Raw = 7,
};

enum class PageType : int32_t {
  kDataPage = 0,
  kIndexPage = 1,
  kDictionaryPage = 2,
  kDataPageV2 = 3,
};

enum class TimeUnit : int32_t { kMillis = 1, kMicros = 2, kNanos = 3 };

// The LogicalType union. kNone: the field was absent. kOther: a union member lakepipe
// does not know (GEOMETRY, VARIANT, ...), kept so the reader can name it.
struct LogicalType {
  enum class Kind {
    kNone, kString, kMap, kList, kEnum, kDecimal, kDate, kTime, kTimestamp, kInteger,
    kUnknown /* always-null */, kJson, kBson, kUuid, kFloat16, kOther,
  };
  Kind kind = Kind::kNone;
  int32_t other_id = 0;            // kOther: the union field id
  int32_t decimal_scale = 0;       // kDecimal
  int32_t decimal_precision = 0;   // kDecimal
  bool is_adjusted_to_utc = false; // kTime, kTimestamp
  TimeUnit unit = TimeUnit::kMicros;
  int8_t bit_width = 0;            // kInteger
  bool is_signed = true;           // kInteger

  static LogicalType Of(Kind k) { LogicalType t; t.kind = k; return t; }
  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct Statistics {
  std::optional<std::string> max;  // deprecated: signed order
  std::optional<std::string> min;
  std::optional<int64_t> null_count;
  std::optional<int64_t> distinct_count;
  std::optional<std::string> max_value;
  std::optional<std::string> min_value;
  std::optional<bool> is_max_value_exact;
  std::optional<bool> is_min_value_exact;
  std::optional<int64_t> nan_count;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct SchemaElement {
  std::optional<PhysicalType> type;
  std::optional<int32_t> type_length;
  std::optional<Repetition> repetition_type;
  std::string name;
  std::optional<int32_t> num_children;
  std::optional<ConvertedType> converted_type;
  std::optional<int32_t> scale;
  std::optional<int32_t> precision;
  std::optional<int32_t> field_id;
  LogicalType logical_type;  // kind kNone when absent

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct DataPageHeader {
  int32_t num_values = 0;
  Encoding encoding = Encoding::kPlain;
  Encoding definition_level_encoding = Encoding::kRle;
  Encoding repetition_level_encoding = Encoding::kRle;
  std::optional<Statistics> statistics;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct DictionaryPageHeader {
  int32_t num_values = 0;
  Encoding encoding = Encoding::kPlain;
  std::optional<bool> is_sorted;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct DataPageHeaderV2 {
  int32_t num_values = 0;
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  Encoding encoding = Encoding::kPlain;
  int32_t definition_levels_byte_length = 0;
  int32_t repetition_levels_byte_length = 0;
  bool is_compressed = true;  // absent means true
  std::optional<Statistics> statistics;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct PageHeader {
  PageType type = PageType::kDataPage;
  int32_t uncompressed_page_size = 0;
  int32_t compressed_page_size = 0;
  std::optional<int32_t> crc;
  std::optional<DataPageHeader> data_page_header;
  std::optional<DictionaryPageHeader> dictionary_page_header;
  std::optional<DataPageHeaderV2> data_page_header_v2;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct KeyValue {
  std::string key;
  std::optional<std::string> value;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct SortingColumn {
  int32_t column_idx = 0;
  bool descending = false;
  bool nulls_first = false;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct PageEncodingStats {
  PageType page_type = PageType::kDataPage;
  Encoding encoding = Encoding::kPlain;
  int32_t count = 0;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct ColumnMetaData {
  PhysicalType type = PhysicalType::kBoolean;
  std::vector<Encoding> encodings;
  std::vector<std::string> path_in_schema;
  CompressionCodec codec = CompressionCodec::kUncompressed;
  int64_t num_values = 0;
  int64_t total_uncompressed_size = 0;
  int64_t total_compressed_size = 0;
  std::vector<KeyValue> key_value_metadata;
  int64_t data_page_offset = 0;
  std::optional<int64_t> index_page_offset;
  std::optional<int64_t> dictionary_page_offset;
  std::optional<Statistics> statistics;
  std::vector<PageEncodingStats> encoding_stats;
  std::optional<int64_t> bloom_filter_offset;
  std::optional<int32_t> bloom_filter_length;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct ColumnChunk {
  std::optional<std::string> file_path;  // set only by summary files; the reader refuses it
  int64_t file_offset = 0;
  std::optional<ColumnMetaData> meta_data;
  std::optional<int64_t> offset_index_offset;
  std::optional<int32_t> offset_index_length;
  std::optional<int64_t> column_index_offset;
  std::optional<int32_t> column_index_length;
  bool encrypted = false;  // crypto_metadata or encrypted_column_metadata was present

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

struct RowGroup {
  std::vector<ColumnChunk> columns;
  int64_t total_byte_size = 0;
  int64_t num_rows = 0;
  std::vector<SortingColumn> sorting_columns;
  std::optional<int64_t> file_offset;
  std::optional<int64_t> total_compressed_size;
  std::optional<int16_t> ordinal;

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

// The ColumnOrder union.
enum class ColumnOrder : int32_t { kUnknown = 0, kTypeDefined = 1, kIeee754TotalOrder = 2, kInt96Timestamp = 3 };

struct FileMetaData {
  int32_t version = 1;
  std::vector<SchemaElement> schema;
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
  std::vector<KeyValue> key_value_metadata;
  std::optional<std::string> created_by;
  std::vector<ColumnOrder> column_orders;
  bool encrypted = false;  // encryption_algorithm present (plaintext-footer encryption)

  void Serialize(CompactWriter& w) const;
  Status Deserialize(CompactReader& r);
};

// Serializes any of the structs above to compact-protocol bytes.
template <typename T>
std::string SerializeThrift(const T& value) {
  std::string out;
  CompactWriter w(&out);
  value.Serialize(w);
  return out;
}

// Decodes the footer bytes (between the data and the length + "PAR1"). `what` names the
// file in errors.
Status ParseFileMetaData(const uint8_t* data, size_t size, const std::string& what,
                         FileMetaData* out);
// Decodes a page header at the start of `data`; *header_size is the bytes it took.
Status ParsePageHeader(const uint8_t* data, size_t size, const std::string& what,
                       PageHeader* out, size_t* header_size);

}  // namespace lakepipe::parquet
