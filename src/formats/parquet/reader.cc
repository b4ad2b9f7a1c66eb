#include "formats/parquet/reader.h"

#include "formats/parquet/rle.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

#include "formats/parquet/compression.h"
#include "formats/parquet/encodings.h"
#include "formats/parquet/metadata.h"
#include "formats/parquet/parquet.h"
#include "formats/parquet/schema_mapping.h"
#include "types/datetime.h"

namespace lakepipe::parquet {

using encodings::ValueBuffer;

// ---- value conversions -----------------------------------------------------------------

int64_t Int96ToMicros(const uint8_t* p) {
  int64_t nanos;
  int32_t julian_day;
  std::memcpy(&nanos, p, 8);
  std::memcpy(&julian_day, p + 8, 4);
  constexpr int64_t kUnixEpochJulianDay = 2440588;
  // Wrapping arithmetic: garbage in gives garbage out, never undefined behaviour.
  uint64_t days = static_cast<uint64_t>(static_cast<int64_t>(julian_day) - kUnixEpochJulianDay);
  return static_cast<int64_t>(days * static_cast<uint64_t>(kMicrosPerDay) +
                              static_cast<uint64_t>(FloorDiv(nanos, 1000)));
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h >> 15) << 31;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  float magnitude;
  if (exp == 0) {
    magnitude = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    uint32_t bits = 0x7f800000u | (mant << 13);  // infinity or NaN
    std::memcpy(&magnitude, &bits, 4);
  } else {
    magnitude = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

Result<int128_t> BigEndianToInt128(const uint8_t* data, size_t size) {
  if (size == 0) return int128_t{0};
  bool negative = data[0] & 0x80;
  if (size > 16) {
    // Wider than 128 bits: the extra leading bytes must be pure sign extension.
    for (size_t i = 0; i + 16 < size; ++i) {
      if (data[i] != (negative ? 0xFF : 0x00)) {
        return Status::Corruption("decimal of " + std::to_string(size) + " bytes does not fit 128 bits");
      }
    }
    data += size - 16;
    size = 16;
  }
  if (size <= 8) {
    // Common case (precision <= 18): one 64-bit big-endian load, sign-extended.
    uint64_t raw = 0;
    std::memcpy(reinterpret_cast<uint8_t*>(&raw) + (8 - size), data, size);
    // bswap gives the value in the low `size` bytes; shifting up and back sign-extends it.
    int shift = static_cast<int>(8 * (8 - size));
    int64_t v = static_cast<int64_t>(__builtin_bswap64(raw) << shift) >> shift;
    return static_cast<int128_t>(v);
  }
  unsigned __int128 v = negative ? ~static_cast<unsigned __int128>(0) : 0;
  for (size_t i = 0; i < size; ++i) v = (v << 8) | data[i];
  return static_cast<int128_t>(v);
}

std::string FormatUuid(const uint8_t* p) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[p[i] >> 4]);
    s.push_back(kHex[p[i] & 15]);
  }
  return s;
}

namespace {

std::string Num(int64_t v) { return std::to_string(v); }

int PhysicalWidth(const LeafColumn& leaf) {
  switch (leaf.physical) {
    case PhysicalType::kBoolean: return 1;
    case PhysicalType::kInt32: return 4;
    case PhysicalType::kInt64: return 8;
    case PhysicalType::kInt96: return 12;
    case PhysicalType::kFloat: return 4;
    case PhysicalType::kDouble: return 8;
    case PhysicalType::kByteArray: return 0;
    case PhysicalType::kFixedLenByteArray: return leaf.type_length;
  }
  return 0;
}

const char* EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kPlain: return "PLAIN";
    case Encoding::kPlainDictionary: return "PLAIN_DICTIONARY";
    case Encoding::kRle: return "RLE";
    case Encoding::kBitPacked: return "BIT_PACKED";
    case Encoding::kDeltaBinaryPacked: return "DELTA_BINARY_PACKED";
    case Encoding::kDeltaLengthByteArray: return "DELTA_LENGTH_BYTE_ARRAY";
    case Encoding::kDeltaByteArray: return "DELTA_BYTE_ARRAY";
    case Encoding::kRleDictionary: return "RLE_DICTIONARY";
    case Encoding::kByteStreamSplit: return "BYTE_STREAM_SPLIT";
  }
  return "unknown encoding";
}

// The decoded content of one column chunk: levels (empty when the max level is 0) and the
// dense non-null values.
struct LeafData {
  std::vector<int16_t> def;
  std::vector<int16_t> rep;
  ValueBuffer values;
  int64_t entries = 0;  // level entries (= values including nulls and empty lists)
  // A dictionary-encoded chunk read whole (no row selection, no repetition) keeps its
  // values as indices into `dict` rather than gathering them page by page: the column is
  // then built with one gather straight into its own buffers (FlatCopyFastPath), instead of
  // copying every value twice. While `indices` is not empty `values` is empty: the dense
  // values are dict[indices] (a page of another encoding first moves them into `values`,
  // with MaterializeIndices, as do the paths that need them there).
  std::vector<int32_t> indices;
  ValueBuffer dict;
};

// Moves dict[indices] into `values` (empty while indices are kept).
void MaterializeIndices(LeafData* d) {
  if (d->indices.empty()) return;
  encodings::GatherFromDictionary(d->dict, d->indices.data(), static_cast<int64_t>(d->indices.size()), &d->values);
  std::vector<int32_t>().swap(d->indices);
}

// Where the file's bytes come from: memory, or a RandomAccessFile read under a mutex.
class Source {
 public:
  explicit Source(std::string data) : data_(std::move(data)), size_(static_cast<int64_t>(data_.size())) {}
  explicit Source(std::unique_ptr<RandomAccessFile> file) : file_(std::move(file)), size_(file_->Size()) {}
  int64_t size() const { return size_; }
  // Bytes [offset, offset+n); the view points into memory or into *scratch.
  Result<std::string_view> Read(int64_t offset, int64_t n, std::string* scratch) const {
    if (offset < 0 || n < 0 || offset > size_ || n > size_ - offset) {
      return Status::Corruption("range [" + Num(offset) + ", +" + Num(n) + ") lies outside the file (" +
                                Num(size_) + " bytes)");
    }
    if (!file_) return std::string_view(data_).substr(static_cast<size_t>(offset), static_cast<size_t>(n));
    scratch->resize(static_cast<size_t>(n));
    std::lock_guard<std::mutex> lock(mu_);
    LP_RETURN_IF_ERROR(file_->ReadAt(offset, n, scratch->data()));
    return std::string_view(*scratch);
  }

 private:
  std::string data_;
  std::unique_ptr<RandomAccessFile> file_;
  int64_t size_;
  mutable std::mutex mu_;
};

class ParquetReader final : public FileReader {
 public:
  ParquetReader(std::unique_ptr<Source> source, std::string name)
      : source_(std::move(source)), name_(std::move(name)) {}

  Status Init();

  const Schema& schema() const override { return fs_.schema; }
  int64_t num_rows() const override { return total_rows_; }
  int num_row_groups() const override { return static_cast<int>(md_.row_groups.size()); }
  int64_t row_group_num_rows(int rg) const override {
    return rg >= 0 && rg < num_row_groups() ? md_.row_groups[static_cast<size_t>(rg)].num_rows : 0;
  }
  std::vector<std::pair<std::string, std::string>> key_value_metadata() const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& kv : md_.key_value_metadata) out.emplace_back(kv.key, kv.value.value_or(""));
    return out;
  }
  std::string created_by() const override { return md_.created_by.value_or(""); }
  bool RowGroupMayMatch(int row_group, const std::vector<ColumnPredicate>& predicates) const override;
  Result<RecordBatch> ReadRowGroup(int row_group, const std::vector<int>& columns,
                                   const ReadOptions& options) const override {
    return ReadRows(row_group, columns, nullptr, options);
  }
  Result<RecordBatch> ReadRowGroupRows(int row_group, const std::vector<int>& columns, const std::vector<int64_t>& rows,
                                       const ReadOptions& options) const override;
  Result<RecordBatch> ReadAll(const ReadOptions& options) const override;
  Result<std::vector<RecordBatch>> ReadRowGroups(const ReadOptions& options) const override;
  Result<std::unique_ptr<RowGroupSlices>> SliceRowGroup(int row_group, const std::vector<int>& columns,
                                                        int64_t slice_rows, const ReadOptions& options) const override;

 private:
  class Slices;
  // The pages of one column chunk in order: ReadChunk's loop made resumable, so that a
  // sliced read (Slices) decodes a page only when the slice being read reaches it.
  // Dictionary pages are read on the way, into the buffer given to Open. Neither copied
  // nor moved once open (the chunk's bytes may live in `scratch_`); one thread at a time.
  class ChunkPages {
   public:
    ChunkPages(const ParquetReader& reader, int rg_index, int leaf_index, const ReadOptions& options);
    ChunkPages(const ChunkPages&) = delete;
    ChunkPages& operator=(const ChunkPages&) = delete;
    // Checks the chunk's metadata and reads its bytes; `dict` is where its dictionary goes.
    Status Open(ValueBuffer* dict);
    const ColumnMetaData& meta() const { return *cm_; }
    // Moves to the next data page (reading a dictionary page and passing over index
    // pages on the way): false once every value of the chunk was decoded or passed over.
    Result<bool> Next(int64_t* num_values);
    // Decodes the data page Next found, appending its levels and values to `into`.
    Status Decode(LeafData* into, bool keep_indices);
    // Passes over it without decompressing it.
    void Skip() { consumed_ += page_values_; }
    // Values (level entries) of the pages decoded or passed over.
    int64_t consumed() const { return consumed_; }
    const std::string& page_where() const { return page_where_; }

   private:
    Result<std::string_view> Decompress(std::string_view in, int64_t expected, std::string* buf) const;

    const ParquetReader& r_;
    const int rg_index_;
    const int leaf_index_;
    const ReadOptions& options_;
    const LeafColumn* leaf_ = nullptr;
    const ColumnMetaData* cm_ = nullptr;
    std::string where_;
    std::string scratch_;
    const uint8_t* base_ = nullptr;
    int64_t start_ = 0;
    int64_t length_ = 0;
    int64_t pos_ = 0;
    int64_t consumed_ = 0;
    ValueBuffer* dict_ = nullptr;
    bool have_dict_ = false;
    // The data page Next found.
    PageHeader header_;
    std::string_view page_;
    int64_t page_values_ = 0;
    std::string page_where_;
    std::string page_buf_;
    std::string values_buf_;
  };

  Status Corrupt(const std::string& what) const { return Status::Corruption(name_ + ": " + what); }
  // Decodes one column chunk. With `rows` (a flat leaf only: ascending row numbers of the
  // row group), only those rows' levels and values are kept, and pages holding none of
  // them are skipped without being decompressed.
  // `keep_indices` (a top-level flat column read whole): dictionary-encoded values stay
  // indices (LeafData::indices).
  Status ReadChunk(int rg, int leaf_index, const ReadOptions& options, LeafData* out,
                   const std::vector<int64_t>* rows = nullptr, bool keep_indices = false) const;
  // ReadRowGroup and ReadRowGroupRows: `rows` null reads every row.
  // `parallel_columns`: two threads decode the columns (a caller reading a single row group
  // has no other parallelism to use).
  Result<RecordBatch> ReadRows(int row_group, const std::vector<int>& columns, const std::vector<int64_t>* rows,
                               const ReadOptions& options, bool parallel_columns = false) const;
  // One top-level field of a row group (ReadRows' work per column); `data` and `starts`
  // are the calling thread's scratch, indexed by leaf.
  Result<ColumnPtr> ReadField(int row_group, int field, const std::vector<int64_t>* rows, int64_t num_rows,
                              const ReadOptions& options, std::vector<LeafData>& data,
                              std::vector<std::vector<int64_t>>& starts) const;
  Status DecodePage(const LeafColumn& leaf, const std::string& where, Encoding encoding,
                    std::string_view rep_bytes, Encoding rep_encoding, bool rep_prefixed,
                    std::string_view def_bytes, Encoding def_encoding, bool def_prefixed,
                    std::string_view values, int64_t num_values, const ValueBuffer* dict,
                    const ReadOptions& options, LeafData* out, bool keep_indices = false) const;
  Status Assemble(const AssemblyNode& node, std::vector<LeafData>& data,
                  std::vector<std::vector<int64_t>>& starts, Column* out, const std::string& where) const;
  Status ConvertLeaf(const LeafColumn& leaf, const LeafData& data, const std::vector<int64_t>* starts,
                     Column* out, const std::string& where) const;
  // Flat columns (every level entry a row) of a same-layout type: moves or scatters the
  // values without an index per row. Returns false when the column needs ConvertLeaf.
  bool FlatCopyFastPath(const LeafColumn& leaf, LeafData& data, Column* out) const;
  // A flat leaf's column from its decoded entries (FlatCopyFastPath, else ConvertLeaf).
  Status FlatColumn(const LeafColumn& leaf, LeafData& data, Column* out, const std::string& where) const;
  bool PredicateMayMatch(const RowGroup& rg, const ColumnPredicate& p) const;

  std::unique_ptr<Source> source_;
  std::string name_;
  FileMetaData md_;
  FileSchema fs_;
  int64_t total_rows_ = 0;
};

