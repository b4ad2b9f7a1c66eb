#include "formats/parquet/writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/hash_mix.h"
#include "common/utf8.h"
#include "formats/parquet/compression.h"
#include "formats/parquet/reader.h"
#include "formats/parquet/rle.h"
#include "types/column.h"
#include "types/decimal.h"

namespace lakepipe::parquet {

// ---- names ------------------------------------------------------------------------------

Result<Compression> CompressionFromName(std::string_view name) {
  std::string n(name);
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n == "zstd") return Compression::kZstd;
  if (n == "snappy") return Compression::kSnappy;
  if (n == "uncompressed" || n == "none") return Compression::kUncompressed;
  if (n == "gzip") return Compression::kGzip;
  if (n == "lz4") return Compression::kLz4;
  if (n == "lz4_raw") return Compression::kLz4Raw;
  if (n == "brotli") return Compression::kBrotli;
  return Status::InvalidArgument("unknown Parquet compression '" + std::string(name) +
                                 "' (expected zstd, snappy, gzip, lz4, lz4_raw, brotli or "
                                 "uncompressed)");
}

std::string CompressionName(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return "uncompressed";
    case Compression::kSnappy: return "snappy";
    case Compression::kGzip: return "gzip";
    case Compression::kBrotli: return "brotli";
    case Compression::kLz4: return "lz4";
    case Compression::kLz4Raw: return "lz4_raw";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

CompressionCodec ToCodec(Compression c) {
  switch (c) {
    case Compression::kUncompressed: return CompressionCodec::kUncompressed;
    case Compression::kSnappy: return CompressionCodec::kSnappy;
    case Compression::kGzip: return CompressionCodec::kGzip;
    case Compression::kBrotli: return CompressionCodec::kBrotli;
    case Compression::kLz4: return CompressionCodec::kLz4;
    case Compression::kLz4Raw: return CompressionCodec::kLz4Raw;
    case Compression::kZstd: return CompressionCodec::kZstd;
  }
  return CompressionCodec::kUncompressed;
}

int DecimalBytesForPrecision(int precision) {
  for (int n = 1; n < 16; ++n) {
    if (Pow10(precision) - 1 < (static_cast<int128_t>(1) << (8 * n - 1))) return n;
  }
  return 16;
}

DictionaryHashFn g_dictionary_hash_for_testing = nullptr;  // writer.h

namespace {

// ---- schema -----------------------------------------------------------------------------

enum class NodeKind { kLeaf, kStruct, kList, kMap };

// The shredding tree: one node per lakepipe field (list/map wrapper groups folded in).
struct Node {
  NodeKind kind = NodeKind::kLeaf;
  std::string name;
  bool optional = true;
  int16_t def_level = 0;  // definition level when this node is present and non-null
  int16_t rep_level = 0;  // list/map: repetition level of its repeated group
  std::vector<Node> children;
  int leaf = -1;
};

// How a leaf's lakepipe values become Parquet values.
enum class ValueKind { kBool, kInt8, kInt16, kInt32, kInt64, kFloat, kDouble, kDec32, kDec64,
                       kDecFixed, kBytes };

struct LeafDesc {
  std::vector<std::string> parquet_path;
  std::vector<std::string> field_path;
  DataType type;
  PhysicalType physical = PhysicalType::kInt32;
  ValueKind kind = ValueKind::kInt32;
  int32_t type_length = 0;
  int16_t max_def = 0;
  int16_t max_rep = 0;
  bool under_repeated = false;
};

struct SchemaBuild {
  std::vector<SchemaElement> elements;
  std::vector<LeafDesc> leaves;
};

Status SetLeafType(const DataType& t, SchemaElement* e, LeafDesc* d) {
  switch (t.id()) {
    case TypeId::kBoolean:
      e->type = PhysicalType::kBoolean;
      d->kind = ValueKind::kBool;
      break;
    case TypeId::kByte:
    case TypeId::kShort:
      e->type = PhysicalType::kInt32;
      e->converted_type = t.id() == TypeId::kByte ? ConvertedType::kInt8 : ConvertedType::kInt16;
      e->logical_type.kind = LogicalType::Kind::kInteger;
      e->logical_type.bit_width = t.id() == TypeId::kByte ? 8 : 16;
      e->logical_type.is_signed = true;
      d->kind = t.id() == TypeId::kByte ? ValueKind::kInt8 : ValueKind::kInt16;
      break;
    case TypeId::kInt:
      e->type = PhysicalType::kInt32;
      d->kind = ValueKind::kInt32;
      break;
    case TypeId::kLong:
      e->type = PhysicalType::kInt64;
      d->kind = ValueKind::kInt64;
      break;
    case TypeId::kFloat:
      e->type = PhysicalType::kFloat;
      d->kind = ValueKind::kFloat;
      break;
    case TypeId::kDouble:
      e->type = PhysicalType::kDouble;
      d->kind = ValueKind::kDouble;
      break;
    case TypeId::kDecimal: {
      int p = t.precision();
      if (p < 1 || p > 38) {
        return Status::InvalidArgument("decimal precision " + std::to_string(p) +
                                       " is outside 1..38");
      }
      if (p <= 9) {
        e->type = PhysicalType::kInt32;
        d->kind = ValueKind::kDec32;
      } else if (p <= 18) {
        e->type = PhysicalType::kInt64;
        d->kind = ValueKind::kDec64;
      } else {
        e->type = PhysicalType::kFixedLenByteArray;
        e->type_length = DecimalBytesForPrecision(p);
        d->type_length = *e->type_length;
        d->kind = ValueKind::kDecFixed;
      }
      e->converted_type = ConvertedType::kDecimal;
      e->precision = p;
      e->scale = t.scale();
      e->logical_type.kind = LogicalType::Kind::kDecimal;
      e->logical_type.decimal_precision = p;
      e->logical_type.decimal_scale = t.scale();
      break;
    }
    case TypeId::kString:
      e->type = PhysicalType::kByteArray;
      e->converted_type = ConvertedType::kUtf8;
      e->logical_type.kind = LogicalType::Kind::kString;
      d->kind = ValueKind::kBytes;
      break;
    case TypeId::kBinary:
      e->type = PhysicalType::kByteArray;
      d->kind = ValueKind::kBytes;
      break;
    case TypeId::kDate:
      e->type = PhysicalType::kInt32;
      e->converted_type = ConvertedType::kDate;
      e->logical_type.kind = LogicalType::Kind::kDate;
      d->kind = ValueKind::kInt32;
      break;
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz:
      e->type = PhysicalType::kInt64;
      e->logical_type.kind = LogicalType::Kind::kTimestamp;
      e->logical_type.unit = TimeUnit::kMicros;
      e->logical_type.is_adjusted_to_utc = t.id() == TypeId::kTimestamp;
      // TIMESTAMP_MICROS means "adjusted to UTC"; a local (ntz) timestamp has no
      // converted type (LogicalTypes.md, backward compatibility).
      if (t.id() == TypeId::kTimestamp) e->converted_type = ConvertedType::kTimestampMicros;
      d->kind = ValueKind::kInt64;
      break;
    default:
      return Status::NotSupported("Parquet cannot store a column of type " + t.ToString());
  }
  d->physical = *e->type;
  return Status::OK();
}

Status BuildNode(const std::string& name, const DataType& type, bool nullable, int16_t parent_def,
                 int16_t parent_rep, std::vector<std::string> path,
                 std::vector<std::string> field_path, bool under_repeated, SchemaBuild* out,
                 Node* node) {
  node->name = name;
  node->optional = nullable;
  node->def_level = static_cast<int16_t>(parent_def + (nullable ? 1 : 0));
  path.push_back(name);
  field_path.push_back(name);
  SchemaElement e;
  e.name = name;
  e.repetition_type = nullable ? Repetition::kOptional : Repetition::kRequired;
  const int16_t def = node->def_level;
  switch (type.id()) {
    case TypeId::kStruct: {
      if (type.fields().empty()) {
        return Status::NotSupported("Parquet cannot store struct '" + name +
                                    "' without fields");
      }
      node->kind = NodeKind::kStruct;
      e.num_children = static_cast<int32_t>(type.fields().size());
      out->elements.push_back(e);
      for (const Field& f : type.fields()) {
        node->children.emplace_back();
        LP_RETURN_IF_ERROR(BuildNode(f.name, f.type, f.nullable, def, parent_rep, path,
                                     field_path, under_repeated, out, &node->children.back()));
      }
      return Status::OK();
    }
    case TypeId::kArray:
    case TypeId::kMap: {
      bool is_map = type.id() == TypeId::kMap;
      node->kind = is_map ? NodeKind::kMap : NodeKind::kList;
      node->rep_level = static_cast<int16_t>(parent_rep + 1);
      e.num_children = 1;
      e.converted_type = is_map ? ConvertedType::kMap : ConvertedType::kList;
      e.logical_type.kind = is_map ? LogicalType::Kind::kMap : LogicalType::Kind::kList;
      out->elements.push_back(e);
      SchemaElement rep;
      rep.name = is_map ? "key_value" : "list";
      rep.repetition_type = Repetition::kRepeated;
      rep.num_children = is_map ? 2 : 1;
      out->elements.push_back(rep);
      path.push_back(rep.name);
      const int16_t inner_def = static_cast<int16_t>(def + 1);
      if (is_map) {
        node->children.resize(2);
        LP_RETURN_IF_ERROR(BuildNode("key", type.key(), false, inner_def, node->rep_level, path,
                                     field_path, true, out, &node->children[0]));
        LP_RETURN_IF_ERROR(BuildNode("value", type.value(), type.contains_null(), inner_def,
                                     node->rep_level, path, field_path, true, out,
                                     &node->children[1]));
      } else {
        node->children.resize(1);
        LP_RETURN_IF_ERROR(BuildNode("element", type.element(), type.contains_null(), inner_def,
                                     node->rep_level, path, field_path, true, out,
                                     &node->children[0]));
      }
      return Status::OK();
    }
    default: {
      node->kind = NodeKind::kLeaf;
      LeafDesc d;
      LP_RETURN_IF_ERROR(SetLeafType(type, &e, &d).WithContext("column '" + name + "'"));
      d.parquet_path = path;
      d.field_path = field_path;
      d.type = type;
      d.max_def = def;
      d.max_rep = parent_rep;
      d.under_repeated = under_repeated;
      node->leaf = static_cast<int>(out->leaves.size());
      out->leaves.push_back(std::move(d));
      out->elements.push_back(e);
      return Status::OK();
    }
  }
}

Status BuildSchema(const Schema& schema, SchemaBuild* out, std::vector<Node>* nodes) {
  SchemaElement root;
  root.name = "spark_schema";
  root.num_children = static_cast<int32_t>(schema.size());
  out->elements.push_back(root);
  for (const Field& f : schema.fields()) {
    nodes->emplace_back();
    LP_RETURN_IF_ERROR(BuildNode(f.name, f.type, f.nullable, 0, 0, {}, {}, false, out,
                                 &nodes->back()));
  }
  return Status::OK();
}

// ---- statistics -------------------------------------------------------------------------

struct TypedStats {
  bool has = false;
  int64_t imin = 0, imax = 0;      // bool, ints, dates, timestamps, decimals <= 18 digits
  double dmin = 0, dmax = 0;       // float, double (NaN excluded)
  int128_t xmin = 0, xmax = 0;     // decimals stored as FIXED_LEN_BYTE_ARRAY
  std::string smin, smax;          // strings and binary, unsigned byte order
  int64_t nulls = 0;

  void Int(int64_t lo, int64_t hi) {
    if (!has) { imin = lo; imax = hi; has = true; return; }
    imin = std::min(imin, lo);
    imax = std::max(imax, hi);
  }
  void Dbl(double lo, double hi) {
    if (!has) { dmin = lo; dmax = hi; has = true; return; }
    if (lo < dmin) dmin = lo;
    if (hi > dmax) dmax = hi;
  }
  void Wide(int128_t lo, int128_t hi) {
    if (!has) { xmin = lo; xmax = hi; has = true; return; }
    if (lo < xmin) xmin = lo;
    if (hi > xmax) xmax = hi;
  }
  void Bytes(std::string_view v) {
    if (!has) { smin.assign(v); smax.assign(v); has = true; return; }
    // std::string_view compares as unsigned bytes (char_traits<char>::compare uses memcmp).
    if (v < std::string_view(smin)) smin.assign(v);
    else if (v > std::string_view(smax)) smax.assign(v);
  }
  void Merge(const TypedStats& o, ValueKind k) {
    nulls += o.nulls;
    if (!o.has) return;
    switch (k) {
      case ValueKind::kFloat:
      case ValueKind::kDouble: Dbl(o.dmin, o.dmax); break;
      case ValueKind::kDecFixed: Wide(o.xmin, o.xmax); break;
      case ValueKind::kBytes: Bytes(o.smin); Bytes(o.smax); break;
      default: Int(o.imin, o.imax); break;
    }
  }
};

template <typename T>
std::string LittleEndian(T v) {
  std::string s(sizeof(T), '\0');
  std::memcpy(s.data(), &v, sizeof(T));
  return s;
}

void BigEndian(int128_t v, int width, uint8_t* out) {
  for (int b = width - 1; b >= 0; --b) {
    out[b] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;  // arithmetic shift keeps the sign
  }
}

// Hashes for the dictionary (a flat open-addressing table): words mixed by Mix64.
inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint64_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}
// The tail (the last 1..8 bytes) is read with whole loads, overlapping the bytes already
// hashed when the value is 8 bytes or longer: a copy of the tail byte by byte into a word
// on the stack stalled each lookup on a store-to-load forward (15% of the writer's time).
inline uint64_t HashBytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xff51afd7ed558ccdULL);
  uint64_t tail;
  if (n >= 8) {
    const char* last = p + n - 8;
    while (p < last) {
      h = (h ^ Load64(p)) * 0xbf58476d1ce4e5b9ULL;
      h ^= h >> 29;
      p += 8;
    }
    tail = Load64(last);
  } else if (n >= 4) {
    tail = Load32(p) | (Load32(p + n - 4) << 32);
  } else if (n > 0) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    tail = (uint64_t{u[0]} << 16) | (uint64_t{u[n >> 1]} << 8) | u[n - 1];
  } else {
    tail = 0;
  }
  return Mix64((h ^ tail) * 0x94d049bb133111ebULL);
}

