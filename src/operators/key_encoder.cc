#include "operators/key_encoder.h"

#include <cmath>
#include <cstring>

namespace lakepipe::operators {

Status KeyEncoder::CheckKeyType(const DataType& type, const std::string& what) {
  if (type.is_nested()) {
    return Status::NotSupported(what + " of type " + type.ToString() + " (nested types cannot be keys yet)");
  }
  return Status::OK();
}

namespace {

inline void AppendValue(const Column& c, int64_t row, std::string* out) {
  if (c.type().id() == TypeId::kNull || c.IsNull(row)) {
    out->push_back('\0');
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
  arena->clear();
  std::vector<size_t> ends(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (const Column* c : columns) AppendValue(*c, r, arena);
    ends[static_cast<size_t>(r)] = arena->size();
  }
  keys->resize(static_cast<size_t>(rows));
  size_t start = 0;
  for (int64_t r = 0; r < rows; ++r) {
    (*keys)[static_cast<size_t>(r)] = std::string_view(arena->data() + start, ends[static_cast<size_t>(r)] - start);
    start = ends[static_cast<size_t>(r)];
  }
}

Result<size_t> KeyEncoder::ValueLength(std::string_view in, const DataType& type) {
  auto corrupt = [] { return Status::Corruption("an encoded value is cut short"); };
  if (in.empty()) return corrupt();
  if (in[0] == '\0') return size_t{1};
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
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace lakepipe::operators
