#include "formats/csv/csv_reader.h"

#include <fast_float/fast_float.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/utf8.h"
#include "types/datetime.h"
#include "types/decimal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lakepipe::csv {

void AppendJsonString(std::string_view text, std::string* out) {
  // JSON text must be UTF-8: invalid bytes become U+FFFD here; callers that must keep the
  // bytes record them separately (RescueRecord's "_invalid_utf8").
  std::string repaired;
  if (!IsValidUtf8(text)) {
    repaired = RepairUtf8(text);
    text = repaired;
  }
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void AddRescueEntry(std::string_view key, std::string_view raw, std::string* record,
                    std::string* invalid_utf8) {
  record->push_back(record->empty() ? '{' : ',');
  AppendJsonString(key, record);
  record->push_back(':');
  AppendJsonString(raw, record);
  if (!IsValidUtf8(raw)) {
    if (!invalid_utf8->empty()) invalid_utf8->push_back(',');
    AppendJsonString(key, invalid_utf8);
    invalid_utf8->append(":\"");
    AppendHex(raw, invalid_utf8);
    invalid_utf8->push_back('"');
  }
}

void FinishRescueRecord(const std::string& file_path, std::string* record,
                        std::string* invalid_utf8) {
  if (!invalid_utf8->empty()) {
    record->append(",\"_invalid_utf8\":{");
    record->append(*invalid_utf8);
    record->push_back('}');
    invalid_utf8->clear();
  }
  if (!file_path.empty()) {
    record->append(",\"_file_path\":");
    AppendJsonString(file_path, record);
  }
  record->push_back('}');
}

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Hand-rolled: no locale, no allocation, overflow checked.
bool ParseInt64(std::string_view s, int64_t* out) {
  size_t n = s.size();
  if (n == 0) return false;
  const char* p = s.data();
  size_t i = 0;
  bool neg = false;
  if (p[0] == '-' || p[0] == '+') {
    neg = p[0] == '-';
    i = 1;
    if (n == 1) return false;
  }
  uint64_t v = 0;
  for (; i < n; ++i) {
    unsigned d = static_cast<unsigned>(p[i] - '0');
    if (d > 9) return false;
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > (uint64_t{1} << 63)) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// Plain decimals ("-12.5", "3") of at most 15 digits: the digits as an integer m, exact
// in a double, divided by 10^k, also exact for k <= 15. IEEE division rounds correctly,
// so this is the correctly rounded value fast_float returns too (Clinger's fast path, which
// fast_float takes itself after a longer general scan). False for anything else.
bool ParsePlainDecimal(const char* p, const char* e, double* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  bool neg = false;
  if (p < e && *p == '-') {
    neg = true;
    ++p;
  }
  uint64_t m = 0;
  int digits = 0;
  const char* start = p;
  for (; p < e && static_cast<unsigned>(*p - '0') <= 9; ++p, ++digits) m = m * 10 + static_cast<unsigned>(*p - '0');
  if (p == start) return false;
  int frac = 0;
  if (p < e && *p == '.') {
    const char* f = ++p;
    for (; p < e && static_cast<unsigned>(*p - '0') <= 9; ++p, ++digits) m = m * 10 + static_cast<unsigned>(*p - '0');
    frac = static_cast<int>(p - f);
    if (frac == 0) return false;
  }
  if (p != e || digits > 15) return false;
  const double d = static_cast<double>(m) / kPow10[frac];
  *out = neg ? -d : d;
  return true;
}

bool ParseDouble(std::string_view s, double* out) {
  const char* p = s.data();
  const char* e = p + s.size();
  if (p < e && *p == '+') ++p;
  if (p == e) return false;
  if (ParsePlainDecimal(p, e, out)) return true;
  auto r = fast_float::from_chars(p, e, *out);
  return r.ec == std::errc() && r.ptr == e;
}

bool ParseBool(std::string_view s, bool* out) {
  if (EqualsIgnoreCase(s, "true")) {
    *out = true;
    return true;
  }
  if (EqualsIgnoreCase(s, "false")) {
    *out = false;
    return true;
  }
  return false;
}

// A date in the strict yyyy-MM-dd shape used for inference (ParseDate is more lenient).
bool LooksLikeIsoDate(std::string_view s) {
  return s.size() == 10 && s[4] == '-' && s[7] == '-';
}
bool LooksLikeIsoTimestamp(std::string_view s) {
  return s.size() >= 16 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') &&
         s[13] == ':';
}

// What inference has seen in a column so far; merged value by value.
enum class Inferred { kNone, kBool, kInt, kLong, kDouble, kDate, kTimestamp, kString };

Inferred Classify(std::string_view v) {
  int64_t i;
  if (ParseInt64(v, &i)) {
    return (i >= std::numeric_limits<int32_t>::min() && i <= std::numeric_limits<int32_t>::max())
               ? Inferred::kInt
               : Inferred::kLong;
  }
  double d;
  if (ParseDouble(v, &d)) return Inferred::kDouble;
  if (LooksLikeIsoDate(v) && ParseDate(v).ok()) return Inferred::kDate;
  if (LooksLikeIsoTimestamp(v) && ParseTimestamp(v).ok()) return Inferred::kTimestamp;
  bool b;
  if (ParseBool(v, &b)) return Inferred::kBool;
  return Inferred::kString;
}

Inferred Merge(Inferred a, Inferred b) {
  if (a == Inferred::kNone) return b;
  if (b == Inferred::kNone || a == b) return a;
  auto is_int = [](Inferred x) { return x == Inferred::kInt || x == Inferred::kLong; };
  auto is_num = [&](Inferred x) { return is_int(x) || x == Inferred::kDouble; };
  if (is_int(a) && is_int(b)) return Inferred::kLong;
  if (is_num(a) && is_num(b)) return Inferred::kDouble;
  auto is_time = [](Inferred x) { return x == Inferred::kDate || x == Inferred::kTimestamp; };
  if (is_time(a) && is_time(b)) return Inferred::kTimestamp;
  return Inferred::kString;
}

DataType TypeOf(Inferred x) {
  switch (x) {
    case Inferred::kBool: return DataType::Boolean();
    case Inferred::kInt: return DataType::Int();
    case Inferred::kLong: return DataType::Long();
    case Inferred::kDouble: return DataType::Double();
    case Inferred::kDate: return DataType::Date();
    case Inferred::kTimestamp: return DataType::Timestamp();
    default: return DataType::String();
  }
}

// First byte in [p, end) that is the delimiter, '\n' or '\r' (end if none).
inline const char* FindFieldEnd(const char* p, const char* end, char delim) {
#if defined(__SSE2__)
  const __m128i vd = _mm_set1_epi8(delim);
  const __m128i vn = _mm_set1_epi8('\n');
  const __m128i vr = _mm_set1_epi8('\r');
  while (end - p >= 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
                               _mm_cmpeq_epi8(x, vr));
    int mask = _mm_movemask_epi8(hit);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && *p != delim && *p != '\n' && *p != '\r') ++p;
  return p;
}

int64_t CountNewlines(const char* p, const char* end) {
  int64_t n = 0;
  while (p < end) {
    const void* hit = std::memchr(p, '\n', static_cast<size_t>(end - p));
    if (hit == nullptr) break;
    ++n;
    p = static_cast<const char*>(hit) + 1;
  }
  return n;
}

enum class ColumnKind {
  kBool, kByte, kShort, kInt, kLong, kFloat, kDouble, kDecimal, kString, kDate, kTimestamp
};

Result<ColumnKind> KindOf(const Field& f) {
  switch (f.type.id()) {
    case TypeId::kBoolean: return ColumnKind::kBool;
    case TypeId::kByte: return ColumnKind::kByte;
    case TypeId::kShort: return ColumnKind::kShort;
    case TypeId::kInt: return ColumnKind::kInt;
    case TypeId::kLong: return ColumnKind::kLong;
    case TypeId::kFloat: return ColumnKind::kFloat;
    case TypeId::kDouble: return ColumnKind::kDouble;
    case TypeId::kDecimal: return ColumnKind::kDecimal;
    case TypeId::kString:
    case TypeId::kBinary: return ColumnKind::kString;
    case TypeId::kDate: return ColumnKind::kDate;
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: return ColumnKind::kTimestamp;
    default:
      return Status::NotSupported("CSV column '" + f.name + "' has type " + f.type.ToString() +
                                  ", which CSV cannot hold (use STRING and parse it)");
  }
}

}  // namespace