// Whether every byte is below 0x80, eight at a time.
inline bool AllAscii(std::string_view s) {
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) acc |= Load64(p + i);
  for (; i < n; ++i) acc |= static_cast<unsigned char>(p[i]);
  return (acc & 0x8080808080808080ULL) == 0;
}

// Whether two values hold the same bytes, with word loads and no call: a column's values
// are mostly short, and memcmp's call and dispatch cost more than the compare (each
// string value is compared with the one before it, PutBytes).
inline bool SameBytes(std::string_view a, std::string_view b) {
  const size_t n = a.size();
  if (n != b.size()) return false;
  const char* p = a.data();
  const char* q = b.data();
  if (n >= 8) {
    for (size_t i = 0; i + 8 < n; i += 8) {
      if (Load64(p + i) != Load64(q + i)) return false;
    }
    return Load64(p + n - 8) == Load64(q + n - 8);
  }
  if (n >= 4) return Load32(p) == Load32(q) && Load32(p + n - 4) == Load32(q + n - 4);
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != q[i]) return false;
  }
  return true;
}

// Shredding input: a value slot (index >= 0 into the current column) or an absent value
// whose definition level is already known (index < 0).
struct Entry {
  int64_t index;
  int16_t def;
  int16_t rep;
};

constexpr int64_t kChunk = 1024;          // values converted and encoded at a time
constexpr int64_t kMaxPageLevels = 1 << 20;

// ---- one leaf column of the current row group -------------------------------------------

class LeafWriter {
 public:
  LeafWriter(const LeafDesc& d, const WriteOptions& o)
      : d_(d), opts_(o), codec_(ToCodec(o.compression)) {
    dict_enabled_ = o.dictionary && d.physical != PhysicalType::kBoolean &&
                    d.physical != PhysicalType::kFixedLenByteArray;
    dict_active_ = dict_enabled_;
  }

  const LeafDesc& desc() const { return d_; }
  const TypedStats& file_stats() const { return file_stats_; }
  void RestoreFileStats(const TypedStats& s) { file_stats_ = s; }