// ---- footer ------------------------------------------------------------------------------

Status ParquetReader::Init() {
  const int64_t size = source_->size();
  const std::string kEncryption =
      "Parquet modular encryption is not supported by lakepipe";
  if (size < 12) return Corrupt("file of " + Num(size) + " bytes is too small to be Parquet (at least 12)");
  std::string scratch;
  LP_ASSIGN_OR_RETURN(std::string_view head, source_->Read(0, 4, &scratch));
  std::string head_magic(head);
  LP_ASSIGN_OR_RETURN(std::string_view tail, source_->Read(size - 8, 8, &scratch));
  std::string tail_bytes(tail);
  if (tail_bytes.substr(4) == "PARE") return Status::NotSupported(name_ + ": encrypted footer: " + kEncryption);
  if (tail_bytes.substr(4) != "PAR1") return Corrupt("bad magic at the end of the file (not Parquet, or truncated)");
  if (head_magic != "PAR1") return Corrupt("bad magic at the start of the file");
  uint32_t footer_len;
  std::memcpy(&footer_len, tail_bytes.data(), 4);
  if (footer_len == 0 || static_cast<int64_t>(footer_len) > size - 12) {
    return Corrupt("footer length " + Num(footer_len) + " does not fit in a file of " + Num(size) + " bytes");
  }
  int64_t footer_start = size - 8 - footer_len;
  LP_ASSIGN_OR_RETURN(std::string_view footer, source_->Read(footer_start, footer_len, &scratch));
  LP_RETURN_IF_ERROR(ParseFileMetaData(reinterpret_cast<const uint8_t*>(footer.data()), footer.size(), name_, &md_));
  if (md_.encrypted) return Status::NotSupported(name_ + ": encrypted columns: " + kEncryption);
  LP_ASSIGN_OR_RETURN(fs_, MapSchema(md_.schema, name_));
  // The footer's num_rows is not trusted (early parquet-rs wrote 0): the row groups
  // decide, and each column chunk must agree with its row group.
  total_rows_ = 0;
  for (size_t i = 0; i < md_.row_groups.size(); ++i) {
    const auto& rg = md_.row_groups[i];
    if (rg.num_rows < 0 || rg.num_rows > INT64_MAX / 2 - total_rows_) {
      return Corrupt("row group " + Num(i) + " has an impossible num_rows " + Num(rg.num_rows));
    }
    if (rg.columns.size() != fs_.leaves.size()) {
      return Corrupt("row group " + Num(i) + " has " + Num(rg.columns.size()) + " column chunks, the schema " +
                     Num(fs_.leaves.size()) + " leaf columns");
    }
    for (const auto& cc : rg.columns) {
      if (cc.encrypted) return Status::NotSupported(name_ + ": encrypted column chunk: " + kEncryption);
    }
    total_rows_ += rg.num_rows;
  }
  return Status::OK();
}

// ---- pages -------------------------------------------------------------------------------

// Decodes `n` levels with max value `max_level` from `bytes` into `out` (appending).
// `prefixed`: data page v1 RLE levels start with a 4-byte length. Returns bytes used.
Result<int64_t> DecodeLevels(std::string_view bytes, Encoding encoding, bool prefixed, int64_t n,
                             int16_t max_level, std::vector<int16_t>* out) {
  int bw = BitWidth(static_cast<uint64_t>(max_level));
  size_t at = out->size();
  out->resize(at + static_cast<size_t>(n));
  int16_t* dst = out->data() + at;
  int64_t used = 0;
  if (encoding == Encoding::kRle) {
    std::string_view runs = bytes;
    if (prefixed) {
      if (bytes.size() < 4) return Status::Corruption("levels: missing 4-byte length");
      uint32_t len;
      std::memcpy(&len, bytes.data(), 4);
      if (len > bytes.size() - 4) {
        return Status::Corruption("levels: length " + Num(len) + " exceeds the " + Num(bytes.size() - 4) +
                                  " bytes of the page");
      }
      runs = bytes.substr(4, len);
      used = 4 + static_cast<int64_t>(len);
    } else {
      used = static_cast<int64_t>(bytes.size());
    }
    RleDecoder dec(reinterpret_cast<const uint8_t*>(runs.data()), runs.size(), bw, "levels");
    LP_RETURN_IF_ERROR(dec.GetBatch<int16_t>(dst, n));
  } else if (encoding == Encoding::kBitPacked) {
    // Deprecated BIT_PACKED levels: MSB first, no length prefix.
    int64_t need = (n * bw + 7) / 8;
    if (need > static_cast<int64_t>(bytes.size())) return Status::Corruption("BIT_PACKED levels cut off");
    const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      int v = 0;
      for (int b = 0; b < bw; ++b) {
        int64_t bit = i * bw + b;
        v = (v << 1) | ((p[bit >> 3] >> (7 - (bit & 7))) & 1);
      }
      dst[i] = static_cast<int16_t>(v);
    }
    used = need;
  } else {
    return Status::NotSupported(std::string("levels encoded as ") + EncodingName(encoding));
  }
  // Values above the maximum would index past the schema: refuse them here, once.
  int16_t worst = 0;
  for (int64_t i = 0; i < n; ++i) worst = std::max(worst, dst[i]);
  if (worst > max_level) {
    return Status::Corruption("level " + Num(worst) + " exceeds the maximum " + Num(max_level));
  }
  return used;
}