Result<CsvOptions> CsvOptionsFromMap(
    const std::vector<std::pair<std::string, std::string>>& kv) {
  CsvOptions o;
  auto one_char = [](const std::string& key, const std::string& v) -> Result<char> {
    if (v == "\\t") return '\t';
    if (v.size() != 1) {
      return Status::InvalidArgument("CSV option " + key + " must be one character, got '" + v +
                                     "'");
    }
    return v[0];
  };
  for (const auto& [key, value] : kv) {
    if (EqualsIgnoreCase(key, "header")) {
      if (!ParseBool(value, &o.header)) {
        return Status::InvalidArgument("CSV option header must be true or false, got '" + value +
                                       "'");
      }
    } else if (EqualsIgnoreCase(key, "sep") || EqualsIgnoreCase(key, "delimiter")) {
      LP_ASSIGN_OR_RETURN(o.delimiter, one_char(key, value));
    } else if (EqualsIgnoreCase(key, "quote")) {
      LP_ASSIGN_OR_RETURN(o.quote, one_char(key, value));
    } else if (EqualsIgnoreCase(key, "escape")) {
      LP_ASSIGN_OR_RETURN(o.escape, one_char(key, value));
    } else if (EqualsIgnoreCase(key, "nullValue")) {
      o.null_value = value;
    } else if (EqualsIgnoreCase(key, "rescuedDataColumn")) {
      o.rescued_data_column = value;
    } else if (EqualsIgnoreCase(key, "inferSchema")) {
      if (!ParseBool(value, &o.infer_types)) {
        return Status::InvalidArgument("CSV option inferSchema must be true or false, got '" +
                                       value + "'");
      }
    } else if (EqualsIgnoreCase(key, "mode")) {
      if (!EqualsIgnoreCase(value, "PERMISSIVE")) {
        return Status::NotSupported("CSV mode '" + value +
                                    "' is not supported: lakepipe reads in PERMISSIVE mode with "
                                    "_rescued_data");
      }
    } else if (EqualsIgnoreCase(key, "schema")) {
      LP_ASSIGN_OR_RETURN(Schema s, Schema::ParseDDL(value));
      o.schema = std::move(s);
    } else {
      return Status::NotSupported("CSV option '" + key +
                                  "' is not supported (supported: header, sep, delimiter, "
                                  "quote, escape, nullValue, inferSchema, mode, schema, "
                                  "rescuedDataColumn)");
    }
  }
  if (o.delimiter == '\n' || o.delimiter == '\r' || o.delimiter == o.quote) {
    return Status::InvalidArgument("CSV delimiter must differ from the quote and newlines");
  }
  return o;
}

class CsvReader::Impl {
 public:
  explicit Impl(CsvOptions o) : opt_(std::move(o)) {}