  // Folds the footer statistics of a column chunk copied from another file into the
  // file's statistics; false when they are incomplete (no null count, or no min/max for
  // values this leaf would have bounds for), so the caller can refuse the copy.
  bool MergeCopiedStatistics(const std::optional<Statistics>& st, int64_t num_values) {
    if (!st || !st->null_count) return false;
    TypedStats t;
    t.nulls = *st->null_count;
    bool any_value = *st->null_count < num_values;
    if (any_value && !d_.under_repeated) {
      if (!st->min_value || !st->max_value) return false;
      const std::string& lo = *st->min_value;
      const std::string& hi = *st->max_value;
      auto fixed = [&](auto tag, const std::string& b, auto* out) {
        if (b.size() != sizeof(tag)) return false;
        decltype(tag) x;
        std::memcpy(&x, b.data(), sizeof x);
        *out = x;
        return true;
      };
      switch (d_.physical) {
        case PhysicalType::kBoolean:
          if (lo.size() != 1 || hi.size() != 1) return false;
          t.Int(static_cast<uint8_t>(lo[0]), static_cast<uint8_t>(hi[0]));
          break;
        case PhysicalType::kInt32: {
          int32_t a, b;
          if (!fixed(int32_t{}, lo, &a) || !fixed(int32_t{}, hi, &b)) return false;
          t.Int(a, b);
          break;
        }
        case PhysicalType::kInt64: {
          int64_t a, b;
          if (!fixed(int64_t{}, lo, &a) || !fixed(int64_t{}, hi, &b)) return false;
          t.Int(a, b);
          break;
        }
        case PhysicalType::kFloat: {
          float a, b;
          if (!fixed(float{}, lo, &a) || !fixed(float{}, hi, &b)) return false;
          t.Dbl(a, b);
          break;
        }
        case PhysicalType::kDouble: {
          double a, b;
          if (!fixed(double{}, lo, &a) || !fixed(double{}, hi, &b)) return false;
          t.Dbl(a, b);
          break;
        }
        case PhysicalType::kFixedLenByteArray: {
          if (static_cast<int32_t>(lo.size()) != d_.type_length || static_cast<int32_t>(hi.size()) != d_.type_length)
            return false;
          auto a = BigEndianToInt128(reinterpret_cast<const uint8_t*>(lo.data()), lo.size());
          auto b = BigEndianToInt128(reinterpret_cast<const uint8_t*>(hi.data()), hi.size());
          if (!a.ok() || !b.ok()) return false;
          t.Wide(*a, *b);
          break;
        }
        case PhysicalType::kByteArray:
          t.Bytes(lo);
          t.Bytes(hi);
          break;
        default:
          return false;
      }
    }
    file_stats_.Merge(t, d_.kind);
    return true;
  }

  // A top-level leaf: rows [begin, end) of `col` (one level per row).
  void AppendFlat(const Column& col, int64_t begin, int64_t end) {
    strings_checked_ = d_.kind == ValueKind::kBytes && d_.type.id() == TypeId::kString &&
                       AllValidUtf8(col, begin, end);
    for (int64_t a = begin; a < end; a += kChunk) {
      int64_t n = std::min(kChunk, end - a);
      if (d_.max_def > 0) {
        size_t at = def_.size();
        def_.resize(at + n);
        if (!col.has_nulls()) {
          std::fill(def_.begin() + at, def_.end(), 1);
          PutRange(col, a, n);
        } else {
          int64_t valid = 0;
          for (int64_t i = 0; i < n; ++i) {
            bool v = col.IsValid(a + i);
            def_[at + i] = v;
            index_scratch_[valid] = a + i;
            valid += v;
          }
          chunk_stats_.nulls += n - valid;
          if (valid == n) {
            PutRange(col, a, n);
          } else {
            PutGather(col, index_scratch_, valid);
          }
        }
      } else {
        PutRange(col, a, n);
      }
      page_levels_ += n;
      MaybeFlushPage();
    }
    strings_checked_ = false;
  }

  // Whether every value in rows [begin, end) of a string column is valid UTF-8, from one
  // check of their bytes (a SIMD ASCII pass, mostly) instead of one call per value. The
  // values tile the byte range, so they are each valid when the range is and no value
  // starts inside a character (on a continuation byte). False sends the values to the
  // per-value check in RepairStrings, which also counts them.
  static bool AllValidUtf8(const Column& col, int64_t begin, int64_t end) {
    if (end <= begin) return true;
    const int64_t* off = col.offsets().data();
    const auto* base = col.raw_data().data();
    std::string_view bytes(reinterpret_cast<const char*>(base) + off[begin],
                           static_cast<size_t>(off[end] - off[begin]));
    // ASCII bytes (the common case) are valid and no value can start inside a character.
    if (AllAscii(bytes)) return true;
    if (FirstInvalidUtf8(bytes) != std::string_view::npos) return false;
    const int64_t last = off[end];
    for (int64_t r = begin + 1; r < end; ++r) {
      if (off[r] < last && (base[off[r]] & 0xC0) == 0x80) return false;
    }
    return true;
  }

  // A leaf below a struct, list or map: one level per entry. Pages break only where a
  // row starts (rep == 0) so that no row spans two pages.
  void AppendEntries(const Column& col, const Entry* e, int64_t n) {
    int64_t a = 0;
    while (a < n) {
      int64_t b = std::min(n, a + kChunk);
      while (b < n && e[b].rep != 0) ++b;
      if (d_.max_def > 0) {
        size_t at = def_.size();
        def_.resize(at + (b - a));
        for (int64_t i = a; i < b; ++i) def_[at + i - a] = e[i].index >= 0 ? d_.max_def : e[i].def;
      }
      if (d_.max_rep > 0) {
        size_t at = rep_.size();
        rep_.resize(at + (b - a));
        for (int64_t i = a; i < b; ++i) rep_[at + i - a] = e[i].rep;
      }
      // Gather the present values in pieces of at most kChunk.
      int64_t valid = 0;
      for (int64_t i = a; i < b; ++i) {
        if (e[i].index >= 0) {
          index_scratch_[valid++] = e[i].index;
          if (valid == kChunk) {
            PutGather(col, index_scratch_, valid);
            valid = 0;
          }
        } else {
          ++chunk_stats_.nulls;
        }
      }
      if (valid) PutGather(col, index_scratch_, valid);
      page_levels_ += b - a;
      a = b;
      MaybeFlushPage();
    }
  }

  // Compressed bytes buffered (for EstimatedSize: what the file will grow by).
  int64_t BufferedBytes() const {
    return static_cast<int64_t>(chunk_.size() + dict_data_.size()) + PageBytes();
  }
  // Encoded, uncompressed bytes buffered: the row-group size measure, as parquet-mr's
  // parquet.block.size (so row groups hold a similar number of rows as Spark's).
  int64_t BufferedRawBytes() const {
    return uncompressed_total_ + static_cast<int64_t>(dict_data_.size()) + PageBytes();
  }

  // Flushes the last page and appends the column chunk (dictionary page first) to
  // `file_bytes`... written through `sink`; fills `cc`. Resets for the next row group.
  template <typename Sink>
  Status FinishChunk(int64_t file_offset, Sink sink, ColumnChunk* cc) {
    if (page_levels_ > 0 || pages_ == 0) LP_RETURN_IF_ERROR(FlushPage());
    ColumnMetaData md;
    md.type = d_.physical;
    md.path_in_schema = d_.parquet_path;
    md.codec = codec_;
    md.num_values = chunk_levels_;
    int64_t offset = file_offset;
    std::string dict_page;
    if (dict_pages_ > 0) {
      PageHeader h;
      h.type = PageType::kDictionaryPage;
      comp_.clear();
      LP_RETURN_IF_ERROR(Compress(codec_, opts_.compression_level,
                                  reinterpret_cast<const uint8_t*>(dict_data_.data()),
                                  dict_data_.size(), &comp_));
      h.uncompressed_page_size = static_cast<int32_t>(dict_data_.size());
      h.compressed_page_size = static_cast<int32_t>(comp_.size());
      DictionaryPageHeader dh;
      dh.num_values = static_cast<int32_t>(dict_count_);
      dh.encoding = Encoding::kPlain;
      h.dictionary_page_header = dh;
      dict_page = SerializeThrift(h);
      uncompressed_total_ += static_cast<int64_t>(dict_page.size() + dict_data_.size());
      dict_page += comp_;
      md.dictionary_page_offset = offset;
      offset += static_cast<int64_t>(dict_page.size());
      md.encoding_stats.push_back({PageType::kDictionaryPage, Encoding::kPlain, 1});
    }
    md.data_page_offset = offset;
    md.total_compressed_size = static_cast<int64_t>(dict_page.size() + chunk_.size());
    md.total_uncompressed_size = uncompressed_total_;
    if (dict_pages_ > 0) md.encodings.push_back(Encoding::kPlain);  // the dictionary page
    if (plain_pages_ > 0 && dict_pages_ == 0) md.encodings.push_back(Encoding::kPlain);
    md.encodings.push_back(Encoding::kRle);  // levels
    if (dict_pages_ > 0) {
      md.encodings.push_back(Encoding::kRleDictionary);
      md.encoding_stats.push_back({PageType::kDataPage, Encoding::kRleDictionary,
                                   static_cast<int32_t>(dict_pages_)});
    }
    if (plain_pages_ > 0) {
      md.encoding_stats.push_back({PageType::kDataPage, Encoding::kPlain,
                                   static_cast<int32_t>(plain_pages_)});
    }
    md.statistics = ToParquetStatistics(chunk_stats_);
    if (!dict_page.empty()) LP_RETURN_IF_ERROR(sink(dict_page));
    LP_RETURN_IF_ERROR(sink(chunk_));
    cc->file_offset = file_offset;
    cc->meta_data = std::move(md);
    file_stats_.Merge(chunk_stats_, d_.kind);
    ResetChunk();
    return Status::OK();
  }

