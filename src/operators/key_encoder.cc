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