  Status Init() {
    if (opt_.batch_rows <= 0) return Status::InvalidArgument("CSV batch_rows must be positive");
    if (opt_.chunk_bytes < 64) opt_.chunk_bytes = 64;
    if (opt_.max_row_bytes < opt_.chunk_bytes) opt_.max_row_bytes = opt_.chunk_bytes;
    if (file_ != nullptr) LP_RETURN_IF_ERROR(ReadMore());
    if (end_ - begin_ >= 3 && std::memcmp(buf_.data() + begin_, "\xEF\xBB\xBF", 3) == 0) begin_ += 3;

    std::vector<std::string> header;
    if (opt_.header) {
      LP_RETURN_IF_ERROR(ReadHeader(&header));
    }
    if (opt_.schema.has_value()) {
      data_schema_ = *opt_.schema;
      for (auto& f : data_schema_.mutable_fields()) f.nullable = true;
    } else {
      LP_RETURN_IF_ERROR(Infer(header));
    }
    for (const auto& f : data_schema_.fields()) {
      LP_ASSIGN_OR_RETURN(ColumnKind k, KindOf(f));
      kinds_.push_back(k);
      is_binary_.push_back(f.type.id() == TypeId::kBinary);
    }
    pending_.resize(data_schema_.size());
    ascii_syntax_ = static_cast<unsigned char>(opt_.delimiter) < 0x80 &&
                    static_cast<unsigned char>(opt_.quote) < 0x80 &&
                    static_cast<unsigned char>(opt_.escape) < 0x80;
    if (!opt_.rescued_data_column.empty() && data_schema_.FindField(opt_.rescued_data_column) >= 0) {
      return Status::InvalidArgument("the schema already has a column named '" +
                                     opt_.rescued_data_column + "' (the rescue column)");
    }
    out_schema_ = data_schema_;
    if (!opt_.rescued_data_column.empty()) {
      out_schema_.AddField(Field{opt_.rescued_data_column, DataType::String(), true});
    }
    BuildMapping(header);
    return Status::OK();
  }

  const Schema& schema() const { return out_schema_; }
  const Schema& data_schema() const { return data_schema_; }
  const ReadStats& total() const { return total_; }

  Result<bool> Next(CsvBatch* out) {
    if (done_) return false;
    StartBatch();
    ReadStats bs;
    int64_t rows = 0;
    out->line_numbers.clear();
    while (rows < opt_.batch_rows) {
      if (begin_ == end_) {
        if (eof_) break;
        FlushPendingStrings();  // the window is about to be overwritten
        begin_ = end_ = 0;
        LP_RETURN_IF_ERROR(ReadMore());
        continue;
      }
      const char* row_start = buf_.data() + begin_;
      const char* next = nullptr;
      int64_t newlines = 0;
      RowResult r;
      if (ScanSimpleRow(row_start, buf_.data() + end_, &next)) {
        r = RowResult::kRow;
        newlines = 1;
      } else {
        r = ParseRow(row_start, buf_.data() + end_, eof_, &next, &newlines);
      }
      if (r == RowResult::kNeedMore) {
        FlushPendingStrings();  // MakeRoom moves the window's bytes
        LP_RETURN_IF_ERROR(MakeRoom());
        continue;
      }
      int64_t row_line = line_;
      if (r == RowResult::kUnterminated) {
        std::string_view raw(row_start, static_cast<size_t>(end_ - begin_));
        newlines = CountNewlines(raw.data(), raw.data() + raw.size());
        row_ = rows;
        EmitCorruptRow(raw, &bs, row_line);
        begin_ = end_;
      } else {
        begin_ = static_cast<size_t>(next - buf_.data());
        if (nspans_ == 1 && !spans_[0].quoted && spans_[0].len == 0) {
          // A blank line: skipped, as Spark does.
          int64_t consumed = newlines > 0 ? newlines : 1;
          line_ += consumed;
          bs.lines += consumed;
          continue;
        }
        row_utf8_ok_ = RowIsValidUtf8(OffsetOf(row_start), begin_);
        row_ = rows;
        EmitRow(row_start, &bs, row_line);
      }
      int64_t consumed = newlines > 0 ? newlines : 1;  // the last line may lack its newline
      line_ += consumed;
      bs.lines += consumed;
      if (opt_.line_numbers) out->line_numbers.push_back(row_line);
      ++rows;
    }
    if (rows == 0 && begin_ == end_ && eof_) {
      done_ = true;
      total_.lines += bs.lines;
      return false;
    }
    bs.rows = rows;
    FlushPendingStrings();
    FinishFixedColumns(rows);
    FinishRescueColumn(rows);
    RememberStringBytes();
    std::vector<Column> cols = std::move(cols_);
    cols_.clear();
    out->batch = RecordBatch::FromColumns(out_schema_, std::move(cols));
    out->stats = bs;
    total_.Add(bs);
    return true;
  }

  std::unique_ptr<RandomAccessFile> file_;
  int64_t file_pos_ = 0;
  int64_t file_size_ = 0;
  std::string buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool eof_ = false;

 private:
  enum class RowResult { kRow, kNeedMore, kUnterminated };
  struct Span {
    int64_t off;       // from the row start, or into scratch_
    int64_t len;
    bool in_scratch;
    bool quoted;
  };

  Status ReadMore() {
    utf8_known_ = false;
    if (file_ == nullptr) {
      eof_ = true;
      return Status::OK();
    }
    // A window of chunk_bytes, but no larger than what is left of the file: a small file
    // (a continuous run's landing files) does not zero-fill a whole chunk per open.
    const size_t want = static_cast<size_t>(std::clamp<int64_t>(file_size_ - file_pos_, 1, opt_.chunk_bytes));
    if (buf_.size() < end_ + want) buf_.resize(end_ + want);
    int64_t n = std::min<int64_t>(static_cast<int64_t>(buf_.size() - end_), file_size_ - file_pos_);
    if (n > 0) {
      LP_RETURN_IF_ERROR(file_->ReadAt(file_pos_, n, buf_.data() + end_));
      file_pos_ += n;
      end_ += static_cast<size_t>(n);
    }
    if (file_pos_ >= file_size_) eof_ = true;
    return Status::OK();
  }