Status ParquetReader::DecodePage(const LeafColumn& leaf, const std::string& where, Encoding encoding,
                                 std::string_view rep_bytes, Encoding rep_encoding, bool rep_prefixed,
                                 std::string_view def_bytes, Encoding def_encoding, bool def_prefixed,
                                 std::string_view values, int64_t n, const ValueBuffer* dict,
                                 const ReadOptions& options, LeafData* out, bool keep_indices) const {
  // Levels are int16 each; values at least a byte: bound the page's decoded size.
  int64_t per_value = 2 * ((leaf.max_def > 0) + (leaf.max_rep > 0)) + std::max(1, PhysicalWidth(leaf));
  if (n < 0 || n > options.max_page_bytes / per_value) {
    return Corrupt(where + ": page of " + Num(n) + " values exceeds max_page_bytes (" +
                   Num(options.max_page_bytes) + ")");
  }
  if (leaf.max_rep > 0) {
    auto used = DecodeLevels(rep_bytes, rep_encoding, rep_prefixed, n, leaf.max_rep, &out->rep);
    if (!used.ok()) return Corrupt(where + ": repetition " + used.status().message());
    if (rep_prefixed) def_bytes = rep_bytes.substr(static_cast<size_t>(*used));
    if (out->entries == 0 && n > 0 && out->rep[0] != 0) {
      return Corrupt(where + ": the first repetition level is " + Num(out->rep[0]) + ", not 0");
    }
  }
  int64_t present = n;
  if (leaf.max_def > 0) {
    size_t at = out->def.size();
    auto used = DecodeLevels(def_bytes, def_encoding, def_prefixed, n, leaf.max_def, &out->def);
    if (!used.ok()) return Corrupt(where + ": definition " + used.status().message());
    if (def_prefixed) values = def_bytes.substr(static_cast<size_t>(*used));
    present = 0;
    const int16_t* d = out->def.data() + at;
    for (int64_t i = 0; i < n; ++i) present += d[i] == leaf.max_def;
  } else if (rep_prefixed && leaf.max_rep > 0) {
    values = def_bytes;
  }
  out->entries += n;
  if (leaf.conversion == Conversion::kAllNull) return Status::OK();  // values never read

  Status st;
  ValueBuffer* v = &out->values;
  const bool dictionary_page = encoding == Encoding::kPlainDictionary || encoding == Encoding::kRleDictionary;
  // Kept indices must stay the only values: a page of another encoding (a writer that fell
  // back to PLAIN) first moves them into `values`.
  if (!out->indices.empty() && !dictionary_page) MaterializeIndices(out);
  switch (encoding) {
    case Encoding::kPlain:
      if (leaf.physical == PhysicalType::kBoolean) {
        st = encodings::DecodePlainBoolean(values, present, v).status();
      } else if (leaf.physical == PhysicalType::kByteArray) {
        st = encodings::DecodePlainByteArray(values, present, v).status();
      } else {
        st = encodings::DecodePlainFixed(values, present, v).status();
      }
      break;
    case Encoding::kPlainDictionary:
    case Encoding::kRleDictionary: {
      if (!dict) return Corrupt(where + ": dictionary-encoded page without a dictionary page");
      std::vector<int32_t> indices;
      st = encodings::DecodeDictionaryIndices(values, present, dict->count, &indices);
      if (!st.ok()) break;
      if (keep_indices && v->count == 0) {
        if (out->indices.empty()) {
          out->indices.swap(indices);
        } else {
          out->indices.insert(out->indices.end(), indices.begin(), indices.end());
        }
      } else {
        encodings::GatherFromDictionary(*dict, indices.data(), present, v);
      }
      break;
    }
    case Encoding::kRle:
      if (leaf.physical != PhysicalType::kBoolean) {
        return Corrupt(where + ": RLE-encoded values in a non-BOOLEAN column");
      }
      st = encodings::DecodeRleBoolean(values, present, v);
      break;
    case Encoding::kDeltaBinaryPacked:
      if (leaf.physical != PhysicalType::kInt32 && leaf.physical != PhysicalType::kInt64) {
        return Corrupt(where + ": DELTA_BINARY_PACKED on a column that is not INT32/INT64");
      }
      st = encodings::DecodeDeltaBinaryPacked(values, present, v).status();
      break;
    case Encoding::kDeltaLengthByteArray:
      if (leaf.physical != PhysicalType::kByteArray) {
        return Corrupt(where + ": DELTA_LENGTH_BYTE_ARRAY on a column that is not BYTE_ARRAY");
      }
      st = encodings::DecodeDeltaLengthByteArray(values, present, v).status();
      break;
    case Encoding::kDeltaByteArray:
      if (leaf.physical != PhysicalType::kByteArray && leaf.physical != PhysicalType::kFixedLenByteArray) {
        return Corrupt(where + ": DELTA_BYTE_ARRAY on a column that is not a byte array");
      }
      st = encodings::DecodeDeltaByteArray(values, present, v);
      break;
    case Encoding::kByteStreamSplit:
      if (leaf.physical == PhysicalType::kBoolean || leaf.physical == PhysicalType::kByteArray ||
          leaf.physical == PhysicalType::kInt96) {
        return Corrupt(where + ": BYTE_STREAM_SPLIT on a BOOLEAN, BYTE_ARRAY or INT96 column");
      }
      st = encodings::DecodeByteStreamSplit(values, present, v);
      break;
    default:
      return Status::NotSupported(name_ + ": " + where + ": value encoding " + EncodingName(encoding) + " (" +
                                  Num(static_cast<int>(encoding)) + ")");
  }
  if (!st.ok()) return Status(st.code(), name_ + ": " + where + ": " + st.message());
  return Status::OK();
}

// Appends the entries of `page` (one page's levels and values, decoded on their own) at
// rows rows[from, to) - `first` (page-relative) to `out`.
Status AppendSelected(const LeafColumn& leaf, const LeafData& page, int64_t first, const std::vector<int64_t>& rows,
                      size_t from, size_t to, LeafData* out) {
  const ValueBuffer& v = page.values;
  const bool values = leaf.conversion != Conversion::kAllNull;
  auto append = [&](int64_t k) -> Status {
    if (!values) return Status::OK();
    if (k >= v.count) return Status::Corruption("levels call for more values than the page holds");
    if (v.is_byte_array()) {
      std::string_view b = v.ByteArray(k);
      out->values.AppendByteArray(reinterpret_cast<const uint8_t*>(b.data()), static_cast<int64_t>(b.size()));
    } else {
      const uint8_t* p = v.FixedAt(k);
      out->values.fixed.insert(out->values.fixed.end(), p, p + v.width);
      ++out->values.count;
    }
    return Status::OK();
  };
  int64_t e = 0, before = 0;  // entries scanned, values among them
  for (size_t i = from; i < to; ++i) {
    const int64_t at = rows[i] - first;
    if (at < 0 || at >= page.entries) return Status::Corruption("selected row outside the page");
    if (leaf.max_def > 0) {
      for (; e < at; ++e) before += page.def[static_cast<size_t>(e)] == leaf.max_def;
      const int16_t d = page.def[static_cast<size_t>(at)];
      out->def.push_back(d);
      if (d == leaf.max_def) LP_RETURN_IF_ERROR(append(before));
    } else {
      LP_RETURN_IF_ERROR(append(at));
    }
    ++out->entries;
  }
  return Status::OK();
}

ParquetReader::ChunkPages::ChunkPages(const ParquetReader& reader, int rg_index, int leaf_index,
                                      const ReadOptions& options)
    : r_(reader), rg_index_(rg_index), leaf_index_(leaf_index), options_(options) {}

Status ParquetReader::ChunkPages::Open(ValueBuffer* dict) {
  const RowGroup& rg = r_.md_.row_groups[static_cast<size_t>(rg_index_)];
  leaf_ = &r_.fs_.leaves[static_cast<size_t>(leaf_index_)];
  const LeafColumn& leaf = *leaf_;
  const ColumnChunk& cc = rg.columns[static_cast<size_t>(leaf_index_)];
  where_ = "row group " + Num(rg_index_) + ", column '" + leaf.PathString() + "'";
  if (cc.file_path) {
    return Status::NotSupported(r_.name_ + ": " + where_ + ": column chunk stored in another file (file_path)");
  }
  if (!cc.meta_data) return r_.Corrupt(where_ + ": column chunk without ColumnMetaData");
  cm_ = &*cc.meta_data;
  const ColumnMetaData& cm = *cm_;
  if (cm.type != leaf.physical) return r_.Corrupt(where_ + ": chunk's physical type differs from the schema's");
  if (cm.num_values < 0) return r_.Corrupt(where_ + ": negative num_values");
  if (leaf.max_rep == 0 && cm.num_values != rg.num_rows) {
    return r_.Corrupt(where_ + ": " + Num(cm.num_values) + " values in a row group of " + Num(rg.num_rows) + " rows");
  }
  if (cm.codec == CompressionCodec::kLzo) {
    return Status::NotSupported(r_.name_ + ": " + where_ + ": the LZO codec");
  }
  dict_ = dict;
  *dict_ = ValueBuffer(PhysicalWidth(leaf));
  if (cm.num_values == 0) return Status::OK();  // empty chunk: offsets may be placeholders
  // The chunk starts at its dictionary page when there is one. Some writers store
  // dictionary_page_offset 0 (or a value past the data page) to mean "none": then the
  // chunk starts at data_page_offset, and a dictionary page may still come first there.
  start_ = cm.data_page_offset;
  if (cm.dictionary_page_offset && *cm.dictionary_page_offset > 0 && *cm.dictionary_page_offset < start_) {
    start_ = *cm.dictionary_page_offset;
  }
  const int64_t data_end = r_.source_->size() - 8;  // the footer follows, but is not ours to check
  length_ = cm.total_compressed_size;
  if (start_ < 4 || start_ >= data_end || length_ <= 0 || length_ > data_end - start_) {
    return r_.Corrupt(where_ + ": column chunk at offset " + Num(start_) + " of " + Num(length_) +
                      " bytes lies outside the file's " + Num(r_.source_->size()) + " bytes");
  }
  LP_ASSIGN_OR_RETURN(std::string_view chunk, r_.source_->Read(start_, length_, &scratch_));
  base_ = reinterpret_cast<const uint8_t*>(chunk.data());
  return Status::OK();
}

Result<std::string_view> ParquetReader::ChunkPages::Decompress(std::string_view in, int64_t expected,
                                                               std::string* buf) const {
  if (cm_->codec == CompressionCodec::kUncompressed) {
    if (static_cast<int64_t>(in.size()) != expected) {
      return r_.Corrupt(page_where_ + ": uncompressed page of " + Num(in.size()) + " bytes, header says " +
                        Num(expected));
    }
    return in;
  }
  if (expected == 0) return std::string_view();
  Status st = DecompressToString(cm_->codec, reinterpret_cast<const uint8_t*>(in.data()), in.size(), expected,
                                 options_.max_page_bytes, buf);
  if (!st.ok()) return Status(st.code(), r_.name_ + ": " + page_where_ + ": " + st.message());
  return std::string_view(*buf);
}

