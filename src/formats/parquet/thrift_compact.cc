#include "formats/parquet/thrift_compact.h"

#include <cstring>

namespace lakepipe::parquet {

// ---- writer ---------------------------------------------------------------------------

void CompactWriter::WriteVarint(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void CompactWriter::BeginStruct() {
  field_id_stack_.push_back(last_field_id_);
  last_field_id_ = 0;
}

void CompactWriter::EndStruct() {
  out_->push_back(0);  // stop
  last_field_id_ = field_id_stack_.empty() ? 0 : field_id_stack_.back();
  if (!field_id_stack_.empty()) field_id_stack_.pop_back();
}

void CompactWriter::FieldHeader(int16_t id, ThriftType type) {
  int delta = id - last_field_id_;
  if (delta > 0 && delta <= 15) {
    out_->push_back(static_cast<char>((delta << 4) | static_cast<int>(type)));
  } else {
    out_->push_back(static_cast<char>(type));
    WriteVarint(ZigZag32(id));
  }
  last_field_id_ = id;
}

void CompactWriter::FieldBool(int16_t id, bool v) {
  FieldHeader(id, v ? ThriftType::kBoolTrue : ThriftType::kBoolFalse);
}
void CompactWriter::FieldI8(int16_t id, int8_t v) {
  FieldHeader(id, ThriftType::kByte);
  out_->push_back(static_cast<char>(v));
}
void CompactWriter::FieldI16(int16_t id, int16_t v) {
  FieldHeader(id, ThriftType::kI16);
  WriteVarint(ZigZag32(v));
}
void CompactWriter::FieldI32(int16_t id, int32_t v) {
  FieldHeader(id, ThriftType::kI32);
  WriteVarint(ZigZag32(v));
}
void CompactWriter::FieldI64(int16_t id, int64_t v) {
  FieldHeader(id, ThriftType::kI64);
  WriteVarint(ZigZag64(v));
}
void CompactWriter::FieldDouble(int16_t id, double v) {
  FieldHeader(id, ThriftType::kDouble);
  char buf[8];
  std::memcpy(buf, &v, 8);  // little-endian hosts only (x86-64, aarch64)
  out_->append(buf, 8);
}
void CompactWriter::FieldBinary(int16_t id, std::string_view v) {
  FieldHeader(id, ThriftType::kBinary);
  ElemBinary(v);
}
void CompactWriter::ElemBinary(std::string_view v) {
  WriteVarint(v.size());
  out_->append(v.data(), v.size());
}
void CompactWriter::FieldStructBegin(int16_t id) {
  FieldHeader(id, ThriftType::kStruct);
  BeginStruct();
}
void CompactWriter::FieldListBegin(int16_t id, ThriftType element_type, int32_t size) {
  FieldHeader(id, ThriftType::kList);
  // Bool list elements use the BOOLEAN_TRUE wire type in headers.
  int t = element_type == ThriftType::kBoolFalse ? 1 : static_cast<int>(element_type);
  if (size < 15) {
    out_->push_back(static_cast<char>((size << 4) | t));
  } else {
    out_->push_back(static_cast<char>(0xf0 | t));
    WriteVarint(static_cast<uint64_t>(size));
  }
}

// ---- reader ---------------------------------------------------------------------------

Status CompactReader::Error(std::string_view msg) const {
  return Status::Corruption(what_ + ": " + std::string(msg) + " at byte " + std::to_string(pos_));
}

Status CompactReader::ReadByte(uint8_t* b) {
  if (pos_ >= size_) return Error("unexpected end of data");
  *b = data_[pos_++];
  return Status::OK();
}

Status CompactReader::ReadVarint(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos_ >= size_) return Error("unexpected end of data in varint");
    uint8_t b = data_[pos_++];
    if (shift == 63 && (b & 0x7e)) return Error("varint overflows 64 bits");
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = result;
      return Status::OK();
    }
  }
  return Error("varint longer than 10 bytes");
}