  // The row starting at begin_ is incomplete: move it to the front and read more, growing
  // the window only when the row alone fills it.
  Status MakeRoom() {
    if (eof_) return Status::Internal("CSV parser asked for more input after end of input");
    utf8_known_ = false;
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (static_cast<int64_t>(end_) >= opt_.max_row_bytes) {
      return Status::Corruption(SourceName() + ": line " + std::to_string(line_) +
                                ": a row is longer than " + std::to_string(opt_.max_row_bytes) +
                                " bytes (an unterminated quote?)");
    }
    return ReadMore();
  }

  std::string SourceName() const { return opt_.file_path.empty() ? "CSV input" : opt_.file_path; }

  void AddSpan(const Span& s) {
    if (nspans_ == spans_.size()) spans_.resize(spans_.size() * 2 + 16);
    spans_[nspans_++] = s;
  }

  // The common row, split 16 bytes at a time: no quote and no '\r' before its '\n', and
  // that '\n' within the window. Each 16-byte block is classified with four compares, and
  // each delimiter then costs a bit scan, where ParseRow looks at every field's first
  // byte, searches for its end and checks the byte that ended it. False (spans_ then
  // undefined) leaves the row to ParseRow, which handles everything else: quotes, CR,
  // a row that ends within the last 15 bytes of the window or at the end of the input.
  bool ScanSimpleRow(const char* p, const char* end, const char** next) {
#if defined(__SSE2__)
    const char* row_start = p;
    const char* field_start = p;
    nspans_ = 0;
    const __m128i vd = _mm_set1_epi8(opt_.delimiter);
    const __m128i vn = _mm_set1_epi8('\n');
    const __m128i vr = _mm_set1_epi8('\r');
    const __m128i vq = _mm_set1_epi8(opt_.quote);
    for (const char* block = p; end - block >= 16; block += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block));
      const unsigned nl = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, vn)));
      unsigned hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, vd))) | nl;
      unsigned special = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, vq), _mm_cmpeq_epi8(x, vr))));
      if (nl != 0) {
        const unsigned upto = (nl & (0u - nl)) * 2 - 1;  // bits up to the first '\n'
        hits &= upto;
        special &= upto;
      }
      if (special != 0) return false;
      while (hits != 0) {
        const char* at = block + __builtin_ctz(hits);
        hits &= hits - 1;
        AddSpan(Span{field_start - row_start, at - field_start, false, false});
        if (*at == '\n') {
          *next = at + 1;
          return true;
        }
        field_start = at + 1;
      }
    }
#else
    (void)p;
    (void)end;
    (void)next;