 private:
  // ---- value conversion -------------------------------------------------------------

  void PutRange(const Column& col, int64_t begin, int64_t n) {
    switch (d_.kind) {
      case ValueKind::kInt32: PutFixed(col.data<int32_t>() + begin, n); return;
      case ValueKind::kInt64: PutFixed(col.data<int64_t>() + begin, n); return;
      case ValueKind::kFloat: PutFixed(col.data<float>() + begin, n); return;
      case ValueKind::kDouble: PutFixed(col.data<double>() + begin, n); return;
      default:
        for (int64_t i = 0; i < n; ++i) index_scratch_[i] = begin + i;
        PutGather(col, index_scratch_, n);
    }
  }

  void PutGather(const Column& col, const int64_t* idx, int64_t n) {
    if (n == 0) return;
    switch (d_.kind) {
      case ValueKind::kBool: {
        const uint8_t* v = col.data<uint8_t>();
        for (int64_t i = 0; i < n; ++i) u8_[i] = v[idx[i]] ? 1 : 0;
        PutBools(u8_, n);
        return;
      }
      case ValueKind::kInt8: {
        const int8_t* v = col.data<int8_t>();
        for (int64_t i = 0; i < n; ++i) i32_[i] = v[idx[i]];
        PutFixed(i32_, n);
        return;
      }
      case ValueKind::kInt16: {
        const int16_t* v = col.data<int16_t>();
        for (int64_t i = 0; i < n; ++i) i32_[i] = v[idx[i]];
        PutFixed(i32_, n);
        return;
      }
      case ValueKind::kInt32: {
        const int32_t* v = col.data<int32_t>();
        for (int64_t i = 0; i < n; ++i) i32_[i] = v[idx[i]];
        PutFixed(i32_, n);
        return;
      }
      case ValueKind::kDec32: {
        const int128_t* v = col.data<int128_t>();
        for (int64_t i = 0; i < n; ++i) i32_[i] = static_cast<int32_t>(v[idx[i]]);
        PutFixed(i32_, n);
        return;
      }
      case ValueKind::kInt64: {
        const int64_t* v = col.data<int64_t>();
        for (int64_t i = 0; i < n; ++i) i64_[i] = v[idx[i]];
        PutFixed(i64_, n);
        return;
      }
      case ValueKind::kDec64: {
        const int128_t* v = col.data<int128_t>();
        for (int64_t i = 0; i < n; ++i) i64_[i] = static_cast<int64_t>(v[idx[i]]);
        PutFixed(i64_, n);
        return;
      }
      case ValueKind::kFloat: {
        const float* v = col.data<float>();
        float tmp[kChunk];
        for (int64_t i = 0; i < n; ++i) tmp[i] = v[idx[i]];
        PutFixed(tmp, n);
        return;
      }
      case ValueKind::kDouble: {
        const double* v = col.data<double>();
        double tmp[kChunk];
        for (int64_t i = 0; i < n; ++i) tmp[i] = v[idx[i]];
        PutFixed(tmp, n);
        return;
      }
      case ValueKind::kDecFixed: {
        const int128_t* v = col.data<int128_t>();
        const int w = d_.type_length;
        size_t at = page_plain_.size();
        page_plain_.resize(at + static_cast<size_t>(n * w));
        uint8_t* out = reinterpret_cast<uint8_t*>(page_plain_.data() + at);
        int128_t lo = v[idx[0]], hi = lo;
        for (int64_t i = 0; i < n; ++i) {
          int128_t x = v[idx[i]];
          if (x < lo) lo = x;
          if (x > hi) hi = x;
          BigEndian(x, w, out + i * w);
        }
        chunk_stats_.Wide(lo, hi);
        page_values_ += n;
        return;
      }
      case ValueKind::kBytes: {
        const int64_t* off = col.offsets().data();
        const char* base = reinterpret_cast<const char*>(col.raw_data().data());
        for (int64_t i = 0; i < n; ++i) {
          int64_t r = idx[i];
          sv_[i] = std::string_view(base + off[r], static_cast<size_t>(off[r + 1] - off[r]));
        }
        if (d_.type.id() == TypeId::kString) RepairStrings(n);
        PutBytes(sv_, n);
        return;
      }
    }
  }

  // The last line of defence for STRING columns (readers already rescue bad text): a value
  // that is not valid UTF-8 would make other readers (DuckDB, Spark) refuse the whole file,
  // so each invalid byte is written as U+FFFD and the value is counted.
  void RepairStrings(int64_t n) {
    if (strings_checked_) return;  // AppendFlat checked these rows' bytes at once
    repaired_.clear();
    for (int64_t i = 0; i < n; ++i) {
      if (IsValidUtf8(sv_[i])) continue;
      repaired_.push_back(RepairUtf8(sv_[i]));
      ++invalid_utf8_values_;
    }
    if (repaired_.empty()) return;
    size_t k = 0;  // repaired_ is full now: its strings no longer move
    for (int64_t i = 0; i < n; ++i) {
      if (!IsValidUtf8(sv_[i])) sv_[i] = repaired_[k++];
    }
  }

 public:
  int64_t invalid_utf8_values() const { return invalid_utf8_values_; }

 private:
  // ---- encoding ----------------------------------------------------------------------