Status CompactReader::EnterStruct() {
  if (++depth_ > kMaxDepth) return Error("nesting deeper than 64 levels");
  field_id_stack_.push_back(last_field_id_);
  last_field_id_ = 0;
  return Status::OK();
}

void CompactReader::LeaveStruct() {
  if (depth_ > 0) --depth_;
  if (!field_id_stack_.empty()) {
    last_field_id_ = field_id_stack_.back();
    field_id_stack_.pop_back();
  }
}

Status CompactReader::ReadFieldHeader(int16_t* id, ThriftType* type) {
  uint8_t b = 0;
  LP_RETURN_IF_ERROR(ReadByte(&b));
  if (b == 0) {
    *type = ThriftType::kStop;
    *id = 0;
    return Status::OK();
  }
  uint8_t t = b & 0x0f;
  if (t > static_cast<uint8_t>(ThriftType::kStruct)) {
    return Error("invalid field type " + std::to_string(t));
  }
  int delta = b >> 4;
  if (delta != 0) {
    *id = static_cast<int16_t>(last_field_id_ + delta);
  } else {
    int16_t v;
    LP_RETURN_IF_ERROR(ReadI16(&v));
    *id = v;
  }
  last_field_id_ = *id;
  *type = static_cast<ThriftType>(t);
  return Status::OK();
}

Status CompactReader::ReadI8(int8_t* v) {
  uint8_t b = 0;
  LP_RETURN_IF_ERROR(ReadByte(&b));
  *v = static_cast<int8_t>(b);
  return Status::OK();
}

Status CompactReader::ReadI16(int16_t* v) {
  int32_t w;
  LP_RETURN_IF_ERROR(ReadI32(&w));
  if (w < INT16_MIN || w > INT16_MAX) return Error("i16 out of range");
  *v = static_cast<int16_t>(w);
  return Status::OK();
}

Status CompactReader::ReadI32(int32_t* v) {
  uint64_t u;
  LP_RETURN_IF_ERROR(ReadVarint(&u));
  if (u > UINT32_MAX) return Error("i32 varint out of range");
  uint32_t x = static_cast<uint32_t>(u);
  *v = static_cast<int32_t>((x >> 1) ^ (~(x & 1) + 1));
  return Status::OK();
}

Status CompactReader::ReadI64(int64_t* v) {
  uint64_t u;
  LP_RETURN_IF_ERROR(ReadVarint(&u));
  *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return Status::OK();
}

Status CompactReader::ReadDouble(double* v) {
  if (remaining() < 8) return Error("unexpected end of data in double");
  std::memcpy(v, data_ + pos_, 8);
  pos_ += 8;
  return Status::OK();
}

Status CompactReader::ReadBinaryView(std::string_view* v) {
  uint64_t len;
  LP_RETURN_IF_ERROR(ReadVarint(&len));
  if (len > remaining()) {
    return Error("string of " + std::to_string(len) + " bytes exceeds the " +
                 std::to_string(remaining()) + " bytes remaining");
  }
  *v = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
  pos_ += len;
  return Status::OK();
}

Status CompactReader::ReadBinary(std::string* v) {
  std::string_view view;
  LP_RETURN_IF_ERROR(ReadBinaryView(&view));
  v->assign(view.data(), view.size());
  return Status::OK();
}

Status CompactReader::ReadBoolElement(bool* v) {
  uint8_t b = 0;
  LP_RETURN_IF_ERROR(ReadByte(&b));
  *v = b == 1;
  return Status::OK();
}

Status CompactReader::ReadListHeader(ThriftType* element_type, int32_t* size) {
  uint8_t b = 0;
  LP_RETURN_IF_ERROR(ReadByte(&b));
  uint8_t t = b & 0x0f;
  if (t == 0 || t > static_cast<uint8_t>(ThriftType::kStruct)) {
    return Error("invalid list element type " + std::to_string(t));
  }
  uint64_t n = b >> 4;
  if (n == 15) LP_RETURN_IF_ERROR(ReadVarint(&n));
  if (n > remaining()) {
    return Error("list of " + std::to_string(n) + " elements exceeds the " +
                 std::to_string(remaining()) + " bytes remaining");
  }
  *element_type = static_cast<ThriftType>(t);
  *size = static_cast<int32_t>(n);
  return Status::OK();
}