#endif
    return false;
  }

  // Splits one row into spans_. Quoted content with escapes is copied to scratch_.
  RowResult ParseRow(const char* p, const char* end, bool at_eof, const char** next,
                     int64_t* newlines) {
    const char* row_start = p;
    nspans_ = 0;
    scratch_.clear();
    *newlines = 0;
    const char delim = opt_.delimiter, quote = opt_.quote, escape = opt_.escape;
    for (;;) {
      if (p < end && *p == quote) {
        ++p;
        const char* field_start = p;
        bool copied = false;
        size_t scratch_start = scratch_.size();
        for (;;) {
          const char* q = static_cast<const char*>(std::memchr(p, quote, static_cast<size_t>(end - p)));
          if (escape != quote) {
            const char* limit = q != nullptr ? q : end;
            const char* e = static_cast<const char*>(std::memchr(p, escape, static_cast<size_t>(limit - p)));
            if (e != nullptr) q = e;
          }
          if (q == nullptr) return at_eof ? RowResult::kUnterminated : RowResult::kNeedMore;
          *newlines += CountNewlines(p, q);
          if (*q == escape && escape != quote) {
            if (q + 1 >= end) return at_eof ? RowResult::kUnterminated : RowResult::kNeedMore;
            if (!copied) copied = true;
            if (q[1] == quote || q[1] == escape) {
              scratch_.append(p, static_cast<size_t>(q - p));
              scratch_.push_back(q[1]);
              p = q + 2;
            } else {
              scratch_.append(p, static_cast<size_t>(q + 1 - p));
              p = q + 1;
            }
            continue;
          }
          // *q is the quote: doubled (a literal quote) or closing.
          if (q + 1 >= end && !at_eof) return RowResult::kNeedMore;
          if (q + 1 < end && q[1] == quote) {
            copied = true;
            scratch_.append(p, static_cast<size_t>(q + 1 - p));
            p = q + 2;
            continue;
          }
          if (copied) scratch_.append(p, static_cast<size_t>(q - p));
          p = q + 1;
          // Text between the closing quote and the delimiter is kept, leniently.
          if (p < end && *p != delim && *p != '\n' && *p != '\r') {
            const char* e = FindFieldEnd(p, end, delim);
            if (e == end && !at_eof) return RowResult::kNeedMore;
            if (!copied) {
              scratch_.append(field_start, static_cast<size_t>(q - field_start));
              copied = true;
            }
            scratch_.append(p, static_cast<size_t>(e - p));
            p = e;
          }
          if (copied) {
            AddSpan(Span{static_cast<int64_t>(scratch_start),
                                  static_cast<int64_t>(scratch_.size() - scratch_start), true, true});
          } else {
            AddSpan(Span{field_start - row_start, q - field_start, false, true});
          }
          break;
        }
      } else {
        const char* e = FindFieldEnd(p, end, delim);
        if (e == end && !at_eof) return RowResult::kNeedMore;
        AddSpan(Span{p - row_start, e - p, false, false});
        p = e;
      }
      if (p >= end) {
        *next = end;
        return RowResult::kRow;
      }
      if (*p == delim) {
        ++p;
        continue;
      }
      if (*p == '\r') {
        ++p;
        if (p >= end && !at_eof) return RowResult::kNeedMore;
        if (p < end && *p == '\n') ++p;
      } else {  // '\n'
        ++p;
      }
      ++*newlines;
      *next = p;
      return RowResult::kRow;
    }
  }

  std::string_view SpanText(const char* row_start, const Span& s) const {
    return s.in_scratch ? std::string_view(scratch_.data() + s.off, static_cast<size_t>(s.len))
                        : std::string_view(row_start + s.off, static_cast<size_t>(s.len));
  }

  size_t OffsetOf(const char* row_start) const {
    return static_cast<size_t>(row_start - buf_.data());
  }

  // Whether every byte of the row [row_begin, row_end) of the window is valid UTF-8, from
  // one check of the window instead of one per value: the window is validated from a row
  // start up to its first invalid byte, and a row that ends before that byte is valid.
  // Its fields are too, because they are cut at ASCII bytes (delimiter, quote, escape,
  // newline), which are whole characters in valid UTF-8. Only a row at or past an invalid
  // byte starts a new check, so each byte of the window is checked once. Rows that are
  // not certified this way have their values checked one by one, as before.
  bool RowIsValidUtf8(size_t row_begin, size_t row_end) {
    if (!ascii_syntax_) return false;
    if (!utf8_known_ || row_begin >= utf8_valid_end_) {
      std::string_view rest(buf_.data() + row_begin, end_ - row_begin);
      size_t bad = FirstInvalidUtf8(rest);
      utf8_valid_end_ = bad == std::string_view::npos ? end_ : row_begin + bad;
      utf8_known_ = true;
    }
    return row_end <= utf8_valid_end_;
  }

  // STRING/BINARY values that are views into the window wait in pending_ and go into
  // their column in one AppendStrings call: at kFlushStrings values, before anything
  // else is appended to that column, before the window's bytes move, and at the end of
  // the batch.
  static constexpr size_t kFlushStrings = 2048;

  void FlushPending(size_t c) {
    std::vector<std::string_view>& p = pending_[c];
    if (p.empty()) return;
    cols_[c].AppendStrings(p.data(), static_cast<int64_t>(p.size()));
    p.clear();
  }

  void FlushPendingStrings() {
    for (size_t c = 0; c < pending_.size(); ++c) FlushPending(c);
  }

  void AppendNullTo(size_t c) {
    if (kinds_[c] != ColumnKind::kString) {
      SetFixedNull(c);
      return;
    }
    FlushPending(c);
    cols_[c].AppendNull();
  }

  Status ReadHeader(std::vector<std::string>* names) {
    for (;;) {
      if (begin_ == end_ && eof_) return Status::OK();  // empty input: no columns
      const char* next = nullptr;
      int64_t newlines = 0;
      const char* row_start = buf_.data() + begin_;
      RowResult r = ParseRow(row_start, buf_.data() + end_, eof_, &next, &newlines);
      if (r == RowResult::kNeedMore) {
        LP_RETURN_IF_ERROR(MakeRoom());
        continue;
      }
      if (r == RowResult::kUnterminated) {
        return Status::Corruption(SourceName() + ": line 1: the header has an unterminated quote");
      }
      // Column names become Delta schema JSON: invalid UTF-8 is repaired (U+FFFD).
      for (size_t i = 0; i < nspans_; ++i) names->push_back(RepairUtf8(SpanText(row_start, spans_[i])));
      int64_t consumed = newlines > 0 ? newlines : 1;
      line_ += consumed;
      total_.lines += consumed;
      begin_ = static_cast<size_t>(next - buf_.data());
      return Status::OK();
    }
  }

  // Infers types from up to infer_rows rows at the front of the window, without consuming.
  Status Infer(const std::vector<std::string>& header) {
    std::vector<Inferred> seen;
    size_t first_row_fields = 0;
    int64_t sampled = 0;
    size_t pos = begin_;
    while (sampled < opt_.infer_rows && pos < end_) {
      const char* row_start = buf_.data() + pos;
      const char* next = nullptr;
      int64_t newlines = 0;
      RowResult r = ParseRow(row_start, buf_.data() + end_, eof_, &next, &newlines);
      if (r == RowResult::kNeedMore) {
        if (sampled > 0) break;  // enough to go on; the rest is typed by the schema
        LP_RETURN_IF_ERROR(MakeRoom());
        pos = begin_;
        continue;
      }
      if (r == RowResult::kUnterminated) break;
      pos = static_cast<size_t>(next - buf_.data());
      if (nspans_ == 1 && !spans_[0].quoted && spans_[0].len == 0) continue;
      if (sampled == 0) first_row_fields = nspans_;
      if (seen.size() < nspans_) seen.resize(nspans_, Inferred::kNone);
      for (size_t i = 0; i < nspans_; ++i) {
        std::string_view v = SpanText(row_start, spans_[i]);
        if (v.empty() || (opt_.null_value && v == *opt_.null_value && !spans_[i].quoted)) continue;
        if (seen[i] == Inferred::kString) continue;
        seen[i] = Merge(seen[i], Classify(v));
      }
      ++sampled;
    }
    size_t ncols = opt_.header ? header.size() : first_row_fields;
    std::vector<std::string> used;
    for (size_t i = 0; i < ncols; ++i) {
      std::string name = (opt_.header && !header[i].empty()) ? header[i] : "_c" + std::to_string(i);
      // Duplicate names get their position appended, as Spark does.
      for (const auto& u : used) {
        if (EqualsIgnoreCase(u, name)) {
          name += std::to_string(i);
          break;
        }
      }
      used.push_back(name);
      Inferred t = (opt_.infer_types && i < seen.size()) ? seen[i] : Inferred::kString;
      data_schema_.AddField(Field{name, TypeOf(t), true});
    }
    return Status::OK();
  }

  void BuildMapping(const std::vector<std::string>& header) {
    size_t ncols = data_schema_.size();
    std::vector<bool> covered(ncols, false);
    if (opt_.header && opt_.schema.has_value()) {
      for (size_t i = 0; i < header.size(); ++i) {
        int c = data_schema_.FindField(header[i]);
        if (c >= 0 && covered[static_cast<size_t>(c)]) c = -1;  // a repeated header name
        if (c >= 0) covered[static_cast<size_t>(c)] = true;
        pos_to_col_.push_back(c);
        pos_names_.push_back(header[i].empty() ? "_c" + std::to_string(i) : header[i]);
      }
    } else {
      for (size_t i = 0; i < ncols; ++i) {
        pos_to_col_.push_back(static_cast<int>(i));
        pos_names_.push_back(data_schema_.field(i).name);
        covered[i] = true;
      }
    }
    for (size_t c = 0; c < ncols; ++c) {
      if (!covered[c]) uncovered_cols_.push_back(static_cast<int>(c));
    }
  }

  void StartBatch() {
    cols_.clear();
    string_bytes_.resize(out_schema_.size(), 0);
    // Fixed-width columns are sized ahead (see SetFixed) for as many rows as the last
    // batch had, so a stream of small files does not zero a whole batch's width each.
    cap_ = std::min<int64_t>(opt_.batch_rows, std::max<int64_t>(last_rows_, 256));
    nulls_.assign(data_schema_.size(), {});
    for (size_t c = 0; c < out_schema_.size(); ++c) {
      cols_.emplace_back(out_schema_.field(c).type);
      if (c < kinds_.size() && kinds_[c] != ColumnKind::kString) {
        cols_.back().ResizeFixed(cap_);
        continue;
      }
      if (c < kinds_.size()) cols_.back().Reserve(std::min<int64_t>(opt_.batch_rows, 1 << 16));
      // String bytes: as many as the previous batch held, to append without regrowing.
      if (string_bytes_[c] > 0) cols_.back().raw_data().reserve(string_bytes_[c] + string_bytes_[c] / 8);
    }
  }

  void RememberStringBytes() {
    for (size_t c = 0; c < cols_.size(); ++c) {
      if (cols_[c].type().is_binary_like()) string_bytes_[c] = cols_[c].raw_data().size();
    }
  }

  void AddRescue(std::string_view key, std::string_view raw) {
    AddRescueEntry(key, raw, &rescue_, &invalid_utf8_);
  }

  void FinishRescue(ReadStats* bs, int64_t line) {
    if (rescue_.empty()) return;
    FinishRescueRecord(opt_.file_path, &rescue_, &invalid_utf8_);
    if (has_rescue_col()) {
      rescued_rows_.push_back(row_);
      rescued_text_.append(rescue_);
      rescued_ends_.push_back(rescued_text_.size());
    }
    ++bs->rescued_rows;
    if (bs->first_bad_lines.size() < ReadStats::kMaxBadLines) bs->first_bad_lines.push_back(line);
    rescue_.clear();
  }

  bool has_rescue_col() const { return !opt_.rescued_data_column.empty(); }

  // The rescue column is NULL in most rows: its records wait in rescued_* and the column
  // is built once per batch, with the NULL rows between them appended in bulk.
  void FinishRescueColumn(int64_t rows) {
    if (!has_rescue_col()) return;
    Column& col = cols_.back();
    int64_t at = 0;
    size_t from = 0;
    for (size_t k = 0; k < rescued_rows_.size(); ++k) {
      col.AppendNulls(rescued_rows_[k] - at);
      col.AppendString(std::string_view(rescued_text_.data() + from, rescued_ends_[k] - from));
      from = rescued_ends_[k];
      at = rescued_rows_[k] + 1;
    }
    col.AppendNulls(rows - at);
    rescued_rows_.clear();
    rescued_ends_.clear();
    rescued_text_.clear();
  }

  // Fixed-width columns are written in place: StartBatch sized them for cap_ rows (zeros,
  // which is also what a NULL slot holds), a value is stored at row_, and a NULL clears
  // its bit in nulls_[c] (empty while the column has none). A Column::Append per value
  // cost a vector resize (a call and a zero-fill) each.
  void GrowFixed() {
    cap_ = std::max<int64_t>(cap_ * 2, 256);
    for (size_t c = 0; c < kinds_.size(); ++c) {
      if (kinds_[c] == ColumnKind::kString) continue;
      cols_[c].ResizeFixed(cap_);
      if (!nulls_[c].empty()) nulls_[c].resize(static_cast<size_t>(cap_ / 8 + 1), 0xFF);
    }
  }

  template <typename T>
  void SetFixed(size_t c, T v) {
    cols_[c].data<T>()[row_] = v;
  }

  void SetFixedNull(size_t c) {
    std::vector<uint8_t>& bits = nulls_[c];
    if (bits.empty()) bits.assign(static_cast<size_t>(cap_ / 8 + 1), 0xFF);
    bits[static_cast<size_t>(row_ >> 3)] &= static_cast<uint8_t>(~(1u << (row_ & 7)));
  }

  void FinishFixedColumns(int64_t rows) {
    last_rows_ = rows;
    for (size_t c = 0; c < kinds_.size(); ++c) {
      if (kinds_[c] == ColumnKind::kString) continue;
      cols_[c].ResizeFixed(rows);
      if (!nulls_[c].empty()) {
        nulls_[c].resize(static_cast<size_t>((rows + 7) / 8));
        cols_[c].SetValidity(std::move(nulls_[c]));
      }
      nulls_[c].clear();
    }
  }

  // Appends one field to column c; on a value that does not fit, NULL plus a rescue entry.
  // `in_window`: v points into the input window (not scratch_), so it can wait in pending_.
  // Inlined into EmitRow's loop: a call per field with its five arguments cost as much as
  // converting a short number.
  [[gnu::always_inline]] inline void ConvertField(size_t c, std::string_view v, bool quoted,
                                                  bool in_window, std::string_view name) {
    const ColumnKind kind = kinds_[c];
    if (kind == ColumnKind::kString) {
      if (!quoted && (v.empty() || (opt_.null_value && v == *opt_.null_value))) {
        AppendNullTo(c);
        return;
      }
      // A STRING holds UTF-8 only (Parquet's STRING is UTF-8): other bytes are rescued.
      if (!row_utf8_ok_ && !is_binary_[c] && !IsValidUtf8(v)) {
        AppendNullTo(c);
        AddRescue(name, v);
        return;
      }
      std::vector<std::string_view>& p = pending_[c];
      if (in_window) {
        p.push_back(v);
        if (p.size() >= kFlushStrings) FlushPending(c);
      } else {
        FlushPending(c);
        cols_[c].AppendString(v);
      }
      return;
    }
    // NULL: an empty field ("" too: no value, nothing to rescue), or the null text.
    if (v.empty() || (!quoted && opt_.null_value && v == *opt_.null_value)) {
      SetFixedNull(c);
      return;
    }
    bool ok;
    switch (kind) {
      case ColumnKind::kInt: {
        int64_t x;
        ok = ParseInt64(v, &x) && x >= std::numeric_limits<int32_t>::min() &&
             x <= std::numeric_limits<int32_t>::max();
        if (ok) SetFixed<int32_t>(c, static_cast<int32_t>(x));
        break;
      }
      case ColumnKind::kDouble: {
        double d;
        ok = ParseDouble(v, &d);
        if (ok) SetFixed<double>(c, d);
        break;
      }
      default:
        ok = ConvertOther(c, kind, v);
        break;
    }
    if (!ok) {
      SetFixedNull(c);
      AddRescue(name, v);
    }
  }

  // The fixed-width kinds other than INT and DOUBLE; false when v does not fit.
  bool ConvertOther(size_t c, ColumnKind kind, std::string_view v) {
    switch (kind) {
      case ColumnKind::kBool: {
        bool b;
        if (!ParseBool(v, &b)) return false;
        SetFixed<uint8_t>(c, b ? 1 : 0);
        return true;
      }
      case ColumnKind::kByte:
      case ColumnKind::kShort:
      case ColumnKind::kInt:
      case ColumnKind::kLong: {
        int64_t x;
        if (!ParseInt64(v, &x)) return false;
        if (kind == ColumnKind::kLong) {
          SetFixed<int64_t>(c, x);
        } else if (kind == ColumnKind::kInt) {
          if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) return false;
          SetFixed<int32_t>(c, static_cast<int32_t>(x));
        } else if (kind == ColumnKind::kShort) {
          if (x < std::numeric_limits<int16_t>::min() || x > std::numeric_limits<int16_t>::max()) return false;
          SetFixed<int16_t>(c, static_cast<int16_t>(x));
        } else {
          if (x < std::numeric_limits<int8_t>::min() || x > std::numeric_limits<int8_t>::max()) return false;
          SetFixed<int8_t>(c, static_cast<int8_t>(x));
        }
        return true;
      }
      case ColumnKind::kFloat:
      case ColumnKind::kDouble: {
        double d;
        if (!ParseDouble(v, &d)) return false;
        if (kind == ColumnKind::kDouble) {
          SetFixed<double>(c, d);
        } else {
          SetFixed<float>(c, static_cast<float>(d));
        }
        return true;
      }
      case ColumnKind::kDecimal: {
        auto r = ParseDecimal(v, cols_[c].type().precision(), cols_[c].type().scale());
        if (!r.ok()) return false;
        SetFixed<int128_t>(c, *r);
        return true;
      }
      case ColumnKind::kDate: {
        if (opt_.parse_date) {
          std::optional<int32_t> d = opt_.parse_date(v);
          if (!d.has_value()) return false;
          SetFixed<int32_t>(c, *d);
          return true;
        }
        auto r = ParseDate(v);
        if (!r.ok()) return false;
        SetFixed<int32_t>(c, *r);
        return true;
      }
      case ColumnKind::kTimestamp: {
        if (opt_.parse_timestamp) {
          std::optional<int64_t> t = opt_.parse_timestamp(v);
          if (!t.has_value()) return false;
          SetFixed<int64_t>(c, *t);
          return true;
        }
        auto r = ParseTimestamp(v);
        if (!r.ok()) return false;
        SetFixed<int64_t>(c, *r);
        return true;
      }
      case ColumnKind::kString: break;
    }
    return false;
  }

  void EmitRow(const char* row_start, ReadStats* bs, int64_t line) {
    if (row_ >= cap_) GrowFixed();
    size_t npos = pos_to_col_.size();
    size_t nfields = nspans_;
    size_t n = std::min(npos, nfields);
    for (size_t i = 0; i < n; ++i) {
      std::string_view v = SpanText(row_start, spans_[i]);
      int c = pos_to_col_[i];
      if (c < 0) {
        // A header column the schema does not have: rescued by its header name.
        if (!v.empty() || spans_[i].quoted) AddRescue(pos_names_[i], v);
        continue;
      }
      ConvertField(static_cast<size_t>(c), v, spans_[i].quoted, !spans_[i].in_scratch,
                   pos_names_[i]);
    }
    for (size_t i = n; i < nfields; ++i) {
      AddRescue("_c" + std::to_string(i), SpanText(row_start, spans_[i]));
    }
    if (nfields < npos) {
      std::string missing;
      for (size_t i = nfields; i < npos; ++i) {
        int c = pos_to_col_[i];
        if (c < 0) continue;
        AppendNullTo(static_cast<size_t>(c));
        missing.push_back(missing.empty() ? '[' : ',');
        AppendJsonString(data_schema_.field(static_cast<size_t>(c)).name, &missing);
      }
      if (!missing.empty()) {
        missing.push_back(']');
        rescue_.push_back(rescue_.empty() ? '{' : ',');
        rescue_.append("\"_missing_columns\":");
        rescue_.append(missing);
      }
    }
    for (int c : uncovered_cols_) AppendNullTo(static_cast<size_t>(c));
    FinishRescue(bs, line);
  }

  void EmitCorruptRow(std::string_view raw, ReadStats* bs, int64_t line) {
    if (row_ >= cap_) GrowFixed();
    for (size_t c = 0; c < data_schema_.size(); ++c) AppendNullTo(c);
    AddRescue("_corrupt_record", raw);
    rescue_.append(",\"_error\":");
    AppendJsonString("unterminated quoted field starting on line " + std::to_string(line),
                     &rescue_);
    FinishRescue(bs, line);
  }

  CsvOptions opt_;
  Schema data_schema_;
  Schema out_schema_;
  std::vector<ColumnKind> kinds_;
  std::vector<bool> is_binary_;  // BINARY columns take any bytes; STRING only UTF-8
  std::vector<int> pos_to_col_;          // file field position -> schema column, -1: rescued
  std::vector<std::string> pos_names_;   // rescue key of each file field position
  std::vector<int> uncovered_cols_;      // schema columns no file field fills
  std::vector<Span> spans_;  // the row's fields are spans_[0, nspans_) (see AddSpan)
  size_t nspans_ = 0;
  std::string scratch_;
  std::string rescue_;
  std::string invalid_utf8_;  // "key":"hex" entries of the row's rescued invalid UTF-8
  std::vector<Column> cols_;
  int64_t row_ = 0;        // the batch row being emitted
  int64_t cap_ = 0;        // rows the fixed-width columns are sized for (GrowFixed)
  int64_t last_rows_ = 0;  // rows of the last batch (StartBatch's first guess)
  std::vector<std::vector<uint8_t>> nulls_;  // per data column, see SetFixedNull
  std::vector<int64_t> rescued_rows_;        // see FinishRescueColumn
  std::vector<size_t> rescued_ends_;
  std::string rescued_text_;
  std::vector<size_t> string_bytes_;  // per column, bytes of the last batch's strings
  std::vector<std::vector<std::string_view>> pending_;  // per data column, see FlushPending
  bool ascii_syntax_ = false;  // delimiter, quote and escape are ASCII (RowIsValidUtf8)
  bool utf8_known_ = false;    // utf8_valid_end_ is up to date for the window
  size_t utf8_valid_end_ = 0;  // the window is valid UTF-8 from the checked row to here
  bool row_utf8_ok_ = false;   // the row being emitted is valid UTF-8 as a whole
  int64_t line_ = 1;
  bool done_ = false;
  ReadStats total_;
};

