#include "operators/key_encoder.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/hash_mix.h"

namespace lakepipe::operators {

Status KeyEncoder::CheckKeyType(const DataType& type, const std::string& what) {
  if (type.is_nested()) {
    return Status::NotSupported(what + " of type " + type.ToString() + " (nested types cannot be keys yet)");
  }
  return Status::OK();
}

namespace {

void PutU32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), sizeof v); }

// A nested value (struct, array, map) and everything inside it, from its Value: tag, then
// a struct's fields, or an array's u32 count and elements, or a map's u32 count and
// key, value pairs; leaves as booleans 1 byte, integers/dates/timestamps/intervals 8,
// floats 8 (as doubles, normalised), decimals 16, strings and binary u32 length + bytes.
void AppendNested(const Value& v, const DataType& t, std::string* out) {
  if (v.is_null()) {
    out->push_back('\0');
    return;
  }
  out->push_back('\1');
  switch (t.id()) {
    case TypeId::kStruct:
      for (size_t k = 0; k < t.fields().size(); ++k) AppendNested(v.children()[k], t.fields()[k].type, out);
      return;
    case TypeId::kArray:
      PutU32(static_cast<uint32_t>(v.children().size()), out);
      for (const Value& e : v.children()) AppendNested(e, t.element(), out);
      return;
    case TypeId::kMap:
      PutU32(static_cast<uint32_t>(v.children().size() / 2), out);
      for (size_t k = 0; k + 1 < v.children().size(); k += 2) {
        AppendNested(v.children()[k], t.key(), out);
        AppendNested(v.children()[k + 1], t.value(), out);
      }
      return;
    case TypeId::kBoolean: out->push_back(v.bool_value() ? '\1' : '\0'); return;
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d = v.double_value();
      if (d == 0) d = 0;
      if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
      out->append(reinterpret_cast<const char*>(&d), sizeof d);
      return;
    }
    case TypeId::kDecimal: {
      int128_t d = v.decimal_value();
      out->append(reinterpret_cast<const char*>(&d), sizeof d);
      return;
    }
    case TypeId::kString:
    case TypeId::kBinary:
      PutU32(static_cast<uint32_t>(v.string_value().size()), out);
      out->append(v.string_value());
      return;
    default: {
      int64_t x = v.int_value();
      out->append(reinterpret_cast<const char*>(&x), sizeof x);
      return;
    }
  }
}

// Reads one AppendNested value of type `t` at in[*p], advancing *p.
Result<Value> ReadNested(std::string_view in, const DataType& t, size_t* p) {
  auto corrupt = [] { return Status::Corruption("an encoded nested value is cut short"); };
  auto take = [&](void* dst, size_t n) {
    if (*p + n > in.size()) return false;
    std::memcpy(dst, in.data() + *p, n);
    *p += n;
    return true;
  };
  uint8_t tag;
  if (!take(&tag, 1)) return corrupt();
  if (tag == 0) return Value::Null();
  uint32_t n = 0;
  std::vector<Value> children;
  switch (t.id()) {
    case TypeId::kStruct:
      for (const Field& f : t.fields()) {
        LP_ASSIGN_OR_RETURN(Value c, ReadNested(in, f.type, p));
        children.push_back(std::move(c));
      }
      return Value::Struct(std::move(children));
    case TypeId::kArray:
    case TypeId::kMap: {
      if (!take(&n, sizeof n)) return corrupt();
      bool map = t.id() == TypeId::kMap;
      for (uint32_t k = 0; k < n; ++k) {
        LP_ASSIGN_OR_RETURN(Value a, ReadNested(in, map ? t.key() : t.element(), p));
        children.push_back(std::move(a));
        if (map) {
          LP_ASSIGN_OR_RETURN(Value b, ReadNested(in, t.value(), p));
          children.push_back(std::move(b));
        }
      }
      return map ? Value::Map(std::move(children)) : Value::Array(std::move(children));
    }
    case TypeId::kBoolean: {
      uint8_t b;
      if (!take(&b, 1)) return corrupt();
      return Value::Bool(b != 0);
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d;
      if (!take(&d, sizeof d)) return corrupt();
      return Value::Double(d, t.id());
    }
    case TypeId::kDecimal: {
      int128_t d;
      if (!take(&d, sizeof d)) return corrupt();
      return Value::Decimal(d, t.precision(), t.scale());
    }
    case TypeId::kString:
    case TypeId::kBinary: {
      if (!take(&n, sizeof n) || *p + n > in.size()) return corrupt();
      std::string s(in.substr(*p, n));
      *p += n;
      return t.id() == TypeId::kString ? Value::String(std::move(s)) : Value::Binary(std::move(s));
    }
    default: {
      int64_t x;
      if (!take(&x, sizeof x)) return corrupt();
      switch (t.id()) {
        case TypeId::kDate: return Value::Date(static_cast<int32_t>(x));
        case TypeId::kTimestamp: return Value::Timestamp(x);
        case TypeId::kTimestampNtz: return Value::Timestamp(x, true);
        case TypeId::kDayTimeInterval: return Value::DayTimeInterval(x);
        case TypeId::kYearMonthInterval: return Value::YearMonthInterval(x);
        default: return Value::Int(x, t.id());
      }
    }
  }
}