Result<bool> ParquetReader::ChunkPages::Next(int64_t* num_values) {
  const ColumnMetaData& cm = *cm_;
  while (consumed_ < cm.num_values) {
    if (pos_ >= length_) {
      return r_.Corrupt(where_ + ": column chunk ends after " + Num(consumed_) + " of " + Num(cm.num_values) +
                        " values");
    }
    PageHeader ph;
    size_t header_size = 0;
    page_where_ = where_ + ", page at offset " + Num(start_ + pos_);
    LP_RETURN_IF_ERROR(ParsePageHeader(base_ + pos_, static_cast<size_t>(length_ - pos_),
                                       r_.name_ + ": " + page_where_, &ph, &header_size));
    pos_ += static_cast<int64_t>(header_size);
    int64_t csize = ph.compressed_page_size;
    int64_t usize = ph.uncompressed_page_size;
    if (csize < 0 || csize > length_ - pos_) {
      return r_.Corrupt(page_where_ + ": compressed size " + Num(csize) + " runs past the column chunk (" +
                        Num(length_ - pos_) + " bytes left)");
    }
    if (usize < 0 || usize > options_.max_page_bytes) {
      return r_.Corrupt(page_where_ + ": uncompressed size " + Num(usize) + " exceeds max_page_bytes (" +
                        Num(options_.max_page_bytes) + ")");
    }
    page_ = std::string_view(reinterpret_cast<const char*>(base_ + pos_), static_cast<size_t>(csize));
    pos_ += csize;
    // A data page (v1 or v2) of `n` values: at most what the chunk has left.
    auto data_page = [&](int64_t n) -> Result<bool> {
      if (n < 0 || n > cm.num_values - consumed_) {
        return r_.Corrupt(page_where_ + ": " + Num(n) + " values, more than the chunk's remaining " +
                          Num(cm.num_values - consumed_));
      }
      header_ = std::move(ph);
      page_values_ = n;
      *num_values = n;
      return true;
    };
    switch (ph.type) {
      case PageType::kDictionaryPage: {
        if (!ph.dictionary_page_header) return r_.Corrupt(page_where_ + ": dictionary page without its header");
        if (have_dict_ || consumed_ > 0) return r_.Corrupt(page_where_ + ": dictionary page after the first page");
        const auto& dh = *ph.dictionary_page_header;
        if (dh.encoding != Encoding::kPlain && dh.encoding != Encoding::kPlainDictionary) {
          return Status::NotSupported(r_.name_ + ": " + page_where_ + ": dictionary page encoded as " +
                                      EncodingName(dh.encoding));
        }
        if (dh.num_values < 0) return r_.Corrupt(page_where_ + ": negative dictionary size");
        LP_ASSIGN_OR_RETURN(std::string_view bytes, Decompress(page_, usize, &page_buf_));
        Status st;
        if (leaf_->physical == PhysicalType::kBoolean) {
          st = encodings::DecodePlainBoolean(bytes, dh.num_values, dict_).status();
        } else if (leaf_->physical == PhysicalType::kByteArray) {
          st = encodings::DecodePlainByteArray(bytes, dh.num_values, dict_).status();
        } else {
          st = encodings::DecodePlainFixed(bytes, dh.num_values, dict_).status();
        }
        if (!st.ok()) return r_.Corrupt(page_where_ + ": dictionary: " + st.message());
        have_dict_ = true;
        break;
      }
      case PageType::kDataPage:
        if (!ph.data_page_header) return r_.Corrupt(page_where_ + ": data page without its header");
        return data_page(ph.data_page_header->num_values);
      case PageType::kDataPageV2:
        if (!ph.data_page_header_v2) return r_.Corrupt(page_where_ + ": data page v2 without its header");
        return data_page(ph.data_page_header_v2->num_values);
      default:
        break;  // index pages and unknown page types carry no values: skip them
    }
  }
  return false;
}

Status ParquetReader::ChunkPages::Decode(LeafData* into, bool keep_indices) {
  const ValueBuffer* dict = have_dict_ ? dict_ : nullptr;
  const int64_t usize = header_.uncompressed_page_size;
  const int64_t csize = header_.compressed_page_size;
  if (header_.type == PageType::kDataPage) {
    const auto& dh = *header_.data_page_header;
    LP_ASSIGN_OR_RETURN(std::string_view bytes, Decompress(page_, usize, &page_buf_));
    LP_RETURN_IF_ERROR(r_.DecodePage(*leaf_, page_where_, dh.encoding, bytes, dh.repetition_level_encoding, true,
                                     bytes, dh.definition_level_encoding, true, bytes, dh.num_values, dict, options_,
                                     into, keep_indices));
  } else {
    const auto& dh = *header_.data_page_header_v2;
    int64_t rl = dh.repetition_levels_byte_length, dl = dh.definition_levels_byte_length;
    if (rl < 0 || dl < 0 || rl + dl > csize || rl + dl > usize) {
      return r_.Corrupt(page_where_ + ": level lengths " + Num(rl) + " + " + Num(dl) + " exceed the page (" +
                        Num(csize) + " bytes)");
    }
    // v2: levels are stored uncompressed before the (maybe compressed) values.
    std::string_view rep = page_.substr(0, static_cast<size_t>(rl));
    std::string_view def = page_.substr(static_cast<size_t>(rl), static_cast<size_t>(dl));
    std::string_view raw = page_.substr(static_cast<size_t>(rl + dl));
    std::string_view vals = raw;
    if (dh.is_compressed) {
      LP_ASSIGN_OR_RETURN(vals, Decompress(raw, usize - rl - dl, &values_buf_));
    } else if (static_cast<int64_t>(raw.size()) != usize - rl - dl) {
      return r_.Corrupt(page_where_ + ": uncompressed values of " + Num(raw.size()) + " bytes, header says " +
                        Num(usize - rl - dl));
    }
    LP_RETURN_IF_ERROR(r_.DecodePage(*leaf_, page_where_, dh.encoding, rep, Encoding::kRle, false, def,
                                     Encoding::kRle, false, vals, dh.num_values, dict, options_, into,
                                     keep_indices));
  }
  consumed_ += page_values_;
  return Status::OK();
}

Status ParquetReader::ReadChunk(int rg_index, int leaf_index, const ReadOptions& options, LeafData* out,
                                const std::vector<int64_t>* rows, bool keep_indices) const {
  const LeafColumn& leaf = fs_.leaves[static_cast<size_t>(leaf_index)];
  if (rows != nullptr && leaf.max_rep > 0) return Status::Internal("row selection on a repeated column");
  out->values = ValueBuffer(PhysicalWidth(leaf));
  out->dict = ValueBuffer(PhysicalWidth(leaf));
  out->indices.clear();
  keep_indices = keep_indices && rows == nullptr && leaf.max_rep == 0;
  // Kept indices point into the chunk's LeafData::dict, which therefore holds the dictionary.
  ValueBuffer local_dict;
  ChunkPages pages(*this, rg_index, leaf_index, options);
  LP_RETURN_IF_ERROR(pages.Open(keep_indices ? &out->dict : &local_dict));
  const ColumnMetaData& cm = pages.meta();
  if (cm.num_values == 0) return Status::OK();
  const bool dictionary_chunk = cm.dictionary_page_offset.has_value() && *cm.dictionary_page_offset > 0;
  if (keep_indices && dictionary_chunk) {
    constexpr int64_t kCap = 64LL << 20;
    out->indices.reserve(static_cast<size_t>(std::min(cm.num_values, kCap / 4)));
  } else if (rows == nullptr) {
    // Room for the chunk's values up front (pages then append without regrowing), capped
    // so that a footer's claims alone never allocate much.
    constexpr int64_t kCap = 64LL << 20;
    ValueBuffer& v = out->values;
    if (v.is_byte_array()) {
      v.offsets.reserve(static_cast<size_t>(std::min(cm.num_values + 1, kCap / 8)));
      v.bytes.reserve(static_cast<size_t>(std::clamp<int64_t>(cm.total_uncompressed_size, 0, kCap)));
    } else {
      v.fixed.reserve(static_cast<size_t>(std::min(cm.num_values * v.width, kCap)));
    }
  }
  // With a selection, a data page holding selected rows is decoded into page_data and
  // those rows appended to `out`; a page holding none is passed over undecompressed.
  // Without one, pages decode straight into `out`.
  size_t next_row = 0;
  LeafData page_data;
  int64_t n = 0;
  while (rows == nullptr || next_row < rows->size()) {
    LP_ASSIGN_OR_RETURN(bool more, pages.Next(&n));
    if (!more) break;
    if (rows == nullptr) {
      LP_RETURN_IF_ERROR(pages.Decode(out, keep_indices));
      continue;
    }
    // The selected rows [from, to) the page holds.
    const int64_t first = pages.consumed();
    const size_t from = next_row;
    while (next_row < rows->size() && (*rows)[next_row] < first + n) ++next_row;
    if (from == next_row) {
      pages.Skip();
      continue;
    }
    page_data = LeafData();
    page_data.values = ValueBuffer(PhysicalWidth(leaf));
    LP_RETURN_IF_ERROR(pages.Decode(&page_data, false));
    Status st = AppendSelected(leaf, page_data, first, *rows, from, next_row, out);
    if (!st.ok()) return Corrupt(pages.page_where() + ": " + st.message());
  }
  return Status::OK();
}

// ---- record assembly -------------------------------------------------------------------

template <typename Out, typename F>
void ScatterFixed(const std::vector<int64_t>& vidx, int64_t nulls, Column* out, F value_at) {
  int64_t n = static_cast<int64_t>(vidx.size());
  out->ResizeFixed(n);
  Out* dst = out->data<Out>();
  for (int64_t i = 0; i < n; ++i) dst[i] = vidx[i] >= 0 ? value_at(vidx[i]) : Out{};
  if (nulls > 0) {
    std::vector<uint8_t> bitmap(static_cast<size_t>((n + 7) / 8), 0);
    for (int64_t i = 0; i < n; ++i) {
      if (vidx[i] >= 0) bitmap[static_cast<size_t>(i >> 3)] |= static_cast<uint8_t>(1u << (i & 7));
    }
    out->SetValidity(std::move(bitmap));
  }
}

// The validity bitmap of a flat column from its definition levels (bit set = value
// present), and the number of values present.
int64_t ValidityFromLevels(const int16_t* def, int64_t n, int16_t max_def, std::vector<uint8_t>* bitmap) {
  bitmap->assign(static_cast<size_t>((n + 7) / 8), 0);
  uint8_t* bits = bitmap->data();
  int64_t present = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint8_t byte = 0;
    for (int b = 0; b < 8; ++b) byte |= static_cast<uint8_t>((def[i + b] == max_def) << b);
    bits[i >> 3] = byte;
    present += __builtin_popcount(byte);
  }
  for (; i < n; ++i) {
    if (def[i] == max_def) {
      bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
      ++present;
    }
  }
  return present;
}

// Gives a string/binary column whose offsets (n+1) and bytes were written directly its
// size. Column has no setter for it; appending rows one by one is what the fast path
// avoids, and FinishAppend (behind CloseStructRow) only counts the row while the column
// has no validity bitmap yet, which the caller sets afterwards.
void CountRows(Column* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out->CloseStructRow();
}

