#include "types/column.h"

#include <cassert>

namespace lakepipe {
namespace {
bool HasOffsets(TypeId id) {
  return id == TypeId::kString || id == TypeId::kBinary || id == TypeId::kArray ||
         id == TypeId::kMap;
}
}  // namespace

Column::Column(DataType type) : type_(std::move(type)) {
  if (HasOffsets(type_.id())) offsets_.push_back(0);
  switch (type_.id()) {
    case TypeId::kStruct:
      for (const auto& f : type_.fields()) children_.emplace_back(f.type);
      break;
    case TypeId::kArray: children_.emplace_back(type_.element()); break;
    case TypeId::kMap:
      children_.emplace_back(type_.key());
      children_.emplace_back(type_.value());
      break;
    default: break;
  }
}

Column Column::Nulls(DataType type, int64_t n) {
  Column c(std::move(type));
  c.AppendNulls(n);
  return c;
}

void Column::Reserve(int64_t n) {
  int w = type_.fixed_width();
  if (w > 0) data_.reserve(static_cast<size_t>(n * w));
  if (HasOffsets(type_.id())) offsets_.reserve(static_cast<size_t>(n + 1));
}

void Column::MaterializeValidity() {
  if (!validity_.empty()) return;
  validity_.assign(static_cast<size_t>((size_ + 8) / 8 + 1), 0xFF);
}

void Column::SetValidBit(int64_t i, bool valid) {
  size_t byte = static_cast<size_t>(i >> 3);
  if (byte >= validity_.size()) validity_.resize(byte + 1 + validity_.size() / 2, 0xFF);
  if (valid) {
    validity_[byte] |= static_cast<uint8_t>(1u << (i & 7));
  } else {
    validity_[byte] &= static_cast<uint8_t>(~(1u << (i & 7)));
  }
}

void Column::SetValidRange(int64_t from, int64_t n) {
  const int64_t end = from + n;
  const size_t bytes = static_cast<size_t>(end >> 3) + 1;
  if (validity_.size() < bytes) validity_.resize(bytes + validity_.size() / 2, 0xFF);
  int64_t i = from;
  for (; i < end && (i & 7) != 0; ++i) validity_[static_cast<size_t>(i >> 3)] |= static_cast<uint8_t>(1u << (i & 7));
  for (; i + 8 <= end; i += 8) validity_[static_cast<size_t>(i >> 3)] = 0xFF;
  for (; i < end; ++i) validity_[static_cast<size_t>(i >> 3)] |= static_cast<uint8_t>(1u << (i & 7));
}

void Column::AppendStrings(const std::string_view* values, int64_t n) {
  if (n <= 0) return;
  size_t total = 0;
  for (int64_t i = 0; i < n; ++i) total += values[i].size();
  const size_t at = data_.size();
  // resize() zero-fills the new bytes once (a memset the width of the batch); the
  // per-value cost is then one memcpy, with no capacity check or call per value.
  data_.resize(at + total);
  const size_t first = offsets_.size();
  offsets_.resize(first + static_cast<size_t>(n));
  uint8_t* dst = data_.data() + at;
  int64_t* off = offsets_.data() + first;
  int64_t pos = static_cast<int64_t>(at);
  for (int64_t i = 0; i < n; ++i) {
    const size_t len = values[i].size();
    if (len != 0) std::memcpy(dst, values[i].data(), len);
    dst += len;
    pos += static_cast<int64_t>(len);
    off[i] = pos;
  }
  if (!validity_.empty()) SetValidRange(size_, n);
  size_ += n;
}

void Column::AppendNull() {
  MaterializeValidity();
  int w = type_.fixed_width();
  if (w > 0) data_.resize(data_.size() + static_cast<size_t>(w), 0);
  switch (type_.id()) {
    case TypeId::kString:
    case TypeId::kBinary: offsets_.push_back(static_cast<int64_t>(data_.size())); break;
    case TypeId::kArray:
    case TypeId::kMap: offsets_.push_back(children_[0].size()); break;
    case TypeId::kStruct:
      for (auto& c : children_) c.AppendNull();
      break;
    default: break;
  }
  SetValidBit(size_, false);
  ++size_;
  ++null_count_;
}

void Column::AppendNulls(int64_t n) {
  if (n <= 0) return;
  const TypeId id = type_.id();
  if (id == TypeId::kArray || id == TypeId::kMap || id == TypeId::kStruct) {
    for (int64_t i = 0; i < n; ++i) AppendNull();
    return;
  }
  // Flat types in bulk (a NULL column of a pruned scan has a part's worth of rows): what
  // n AppendNull calls do, without a call and a bit test per row.
  MaterializeValidity();
  const int w = type_.fixed_width();
  if (w > 0) data_.resize(data_.size() + static_cast<size_t>(n * w), 0);
  if (HasOffsets(id)) offsets_.resize(offsets_.size() + static_cast<size_t>(n), static_cast<int64_t>(data_.size()));
  const int64_t end = size_ + n;
  const size_t bytes = static_cast<size_t>(end >> 3) + 1;
  if (validity_.size() < bytes) validity_.resize(bytes, 0xFF);
  int64_t i = size_;
  for (; i < end && (i & 7) != 0; ++i) validity_[static_cast<size_t>(i >> 3)] &= static_cast<uint8_t>(~(1u << (i & 7)));
  for (; i + 8 <= end; i += 8) validity_[static_cast<size_t>(i >> 3)] = 0;
  for (; i < end; ++i) validity_[static_cast<size_t>(i >> 3)] &= static_cast<uint8_t>(~(1u << (i & 7)));
  size_ = end;
  null_count_ += n;
}

void Column::ResizeFixed(int64_t n) {
  int w = type_.fixed_width();
  assert(w > 0);
  data_.resize(static_cast<size_t>(n * w));
  if (!validity_.empty()) {
    validity_.resize(static_cast<size_t>((n + 7) / 8 + 1), 0xFF);
  }
  if (n < size_) null_count_ = 0;  // recomputed below when a bitmap exists
  int64_t old = size_;
  size_ = n;
  if (!validity_.empty() && n < old) {
    null_count_ = 0;
    for (int64_t i = 0; i < n; ++i) null_count_ += IsNull(i);
  }
}

void Column::SetNull(int64_t i) {
  if (IsNull(i)) return;
  MaterializeValidity();
  int w = type_.fixed_width();
  if (w > 0) std::memset(data_.data() + i * w, 0, static_cast<size_t>(w));
  SetValidBit(i, false);
  ++null_count_;
}

void Column::SetValidity(std::vector<uint8_t> bitmap) {
  validity_ = std::move(bitmap);
  null_count_ = 0;
  if (validity_.empty()) return;
  if (validity_.size() < static_cast<size_t>((size_ + 7) / 8)) {
    validity_.resize(static_cast<size_t>((size_ + 7) / 8), 0xFF);
  }
  // Valid bits counted 64 at a time, then the last rows one by one.
  const uint8_t* bits = validity_.data();
  int64_t valid = 0;
  int64_t i = 0;
  for (; i + 64 <= size_; i += 64) {
    uint64_t word;
    std::memcpy(&word, bits + (i >> 3), sizeof word);
    valid += __builtin_popcountll(word);
  }
  for (; i < size_; ++i) valid += IsValid(i);
  null_count_ = size_ - valid;
}

Value Column::GetValue(int64_t i) const {
  if (IsNull(i)) return Value::Null();
  switch (type_.id()) {
    case TypeId::kNull: return Value::Null();
    case TypeId::kBoolean: return Value::Bool(Get<uint8_t>(i) != 0);
    case TypeId::kByte: return Value::Int(Get<int8_t>(i), TypeId::kByte);
    case TypeId::kShort: return Value::Int(Get<int16_t>(i), TypeId::kShort);
    case TypeId::kInt: return Value::Int(Get<int32_t>(i), TypeId::kInt);
    case TypeId::kLong: return Value::Int(Get<int64_t>(i), TypeId::kLong);
    case TypeId::kFloat: return Value::Double(Get<float>(i), TypeId::kFloat);
    case TypeId::kDouble: return Value::Double(Get<double>(i));
    case TypeId::kDecimal:
      return Value::Decimal(Get<int128_t>(i), type_.precision(), type_.scale());
    case TypeId::kString: return Value::String(std::string(GetString(i)));
    case TypeId::kBinary: return Value::Binary(std::string(GetString(i)));
    case TypeId::kDate: return Value::Date(Get<int32_t>(i));
    case TypeId::kTimestamp: return Value::Timestamp(Get<int64_t>(i));
    case TypeId::kTimestampNtz: return Value::Timestamp(Get<int64_t>(i), true);
    case TypeId::kDayTimeInterval: return Value::DayTimeInterval(Get<int64_t>(i));
    case TypeId::kYearMonthInterval: return Value::YearMonthInterval(Get<int32_t>(i));
    case TypeId::kStruct: {
      std::vector<Value> fields;
      for (const auto& c : children_) fields.push_back(c.GetValue(i));
      return Value::Struct(std::move(fields));
    }
    case TypeId::kArray: {
      std::vector<Value> elems;
      for (int64_t k = offsets_[i]; k < offsets_[i + 1]; ++k) elems.push_back(children_[0].GetValue(k));
      return Value::Array(std::move(elems));
    }
    case TypeId::kMap: {
      std::vector<Value> kv;
      for (int64_t k = offsets_[i]; k < offsets_[i + 1]; ++k) {
        kv.push_back(children_[0].GetValue(k));
        kv.push_back(children_[1].GetValue(k));
      }
      return Value::Map(std::move(kv));
    }
  }
  return Value::Null();
}

Status Column::AppendValue(const Value& v) {
  if (v.is_null()) {
    AppendNull();
    return Status::OK();
  }
  auto mismatch = [&]() {
    return Status::InvalidArgument("value " + v.ToString() + " does not fit type " +
                                   type_.ToString());
  };
  switch (type_.id()) {
    case TypeId::kNull: return mismatch();
    case TypeId::kBoolean:
      if (v.id() != TypeId::kBoolean) return mismatch();
      AppendBool(v.bool_value());
      return Status::OK();
    case TypeId::kByte:
    case TypeId::kShort:
    case TypeId::kInt:
    case TypeId::kLong:
    case TypeId::kDate:
    case TypeId::kTimestamp:
    case TypeId::kTimestampNtz: {
      if (v.id() == TypeId::kBoolean || v.id() == TypeId::kDecimal || v.id() == TypeId::kFloat ||
          v.id() == TypeId::kDouble || v.id() == TypeId::kString || v.id() == TypeId::kBinary ||
          v.id() == TypeId::kStruct || v.id() == TypeId::kArray || v.id() == TypeId::kMap ||
          v.id() == TypeId::kDayTimeInterval || v.id() == TypeId::kYearMonthInterval)
        return mismatch();
      int64_t x = v.int_value();
      switch (type_.id()) {
        case TypeId::kByte: Append<int8_t>(static_cast<int8_t>(x)); break;
        case TypeId::kShort: Append<int16_t>(static_cast<int16_t>(x)); break;
        case TypeId::kInt:
        case TypeId::kDate: Append<int32_t>(static_cast<int32_t>(x)); break;
        default: Append<int64_t>(x); break;
      }
      return Status::OK();
    }
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d;
      if (v.id() == TypeId::kFloat || v.id() == TypeId::kDouble) {
        d = v.double_value();
      } else if (v.id() == TypeId::kByte || v.id() == TypeId::kShort || v.id() == TypeId::kInt ||
                 v.id() == TypeId::kLong || v.id() == TypeId::kDecimal) {
        d = v.AsDouble();
      } else {
        return mismatch();
      }
      if (type_.id() == TypeId::kFloat) {
        Append<float>(static_cast<float>(d));
      } else {
        Append<double>(d);
      }
      return Status::OK();
    }
    case TypeId::kDecimal: {
      if (v.id() == TypeId::kDecimal) {
        int128_t x = v.decimal_value();
        int diff = type_.scale() - v.scale();
        if (diff > 0) x *= Pow10(diff);
        if (diff < 0) x /= Pow10(-diff);
        Append<int128_t>(x);
      } else if (v.id() == TypeId::kLong || v.id() == TypeId::kInt || v.id() == TypeId::kShort ||
                 v.id() == TypeId::kByte) {
        Append<int128_t>(static_cast<int128_t>(v.int_value()) * Pow10(type_.scale()));
      } else {
        return mismatch();
      }
      return Status::OK();
    }
    case TypeId::kString:
    case TypeId::kBinary:
      if (v.id() != TypeId::kString && v.id() != TypeId::kBinary) return mismatch();
      AppendString(v.string_value());
      return Status::OK();
    case TypeId::kDayTimeInterval:
      if (v.id() != TypeId::kDayTimeInterval) return mismatch();
      Append<int64_t>(v.int_value());
      return Status::OK();
    case TypeId::kYearMonthInterval:
      if (v.id() != TypeId::kYearMonthInterval) return mismatch();
      Append<int32_t>(static_cast<int32_t>(v.int_value()));
      return Status::OK();
    case TypeId::kStruct: {
      if (v.id() != TypeId::kStruct || v.children().size() != children_.size()) return mismatch();
      for (size_t k = 0; k < children_.size(); ++k) LP_RETURN_IF_ERROR(children_[k].AppendValue(v.children()[k]));
      CloseStructRow();
      return Status::OK();
    }
    case TypeId::kArray: {
      if (v.id() != TypeId::kArray) return mismatch();
      for (const auto& e : v.children()) LP_RETURN_IF_ERROR(children_[0].AppendValue(e));
      CloseListRow();
      return Status::OK();
    }
    case TypeId::kMap: {
      if (v.id() != TypeId::kMap) return mismatch();
      const auto& kv = v.children();
      for (size_t k = 0; k + 1 < kv.size(); k += 2) {
        LP_RETURN_IF_ERROR(children_[0].AppendValue(kv[k]));
        LP_RETURN_IF_ERROR(children_[1].AppendValue(kv[k + 1]));
      }
      CloseListRow();
      return Status::OK();
    }
  }
  return mismatch();
}