CsvReader::CsvReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CsvReader::~CsvReader() = default;

Result<std::unique_ptr<CsvReader>> CsvReader::Open(FileSystem* fs, const std::string& path,
                                                   CsvOptions options) {
  if (options.file_path.empty()) options.file_path = path;
  auto impl = std::make_unique<Impl>(std::move(options));
  LP_ASSIGN_OR_RETURN(impl->file_, fs->NewRandomAccessFile(path));
  impl->file_size_ = impl->file_->Size();
  LP_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<CsvReader>(new CsvReader(std::move(impl)));
}

Result<std::unique_ptr<CsvReader>> CsvReader::OpenBuffer(std::string data, CsvOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->buf_ = std::move(data);
  impl->end_ = impl->buf_.size();
  impl->eof_ = true;
  LP_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<CsvReader>(new CsvReader(std::move(impl)));
}

const Schema& CsvReader::schema() const { return impl_->schema(); }
const Schema& CsvReader::data_schema() const { return impl_->data_schema(); }
Result<bool> CsvReader::Next(ReadBatch* out) { return impl_->Next(out); }
const ReadStats& CsvReader::total_stats() const { return impl_->total(); }

Result<RecordBatch> ReadCsvFile(FileSystem* fs, const std::string& path, CsvOptions options,
                                ReadStats* stats) {
  LP_ASSIGN_OR_RETURN(auto reader, CsvReader::Open(fs, path, std::move(options)));
  return ReadAllBatches(reader.get(), stats);
}

Result<RecordBatch> ReadCsvBuffer(std::string data, CsvOptions options, ReadStats* stats) {
  LP_ASSIGN_OR_RETURN(auto reader, CsvReader::OpenBuffer(std::move(data), std::move(options)));
  return ReadAllBatches(reader.get(), stats);
}

}  // namespace lakepipe::csv
