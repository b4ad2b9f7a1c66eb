// Column: one column of a record batch, stored the columnar way.
//
// Layout by type (all buffers contiguous, `size()` values):
//   boolean            data: one uint8_t per value (0 or 1)
//   byte/short/int     data: int8_t / int16_t / int32_t
//   bigint             data: int64_t
//   float/double       data: float / double
//   decimal(p,s)       data: int128_t unscaled values
//   date               data: int32_t days since the epoch
//   timestamp(_ntz)    data: int64_t microseconds since the epoch
//   string/binary      offsets: size()+1 int64_t into `data` (the bytes)
//   struct             children: one Column per field, each of size()
//   array              offsets: size()+1 into children[0] (the elements)
//   map                offsets: size()+1 into children[0] (keys) and children[1] (values)
//   void               no buffers; every value is null
// Validity is a bitmap (bit i, LSB first, 1 = valid); an empty bitmap means no nulls.
// The value slot under a null holds zero (fixed width) or an empty range (variable).
//
// A Column is a value type (copying copies buffers); batches share columns through
// ColumnPtr. Not synchronised: build on one thread, then share read-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "types/schema.h"
#include "types/value.h"

namespace lakepipe {

class Column {
 public:
  Column() = default;
  explicit Column(DataType type);
  // A column of `n` nulls.
  static Column Nulls(DataType type, int64_t n);

  const DataType& type() const { return type_; }
  int64_t size() const { return size_; }
  int64_t null_count() const { return null_count_; }
  bool has_nulls() const { return null_count_ > 0; }
  bool IsNull(int64_t i) const {
    return !validity_.empty() && !((validity_[static_cast<size_t>(i >> 3)] >> (i & 7)) & 1);
  }
  bool IsValid(int64_t i) const { return !IsNull(i); }
  // Bitmap bytes ((size()+7)/8), or empty when there are no nulls.
  const std::vector<uint8_t>& validity() const { return validity_; }

  // Fixed-width values (see the layout above for T).
  template <typename T>
  T* data() { return reinterpret_cast<T*>(data_.data()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(data_.data()); }
  template <typename T>
  T Get(int64_t i) const { return data<T>()[i]; }
  std::vector<uint8_t>& raw_data() { return data_; }
  const std::vector<uint8_t>& raw_data() const { return data_; }

  // String/binary values; array/map offsets.
  std::string_view GetString(int64_t i) const {
    return std::string_view(reinterpret_cast<const char*>(data_.data()) + offsets_[i],
                            static_cast<size_t>(offsets_[i + 1] - offsets_[i]));
  }
  const std::vector<int64_t>& offsets() const { return offsets_; }
  std::vector<int64_t>& mutable_offsets() { return offsets_; }

  size_t num_children() const { return children_.size(); }
  const Column& child(size_t i) const { return children_[i]; }
  Column& child(size_t i) { return children_[i]; }

  // The value at row i, for slow paths.
  Value GetValue(int64_t i) const;

  // ---- building -----------------------------------------------------------------------
  void Reserve(int64_t n);
  void AppendNull();
  void AppendNulls(int64_t n);
  template <typename T>
  void Append(T v) {
    size_t at = data_.size();
    data_.resize(at + sizeof(T));
    std::memcpy(data_.data() + at, &v, sizeof(T));
    FinishAppend();
  }
  void AppendBool(bool v) { Append<uint8_t>(v ? 1 : 0); }
  void AppendString(std::string_view v) {
    data_.insert(data_.end(), v.begin(), v.end());
    offsets_.push_back(static_cast<int64_t>(data_.size()));
    FinishAppend();
  }
  // Appends n valid strings at once: the bytes and the offsets grow once and each value
  // is one memcpy, where n AppendString calls would pay a vector insert each (the CSV
  // reader and string gathers build their columns this way). The views must not point
  // into this column's own bytes.
  void AppendStrings(const std::string_view* values, int64_t n);
  // Array/map: first append the elements to child(0) (and child(1) for maps), then call
  // this to close the row; the row spans the children's elements added since the last one.
  void CloseListRow() {
    offsets_.push_back(children_[0].size());
    FinishAppend();
  }
  // Struct: append one value to each child, then call this.
  void CloseStructRow() { FinishAppend(); }
  // Appends any value of this column's type (slow; for literals, tests, stats).
  // InvalidArgument if the value does not fit the type.
  Status AppendValue(const Value& v);
  // Appends rows [offset, offset+n) of `other`, which must have the same type.
  void AppendRange(const Column& other, int64_t offset, int64_t n);
  // Appends other's rows at `indices` (a gather), for filters and joins.
  void AppendTake(const Column& other, const int32_t* indices, int64_t n);

  // Fixed-width only: sets the size to `n` valid values (contents uninitialised beyond the
  // old size), for kernels that write data<T>() directly.
  void ResizeFixed(int64_t n);
  // Marks row i null (zeroing a fixed-width slot); row i must exist.
  void SetNull(int64_t i);
  // Replaces the validity bitmap (size()+7)/8 bytes, or empty for no nulls.
  void SetValidity(std::vector<uint8_t> bitmap);

  Column Slice(int64_t offset, int64_t n) const;
  Column Take(const std::vector<int32_t>& indices) const;

  // Bytes held by the buffers (for batch sizing and memory accounting).
  int64_t MemoryBytes() const;

 private:
  void FinishAppend() {
    if (!validity_.empty()) SetValidBit(size_, true);
    ++size_;
  }
  void SetValidBit(int64_t i, bool valid);
  // Sets bits [from, from+n) of an existing bitmap to valid (growing it as needed).
  void SetValidRange(int64_t from, int64_t n);
  void MaterializeValidity();

  DataType type_;
  int64_t size_ = 0;
  int64_t null_count_ = 0;
  std::vector<uint8_t> validity_;
  std::vector<uint8_t> data_;
  std::vector<int64_t> offsets_;  // size()+1 entries for string/binary/array/map
  std::vector<Column> children_;
};

using ColumnPtr = std::shared_ptr<Column>;

inline ColumnPtr MakeColumn(Column c) { return std::make_shared<Column>(std::move(c)); }

}  // namespace lakepipe