  template <typename T>
  void FixedStats(const T* v, int64_t n) {
    if constexpr (std::is_floating_point_v<T>) {
      bool any = false;
      T lo = 0, hi = 0;
      for (int64_t i = 0; i < n; ++i) {
        T x = v[i];
        if (std::isnan(x)) continue;
        if (!any) { lo = hi = x; any = true; continue; }
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
      }
      if (any) chunk_stats_.Dbl(lo, hi);
    } else {
      T lo = v[0], hi = v[0];
      for (int64_t i = 1; i < n; ++i) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
      }
      chunk_stats_.Int(lo, hi);
    }
  }

  template <typename T>
  void PutFixed(const T* v, int64_t n) {
    if (n == 0) return;
    FixedStats(v, n);
    page_values_ += n;
    if (dict_active_) {
      size_t at = page_indices_.size();
      page_indices_.resize(at + n);
      uint32_t* out = page_indices_.data() + at;
      // As in PutBytes, a value equal to the one before it takes its index without a
      // lookup (a constant column such as an ingestion time, or runs).
      uint64_t prev = 0;
      for (int64_t i = 0; i < n; ++i) {
        uint64_t key = 0;
        std::memcpy(&key, &v[i], sizeof(T));
        out[i] = i > 0 && key == prev ? out[i - 1] : LookupFixed(key, &v[i], sizeof(T));
        prev = key;
      }
      CheckDictionarySize();
    } else {
      size_t at = page_plain_.size();
      page_plain_.resize(at + n * sizeof(T));
      std::memcpy(page_plain_.data() + at, v, n * sizeof(T));
    }
  }

  void PutBools(const uint8_t* v, int64_t n) {
    int64_t lo = 1, hi = 0;
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min<int64_t>(lo, v[i]);
      hi = std::max<int64_t>(hi, v[i]);
    }
    chunk_stats_.Int(lo, hi);
    page_values_ += n;
    page_plain_.append(reinterpret_cast<const char*>(v), static_cast<size_t>(n));  // packed at flush
  }

  void PutBytes(const std::string_view* v, int64_t n) {
    page_values_ += n;
    if (dict_active_) {
      size_t at = page_indices_.size();
      page_indices_.resize(at + n);
      uint32_t* out = page_indices_.data() + at;
      // A value equal to the one before it takes its index without a lookup: sorted or
      // grouped input (an order's lines share its number, date, customer and country)
      // repeats values in runs. The previous value is in cache; a lookup often is not.
      for (int64_t i = 0; i < n; ++i) {
        if (i > 0 && SameBytes(v[i], v[i - 1])) {
          out[i] = out[i - 1];
        } else {
          out[i] = LookupBytes(v[i]);
        }
      }
      CheckDictionarySize();
    } else {
      size_t total = 0;
      for (int64_t i = 0; i < n; ++i) total += 4 + v[i].size();
      size_t at = page_plain_.size();
      page_plain_.resize(at + total);
      char* out = page_plain_.data() + at;
      for (int64_t i = 0; i < n; ++i) {
        uint32_t len = static_cast<uint32_t>(v[i].size());
        std::memcpy(out, &len, 4);
        std::memcpy(out + 4, v[i].data(), len);
        out += 4 + len;
        chunk_stats_.Bytes(v[i]);
      }
    }
  }

  // ---- dictionary ----------------------------------------------------------------------

  // The dictionary's hash table: open addressing, linear probing, at most half full. A
  // slot is (low 32 bits of the value's hash) << 32 | (dictionary index + 1), 0 = empty:
  // the hash is computed once per value, the probe compares it within the slot, and the
  // dictionary's bytes are read only when the whole hash matches (a slot holding only
  // the index cost a second cache miss per probe, into hashes_, on large dictionaries).
  static uint64_t Slot(uint64_t h, uint32_t id) { return (h << 32) | (uint64_t{id} + 1); }
  static bool SameHash(uint64_t slot, uint64_t h) { return (slot >> 32) == (h & 0xFFFFFFFFULL); }

  void GrowTable() {
    size_t cap = slots_.empty() ? 1024 : slots_.size() * 2;
    slots_.assign(cap, 0);
    shift_ = 64 - __builtin_ctzll(cap);
    for (uint32_t i = 0; i < dict_count_; ++i) {
      uint64_t h = d_.kind == ValueKind::kBytes ? hashes_[i] : Mix64(fixed_keys_[i]);
      size_t s = h >> shift_;
      while (slots_[s]) s = (s + 1) & (cap - 1);
      slots_[s] = Slot(h, i);
    }
  }

  uint32_t LookupFixed(uint64_t key, const void* raw, size_t width) {
    if ((dict_count_ + 1) * 2 > slots_.size()) GrowTable();
    const size_t mask = slots_.size() - 1;
    const uint64_t h = Mix64(key);
    size_t s = h >> shift_;
    while (true) {
      uint64_t e = slots_[s];
      if (e == 0) break;
      uint32_t i = static_cast<uint32_t>(e) - 1;
      if (SameHash(e, h) && fixed_keys_[i] == key) return i;
      s = (s + 1) & mask;
    }
    uint32_t id = dict_count_++;
    slots_[s] = Slot(h, id);
    fixed_keys_.push_back(key);
    dict_data_.append(static_cast<const char*>(raw), width);
    return id;
  }

  uint32_t LookupBytes(std::string_view v) {
    if ((dict_count_ + 1) * 2 > slots_.size()) GrowTable();
    const size_t mask = slots_.size() - 1;
    uint64_t h = g_dictionary_hash_for_testing != nullptr
                     ? g_dictionary_hash_for_testing(v.data(), v.size())
                     : HashBytes(v.data(), v.size());
    size_t s = h >> shift_;
    while (true) {
      uint64_t e = slots_[s];
      if (e == 0) break;
      uint32_t i = static_cast<uint32_t>(e) - 1;
      if (SameHash(e, h)) {
        // The PLAIN length prefix sits just before the value's bytes in dict_data_: one
        // cache line for both, where a separate length array would be another miss.
        const char* at = dict_data_.data() + bytes_off_[i];
        uint32_t len;
        std::memcpy(&len, at - 4, 4);
        if (len == v.size() && SameBytes(std::string_view(at, len), v)) return i;
      }
      s = (s + 1) & mask;
    }
    uint32_t id = dict_count_++;
    slots_[s] = Slot(h, id);
    hashes_.push_back(h);
    uint32_t len = static_cast<uint32_t>(v.size());
    dict_data_.append(reinterpret_cast<const char*>(&len), 4);
    bytes_off_.push_back(static_cast<uint32_t>(dict_data_.size()));
    dict_data_.append(v.data(), v.size());
    chunk_stats_.Bytes(v);  // every distinct value passes here once
    return id;
  }

  void CheckDictionarySize() {
    // The dictionary grew too large: the current page is finished with it at the next
    // level boundary (MaybeFlushPage), then the rest of the chunk is PLAIN. The
    // dictionary page is still written for the earlier pages.
    if (static_cast<int64_t>(dict_data_.size()) > opts_.dictionary_page_bytes) {
      dict_overflow_ = true;
    }
  }

  // ---- pages -------------------------------------------------------------------------

  int64_t PageBytes() const {
    int64_t bits = dict_count_ > 1 ? BitWidth(dict_count_ - 1) : 1;
    int64_t values = d_.kind == ValueKind::kBool
                         ? static_cast<int64_t>(page_plain_.size()) / 8
                         : static_cast<int64_t>(page_plain_.size()) +
                               static_cast<int64_t>(page_indices_.size()) * bits / 8;
    return values + static_cast<int64_t>(def_.size() + rep_.size()) / 4;
  }

  void MaybeFlushPage() {
    if (dict_overflow_ || PageBytes() >= opts_.page_bytes || page_levels_ >= kMaxPageLevels) {
      Status st = FlushPage();
      if (!st.ok() && deferred_error_.ok()) deferred_error_ = st;
      if (dict_overflow_) {
        dict_active_ = false;
        dict_overflow_ = false;
      }
    }
  }

  void AppendLevels(const std::vector<uint16_t>& levels, int16_t max_level) {
    size_t at = page_raw_.size();
    page_raw_.append(4, '\0');
    RleEncode(levels.data(), static_cast<int64_t>(levels.size()), BitWidth(max_level), &page_raw_);
    uint32_t len = static_cast<uint32_t>(page_raw_.size() - at - 4);
    std::memcpy(page_raw_.data() + at, &len, 4);
  }

  Status FlushPage() {
    page_raw_.clear();
    if (d_.max_rep > 0) AppendLevels(rep_, d_.max_rep);
    if (d_.max_def > 0) AppendLevels(def_, d_.max_def);
    Encoding enc = Encoding::kPlain;
    if (d_.kind == ValueKind::kBool) {
      bool_scratch_.resize(page_plain_.size());
      for (size_t i = 0; i < page_plain_.size(); ++i) bool_scratch_[i] = static_cast<uint8_t>(page_plain_[i]);
      BitPackAppend(bool_scratch_.data(), static_cast<int64_t>(bool_scratch_.size()), 1, &page_raw_);
    } else if (dict_active_ && !page_indices_.empty()) {
      enc = Encoding::kRleDictionary;
      int bw = std::max(1, BitWidth(dict_count_ > 0 ? dict_count_ - 1 : 0));
      page_raw_.push_back(static_cast<char>(bw));
      RleEncode(page_indices_.data(), static_cast<int64_t>(page_indices_.size()), bw, &page_raw_);
    } else {
      page_raw_ += page_plain_;
    }
    comp_.clear();
    LP_RETURN_IF_ERROR(Compress(codec_, opts_.compression_level,
                                reinterpret_cast<const uint8_t*>(page_raw_.data()),
                                page_raw_.size(), &comp_));
    if (page_raw_.size() > static_cast<size_t>(INT32_MAX) ||
        comp_.size() > static_cast<size_t>(INT32_MAX)) {
      return Status::InvalidArgument("Parquet page of column '" + d_.parquet_path.back() +
                                     "' exceeds 2 GiB");
    }
    PageHeader h;
    h.type = PageType::kDataPage;
    h.uncompressed_page_size = static_cast<int32_t>(page_raw_.size());
    h.compressed_page_size = static_cast<int32_t>(comp_.size());
    DataPageHeader dp;
    dp.num_values = static_cast<int32_t>(page_levels_);
    dp.encoding = enc;
    dp.definition_level_encoding = Encoding::kRle;
    dp.repetition_level_encoding = Encoding::kRle;
    h.data_page_header = dp;
    std::string header = SerializeThrift(h);
    chunk_ += header;
    chunk_ += comp_;
    uncompressed_total_ += static_cast<int64_t>(header.size() + page_raw_.size());
    if (enc == Encoding::kRleDictionary) ++dict_pages_; else ++plain_pages_;
    ++pages_;
    chunk_levels_ += page_levels_;
    page_levels_ = 0;
    page_values_ = 0;
    def_.clear();
    rep_.clear();
    page_plain_.clear();
    page_indices_.clear();
    return Status::OK();
  }

  std::optional<Statistics> ToParquetStatistics(const TypedStats& s) const {
    Statistics st;
    st.null_count = s.nulls;
    // Leaves inside lists and maps get no min/max (their order is not meaningful to
    // readers that prune rows by them).
    if (!s.has || d_.under_repeated) return st;
    std::string lo, hi;
    switch (d_.physical) {
      case PhysicalType::kBoolean:
        lo = std::string(1, static_cast<char>(s.imin));
        hi = std::string(1, static_cast<char>(s.imax));
        break;
      case PhysicalType::kInt32:
        lo = LittleEndian(static_cast<int32_t>(s.imin));
        hi = LittleEndian(static_cast<int32_t>(s.imax));
        break;
      case PhysicalType::kInt64:
        lo = LittleEndian(s.imin);
        hi = LittleEndian(s.imax);
        break;
      case PhysicalType::kFloat:
      case PhysicalType::kDouble: {
        // parquet.thrift: a zero min is written as -0.0 and a zero max as +0.0.
        double mn = s.dmin == 0 ? -0.0 : s.dmin;
        double mx = s.dmax == 0 ? 0.0 : s.dmax;
        if (d_.physical == PhysicalType::kFloat) {
          lo = LittleEndian(static_cast<float>(mn));
          hi = LittleEndian(static_cast<float>(mx));
        } else {
          lo = LittleEndian(mn);
          hi = LittleEndian(mx);
        }
        break;
      }
      case PhysicalType::kFixedLenByteArray:
        lo.resize(d_.type_length);
        hi.resize(d_.type_length);
        BigEndian(s.xmin, d_.type_length, reinterpret_cast<uint8_t*>(lo.data()));
        BigEndian(s.xmax, d_.type_length, reinterpret_cast<uint8_t*>(hi.data()));
        break;
      case PhysicalType::kByteArray:
        // Not truncated: a min/max longer than 1 KiB is left out of the Parquet footer
        // (it would bloat it), while WriteResult still reports the full values.
        if (s.smin.size() > 1024 || s.smax.size() > 1024) return st;
        lo = s.smin;
        hi = s.smax;
        break;
      default:
        return st;
    }
    st.min_value = lo;
    st.max_value = hi;
    // The deprecated fields use signed order, which matches for numeric types only.
    if (d_.physical != PhysicalType::kByteArray &&
        d_.physical != PhysicalType::kFixedLenByteArray) {
      st.min = lo;
      st.max = hi;
    }
    return st;
  }

  void ResetChunk() {
    chunk_.clear();
    dict_data_.clear();
    slots_.clear();
    fixed_keys_.clear();
    hashes_.clear();
    bytes_off_.clear();
    dict_count_ = 0;
    dict_active_ = dict_enabled_;
    dict_overflow_ = false;
    dict_pages_ = plain_pages_ = pages_ = 0;
    chunk_levels_ = 0;
    uncompressed_total_ = 0;
    chunk_stats_ = TypedStats();
  }

 public:
  Status deferred_error() const { return deferred_error_; }

 private:
  LeafDesc d_;
  WriteOptions opts_;
  CompressionCodec codec_;
  bool dict_enabled_ = false;
  bool dict_active_ = false;
  bool dict_overflow_ = false;

  // Current page.
  std::vector<uint16_t> def_, rep_;
  std::string page_plain_;
  std::vector<uint32_t> page_indices_;
  int64_t page_levels_ = 0;
  int64_t page_values_ = 0;

  // Current chunk.
  std::string chunk_;  // data pages (headers + compressed bodies)
  std::string dict_data_;
  std::vector<uint64_t> slots_;  // see Slot()
  int shift_ = 54;
  std::vector<uint64_t> fixed_keys_;
  std::vector<uint64_t> hashes_;
  std::vector<uint32_t> bytes_off_;  // where each value's bytes start in dict_data_
  uint32_t dict_count_ = 0;
  int64_t dict_pages_ = 0, plain_pages_ = 0, pages_ = 0;
  int64_t chunk_levels_ = 0;
  int64_t uncompressed_total_ = 0;
  TypedStats chunk_stats_;
  TypedStats file_stats_;
  Status deferred_error_;

  // Scratch (reused; no per-value allocation).
  std::string page_raw_, comp_;
  std::vector<uint32_t> bool_scratch_;
  int64_t index_scratch_[kChunk];
  int32_t i32_[kChunk];
  int64_t i64_[kChunk];
  uint8_t u8_[kChunk];
  std::string_view sv_[kChunk];
  std::vector<std::string> repaired_;  // owners of the repaired values sv_ points at
  bool strings_checked_ = false;  // AppendFlat's rows are valid UTF-8 (AllValidUtf8)
  int64_t invalid_utf8_values_ = 0;
};