bool ParquetReader::FlatCopyFastPath(const LeafColumn& leaf, LeafData& data, Column* out) const {
  const bool bytes = leaf.conversion == Conversion::kBytes && data.values.is_byte_array() &&
                     (out->type().id() == TypeId::kString || out->type().id() == TypeId::kBinary);
  const int w = data.values.width;
  const bool fixed = leaf.conversion == Conversion::kCopy && w > 0 && w == out->type().fixed_width();
  if (!bytes && !fixed) return false;
  const int64_t n = data.entries;
  const bool from_dict = !data.indices.empty();
  const int64_t count = from_dict ? static_cast<int64_t>(data.indices.size()) : data.values.count;
  // Nulls: the bitmap comes straight from the definition levels, and the dense values must
  // be exactly the present ones (anything else is left to ConvertLeaf to report).
  std::vector<uint8_t> bitmap;
  bool nulls = false;
  if (leaf.max_def > 0 && count != n) {
    if (static_cast<int64_t>(data.def.size()) != n) return false;
    if (ValidityFromLevels(data.def.data(), n, leaf.max_def, &bitmap) != count) return false;
    nulls = true;
  } else if (count != n) {
    return false;
  }
  auto valid = [&](int64_t i) { return !nulls || ((bitmap[static_cast<size_t>(i >> 3)] >> (i & 7)) & 1); };

  if (bytes) {
    std::vector<int64_t>& offsets = out->mutable_offsets();
    std::vector<uint8_t>& dst = out->raw_data();
    const ValueBuffer& v = data.values;
    if (!from_dict && !nulls) {
      // Already the column's layout (offsets from 0, then the bytes).
      offsets.swap(data.values.offsets);
      dst.swap(data.values.bytes);
    } else if (!from_dict) {
      // Null rows take empty ranges: the bytes stay as they are, the offsets gain the nulls.
      offsets.resize(static_cast<size_t>(n) + 1);
      offsets[0] = 0;
      int64_t k = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (valid(i)) ++k;
        offsets[static_cast<size_t>(i) + 1] = v.offsets[static_cast<size_t>(k)];
      }
      dst.swap(data.values.bytes);
    } else {
      // One pass for the offsets (and so the size), one copy per value into place.
      const ValueBuffer& dict = data.dict;
      const int32_t* idx = data.indices.data();
      const int64_t* doff = dict.offsets.data();
      offsets.resize(static_cast<size_t>(n) + 1);
      offsets[0] = 0;
      int64_t total = 0, k = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (valid(i)) {
          const int32_t j = idx[k++];
          total += doff[j + 1] - doff[j];
        }
        offsets[static_cast<size_t>(i) + 1] = total;
      }
      dst.resize(static_cast<size_t>(total));
      uint8_t* out_bytes = dst.data();
      const uint8_t* dict_bytes = dict.bytes.data();
      k = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t len = offsets[static_cast<size_t>(i) + 1] - offsets[static_cast<size_t>(i)];
        if (len == 0) {
          k += valid(i);
          continue;
        }
        std::memcpy(out_bytes + offsets[static_cast<size_t>(i)], dict_bytes + doff[idx[k++]], static_cast<size_t>(len));
      }
    }
    CountRows(out, n);
    if (nulls) out->SetValidity(std::move(bitmap));
    return true;
  }

  if (!from_dict && !nulls) {
    // No nulls: the decoded buffer already has the column's layout, and becomes the
    // column's (it was sized first, which zero-filled a buffer only to drop it).
    if (static_cast<int64_t>(data.values.fixed.size()) != n * w) return false;
    out->raw_data().swap(data.values.fixed);
    out->ResizeFixed(n);
    return true;
  }
  out->ResizeFixed(n);
  uint8_t* dst = out->raw_data().data();
  const uint8_t* src = from_dict ? data.dict.fixed.data() : data.values.fixed.data();
  const int32_t* idx = data.indices.data();
  // Value k of the dense sequence: the k-th kept index of the dictionary, or the k-th value.
  auto copy = [&](auto width_tag) {
    constexpr int kW = decltype(width_tag)::value;
    const int ww = kW > 0 ? kW : w;
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (valid(i)) {
        const int64_t at = from_dict ? static_cast<int64_t>(idx[k]) : k;
        std::memcpy(dst + i * ww, src + at * ww, static_cast<size_t>(ww));
        ++k;
      } else {
        std::memset(dst + i * ww, 0, static_cast<size_t>(ww));
      }
    }
  };
  switch (w) {
    case 1: copy(std::integral_constant<int, 1>{}); break;
    case 4: copy(std::integral_constant<int, 4>{}); break;
    case 8: copy(std::integral_constant<int, 8>{}); break;
    case 16: copy(std::integral_constant<int, 16>{}); break;
    default: copy(std::integral_constant<int, 0>{}); break;
  }
  if (nulls) out->SetValidity(std::move(bitmap));
  return true;
}

Status ParquetReader::FlatColumn(const LeafColumn& leaf, LeafData& data, Column* out, const std::string& where) const {
  if (FlatCopyFastPath(leaf, data, out)) return Status::OK();
  *out = Column(out->type());
  MaterializeIndices(&data);
  return ConvertLeaf(leaf, data, nullptr, out, where);
}

Status ParquetReader::ConvertLeaf(const LeafColumn& leaf, const LeafData& data, const std::vector<int64_t>* starts,
                                  Column* out, const std::string& where) const {
  // vidx[i]: the dense value index of output row i, or -1 for null.
  int64_t n = starts ? static_cast<int64_t>(starts->size()) : data.entries;
  std::vector<int64_t> vidx(static_cast<size_t>(n));
  int64_t nulls = 0;
  if (leaf.max_def == 0) {
    if (starts) {
      for (int64_t i = 0; i < n; ++i) vidx[i] = (*starts)[i];
    } else {
      for (int64_t i = 0; i < n; ++i) vidx[i] = i;
    }
  } else {
    const int16_t* def = data.def.data();
    int64_t scanned = 0, values_before = 0;
    for (int64_t i = 0; i < n; ++i) {
      int64_t e = starts ? (*starts)[i] : i;
      for (; scanned < e; ++scanned) values_before += def[scanned] == leaf.max_def;
      if (def[e] == leaf.max_def) {
        vidx[i] = values_before;
      } else {
        vidx[i] = -1;
        ++nulls;
      }
    }
  }
  if (leaf.conversion == Conversion::kAllNull) {
    out->AppendNulls(n);
    return Status::OK();
  }
  const ValueBuffer& v = data.values;
  for (int64_t i = n - 1; i >= 0; --i) {
    if (vidx[i] >= 0) {
      if (vidx[i] >= v.count) return Corrupt(where + ": levels call for more values than the pages hold");
      break;
    }
  }
  const uint8_t* fixed = v.fixed.data();
  auto load = [&](auto tag, int64_t k) {
    decltype(tag) x;
    std::memcpy(&x, fixed + k * static_cast<int64_t>(sizeof(x)), sizeof(x));
    return x;
  };
  switch (leaf.conversion) {
    case Conversion::kCopy:
      switch (leaf.type.id()) {
        case TypeId::kBoolean: ScatterFixed<uint8_t>(vidx, nulls, out, [&](int64_t k) { return fixed[k]; }); break;
        case TypeId::kInt:
        case TypeId::kDate: ScatterFixed<int32_t>(vidx, nulls, out, [&](int64_t k) { return load(int32_t{}, k); }); break;
        case TypeId::kLong:
        case TypeId::kTimestamp:
        case TypeId::kTimestampNtz:
          ScatterFixed<int64_t>(vidx, nulls, out, [&](int64_t k) { return load(int64_t{}, k); });
          break;
        case TypeId::kFloat: ScatterFixed<float>(vidx, nulls, out, [&](int64_t k) { return load(float{}, k); }); break;
        case TypeId::kDouble: ScatterFixed<double>(vidx, nulls, out, [&](int64_t k) { return load(double{}, k); }); break;
        default: return Status::Internal("no copy conversion to " + leaf.type.ToString());
      }
      break;
    case Conversion::kInt32ToByte:
      ScatterFixed<int8_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int8_t>(load(int32_t{}, k)); });
      break;
    case Conversion::kInt32ToShort:
      ScatterFixed<int16_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int16_t>(load(int32_t{}, k)); });
      break;
    case Conversion::kUint32ToLong:
      ScatterFixed<int64_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int64_t>(load(uint32_t{}, k)); });
      break;
    case Conversion::kInt32ToDecimal:
      ScatterFixed<int128_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int128_t>(load(int32_t{}, k)); });
      break;
    case Conversion::kInt64ToDecimal:
      ScatterFixed<int128_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int128_t>(load(int64_t{}, k)); });
      break;
    case Conversion::kUint64ToDecimal:
      ScatterFixed<int128_t>(vidx, nulls, out, [&](int64_t k) { return static_cast<int128_t>(load(uint64_t{}, k)); });
      break;
    case Conversion::kMillisToMicros:
      ScatterFixed<int64_t>(vidx, nulls, out, [&](int64_t k) {
        return static_cast<int64_t>(static_cast<uint64_t>(load(int64_t{}, k)) * 1000u);
      });
      break;
    case Conversion::kNanosToMicros:
      ScatterFixed<int64_t>(vidx, nulls, out, [&](int64_t k) { return FloorDiv(load(int64_t{}, k), 1000); });
      break;
    case Conversion::kInt96ToMicros:
      ScatterFixed<int64_t>(vidx, nulls, out, [&](int64_t k) { return Int96ToMicros(fixed + k * 12); });
      break;
    case Conversion::kFloat16ToFloat:
      ScatterFixed<float>(vidx, nulls, out, [&](int64_t k) {
        uint16_t h;
        std::memcpy(&h, fixed + k * 2, 2);
        return HalfToFloat(h);
      });
      break;
    case Conversion::kBigEndianDecimal: {
      Status bad;
      int128_t limit = Pow10(leaf.type.precision());
      ScatterFixed<int128_t>(vidx, nulls, out, [&](int64_t k) -> int128_t {
        const uint8_t* p;
        size_t len;
        if (v.is_byte_array()) {
          p = v.bytes.data() + v.offsets[k];
          len = static_cast<size_t>(v.offsets[k + 1] - v.offsets[k]);
        } else {
          p = fixed + k * v.width;
          len = static_cast<size_t>(v.width);
        }
        auto r = BigEndianToInt128(p, len);
        if (!r.ok()) {
          bad = r.status();
          return 0;
        }
        if (*r >= limit || *r <= -limit) bad = Status::Corruption("decimal value exceeds its precision");
        return *r;
      });
      if (!bad.ok()) return Corrupt(where + ": " + bad.message());
      break;
    }
    case Conversion::kBytes:
    case Conversion::kUuidToString: {
      out->Reserve(n);
      out->raw_data().reserve(v.is_byte_array() ? v.bytes.size() : static_cast<size_t>(n) * 36);
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = vidx[i];
        if (k < 0) {
          out->AppendNull();
        } else if (leaf.conversion == Conversion::kUuidToString) {
          out->AppendString(FormatUuid(fixed + k * 16));
        } else if (v.is_byte_array()) {
          out->AppendString(v.ByteArray(k));
        } else {
          out->AppendString(std::string_view(reinterpret_cast<const char*>(fixed + k * v.width),
                                             static_cast<size_t>(v.width)));
        }
      }
      break;
    }
    case Conversion::kAllNull: break;
  }
  return Status::OK();
}