inline void AppendValue(const Column& c, int64_t row, std::string* out) {
  if (c.type().id() == TypeId::kNull || c.IsNull(row)) {
    out->push_back('\0');
    return;
  }
  if (c.type().is_nested()) {
    AppendNested(c.GetValue(row), c.type(), out);
    return;
  }
  out->push_back('\1');
  switch (c.type().id()) {
    case TypeId::kFloat: {
      float v = c.data<float>()[row];
      if (v == 0) v = 0;  // -0.0 groups with 0.0
      if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
      out->append(reinterpret_cast<const char*>(&v), sizeof v);
      return;
    }
    case TypeId::kDouble: {
      double v = c.data<double>()[row];
      if (v == 0) v = 0;
      if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
      out->append(reinterpret_cast<const char*>(&v), sizeof v);
      return;
    }
    case TypeId::kString:
    case TypeId::kBinary: {
      std::string_view s = c.GetString(row);
      uint32_t len = static_cast<uint32_t>(s.size());
      out->append(reinterpret_cast<const char*>(&len), sizeof len);
      out->append(s);
      return;
    }
    default: {
      int w = c.type().fixed_width();
      out->append(reinterpret_cast<const char*>(c.raw_data().data()) + row * w, static_cast<size_t>(w));
      return;
    }
  }
}

}  // namespace

void KeyEncoder::AppendOne(const Column& column, int64_t row, std::string* out) { AppendValue(column, row, out); }

void KeyEncoder::Encode(const std::vector<const Column*>& columns, int64_t row, std::string* out) {
  out->clear();
  for (const Column* c : columns) AppendValue(*c, row, out);
}

void KeyEncoder::EncodeAll(const std::vector<const Column*>& columns, int64_t rows, std::string* arena,
                           std::vector<std::string_view>* keys) {
  EncodeRows(columns, 0, rows, arena, keys);
}

void KeyEncoder::EncodeRows(const std::vector<const Column*>& columns, int64_t first_row, int64_t rows,
                            std::string* arena, std::vector<std::string_view>* keys) {
  const size_t n = static_cast<size_t>(rows);
  keys->resize(n);
  bool nested = false;
  for (const Column* c : columns) nested |= c->type().is_nested();
  if (nested) {
    arena->clear();
    // Nested values have no length known in advance: row by row.
    std::vector<size_t> ends(n);
    for (int64_t r = 0; r < rows; ++r) {
      for (const Column* c : columns) AppendValue(*c, first_row + r, arena);
      ends[static_cast<size_t>(r)] = arena->size();
    }
    size_t start = 0;
    for (size_t r = 0; r < n; ++r) {
      (*keys)[r] = std::string_view(arena->data() + start, ends[r] - start);
      start = ends[r];
    }
    return;
  }
  // Column by column, in two passes: every row's length first, so that the arena is sized
  // once, then each column's values written at their rows' cursors. The bytes are exactly
  // AppendValue's, row after row (a string grown value by value reallocated and re-copied
  // the arena; a type switch per value cost as much as the copy).
  std::vector<size_t> cursor(n, 0);
  for (const Column* c : columns) {
    const bool null_type = c->type().id() == TypeId::kNull;
    const bool strings = c->type().id() == TypeId::kString || c->type().id() == TypeId::kBinary;
    const size_t fixed = strings || null_type ? 0 : static_cast<size_t>(c->type().fixed_width());
    for (size_t r = 0; r < n; ++r) {
      const int64_t row = first_row + static_cast<int64_t>(r);
      if (null_type || c->IsNull(row)) cursor[r] += 1;
      else if (strings) cursor[r] += 1 + sizeof(uint32_t) + c->GetString(row).size();
      else cursor[r] += 1 + fixed;
    }
  }
  size_t total = 0;
  for (size_t r = 0; r < n; ++r) {
    size_t len = cursor[r];
    cursor[r] = total;  // where row r starts
    total += len;
  }
  // Every byte of [0, total) is written below: an arena already that long (the same
  // caller's previous, equal-sized slice of rows) is not cleared and zero-filled again.
  if (arena->size() < total) arena->resize(total);
  char* base = arena->data();
  for (size_t r = 0; r < n; ++r) (*keys)[r] = std::string_view(base + cursor[r], 0);
  for (const Column* c : columns) {
    const TypeId id = c->type().id();
    for (size_t r = 0; r < n; ++r) {
      const int64_t row = first_row + static_cast<int64_t>(r);
      char* out = base + cursor[r];
      if (id == TypeId::kNull || c->IsNull(row)) {
        *out = '\0';
        cursor[r] += 1;
        continue;
      }
      *out++ = '\1';
      switch (id) {
        case TypeId::kFloat: {
          float v = c->data<float>()[row];
          if (v == 0) v = 0;  // -0.0 groups with 0.0
          if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
          std::memcpy(out, &v, sizeof v);
          cursor[r] += 1 + sizeof v;
          break;
        }
        case TypeId::kDouble: {
          double v = c->data<double>()[row];
          if (v == 0) v = 0;
          if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
          std::memcpy(out, &v, sizeof v);
          cursor[r] += 1 + sizeof v;
          break;
        }
        case TypeId::kString:
        case TypeId::kBinary: {
          std::string_view v = c->GetString(row);
          uint32_t len = static_cast<uint32_t>(v.size());
          std::memcpy(out, &len, sizeof len);
          if (len > 0) std::memcpy(out + sizeof len, v.data(), len);
          cursor[r] += 1 + sizeof len + len;
          break;
        }
        default: {
          const size_t w = static_cast<size_t>(c->type().fixed_width());
          std::memcpy(out, reinterpret_cast<const char*>(c->raw_data().data()) + row * static_cast<int64_t>(w), w);
          cursor[r] += 1 + w;
          break;
        }
      }
    }
  }
  for (size_t r = 0; r < n; ++r) {
    const char* start = (*keys)[r].data();
    (*keys)[r] = std::string_view(start, static_cast<size_t>(base + cursor[r] - start));
  }
}