Value StatValue(const LeafDesc& d, const TypedStats& s, bool min) {
  const DataType& t = d.type;
  switch (t.id()) {
    case TypeId::kBoolean: return Value::Bool((min ? s.imin : s.imax) != 0);
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong: return Value::Int(min ? s.imin : s.imax, t.id());
    case TypeId::kFloat: return Value::Double(min ? s.dmin : s.dmax, TypeId::kFloat);
    case TypeId::kDouble: return Value::Double(min ? s.dmin : s.dmax);
    case TypeId::kDecimal:
      if (d.kind == ValueKind::kDecFixed) {
        return Value::Decimal(min ? s.xmin : s.xmax, t.precision(), t.scale());
      }
      return Value::Decimal(min ? s.imin : s.imax, t.precision(), t.scale());
    case TypeId::kDate: return Value::Date(static_cast<int32_t>(min ? s.imin : s.imax));
    case TypeId::kTimestamp: return Value::Timestamp(min ? s.imin : s.imax);
    case TypeId::kTimestampNtz: return Value::Timestamp(min ? s.imin : s.imax, true);
    case TypeId::kString: return Value::String(min ? s.smin : s.smax);
    case TypeId::kBinary: return Value::Binary(min ? s.smin : s.smax);
    default: return Value();
  }
}

// Checks that a column's buffers hold what its layout promises, so that a malformed batch
// is an error rather than an out-of-bounds read while shredding.
Status CheckShape(const Column& col, const std::string& name) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("column '" + name + "' of the batch is malformed: " + what);
  };
  const int64_t n = col.size();
  if (!col.validity().empty() && static_cast<int64_t>(col.validity().size()) < (n + 7) / 8) {
    return bad("validity bitmap too short");
  }
  const DataType& t = col.type();
  int w = t.fixed_width();
  if (w > 0 && static_cast<int64_t>(col.raw_data().size()) < n * w) return bad("data too short");
  auto check_offsets = [&](int64_t limit) -> Status {
    const auto& off = col.offsets();
    if (static_cast<int64_t>(off.size()) < n + 1) return bad("offsets too short");
    if (off[0] < 0) return bad("negative offset");
    // One pass without a branch per row (it vectorises); the row is searched for only
    // when there is one to name.
    bool decreases = false;
    for (int64_t i = 0; i < n; ++i) decreases |= off[i + 1] < off[i];
    if (decreases) {
      for (int64_t i = 0; i < n; ++i) {
        if (off[i + 1] < off[i]) return bad("offsets decrease at row " + std::to_string(i));
      }
    }
    if (off[n] > limit) return bad("offsets point past the data");
    return Status::OK();
  };
  switch (t.id()) {
    case TypeId::kString:
    case TypeId::kBinary:
      return check_offsets(static_cast<int64_t>(col.raw_data().size()));
    case TypeId::kStruct:
      if (col.num_children() != t.fields().size()) return bad("wrong number of struct children");
      for (size_t k = 0; k < col.num_children(); ++k) {
        if (col.child(k).size() < n) return bad("struct child shorter than the struct");
        LP_RETURN_IF_ERROR(CheckShape(col.child(k), name + "." + t.fields()[k].name));
      }
      return Status::OK();
    case TypeId::kArray:
    case TypeId::kMap: {
      size_t kids = t.id() == TypeId::kMap ? 2 : 1;
      if (col.num_children() != kids) return bad("wrong number of children");
      int64_t limit = col.child(0).size();
      if (kids == 2) limit = std::min(limit, col.child(1).size());
      LP_RETURN_IF_ERROR(check_offsets(limit));
      for (size_t k = 0; k < kids; ++k) LP_RETURN_IF_ERROR(CheckShape(col.child(k), name));
      return Status::OK();
    }
    default:
      return Status::OK();
  }
}

// ---- the file writer ----------------------------------------------------------------------

class FileWriterImpl : public FileWriter {
 public:
  FileWriterImpl(const Schema& schema, const WriteOptions& options, std::string path)
      : schema_(schema), options_(options), path_(std::move(path)) {}

  Status Init(FileSystem* fs) {
    if (options_.page_bytes <= 0 || options_.row_group_bytes <= 0 ||
        options_.dictionary_page_bytes < 0) {
      return Status::InvalidArgument("Parquet write options: page_bytes and row_group_bytes "
                                     "must be positive");
    }
    LP_RETURN_IF_ERROR(BuildSchema(schema_, &build_, &nodes_));
    leaves_.reserve(build_.leaves.size());
    for (const LeafDesc& d : build_.leaves) leaves_.push_back(std::make_unique<LeafWriter>(d, options_));
    LP_ASSIGN_OR_RETURN(file_, fs->NewWritableFile(path_, CreateMode::kExclusive));
    LP_RETURN_IF_ERROR(file_->Append("PAR1"));
    return Status::OK();
  }