Status ParquetReader::Assemble(const AssemblyNode& node, std::vector<LeafData>& data,
                               std::vector<std::vector<int64_t>>& starts, Column* out,
                               const std::string& where) const {
  const int first = node.first_leaf;
  const std::vector<int64_t>& s0 = starts[static_cast<size_t>(first)];
  const LeafData& d0 = data[static_cast<size_t>(first)];
  const int64_t n = static_cast<int64_t>(s0.size());
  auto present = [&](int64_t e, int16_t level) { return d0.def.empty() || d0.def[e] >= level; };

  switch (node.kind) {
    case AssemblyNode::Kind::kLeaf:
      return ConvertLeaf(fs_.leaves[static_cast<size_t>(node.leaf)], d0, &s0, out, where);

    case AssemblyNode::Kind::kStruct: {
      std::vector<int64_t> null_rows;
      for (int64_t i = 0; i < n; ++i) {
        if (!present(s0[i], node.def_level)) null_rows.push_back(i);
      }
      for (size_t c = 0; c < node.children.size(); ++c) {
        LP_RETURN_IF_ERROR(Assemble(node.children[c], data, starts, &out->child(c), where));
        if (out->child(c).size() != n) {
          return Corrupt(where + ": struct fields disagree on the number of values (levels are inconsistent)");
        }
      }
      for (int64_t i = 0; i < n; ++i) out->CloseStructRow();
      for (int64_t i : null_rows) out->SetNull(i);
      return Status::OK();
    }

    case AssemblyNode::Kind::kList:
    case AssemblyNode::Kind::kMap: {
      std::vector<int64_t> offsets(static_cast<size_t>(n) + 1, 0);
      std::vector<int64_t> null_rows;
      const int16_t R = node.rep_level;
      // New instance starts (elements) for every leaf below, from that leaf's own levels.
      for (int L = first; L < first + node.num_leaves; ++L) {
        const LeafData& d = data[static_cast<size_t>(L)];
        const std::vector<int64_t>& s = starts[static_cast<size_t>(L)];
        if (static_cast<int64_t>(s.size()) != n) {
          return Corrupt(where + ": columns of one list disagree on its length (levels are inconsistent)");
        }
        std::vector<int64_t> next;
        const int64_t N = d.entries;
        for (int64_t i = 0; i < n; ++i) {
          int64_t e = s[static_cast<size_t>(i)];
          bool has_elements = d.def.empty() || d.def[e] >= node.element_def_level;
          if (L == first) {
            if (!present(e, node.def_level)) null_rows.push_back(i);
          }
          if (has_elements) {
            next.push_back(e);
            for (int64_t j = e + 1; j < N && d.rep[j] >= R; ++j) {
              if (d.rep[j] == R) next.push_back(j);
            }
          }
          if (L == first) offsets[static_cast<size_t>(i) + 1] = static_cast<int64_t>(next.size());
        }
        starts[static_cast<size_t>(L)].swap(next);
      }
      int64_t elements = offsets.back();
      LP_RETURN_IF_ERROR(Assemble(node.children[0], data, starts, &out->child(0), where));
      if (out->child(0).size() != elements) {
        return Corrupt(where + ": list elements disagree with the list lengths (levels are inconsistent)");
      }
      if (node.kind == AssemblyNode::Kind::kMap) {
        if (node.value_missing) {
          out->child(1).AppendNulls(elements);
        } else {
          LP_RETURN_IF_ERROR(Assemble(node.children[1], data, starts, &out->child(1), where));
          if (out->child(1).size() != elements) {
            return Corrupt(where + ": map keys and values disagree in number (levels are inconsistent)");
          }
        }
      }
      for (int64_t i = 0; i < n; ++i) out->CloseListRow();
      out->mutable_offsets() = std::move(offsets);
      for (int64_t i : null_rows) out->SetNull(i);
      return Status::OK();
    }
  }
  return Status::Internal("unknown assembly node");
}

// ---- row groups --------------------------------------------------------------------------

Result<RecordBatch> ParquetReader::ReadRowGroupRows(int row_group, const std::vector<int>& columns,
                                                    const std::vector<int64_t>& rows, const ReadOptions& options) const {
  if (row_group < 0 || row_group >= num_row_groups()) {
    return Status::InvalidArgument(name_ + ": row group " + Num(row_group) + " does not exist (" +
                                   Num(num_row_groups()) + " row groups)");
  }
  const int64_t n = md_.row_groups[static_cast<size_t>(row_group)].num_rows;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= n || (i > 0 && rows[i] <= rows[i - 1])) {
      return Status::InvalidArgument(name_ + ": row selection of row group " + Num(row_group) +
                                     " is not ascending within its " + Num(n) + " rows");
    }
  }
  // Repeated columns (lists, maps) are read whole and the rows taken from them.
  std::vector<int> fields = columns;
  if (fields.empty()) {
    for (size_t i = 0; i < fs_.fields.size(); ++i) fields.push_back(static_cast<int>(i));
  }
  bool repeated = false;
  for (int f : fields) {
    if (f < 0 || f >= static_cast<int>(fs_.fields.size())) continue;  // ReadRows reports it
    const AssemblyNode& node = fs_.fields[static_cast<size_t>(f)];
    for (int L = node.first_leaf; L < node.first_leaf + node.num_leaves; ++L) {
      repeated |= fs_.leaves[static_cast<size_t>(L)].max_rep > 0;
    }
  }
  if (!repeated) return ReadRows(row_group, fields, &rows, options);
  LP_ASSIGN_OR_RETURN(RecordBatch all, ReadRows(row_group, fields, nullptr, options));
  std::vector<int32_t> idx(rows.begin(), rows.end());
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < all.num_columns(); ++c) cols.push_back(MakeColumn(all.column(c).Take(idx)));
  return RecordBatch(all.schema(), std::move(cols), static_cast<int64_t>(idx.size()));
}

Result<RecordBatch> ParquetReader::ReadRows(int row_group, const std::vector<int>& columns,
                                            const std::vector<int64_t>* rows, const ReadOptions& options,
                                            bool parallel_columns) const {
  if (row_group < 0 || row_group >= num_row_groups()) {
    return Status::InvalidArgument(name_ + ": row group " + Num(row_group) + " does not exist (" +
                                   Num(num_row_groups()) + " row groups)");
  }
  std::vector<int> fields = columns;
  if (fields.empty()) {
    for (size_t i = 0; i < fs_.fields.size(); ++i) fields.push_back(static_cast<int>(i));
  }
  const RowGroup& rg = md_.row_groups[static_cast<size_t>(row_group)];
  // The rows returned: all of the row group's, or the selected ones.
  const int64_t num_rows = rows != nullptr ? static_cast<int64_t>(rows->size()) : rg.num_rows;
  for (int f : fields) {
    if (f < 0 || f >= static_cast<int>(fs_.fields.size())) {
      return Status::InvalidArgument(name_ + ": column index " + Num(f) + " is out of range");
    }
  }
  // Columns decode independently. Each worker has its own level/value scratch (indexed
  // by leaf, as Assemble wants it), so a column read twice is no race.
  std::vector<std::optional<Result<ColumnPtr>>> results(fields.size());
  std::atomic<size_t> next{0};
  auto work = [&]() {
    std::vector<LeafData> data(fs_.leaves.size());
    std::vector<std::vector<int64_t>> starts(fs_.leaves.size());
    for (size_t i = next++; i < fields.size(); i = next++) {
      results[i] = ReadField(row_group, fields[i], rows, num_rows, options, data, starts);
      if (!results[i]->ok()) next = fields.size();  // the first error is returned: stop early
    }
  };
  if (parallel_columns && fields.size() > 1) {
    std::thread helper(work);
    work();
    helper.join();
  } else {
    work();
  }
  Schema schema;
  std::vector<ColumnPtr> out_columns;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!results[i]) continue;  // not reached after an error, which is returned below
    if (!results[i]->ok()) return results[i]->status();
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!results[i]) return Status::Internal(name_ + ": column " + Num(fields[i]) + " was not read");
    schema.AddField(fs_.schema.field(static_cast<size_t>(fields[i])));
    out_columns.push_back(std::move(*results[i]).value());
  }
  return RecordBatch(std::move(schema), std::move(out_columns), num_rows);
}

Result<ColumnPtr> ParquetReader::ReadField(int row_group, int f, const std::vector<int64_t>* rows, int64_t num_rows,
                                           const ReadOptions& options, std::vector<LeafData>& data,
                                           std::vector<std::vector<int64_t>>& starts) const {
  const RowGroup& rg = md_.row_groups[static_cast<size_t>(row_group)];
  const AssemblyNode& node = fs_.fields[static_cast<size_t>(f)];
  const Field& field = fs_.schema.field(static_cast<size_t>(f));
  std::string where = "row group " + Num(row_group) + ", column '" + field.name + "'";
  for (int L = node.first_leaf; L < node.first_leaf + node.num_leaves; ++L) {
    LeafData& d = data[static_cast<size_t>(L)];
    LP_RETURN_IF_ERROR(ReadChunk(row_group, L, options, &d, rows, node.kind == AssemblyNode::Kind::kLeaf));
    // Rows start where the repetition level is 0.
    auto& s = starts[static_cast<size_t>(L)];
    s.clear();
    if (d.rep.empty()) {
      if (d.entries != num_rows) {
        return Corrupt(where + ": " + Num(d.entries) + " values for " + Num(num_rows) + " rows of a row group of " +
                       Num(rg.num_rows));
      }
    } else {
      for (int64_t e = 0; e < d.entries; ++e) {
        if (d.rep[e] == 0) s.push_back(e);
      }
      if (static_cast<int64_t>(s.size()) != rg.num_rows) {
        return Corrupt(where + ": row count mismatch: " + Num(s.size()) + " rows in the column chunk, " +
                       Num(rg.num_rows) + " in the row group");
      }
    }
  }
  Column col(node.type);
  if (node.kind == AssemblyNode::Kind::kLeaf && data[static_cast<size_t>(node.leaf)].rep.empty()) {
    // Flat column: every level entry is a row.
    LP_RETURN_IF_ERROR(FlatColumn(fs_.leaves[static_cast<size_t>(node.leaf)], data[static_cast<size_t>(node.leaf)],
                                  &col, where));
  } else {
    for (int L = node.first_leaf; L < node.first_leaf + node.num_leaves; ++L) {
      auto& s = starts[static_cast<size_t>(L)];
      if (data[static_cast<size_t>(L)].rep.empty()) {
        s.resize(static_cast<size_t>(num_rows));
        for (int64_t i = 0; i < num_rows; ++i) s[static_cast<size_t>(i)] = i;
      }
    }
    LP_RETURN_IF_ERROR(Assemble(node, data, starts, &col, where));
  }
  if (col.size() != num_rows) {
    return Corrupt(where + ": assembled " + Num(col.size()) + " rows, the row group has " + Num(num_rows));
  }
  for (int L = node.first_leaf; L < node.first_leaf + node.num_leaves; ++L) {
    data[static_cast<size_t>(L)] = LeafData();
    std::vector<int64_t>().swap(starts[static_cast<size_t>(L)]);
  }
  return MakeColumn(std::move(col));
}