Result<size_t> KeyEncoder::ValueLength(std::string_view in, const DataType& type) {
  auto corrupt = [] { return Status::Corruption("an encoded value is cut short"); };
  if (in.empty()) return corrupt();
  if (in[0] == '\0') return size_t{1};
  if (type.is_nested()) {
    size_t p = 0;
    LP_RETURN_IF_ERROR(ReadNested(in, type, &p).status());
    return p;
  }
  size_t n;
  if (type.id() == TypeId::kString || type.id() == TypeId::kBinary) {
    uint32_t len;
    if (in.size() < 1 + sizeof len) return corrupt();
    std::memcpy(&len, in.data() + 1, sizeof len);
    n = 1 + sizeof len + len;
  } else {
    n = 1 + static_cast<size_t>(type.fixed_width());
  }
  if (in.size() < n) return corrupt();
  return n;
}

Status KeyEncoder::DecodeOne(std::string_view in, Column* column) {
  if (column->type().is_nested()) {
    size_t p = 0;
    LP_ASSIGN_OR_RETURN(Value v, ReadNested(in, column->type(), &p));
    return column->AppendValue(v);
  }
  LP_ASSIGN_OR_RETURN(size_t n, ValueLength(in, column->type()));
  if (n == 1) {
    column->AppendNull();
    return Status::OK();
  }
  const char* p = in.data() + 1;
  switch (column->type().id()) {
    case TypeId::kString:
    case TypeId::kBinary: column->AppendString(std::string_view(p + 4, n - 5)); return Status::OK();
    default: break;
  }
  auto append = [&](auto v) {
    std::memcpy(&v, p, sizeof v);
    column->Append(v);
  };
  switch (n - 1) {
    case 1: append(uint8_t{}); break;
    case 2: append(int16_t{}); break;
    case 4: append(int32_t{}); break;
    case 8: append(int64_t{}); break;
    case 16: append(int128_t{}); break;
    default: return Status::Corruption("an encoded value of " + column->type().ToString() + " has no fixed width");
  }
  return Status::OK();
}

bool KeyEncoder::AnyNull(const std::vector<const Column*>& columns, int64_t row) {
  for (const Column* c : columns) {
    if (c->type().id() == TypeId::kNull || c->IsNull(row)) return true;
  }
  return false;
}

uint64_t HashKey(std::string_view key) {
  // FNV-1a over 8-byte words, then a murmur-style finalizer.
  uint64_t h = 0xcbf29ce484222325ULL ^ key.size();
  size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, key.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < key.size(); ++i) h = (h ^ static_cast<uint8_t>(key[i])) * 0x100000001b3ULL;
  return Mix64(h);
}

}  // namespace lakepipe::operators