  Status Write(const RecordBatch& batch) override {
    LP_RETURN_IF_ERROR(sticky_);
    if (closed_) return Status::InvalidArgument("Parquet writer for " + path_ + " is closed");
    if (batch.num_columns() != schema_.size()) {
      return Status::InvalidArgument("batch has " + std::to_string(batch.num_columns()) +
                                     " columns, Parquet file " + path_ + " has " +
                                     std::to_string(schema_.size()));
    }
    for (size_t i = 0; i < schema_.size(); ++i) {
      // Nullability flags do not change a column's layout; nulls where the file's schema
      // forbids them are refused below.
      if (!SameTypeIgnoringNullability(batch.column(i).type(), schema_.field(i).type) ||
          batch.column(i).size() != batch.num_rows()) {
        return Status::InvalidArgument("column '" + schema_.field(i).name + "' of the batch is " +
                                       batch.column(i).type().ToString() + " with " +
                                       std::to_string(batch.column(i).size()) +
                                       " rows; the Parquet file expects " +
                                       schema_.field(i).type.ToString() + " with " +
                                       std::to_string(batch.num_rows()));
      }
      LP_RETURN_IF_ERROR(CheckShape(batch.column(i), schema_.field(i).name));
      if (!schema_.field(i).nullable && batch.column(i).has_nulls()) {
        return Status::InvalidArgument("column '" + schema_.field(i).name +
                                       "' is NOT NULL but the batch holds nulls");
      }
    }
    constexpr int64_t kSlice = 16384;
    const int64_t rows = batch.num_rows();
    for (int64_t begin = 0, end = 0; begin < rows; begin = end) {
      end = std::min(rows, begin + kSlice);
      // A row group ends at exactly row_group_rows rows.
      if (options_.row_group_rows > 0) end = std::min(end, begin + std::max<int64_t>(1, options_.row_group_rows - rg_rows_));
      for (size_t i = 0; i < nodes_.size(); ++i) {
        const Node& node = nodes_[i];
        const Column& col = batch.column(i);
        if (node.kind == NodeKind::kLeaf) {
          leaves_[node.leaf]->AppendFlat(col, begin, end);
        } else {
          entries_.resize(static_cast<size_t>(end - begin));
          for (int64_t r = begin; r < end; ++r) entries_[r - begin] = Entry{r, 0, 0};
          Status st = Shred(node, col, entries_, 0);
          if (!st.ok()) {
            // Earlier columns of this slice are already buffered: the file cannot be
            // finished consistently, so the writer refuses further calls.
            st = st.WithContext("column '" + schema_.field(i).name + "'");
            sticky_ = st.WithContext("Parquet writer for " + path_ + " is unusable after");
            return st;
          }
        }
      }
      rg_rows_ += end - begin;
      total_rows_ += end - begin;
      for (auto& l : leaves_) {
        if (!l->deferred_error().ok()) {
          sticky_ = l->deferred_error();
          return sticky_;
        }
      }
      if (BufferedRawBytes() >= options_.row_group_bytes ||
          (options_.row_group_rows > 0 && rg_rows_ >= options_.row_group_rows)) {
        Status st = FlushRowGroup();
        if (!st.ok()) {
          sticky_ = st;
          return st;
        }
      }
    }
    return Status::OK();
  }

  Result<WriteResult> Close() override {
    LP_RETURN_IF_ERROR(sticky_);
    if (closed_) return Status::InvalidArgument("Parquet writer for " + path_ + " closed twice");
    closed_ = true;
    if (rg_rows_ > 0) LP_RETURN_IF_ERROR(FlushRowGroup());
    FileMetaData md;
    md.version = 1;
    md.schema = build_.elements;
    md.num_rows = total_rows_;
    md.row_groups = std::move(row_groups_);
    for (const auto& kv : options_.key_value_metadata) md.key_value_metadata.push_back({kv.first, kv.second});
    md.created_by = options_.created_by;
    md.column_orders.assign(leaves_.size(), ColumnOrder::kTypeDefined);
    std::string footer = SerializeThrift(md);
    uint32_t len = static_cast<uint32_t>(footer.size());
    footer.append(reinterpret_cast<const char*>(&len), 4);
    footer += "PAR1";
    LP_RETURN_IF_ERROR(file_->Append(footer));
    LP_RETURN_IF_ERROR(file_->Sync());
    int64_t size = file_->Size();
    LP_RETURN_IF_ERROR(file_->Close());
    WriteResult result;
    result.num_rows = total_rows_;
    result.file_bytes = size;
    result.copied_bytes = copied_bytes_;
    for (const auto& l : leaves_) {
      result.invalid_utf8_values += l->invalid_utf8_values();
      ColumnStatistics cs;
      cs.path = l->desc().field_path;
      const TypedStats& s = l->file_stats();
      cs.null_count = s.nulls;
      cs.has_min_max = s.has && !l->desc().under_repeated;
      if (cs.has_min_max) {
        cs.min = StatValue(l->desc(), s, true);
        cs.max = StatValue(l->desc(), s, false);
      }
      result.columns.push_back(std::move(cs));
    }
    return result;
  }

  Status AppendPatched(FileSystem* fs, const std::string& source, const RecordBatch& replacement) override {
    LP_RETURN_IF_ERROR(sticky_);
    if (closed_) return Status::InvalidArgument("Parquet writer for " + path_ + " is closed");
    // Which leaves are encoded anew: the top-level primitive columns of `replacement`.
    std::vector<const Column*> replaced(leaves_.size(), nullptr);
    for (size_t i = 0; i < replacement.num_columns(); ++i) {
      const std::string& name = replacement.schema().field(i).name;
      int f = schema_.FindField(name);
      if (f < 0) return Status::InvalidArgument("patched column '" + name + "' is not in the file's schema");
      const Node& node = nodes_[static_cast<size_t>(f)];
      const Column& col = replacement.column(i);
      if (node.kind != NodeKind::kLeaf) return Status::NotSupported("patched column '" + name + "' is nested");
      if (!SameTypeIgnoringNullability(col.type(), schema_.field(static_cast<size_t>(f)).type) ||
          col.size() != replacement.num_rows()) {
        return Status::InvalidArgument("patched column '" + name + "' is " + col.type().ToString() +
                                       "; the Parquet file expects " + schema_.field(static_cast<size_t>(f)).type.ToString());
      }
      if (!schema_.field(static_cast<size_t>(f)).nullable && col.has_nulls()) {
        return Status::InvalidArgument("column '" + name + "' is NOT NULL but the batch holds nulls");
      }
      replaced[static_cast<size_t>(node.leaf)] = &col;
    }
    // The source's footer.
    LP_ASSIGN_OR_RETURN(auto in, fs->NewRandomAccessFile(source));
    const int64_t size = in->Size();
    char tail[8];
    if (size < 12) return Status::Corruption("Parquet file " + source + " is too short");
    LP_RETURN_IF_ERROR(in->ReadAt(size - 8, 8, tail));
    uint32_t footer_len;
    std::memcpy(&footer_len, tail, 4);
    if (std::memcmp(tail + 4, "PAR1", 4) != 0 || footer_len > static_cast<uint64_t>(size - 12)) {
      return Status::Corruption("Parquet file " + source + " has no valid footer");
    }
    std::string footer(footer_len, '\0');
    LP_RETURN_IF_ERROR(in->ReadAt(size - 8 - footer_len, footer_len, footer.data()));
    FileMetaData md;
    LP_RETURN_IF_ERROR(ParseFileMetaData(reinterpret_cast<const uint8_t*>(footer.data()), footer.size(), source, &md));
    if (md.encrypted) return Status::NotSupported("Parquet file " + source + " is encrypted");
    // Chunks are copied only between files whose Parquet schemas are the same.
    if (md.schema.size() != build_.elements.size()) return Status::NotSupported(source + " has another Parquet schema");
    for (size_t i = 0; i < md.schema.size(); ++i) {
      if (SerializeThrift(md.schema[i]) != SerializeThrift(build_.elements[i])) {
        return Status::NotSupported(source + " has another Parquet schema (at '" + md.schema[i].name + "')");
      }
    }
    if (options_.merge_row_groups > 0 && md.row_groups.size() >= static_cast<size_t>(options_.merge_row_groups)) {
      int64_t bytes = 0;
      for (const RowGroup& rg : md.row_groups) bytes += rg.total_byte_size;
      const int64_t groups = static_cast<int64_t>(md.row_groups.size());
      if (bytes / groups < options_.row_group_bytes / 8 &&
          (options_.row_group_rows <= 0 || md.num_rows / groups < options_.row_group_rows / 8)) {
        return Status::NotSupported(source + " has " + std::to_string(md.row_groups.size()) +
                                    " small row groups: its rows are written anew so that they merge");
      }
    }
    if (md.num_rows != replacement.num_rows()) {
      return Status::InvalidArgument("patch of " + source + " has " + std::to_string(replacement.num_rows()) +
                                     " rows for the file's " + std::to_string(md.num_rows));
    }
    if (rg_rows_ > 0) LP_RETURN_IF_ERROR(FlushRowGroup());
    // Check every copied chunk (bounds, statistics) before writing anything, so a refusal
    // leaves this file as it was.
    struct Span { int64_t start = 0, length = 0; };
    std::vector<std::vector<Span>> spans(md.row_groups.size());
    for (size_t g = 0; g < md.row_groups.size(); ++g) {
      const RowGroup& rg = md.row_groups[g];
      if (rg.columns.size() != leaves_.size()) return Status::Corruption(source + ": row group with a wrong column count");
      for (size_t j = 0; j < leaves_.size(); ++j) {
        const ColumnChunk& cc = rg.columns[j];
        if (replaced[j] != nullptr) { spans[g].push_back({}); continue; }
        if (cc.file_path || !cc.meta_data || cc.encrypted) return Status::NotSupported(source + ": a column chunk outside the file");
        const ColumnMetaData& m = *cc.meta_data;
        int64_t start = m.data_page_offset;
        if (m.dictionary_page_offset && *m.dictionary_page_offset > 0) start = std::min(start, *m.dictionary_page_offset);
        if (start < 4 || m.total_compressed_size < 0 || start + m.total_compressed_size > size - 8 - footer_len) {
          return Status::Corruption(source + ": a column chunk lies outside the data");
        }
        spans[g].push_back({start, m.total_compressed_size});
      }
    }
    std::vector<TypedStats> saved;
    for (auto& l : leaves_) saved.push_back(l->file_stats());
    for (size_t g = 0; g < md.row_groups.size(); ++g) {
      for (size_t j = 0; j < leaves_.size(); ++j) {
        if (replaced[j] != nullptr) continue;
        const ColumnMetaData& m = *md.row_groups[g].columns[j].meta_data;
        if (!leaves_[j]->MergeCopiedStatistics(m.statistics, m.num_values)) {
          for (size_t k = 0; k < leaves_.size(); ++k) leaves_[k]->RestoreFileStats(saved[k]);
          return Status::NotSupported(source + ": column '" + m.path_in_schema.back() + "' lacks statistics");
        }
      }
    }
    // From here on a failure leaves this file unusable (sticky).
    auto fail = [&](Status st) {
      sticky_ = st.WithContext("Parquet writer for " + path_ + " is unusable after");
      return st;
    };
    std::string buf;
    int64_t first_row = 0;
    for (size_t g = 0; g < md.row_groups.size(); ++g) {
      const RowGroup& src = md.row_groups[g];
      RowGroup rg;
      rg.num_rows = src.num_rows;
      rg.file_offset = file_->Size();
      int64_t compressed = 0, uncompressed = 0;
      for (size_t j = 0; j < leaves_.size(); ++j) {
        ColumnChunk cc;
        if (replaced[j] != nullptr) {
          leaves_[j]->AppendFlat(*replaced[j], first_row, first_row + src.num_rows);
          auto sink = [&](const std::string& bytes) { return file_->Append(bytes); };
          Status st = leaves_[j]->FinishChunk(file_->Size(), sink, &cc);
          if (!st.ok()) return fail(st);
        } else {
          const Span& sp = spans[g][j];
          cc = src.columns[j];
          ColumnMetaData& m = *cc.meta_data;
          buf.resize(static_cast<size_t>(sp.length));
          Status st = in->ReadAt(sp.start, sp.length, buf.data());
          const int64_t shift = file_->Size() - sp.start;
          if (st.ok()) st = file_->Append(buf);
          if (!st.ok()) return fail(st);
          m.data_page_offset += shift;
          if (m.dictionary_page_offset && *m.dictionary_page_offset > 0) *m.dictionary_page_offset += shift;
          m.index_page_offset.reset();
          m.bloom_filter_offset.reset();
          m.bloom_filter_length.reset();
          cc.file_offset = sp.start + shift;
          cc.offset_index_offset.reset();
          cc.offset_index_length.reset();
          cc.column_index_offset.reset();
          cc.column_index_length.reset();
          copied_bytes_ += sp.length;
        }
        compressed += cc.meta_data->total_compressed_size;
        uncompressed += cc.meta_data->total_uncompressed_size;
        rg.columns.push_back(std::move(cc));
      }
      rg.total_byte_size = uncompressed;
      rg.total_compressed_size = compressed;
      rg.ordinal = static_cast<int16_t>(std::min<size_t>(row_groups_.size(), INT16_MAX));
      row_groups_.push_back(std::move(rg));
      total_rows_ += src.num_rows;
      first_row += src.num_rows;
    }
    return Status::OK();
  }