// ---- row groups by slices -------------------------------------------------------------

// A row group read slice by slice. Each flat column keeps the entries its pages decoded
// past the last slice (`pending`, from `front` on) and decodes another page only when the
// next slice needs it: a slice costs one copy of its values out of the decoded pages, and
// memory holds a slice plus at most a page per column beyond it.
class ParquetReader::Slices final : public RowGroupSlices {
 public:
  Slices(const ParquetReader& reader, int row_group, int64_t slice_rows, const ReadOptions& options)
      : r_(reader), rg_(row_group), slice_rows_(slice_rows), options_(options) {}

  Status Open(const std::vector<int>& fields) {
    num_rows_ = r_.md_.row_groups[static_cast<size_t>(rg_)].num_rows;
    bool flat = true;
    for (int f : fields) {
      const AssemblyNode& node = r_.fs_.fields[static_cast<size_t>(f)];
      flat = flat && node.kind == AssemblyNode::Kind::kLeaf && r_.fs_.leaves[static_cast<size_t>(node.leaf)].max_rep == 0;
    }
    if (!flat) {
      // Lists, maps and structs assemble from several leaves: read whole, then cut.
      LP_ASSIGN_OR_RETURN(RecordBatch all, r_.ReadRows(rg_, fields, nullptr, options_));
      whole_ = std::move(all);
      return Status::OK();
    }
    columns_.reserve(fields.size());
    for (int f : fields) {
      schema_.AddField(r_.fs_.schema.field(static_cast<size_t>(f)));
      const AssemblyNode& node = r_.fs_.fields[static_cast<size_t>(f)];
      auto& c = columns_.emplace_back();
      c.node = &node;
      c.leaf = &r_.fs_.leaves[static_cast<size_t>(node.leaf)];
      c.where = "row group " + Num(rg_) + ", column '" + r_.fs_.schema.field(static_cast<size_t>(f)).name + "'";
      c.pending.values = ValueBuffer(PhysicalWidth(*c.leaf));
      c.pages = std::make_unique<ChunkPages>(r_, rg_, node.leaf, options_);
      LP_RETURN_IF_ERROR(c.pages->Open(&c.pending.dict));
    }
    return Status::OK();
  }

  Result<bool> Next(RecordBatch* out) override {
    if (emitted_ >= num_rows_) return false;
    const int64_t n = std::min(slice_rows_, num_rows_ - emitted_);
    if (whole_) {
      *out = whole_->Slice(emitted_, n);
      emitted_ += n;
      if (emitted_ >= num_rows_) whole_.reset();
      return true;
    }
    std::vector<ColumnPtr> cols;
    cols.reserve(columns_.size());
    for (auto& c : columns_) {
      if (c.pending.entries - c.front < n) {
        Compact(c);
        int64_t page_values = 0;
        while (c.pending.entries < n) {
          LP_ASSIGN_OR_RETURN(bool more, c.pages->Next(&page_values));
          if (!more) {
            return r_.Corrupt(c.where + ": " + Num(emitted_ + c.pending.entries) + " values for a row group of " +
                              Num(num_rows_) + " rows");
          }
          LP_RETURN_IF_ERROR(c.pages->Decode(&c.pending, /*keep_indices=*/true));
        }
      }
      LP_ASSIGN_OR_RETURN(LeafData piece, TakeFront(c, n));
      Column col(c.node->type);
      // The piece's kept indices point into the dictionary, lent to it while it converts.
      std::swap(piece.dict, c.pending.dict);
      Status st = r_.FlatColumn(*c.leaf, piece, &col, c.where);
      std::swap(piece.dict, c.pending.dict);
      LP_RETURN_IF_ERROR(st);
      if (col.size() != n) {
        return r_.Corrupt(c.where + ": assembled " + Num(col.size()) + " rows of a slice of " + Num(n));
      }
      cols.push_back(MakeColumn(std::move(col)));
    }
    emitted_ += n;
    *out = RecordBatch(schema_, std::move(cols), n);
    return true;
  }

 private:
  struct ColumnCursor {
    const AssemblyNode* node = nullptr;
    const LeafColumn* leaf = nullptr;
    std::string where;
    std::unique_ptr<ChunkPages> pages;
    // Entries decoded and not yet handed out: [front, pending.entries), whose dense values
    // start at front_value (of pending.values, or of pending.indices while a dictionary's
    // indices are kept). pending.dict holds the chunk's dictionary.
    LeafData pending;
    int64_t front = 0;
    int64_t front_value = 0;
  };

  // The dense values pending holds (kept indices or values).
  static int64_t DenseCount(const LeafData& d) {
    return d.indices.empty() ? d.values.count : static_cast<int64_t>(d.indices.size());
  }

  // Drops the entries already handed out, before more pages are appended.
  static void Compact(ColumnCursor& c) {
    LeafData& d = c.pending;
    if (c.front == 0) return;
    const auto f = static_cast<std::ptrdiff_t>(c.front);
    const auto fv = static_cast<std::ptrdiff_t>(c.front_value);
    if (!d.def.empty()) d.def.erase(d.def.begin(), d.def.begin() + f);
    if (!d.indices.empty()) {
      d.indices.erase(d.indices.begin(), d.indices.begin() + fv);
    } else if (d.values.count > 0) {
      ValueBuffer& v = d.values;
      if (v.is_byte_array()) {
        const int64_t cut = v.offsets[static_cast<size_t>(fv)];
        v.bytes.erase(v.bytes.begin(), v.bytes.begin() + cut);
        v.offsets.erase(v.offsets.begin(), v.offsets.begin() + fv);
        for (int64_t& o : v.offsets) o -= cut;
      } else {
        v.fixed.erase(v.fixed.begin(), v.fixed.begin() + fv * v.width);
      }
      v.count -= c.front_value;
    }
    d.entries -= c.front;
    c.front = 0;
    c.front_value = 0;
  }

  // The next `n` entries of the column (and their values), copied out of pending.
  Result<LeafData> TakeFront(ColumnCursor& c, int64_t n) const {
    const LeafData& d = c.pending;
    const LeafColumn& leaf = *c.leaf;
    LeafData piece;
    piece.entries = n;
    piece.values = ValueBuffer(d.values.width);
    int64_t k = n;  // dense values among the n entries
    if (leaf.max_def > 0) {
      const int16_t* def = d.def.data() + c.front;
      piece.def.assign(def, def + n);
      k = 0;
      for (int64_t i = 0; i < n; ++i) k += def[i] == leaf.max_def;
    }
    if (leaf.conversion != Conversion::kAllNull) {
      if (c.front_value + k > DenseCount(d)) {
        return r_.Corrupt(c.where + ": the definition levels promise " + Num(c.front_value + k) +
                          " values, the pages hold " + Num(DenseCount(d)));
      }
      const auto fv = static_cast<size_t>(c.front_value);
      if (!d.indices.empty()) {
        piece.indices.assign(d.indices.begin() + fv, d.indices.begin() + fv + k);
      } else {
        const ValueBuffer& v = d.values;
        ValueBuffer& p = piece.values;
        if (v.is_byte_array()) {
          const int64_t first = v.offsets[fv];
          p.offsets.resize(static_cast<size_t>(k) + 1);
          for (int64_t i = 0; i <= k; ++i) p.offsets[static_cast<size_t>(i)] = v.offsets[fv + i] - first;
          p.bytes.assign(v.bytes.begin() + first, v.bytes.begin() + v.offsets[fv + k]);
        } else {
          p.fixed.assign(v.fixed.begin() + c.front_value * v.width, v.fixed.begin() + (c.front_value + k) * v.width);
        }
        p.count = k;
      }
      c.front_value += k;
    }
    c.front += n;
    return piece;
  }

  const ParquetReader& r_;
  const int rg_;
  const int64_t slice_rows_;
  const ReadOptions options_;
  int64_t num_rows_ = 0;
  int64_t emitted_ = 0;
  Schema schema_;
  std::vector<ColumnCursor> columns_;
  std::optional<RecordBatch> whole_;  // a row group that is not flat, read whole
};

Result<std::unique_ptr<FileReader::RowGroupSlices>> ParquetReader::SliceRowGroup(int row_group,
                                                                                const std::vector<int>& columns,
                                                                                int64_t slice_rows,
                                                                                const ReadOptions& options) const {
  if (row_group < 0 || row_group >= num_row_groups()) {
    return Status::InvalidArgument(name_ + ": row group " + Num(row_group) + " does not exist (" +
                                   Num(num_row_groups()) + " row groups)");
  }
  if (slice_rows <= 0) return Status::InvalidArgument(name_ + ": slices of " + Num(slice_rows) + " rows");
  std::vector<int> fields = columns;
  if (fields.empty()) {
    for (size_t i = 0; i < fs_.fields.size(); ++i) fields.push_back(static_cast<int>(i));
  }
  for (int f : fields) {
    if (f < 0 || f >= static_cast<int>(fs_.fields.size())) {
      return Status::InvalidArgument(name_ + ": column index " + Num(f) + " is out of range");
    }
  }
  auto slices = std::make_unique<Slices>(*this, row_group, slice_rows, options);
  LP_RETURN_IF_ERROR(slices->Open(fields));
  return std::unique_ptr<RowGroupSlices>(std::move(slices));
}