void Column::AppendRange(const Column& other, int64_t offset, int64_t n) {
  if (n <= 0) return;
  int w = type_.fixed_width();
  if (w > 0) {
    const uint8_t* src = other.data_.data() + offset * w;
    data_.insert(data_.end(), src, src + n * w);
  } else {
    switch (type_.id()) {
      case TypeId::kString:
      case TypeId::kBinary: {
        int64_t begin = other.offsets_[offset], end = other.offsets_[offset + n];
        int64_t base = static_cast<int64_t>(data_.size()) - begin;
        data_.insert(data_.end(), other.data_.data() + begin, other.data_.data() + end);
        // Sized once: a slice of a 262,144-row row group grew its offsets a push at a time.
        size_t first = offsets_.size();
        offsets_.resize(first + static_cast<size_t>(n));
        int64_t* dst = offsets_.data() + first;
        const int64_t* src = other.offsets_.data() + offset + 1;
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i] + base;
        break;
      }
      case TypeId::kArray:
      case TypeId::kMap: {
        int64_t begin = other.offsets_[offset], end = other.offsets_[offset + n];
        int64_t base = children_[0].size() - begin;
        for (size_t c = 0; c < children_.size(); ++c)
          children_[c].AppendRange(other.children_[c], begin, end - begin);
        for (int64_t i = 1; i <= n; ++i) offsets_.push_back(other.offsets_[offset + i] + base);
        break;
      }
      case TypeId::kStruct:
        for (size_t c = 0; c < children_.size(); ++c)
          children_[c].AppendRange(other.children_[c], offset, n);
        break;
      default: break;
    }
  }
  // Validity.
  if (other.null_count_ > 0 || !validity_.empty()) {
    MaterializeValidity();
    if (other.validity_.empty()) {
      SetValidRange(size_, n);
    } else {
      const int64_t end = size_ + n;
      const size_t bytes = static_cast<size_t>(end >> 3) + 1;
      if (validity_.size() < bytes) validity_.resize(bytes + validity_.size() / 2, 0xFF);
      int64_t i = 0, nulls = 0;
      if ((size_ & 7) == 0 && (offset & 7) == 0) {
        // Both on a byte boundary (a slice of a row group into parts, appended to an
        // empty column): whole bytes of the bitmap at once, where a call per bit cost
        // more than copying the values.
        const size_t whole = static_cast<size_t>(n >> 3);
        const uint8_t* src = other.validity_.data() + (offset >> 3);
        uint8_t* dst = validity_.data() + (size_ >> 3);
        std::memcpy(dst, src, whole);
        for (size_t b = 0; b < whole; ++b) nulls += 8 - __builtin_popcount(src[b]);
        i = static_cast<int64_t>(whole) * 8;
      }
      for (; i < n; ++i) {
        const bool valid = other.IsValid(offset + i);
        const int64_t at = size_ + i;
        uint8_t& byte = validity_[static_cast<size_t>(at >> 3)];
        const uint8_t bit = static_cast<uint8_t>(1u << (at & 7));
        byte = valid ? static_cast<uint8_t>(byte | bit) : static_cast<uint8_t>(byte & ~bit);
        nulls += valid ? 0 : 1;
      }
      null_count_ += nulls;
    }
  }
  size_ += n;
}