  int64_t EstimatedSize() const override {
    return (file_ ? file_->Size() : 0) + BufferedBytes();
  }

 private:
  int64_t BufferedBytes() const {
    int64_t b = 0;
    for (const auto& l : leaves_) b += l->BufferedBytes();
    return b;
  }
  int64_t BufferedRawBytes() const {
    int64_t b = 0;
    for (const auto& l : leaves_) b += l->BufferedRawBytes();
    return b;
  }

  // Dremel shredding of one nested column (see Entry).
  Status Shred(const Node& node, const Column& col, const std::vector<Entry>& in, int depth) {
    const std::vector<Entry>* e = &in;
    std::vector<Entry> masked;
    if (col.has_nulls()) {
      if (!node.optional) {
        for (const Entry& x : in) {
          if (x.index >= 0 && col.IsNull(x.index)) {
            return Status::InvalidArgument("field '" + node.name +
                                           "' is NOT NULL but the batch holds a null");
          }
        }
      } else {
        masked = in;
        for (Entry& x : masked) {
          if (x.index >= 0 && col.IsNull(x.index)) {
            x.index = -1;
            x.def = static_cast<int16_t>(node.def_level - 1);
          }
        }
        e = &masked;
      }
    }
    switch (node.kind) {
      case NodeKind::kLeaf:
        leaves_[node.leaf]->AppendEntries(col, e->data(), static_cast<int64_t>(e->size()));
        return Status::OK();
      case NodeKind::kStruct:
        for (size_t k = 0; k < node.children.size(); ++k) {
          LP_RETURN_IF_ERROR(Shred(node.children[k], col.child(k), *e, depth + 1));
        }
        return Status::OK();
      case NodeKind::kList:
      case NodeKind::kMap: {
        std::vector<Entry> out;
        out.reserve(e->size());
        const int64_t* off = col.offsets().data();
        for (const Entry& x : *e) {
          if (x.index < 0) {
            out.push_back(x);
            continue;
          }
          int64_t s = off[x.index], t = off[x.index + 1];
          if (s == t) {
            out.push_back(Entry{-1, node.def_level, x.rep});
            continue;
          }
          for (int64_t k = s; k < t; ++k) {
            out.push_back(Entry{k, 0, k == s ? x.rep : node.rep_level});
          }
        }
        LP_RETURN_IF_ERROR(Shred(node.children[0], col.child(0), out, depth + 1));
        if (node.kind == NodeKind::kMap) {
          LP_RETURN_IF_ERROR(Shred(node.children[1], col.child(1), out, depth + 1));
        }
        return Status::OK();
      }
    }
    return Status::OK();
  }

  Status FlushRowGroup() {
    RowGroup rg;
    rg.num_rows = rg_rows_;
    rg.file_offset = file_->Size();
    int64_t compressed = 0, uncompressed = 0;
    for (auto& l : leaves_) {
      ColumnChunk cc;
      auto sink = [&](const std::string& bytes) { return file_->Append(bytes); };
      LP_RETURN_IF_ERROR(l->FinishChunk(file_->Size(), sink, &cc));
      compressed += cc.meta_data->total_compressed_size;
      uncompressed += cc.meta_data->total_uncompressed_size;
      rg.columns.push_back(std::move(cc));
    }
    rg.total_byte_size = uncompressed;
    rg.total_compressed_size = compressed;
    rg.ordinal = static_cast<int16_t>(std::min<size_t>(row_groups_.size(), INT16_MAX));
    row_groups_.push_back(std::move(rg));
    rg_rows_ = 0;
    return Status::OK();
  }

  Schema schema_;
  WriteOptions options_;
  std::string path_;
  SchemaBuild build_;
  std::vector<Node> nodes_;
  std::vector<std::unique_ptr<LeafWriter>> leaves_;
  std::unique_ptr<WritableFile> file_;
  std::vector<RowGroup> row_groups_;
  std::vector<Entry> entries_;
  int64_t rg_rows_ = 0;
  int64_t total_rows_ = 0;
  int64_t copied_bytes_ = 0;
  bool closed_ = false;
  Status sticky_;
};

}  // namespace

Result<std::vector<SchemaElement>> ToParquetSchema(const Schema& schema) {
  SchemaBuild build;
  std::vector<Node> nodes;
  LP_RETURN_IF_ERROR(BuildSchema(schema, &build, &nodes));
  return build.elements;
}

Result<std::unique_ptr<FileWriter>> FileWriter::Open(FileSystem* fs, const std::string& path,
                                                     const Schema& schema,
                                                     const WriteOptions& options) {
  auto w = std::make_unique<FileWriterImpl>(schema, options, path);
  LP_RETURN_IF_ERROR(w->Init(fs).WithContext("cannot write Parquet file " + path));
  return std::unique_ptr<FileWriter>(std::move(w));
}

}  // namespace lakepipe::parquet