Result<RecordBatch> ParquetReader::ReadAll(const ReadOptions& options) const {
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> batches, ReadRowGroups(options));
  if (batches.size() == 1) return std::move(batches[0]);
  Schema schema;
  if (batches.empty()) {
    for (const auto& name : options.columns) schema.AddField(fs_.schema.field(static_cast<size_t>(fs_.schema.FindField(name))));
    if (options.columns.empty()) schema = fs_.schema;
    return RecordBatch::Empty(schema);
  }
  return RecordBatch::Concat(batches[0].schema(), batches);
}

Result<std::vector<RecordBatch>> ParquetReader::ReadRowGroups(const ReadOptions& options) const {
  std::vector<int> columns;
  for (const auto& name : options.columns) {
    int i = fs_.schema.FindField(name);
    if (i < 0) return Status::NotFound(name_ + ": no column named '" + name + "'");
    columns.push_back(i);
  }
  if (columns.empty()) {
    for (size_t i = 0; i < fs_.fields.size(); ++i) columns.push_back(static_cast<int>(i));
  }
  Schema schema;
  for (int c : columns) schema.AddField(fs_.schema.field(static_cast<size_t>(c)));
  std::vector<int> groups;
  for (int rg = 0; rg < num_row_groups(); ++rg) {
    if (options.predicates.empty() || RowGroupMayMatch(rg, options.predicates)) groups.push_back(rg);
  }
  // Row groups decode independently: two workers (the reference machine has two cores)
  // take them in turn; the batches keep file order. A single row group is decoded by two
  // workers taking its columns in turn.
  if (groups.size() == 1) {
    LP_ASSIGN_OR_RETURN(RecordBatch batch, ReadRows(groups[0], columns, nullptr, options, /*parallel_columns=*/true));
    std::vector<RecordBatch> batches;
    batches.push_back(std::move(batch));
    return batches;
  }
  std::vector<std::optional<Result<RecordBatch>>> results(groups.size());
  std::atomic<size_t> next{0};
  auto work = [&]() {
    for (size_t i = next++; i < groups.size(); i = next++) results[i] = ReadRowGroup(groups[i], columns, options);
  };
  if (groups.size() > 1) {
    std::thread helper(work);
    work();
    helper.join();
  } else {
    work();
  }
  std::vector<RecordBatch> batches;
  for (auto& r : results) {
    if (!r->ok()) return r->status();
    batches.push_back(std::move(*r).value());
  }
  (void)schema;
  return batches;
}

// ---- statistics ----------------------------------------------------------------------------

// A statistics bound decoded to the leaf's logical type, or nullopt when unusable.
std::optional<Value> StatValue(const LeafColumn& leaf, const std::string& bytes) {
  auto fixed = [&](auto tag) -> std::optional<decltype(tag)> {
    if (bytes.size() != sizeof(tag)) return std::nullopt;
    decltype(tag) x;
    std::memcpy(&x, bytes.data(), sizeof(x));
    return x;
  };
  const TypeId id = leaf.type.id();
  switch (leaf.conversion) {
    case Conversion::kCopy:
      if (id == TypeId::kBoolean) {
        if (bytes.size() != 1) return std::nullopt;
        return Value::Bool(bytes[0] != 0);
      }
      if (id == TypeId::kInt || id == TypeId::kDate) {
        auto x = fixed(int32_t{});
        if (!x) return std::nullopt;
        return id == TypeId::kDate ? Value::Date(*x) : Value::Int(*x, TypeId::kInt);
      }
      if (id == TypeId::kLong || id == TypeId::kTimestamp || id == TypeId::kTimestampNtz) {
        auto x = fixed(int64_t{});
        if (!x) return std::nullopt;
        return id == TypeId::kLong ? Value::Int(*x) : Value::Timestamp(*x, id == TypeId::kTimestampNtz);
      }
      if (id == TypeId::kFloat || id == TypeId::kDouble) {
        double d;
        if (id == TypeId::kFloat) {
          auto x = fixed(float{});
          if (!x) return std::nullopt;
          d = *x;
        } else {
          auto x = fixed(double{});
          if (!x) return std::nullopt;
          d = *x;
        }
        if (std::isnan(d)) return std::nullopt;
        return Value::Double(d, id);
      }
      return std::nullopt;
    case Conversion::kInt32ToByte:
    case Conversion::kInt32ToShort: {
      auto x = fixed(int32_t{});
      if (!x) return std::nullopt;
      return Value::Int(*x, id);
    }
    case Conversion::kUint32ToLong: {
      auto x = fixed(uint32_t{});
      if (!x) return std::nullopt;
      return Value::Int(static_cast<int64_t>(*x));
    }
    case Conversion::kInt32ToDecimal: {
      auto x = fixed(int32_t{});
      if (!x) return std::nullopt;
      return Value::Decimal(*x, leaf.type.precision(), leaf.type.scale());
    }
    case Conversion::kInt64ToDecimal: {
      auto x = fixed(int64_t{});
      if (!x) return std::nullopt;
      return Value::Decimal(*x, leaf.type.precision(), leaf.type.scale());
    }
    case Conversion::kUint64ToDecimal: {
      auto x = fixed(uint64_t{});
      if (!x) return std::nullopt;
      return Value::Decimal(static_cast<int128_t>(*x), 20, 0);
    }
    case Conversion::kMillisToMicros: {
      auto x = fixed(int64_t{});
      if (!x || *x > INT64_MAX / 1000 || *x < INT64_MIN / 1000) return std::nullopt;
      return Value::Timestamp(*x * 1000, id == TypeId::kTimestampNtz);
    }
    case Conversion::kNanosToMicros: {
      auto x = fixed(int64_t{});
      if (!x) return std::nullopt;
      return Value::Timestamp(FloorDiv(*x, 1000), id == TypeId::kTimestampNtz);
    }
    case Conversion::kBigEndianDecimal: {
      auto r = BigEndianToInt128(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      if (!r.ok()) return std::nullopt;
      return Value::Decimal(*r, leaf.type.precision(), leaf.type.scale());
    }
    case Conversion::kBytes:
      return id == TypeId::kString ? Value::String(bytes) : Value::Binary(bytes);
    default:
      return std::nullopt;  // INT96, FLOAT16, UUID, all-null: no usable order
  }
}

bool Comparable(const Value& a, const Value& b) {
  auto numeric = [](TypeId id) {
    return id == TypeId::kByte || id == TypeId::kShort || id == TypeId::kInt || id == TypeId::kLong ||
           id == TypeId::kFloat || id == TypeId::kDouble || id == TypeId::kDecimal;
  };
  auto text = [](TypeId id) { return id == TypeId::kString || id == TypeId::kBinary; };
  if (numeric(a.id()) && numeric(b.id())) return true;
  if (text(a.id()) && text(b.id())) return true;
  return a.id() == b.id();
}

bool ParquetReader::PredicateMayMatch(const RowGroup& rg, const ColumnPredicate& p) const {
  int f = fs_.schema.FindField(p.column);
  if (f < 0) return true;
  const AssemblyNode& node = fs_.fields[static_cast<size_t>(f)];
  if (node.kind != AssemblyNode::Kind::kLeaf) return true;
  const LeafColumn& leaf = fs_.leaves[static_cast<size_t>(node.leaf)];
  const ColumnChunk& cc = rg.columns[static_cast<size_t>(node.leaf)];
  if (!cc.meta_data || !cc.meta_data->statistics) return true;
  const Statistics& st = *cc.meta_data->statistics;
  std::optional<int64_t> nulls = st.null_count;
  if (leaf.max_def == 0) nulls = 0;
  if (p.op == ColumnPredicate::Op::kIsNull) return !nulls || *nulls > 0;
  if (p.op == ColumnPredicate::Op::kIsNotNull) return !nulls || *nulls < rg.num_rows;
  if (nulls && *nulls == rg.num_rows && rg.num_rows > 0) return false;  // all null: no comparison holds
  if (p.value.is_null()) return true;

  // min_value/max_value follow the column order (TypeDefined); the deprecated min/max
  // were written in signed order, so they are trusted only where that order is right.
  std::optional<std::string> min_bytes, max_bytes;
  bool order_known = true;
  if (static_cast<size_t>(node.leaf) < md_.column_orders.size()) {
    order_known = md_.column_orders[static_cast<size_t>(node.leaf)] != ColumnOrder::kUnknown;
  }
  if (order_known && st.min_value && st.max_value) {
    min_bytes = st.min_value;
    max_bytes = st.max_value;
  } else if (leaf.signed_stats_ok && st.min && st.max) {
    min_bytes = st.min;
    max_bytes = st.max;
  } else {
    return true;
  }
  std::optional<Value> lo = StatValue(leaf, *min_bytes), hi = StatValue(leaf, *max_bytes);
  if (!lo || !hi) return true;
  const Value& v = p.value;
  if (!Comparable(*lo, v)) return true;
  if (v.id() == TypeId::kDouble || v.id() == TypeId::kFloat) {
    if (std::isnan(v.double_value())) return true;
  }
  switch (p.op) {
    case ColumnPredicate::Op::kEq: return lo->Compare(v) <= 0 && hi->Compare(v) >= 0;
    case ColumnPredicate::Op::kLt: return lo->Compare(v) < 0;
    case ColumnPredicate::Op::kLe: return lo->Compare(v) <= 0;
    case ColumnPredicate::Op::kGt: return hi->Compare(v) > 0;
    case ColumnPredicate::Op::kGe: return hi->Compare(v) >= 0;
    default: return true;
  }
}

bool ParquetReader::RowGroupMayMatch(int row_group, const std::vector<ColumnPredicate>& predicates) const {
  if (row_group < 0 || row_group >= num_row_groups()) return false;
  const RowGroup& rg = md_.row_groups[static_cast<size_t>(row_group)];
  for (const auto& p : predicates) {
    if (!PredicateMayMatch(rg, p)) return false;
  }
  return true;
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------

Result<std::unique_ptr<FileReader>> FileReader::Open(FileSystem* fs, const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto file, fs->NewRandomAccessFile(path));
  auto reader = std::make_unique<ParquetReader>(std::make_unique<Source>(std::move(file)), path);
  LP_RETURN_IF_ERROR(reader->Init());
  return std::unique_ptr<FileReader>(std::move(reader));
}

Result<std::unique_ptr<FileReader>> FileReader::OpenBuffer(std::string data, std::string name) {
  auto reader = std::make_unique<ParquetReader>(std::make_unique<Source>(std::move(data)), std::move(name));
  LP_RETURN_IF_ERROR(reader->Init());
  return std::unique_ptr<FileReader>(std::move(reader));
}

}  // namespace lakepipe::parquet