void Column::AppendTake(const Column& other, const int32_t* indices, int64_t n) {
  // The validity of the n rows gathered, as rows [size_, size_+n) (size_ not yet
  // advanced): a byte of the bitmap per 8 rows, not a call per bit.
  auto append_taken_validity = [&]() {
    if (!other.has_nulls()) {
      if (!validity_.empty()) SetValidRange(size_, n);
      return;
    }
    MaterializeValidity();
    const int64_t end = size_ + n;
    const size_t bytes = static_cast<size_t>(end >> 3) + 1;
    if (validity_.size() < bytes) validity_.resize(bytes + validity_.size() / 2, 0xFF);
    uint8_t* bits = validity_.data();
    int64_t nulls = 0;
    int64_t k = 0;
    int64_t row = size_;
    // Up to a byte boundary, bit by bit; then a byte per 8 rows.
    for (; k < n && (row & 7) != 0; ++k, ++row) {
      const bool valid = other.IsValid(indices[k]);
      const uint8_t bit = static_cast<uint8_t>(1u << (row & 7));
      bits[row >> 3] = valid ? (bits[row >> 3] | bit) : (bits[row >> 3] & static_cast<uint8_t>(~bit));
      nulls += !valid;
    }
    for (; k + 8 <= n; k += 8, row += 8) {
      uint8_t b = 0;
      for (int j = 0; j < 8; ++j) b |= static_cast<uint8_t>(other.IsValid(indices[k + j]) ? 1u << j : 0u);
      bits[row >> 3] = b;
      nulls += 8 - __builtin_popcount(b);
    }
    for (; k < n; ++k, ++row) {
      const bool valid = other.IsValid(indices[k]);
      const uint8_t bit = static_cast<uint8_t>(1u << (row & 7));
      bits[row >> 3] = valid ? (bits[row >> 3] | bit) : (bits[row >> 3] & static_cast<uint8_t>(~bit));
      nulls += !valid;
    }
    null_count_ += nulls;
  };
  int w = type_.fixed_width();
  if (w > 0) {
    // Values gathered whole (a null's slot holds zero in `other`, as it must here), then
    // the validity bits.
    size_t at = data_.size();
    data_.resize(at + static_cast<size_t>(n * w));
    uint8_t* dst = data_.data() + at;
    const uint8_t* src = other.data_.data();
    switch (w) {
      case 1: for (int64_t i = 0; i < n; ++i) dst[i] = src[indices[i]]; break;
      case 4:
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * 4, src + static_cast<int64_t>(indices[i]) * 4, 4);
        break;
      case 8:
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * 8, src + static_cast<int64_t>(indices[i]) * 8, 8);
        break;
      default:
        for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * w, src + static_cast<int64_t>(indices[i]) * w, static_cast<size_t>(w));
    }
    append_taken_validity();
    size_ += n;
    return;
  }
  if (type_.id() == TypeId::kString || type_.id() == TypeId::kBinary) {
    // Sized once, then one memcpy per value. A null row is appended as an empty range
    // (SetNull leaves a string's old bytes under it in `other`).
    const bool nulls = other.has_nulls();
    const int64_t* src_off = other.offsets_.data();
    auto length = [&](int64_t r) -> int64_t {
      return nulls && other.IsNull(r) ? 0 : src_off[r + 1] - src_off[r];
    };
    size_t total = 0;
    for (int64_t i = 0; i < n; ++i) total += static_cast<size_t>(length(indices[i]));
    const size_t at = data_.size();
    data_.resize(at + total);
    const size_t first = offsets_.size();
    offsets_.resize(first + static_cast<size_t>(n));
    src_off = other.offsets_.data();  // again: `other` may be this column
    uint8_t* dst = data_.data() + at;
    const uint8_t* src = other.data_.data();
    int64_t* off = offsets_.data() + first;
    int64_t pos = static_cast<int64_t>(at);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = indices[i];
      const int64_t len = length(r);
      if (len != 0) std::memcpy(dst, src + src_off[r], static_cast<size_t>(len));
      dst += len;
      pos += len;
      off[i] = pos;
    }
    append_taken_validity();
    size_ += n;
    return;
  }
  for (int64_t i = 0; i < n; ++i) AppendRange(other, indices[i], 1);
}

Column Column::Slice(int64_t offset, int64_t n) const {
  Column out(type_);
  out.AppendRange(*this, offset, n);
  return out;
}

Column Column::Take(const std::vector<int32_t>& indices) const {
  Column out(type_);
  out.Reserve(static_cast<int64_t>(indices.size()));
  out.AppendTake(*this, indices.data(), static_cast<int64_t>(indices.size()));
  return out;
}

int64_t Column::MemoryBytes() const {
  int64_t bytes = static_cast<int64_t>(validity_.capacity() + data_.capacity() +
                                       offsets_.capacity() * sizeof(int64_t));
  for (const auto& c : children_) bytes += c.MemoryBytes();
  return bytes;
}

}  // namespace lakepipe
