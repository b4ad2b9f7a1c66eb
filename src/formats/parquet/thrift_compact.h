// Thrift compact protocol: the encoding of every Parquet footer and page header.
//
// CompactWriter appends to a std::string; CompactReader decodes from a byte range that it
// does not own. The reader is hardened for untrusted input: every read is bounds-checked,
// nesting is limited (kMaxDepth), list/string sizes are checked against the bytes that
// remain before anything is allocated, and unknown fields are skipped. Malformed input
// yields Corruption with the byte offset, never a crash or a huge allocation.
//
// Both classes are value types used by one thread at a time. Writer call order:
// BeginStruct ... Field* ... EndStruct (structs nest through FieldStructBegin/EndStruct).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lakepipe::parquet {

// Compact protocol wire types (as they appear in field and list headers).
enum class ThriftType : uint8_t {
  kStop = 0,
  kBoolTrue = 1,
  kBoolFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class CompactWriter {
 public:
  explicit CompactWriter(std::string* out) : out_(out) {}

  // Structs: BeginStruct opens one (the top level or a list element); EndStruct writes the
  // stop byte and returns to the enclosing struct's field numbering.
  void BeginStruct();
  void EndStruct();

  void FieldBool(int16_t id, bool v);
  void FieldI8(int16_t id, int8_t v);
  void FieldI16(int16_t id, int16_t v);
  void FieldI32(int16_t id, int32_t v);
  void FieldI64(int16_t id, int64_t v);
  void FieldDouble(int16_t id, double v);
  void FieldBinary(int16_t id, std::string_view v);
  // Writes a struct field header and opens the struct; close it with EndStruct.
  void FieldStructBegin(int16_t id);
  // Writes only the header of a struct field; the caller then serializes the struct
  // (BeginStruct ... EndStruct).
  void FieldStructHeader(int16_t id) { FieldHeader(id, ThriftType::kStruct); }
  // Writes a list field header; then write `size` elements with the Elem* calls
  // (struct elements: BeginStruct ... EndStruct).
  void FieldListBegin(int16_t id, ThriftType element_type, int32_t size);

  void ElemI32(int32_t v) { WriteVarint(ZigZag32(v)); }
  void ElemI64(int64_t v) { WriteVarint(ZigZag64(v)); }
  void ElemBinary(std::string_view v);
  void ElemBool(bool v) { out_->push_back(v ? 1 : 2); }

  // Raw helpers (public for tests).
  void WriteVarint(uint64_t v);
  static uint64_t ZigZag32(int32_t v) {
    return static_cast<uint32_t>((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  static uint64_t ZigZag64(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }

 private:
  void FieldHeader(int16_t id, ThriftType type);

  std::string* out_;
  int16_t last_field_id_ = 0;
  std::vector<int16_t> field_id_stack_;
};

class CompactReader {
 public:
  static constexpr int kMaxDepth = 64;

  // `what` names the thing decoded ("footer of x.parquet") for error messages.
  CompactReader(const uint8_t* data, size_t size, std::string what = "thrift")
      : data_(data), size_(size), what_(std::move(what)) {}

  // Structs: call EnterStruct, then ReadFieldHeader until it returns type kStop, then
  // LeaveStruct. Field ids are delta-decoded per struct.
  Status EnterStruct();
  void LeaveStruct();
  // Reads a field header; *type == kStop at the end of the struct. Bool fields carry
  // their value in the type (kBoolTrue / kBoolFalse); read it with BoolFromType.
  Status ReadFieldHeader(int16_t* id, ThriftType* type);
  static bool BoolFromType(ThriftType t) { return t == ThriftType::kBoolTrue; }

  Status ReadI8(int8_t* v);
  Status ReadI16(int16_t* v);
  Status ReadI32(int32_t* v);
  Status ReadI64(int64_t* v);
  Status ReadDouble(double* v);
  // A string/binary; the length is checked against the bytes that remain.
  Status ReadBinary(std::string* v);
  Status ReadBinaryView(std::string_view* v);
  // A bool list element (one byte).
  Status ReadBoolElement(bool* v);
  // List/set header; `size` is checked against the bytes remaining (every element takes at
  // least one byte, except empty structs which take one stop byte).
  Status ReadListHeader(ThriftType* element_type, int32_t* size);
  // Skips a value of `type` (recursively, depth-limited).
  Status Skip(ThriftType type);
  // Reads an i32 field into an enum-typed slot after checking the wire type.
  Status ExpectType(ThriftType got, ThriftType want, int16_t field_id);

  size_t position() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  Status Error(std::string_view msg) const;

 private:
  Status ReadVarint(uint64_t* v);
  Status ReadByte(uint8_t* b);

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string what_;
  int depth_ = 0;
  int16_t last_field_id_ = 0;
  std::vector<int16_t> field_id_stack_;
};

}  // namespace lakepipe::parquet