Status CompactReader::ExpectType(ThriftType got, ThriftType want, int16_t field_id) {
  bool both_bool = (got == ThriftType::kBoolTrue || got == ThriftType::kBoolFalse) &&
                   (want == ThriftType::kBoolTrue || want == ThriftType::kBoolFalse);
  if (got == want || both_bool) return Status::OK();
  return Error("field " + std::to_string(field_id) + " has wire type " +
               std::to_string(static_cast<int>(got)) + ", expected " +
               std::to_string(static_cast<int>(want)));
}

Status CompactReader::Skip(ThriftType type) {
  switch (type) {
    case ThriftType::kBoolTrue:
    case ThriftType::kBoolFalse:
      return Status::OK();  // field context: the value is in the type
    case ThriftType::kByte: {
      int8_t v;
      return ReadI8(&v);
    }
    case ThriftType::kI16:
    case ThriftType::kI32:
    case ThriftType::kI64: {
      uint64_t v;
      return ReadVarint(&v);
    }
    case ThriftType::kDouble: {
      double d;
      return ReadDouble(&d);
    }
    case ThriftType::kBinary: {
      std::string_view v;
      return ReadBinaryView(&v);
    }
    case ThriftType::kStruct: {
      LP_RETURN_IF_ERROR(EnterStruct());
      while (true) {
        int16_t id;
        ThriftType t;
        LP_RETURN_IF_ERROR(ReadFieldHeader(&id, &t));
        if (t == ThriftType::kStop) break;
        LP_RETURN_IF_ERROR(Skip(t));
      }
      LeaveStruct();
      return Status::OK();
    }
    case ThriftType::kList:
    case ThriftType::kSet: {
      ThriftType et;
      int32_t n;
      LP_RETURN_IF_ERROR(ReadListHeader(&et, &n));
      if (++depth_ > kMaxDepth) return Error("nesting deeper than 64 levels");
      for (int32_t i = 0; i < n; ++i) {
        if (et == ThriftType::kBoolTrue || et == ThriftType::kBoolFalse) {
          bool b;
          LP_RETURN_IF_ERROR(ReadBoolElement(&b));
        } else {
          LP_RETURN_IF_ERROR(Skip(et));
        }
      }
      --depth_;
      return Status::OK();
    }
    case ThriftType::kMap: {
      uint64_t n;
      LP_RETURN_IF_ERROR(ReadVarint(&n));
      if (n == 0) return Status::OK();
      uint8_t kv = 0;
      LP_RETURN_IF_ERROR(ReadByte(&kv));
      if (n > remaining()) return Error("map size exceeds the bytes remaining");
      ThriftType kt = static_cast<ThriftType>(kv >> 4);
      ThriftType vt = static_cast<ThriftType>(kv & 0x0f);
      if ((kv >> 4) == 0 || (kv >> 4) > 12 || (kv & 0x0f) == 0 || (kv & 0x0f) > 12) {
        return Error("invalid map element types");
      }
      if (++depth_ > kMaxDepth) return Error("nesting deeper than 64 levels");
      for (uint64_t i = 0; i < n; ++i) {
        for (ThriftType t : {kt, vt}) {
          if (t == ThriftType::kBoolTrue || t == ThriftType::kBoolFalse) {
            bool b;
            LP_RETURN_IF_ERROR(ReadBoolElement(&b));
          } else {
            LP_RETURN_IF_ERROR(Skip(t));
          }
        }
      }
      --depth_;
      return Status::OK();
    }
    case ThriftType::kStop:
      break;
  }
  return Error("cannot skip wire type " + std::to_string(static_cast<int>(type)));
}

}  // namespace lakepipe::parquet
