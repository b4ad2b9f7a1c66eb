#include "formats/parquet/metadata.h"

#include <utility>

namespace lakepipe::parquet {
namespace {

using T = ThriftType;

// ---- decoding helpers: a field whose wire type does not match is skipped -------------

Status GetI32(CompactReader& r, T t, int32_t* v, bool* seen = nullptr) {
  if (t != T::kI32) return r.Skip(t);
  LP_RETURN_IF_ERROR(r.ReadI32(v));
  if (seen) *seen = true;
  return Status::OK();
}
Status GetI64(CompactReader& r, T t, int64_t* v, bool* seen = nullptr) {
  if (t != T::kI64 && t != T::kI32) return r.Skip(t);  // an i32 varint reads as i64
  LP_RETURN_IF_ERROR(r.ReadI64(v));
  if (seen) *seen = true;
  return Status::OK();
}
Status GetOptI32(CompactReader& r, T t, std::optional<int32_t>* v) {
  int32_t x = 0;
  bool seen = false;
  LP_RETURN_IF_ERROR(GetI32(r, t, &x, &seen));
  if (seen) *v = x;
  return Status::OK();
}
Status GetOptI64(CompactReader& r, T t, std::optional<int64_t>* v) {
  int64_t x = 0;
  bool seen = false;
  LP_RETURN_IF_ERROR(GetI64(r, t, &x, &seen));
  if (seen) *v = x;
  return Status::OK();
}
Status GetOptBinary(CompactReader& r, T t, std::optional<std::string>* v) {
  if (t != T::kBinary) return r.Skip(t);
  std::string s;
  LP_RETURN_IF_ERROR(r.ReadBinary(&s));
  *v = std::move(s);
  return Status::OK();
}
Status GetBinary(CompactReader& r, T t, std::string* v, bool* seen = nullptr) {
  if (t != T::kBinary) return r.Skip(t);
  LP_RETURN_IF_ERROR(r.ReadBinary(v));
  if (seen) *seen = true;
  return Status::OK();
}
bool IsBool(T t) { return t == T::kBoolTrue || t == T::kBoolFalse; }
Status GetBool(CompactReader& r, T t, bool* v, bool* seen = nullptr) {
  if (!IsBool(t)) return r.Skip(t);
  *v = CompactReader::BoolFromType(t);
  if (seen) *seen = true;
  return Status::OK();
}
Status GetOptBool(CompactReader& r, T t, std::optional<bool>* v) {
  if (!IsBool(t)) return r.Skip(t);
  *v = CompactReader::BoolFromType(t);
  return Status::OK();
}
template <typename E>
Status GetEnum(CompactReader& r, T t, E* v, bool* seen = nullptr) {
  int32_t x = 0;
  bool got = false;
  LP_RETURN_IF_ERROR(GetI32(r, t, &x, &got));
  if (got) {
    *v = static_cast<E>(x);
    if (seen) *seen = true;
  }
  return Status::OK();
}
template <typename E>
Status GetOptEnum(CompactReader& r, T t, std::optional<E>* v) {
  E e{};
  bool seen = false;
  LP_RETURN_IF_ERROR(GetEnum(r, t, &e, &seen));
  if (seen) *v = e;
  return Status::OK();
}
template <typename S>
Status GetOptStruct(CompactReader& r, T t, std::optional<S>* v) {
  if (t != T::kStruct) return r.Skip(t);
  S s;
  LP_RETURN_IF_ERROR(s.Deserialize(r));
  *v = std::move(s);
  return Status::OK();
}
// Reads a list whose elements have wire type `want`, calling `each` per element. A list of
// another element type is skipped.
template <typename F>
Status GetList(CompactReader& r, T t, T want, F each) {
  if (t != T::kList && t != T::kSet) return r.Skip(t);
  T et;
  int32_t n;
  LP_RETURN_IF_ERROR(r.ReadListHeader(&et, &n));
  bool match = et == want || (want == T::kI64 && et == T::kI32);
  for (int32_t i = 0; i < n; ++i) {
    if (match) {
      LP_RETURN_IF_ERROR(each());
    } else if (IsBool(et)) {
      bool b;
      LP_RETURN_IF_ERROR(r.ReadBoolElement(&b));
    } else {
      LP_RETURN_IF_ERROR(r.Skip(et));
    }
  }
  return Status::OK();
}
template <typename S>
Status GetStructList(CompactReader& r, T t, std::vector<S>* v) {
  return GetList(r, t, T::kStruct, [&]() -> Status {
    v->emplace_back();
    return v->back().Deserialize(r);
  });
}

// Iterates the fields of one struct: `on_field(id, type)` decodes or skips each.
template <typename F>
Status ForEachField(CompactReader& r, F on_field) {
  LP_RETURN_IF_ERROR(r.EnterStruct());
  while (true) {
    int16_t id;
    T t;
    LP_RETURN_IF_ERROR(r.ReadFieldHeader(&id, &t));
    if (t == T::kStop) break;
    LP_RETURN_IF_ERROR(on_field(id, t));
  }
  r.LeaveStruct();
  return Status::OK();
}

Status Missing(const CompactReader& r, const char* strct, const char* field) {
  return r.Error(std::string("required field ") + strct + "." + field + " is missing");
}

// Empty struct (the payload of most LogicalType members).
void EmptyStruct(CompactWriter& w, int16_t id) {
  w.FieldStructBegin(id);
  w.EndStruct();
}

}  // namespace

// ---- LogicalType ------------------------------------------------------------------------

void LogicalType::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  switch (kind) {
    case Kind::kNone:
    case Kind::kOther:
      break;
    case Kind::kString: EmptyStruct(w, 1); break;
    case Kind::kMap: EmptyStruct(w, 2); break;
    case Kind::kList: EmptyStruct(w, 3); break;
    case Kind::kEnum: EmptyStruct(w, 4); break;
    case Kind::kDecimal:
      w.FieldStructBegin(5);
      w.FieldI32(1, decimal_scale);
      w.FieldI32(2, decimal_precision);
      w.EndStruct();
      break;
    case Kind::kDate: EmptyStruct(w, 6); break;
    case Kind::kTime:
    case Kind::kTimestamp:
      w.FieldStructBegin(kind == Kind::kTime ? 7 : 8);
      w.FieldBool(1, is_adjusted_to_utc);
      w.FieldStructBegin(2);  // TimeUnit union
      EmptyStruct(w, static_cast<int16_t>(unit));
      w.EndStruct();
      w.EndStruct();
      break;
    case Kind::kInteger:
      w.FieldStructBegin(10);
      w.FieldI8(1, bit_width);
      w.FieldBool(2, is_signed);
      w.EndStruct();
      break;
    case Kind::kUnknown: EmptyStruct(w, 11); break;
    case Kind::kJson: EmptyStruct(w, 12); break;
    case Kind::kBson: EmptyStruct(w, 13); break;
    case Kind::kUuid: EmptyStruct(w, 14); break;
    case Kind::kFloat16: EmptyStruct(w, 15); break;
  }
  w.EndStruct();
}

Status LogicalType::Deserialize(CompactReader& r) {
  kind = Kind::kOther;
  bool any = false;
  Status st = ForEachField(r, [&](int16_t id, T t) -> Status {
    if (t != T::kStruct) return r.Skip(t);
    any = true;
    switch (id) {
      case 1: kind = Kind::kString; return r.Skip(t);
      case 2: kind = Kind::kMap; return r.Skip(t);
      case 3: kind = Kind::kList; return r.Skip(t);
      case 4: kind = Kind::kEnum; return r.Skip(t);
      case 5: {
        kind = Kind::kDecimal;
        bool has_scale = false, has_precision = false;
        LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t fid, T ft) -> Status {
          if (fid == 1) return GetI32(r, ft, &decimal_scale, &has_scale);
          if (fid == 2) return GetI32(r, ft, &decimal_precision, &has_precision);
          return r.Skip(ft);
        }));
        if (!has_scale || !has_precision) return Missing(r, "DecimalType", "scale/precision");
        return Status::OK();
      }
      case 6: kind = Kind::kDate; return r.Skip(t);
      case 7:
      case 8: {
        kind = id == 7 ? Kind::kTime : Kind::kTimestamp;
        bool has_unit = false;
        LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t fid, T ft) -> Status {
          if (fid == 1) return GetBool(r, ft, &is_adjusted_to_utc);
          if (fid == 2 && ft == T::kStruct) {
            return ForEachField(r, [&](int16_t uid, T ut) -> Status {
              if (ut == T::kStruct && uid >= 1 && uid <= 3) {
                unit = static_cast<TimeUnit>(uid);
                has_unit = true;
              }
              return r.Skip(ut);
            });
          }
          return r.Skip(ft);
        }));
        if (!has_unit) return Missing(r, "TimestampType", "unit");
        return Status::OK();
      }
      case 10: {
        kind = Kind::kInteger;
        return ForEachField(r, [&](int16_t fid, T ft) -> Status {
          if (fid == 1 && ft == T::kByte) return r.ReadI8(&bit_width);
          if (fid == 2) return GetBool(r, ft, &is_signed);
          return r.Skip(ft);
        });
      }
      case 11: kind = Kind::kUnknown; return r.Skip(t);
      case 12: kind = Kind::kJson; return r.Skip(t);
      case 13: kind = Kind::kBson; return r.Skip(t);
      case 14: kind = Kind::kUuid; return r.Skip(t);
      case 15: kind = Kind::kFloat16; return r.Skip(t);
      default:
        kind = Kind::kOther;
        other_id = id;
        return r.Skip(t);
    }
  });
  LP_RETURN_IF_ERROR(st);
  if (!any) kind = Kind::kOther;  // an empty union: a member we skipped or none at all
  return Status::OK();
}

// ---- Statistics -------------------------------------------------------------------------

void Statistics::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  if (max) w.FieldBinary(1, *max);
  if (min) w.FieldBinary(2, *min);
  if (null_count) w.FieldI64(3, *null_count);
  if (distinct_count) w.FieldI64(4, *distinct_count);
  if (max_value) w.FieldBinary(5, *max_value);
  if (min_value) w.FieldBinary(6, *min_value);
  if (is_max_value_exact) w.FieldBool(7, *is_max_value_exact);
  if (is_min_value_exact) w.FieldBool(8, *is_min_value_exact);
  if (nan_count) w.FieldI64(9, *nan_count);
  w.EndStruct();
}

Status Statistics::Deserialize(CompactReader& r) {
  return ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetOptBinary(r, t, &max);
      case 2: return GetOptBinary(r, t, &min);
      case 3: return GetOptI64(r, t, &null_count);
      case 4: return GetOptI64(r, t, &distinct_count);
      case 5: return GetOptBinary(r, t, &max_value);
      case 6: return GetOptBinary(r, t, &min_value);
      case 7: return GetOptBool(r, t, &is_max_value_exact);
      case 8: return GetOptBool(r, t, &is_min_value_exact);
      case 9: return GetOptI64(r, t, &nan_count);
      default: return r.Skip(t);
    }
  });
}

// ---- SchemaElement ----------------------------------------------------------------------

void SchemaElement::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  if (type) w.FieldI32(1, static_cast<int32_t>(*type));
  if (type_length) w.FieldI32(2, *type_length);
  if (repetition_type) w.FieldI32(3, static_cast<int32_t>(*repetition_type));
  w.FieldBinary(4, name);
  if (num_children) w.FieldI32(5, *num_children);
  if (converted_type) w.FieldI32(6, static_cast<int32_t>(*converted_type));
  if (scale) w.FieldI32(7, *scale);
  if (precision) w.FieldI32(8, *precision);
  if (field_id) w.FieldI32(9, *field_id);
  if (logical_type.kind != LogicalType::Kind::kNone &&
      logical_type.kind != LogicalType::Kind::kOther) {
    w.FieldStructHeader(10);
    logical_type.Serialize(w);
  }
  w.EndStruct();
}

Status SchemaElement::Deserialize(CompactReader& r) {
  bool has_name = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetOptEnum(r, t, &type);
      case 2: return GetOptI32(r, t, &type_length);
      case 3: return GetOptEnum(r, t, &repetition_type);
      case 4: return GetBinary(r, t, &name, &has_name);
      case 5: return GetOptI32(r, t, &num_children);
      case 6: return GetOptEnum(r, t, &converted_type);
      case 7: return GetOptI32(r, t, &scale);
      case 8: return GetOptI32(r, t, &precision);
      case 9: return GetOptI32(r, t, &field_id);
      case 10:
        if (t != T::kStruct) return r.Skip(t);
        return logical_type.Deserialize(r);
      default: return r.Skip(t);
    }
  }));
  if (!has_name) return Missing(r, "SchemaElement", "name");
  if (type && (static_cast<int32_t>(*type) < 0 || static_cast<int32_t>(*type) > 7)) {
    return r.Error("schema element '" + name + "' has invalid physical type " +
                   std::to_string(static_cast<int32_t>(*type)));
  }
  if (repetition_type && (static_cast<int32_t>(*repetition_type) < 0 ||
                          static_cast<int32_t>(*repetition_type) > 2)) {
    return r.Error("schema element '" + name + "' has unsupported repetition type " +
                   std::to_string(static_cast<int32_t>(*repetition_type)));
  }
  if (num_children && *num_children < 0) {
    return r.Error("schema element '" + name + "' has negative num_children");
  }
  return Status::OK();
}

// ---- page headers -----------------------------------------------------------------------

void DataPageHeader::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, num_values);
  w.FieldI32(2, static_cast<int32_t>(encoding));
  w.FieldI32(3, static_cast<int32_t>(definition_level_encoding));
  w.FieldI32(4, static_cast<int32_t>(repetition_level_encoding));
  if (statistics) {
    w.FieldStructHeader(5);
    statistics->Serialize(w);
  }
  w.EndStruct();
}

Status DataPageHeader::Deserialize(CompactReader& r) {
  bool has[4] = {false, false, false, false};
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetI32(r, t, &num_values, &has[0]);
      case 2: return GetEnum(r, t, &encoding, &has[1]);
      case 3: return GetEnum(r, t, &definition_level_encoding, &has[2]);
      case 4: return GetEnum(r, t, &repetition_level_encoding, &has[3]);
      case 5: return GetOptStruct(r, t, &statistics);
      default: return r.Skip(t);
    }
  }));
  if (!has[0]) return Missing(r, "DataPageHeader", "num_values");
  if (!has[1]) return Missing(r, "DataPageHeader", "encoding");
  return Status::OK();
}

void DictionaryPageHeader::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, num_values);
  w.FieldI32(2, static_cast<int32_t>(encoding));
  if (is_sorted) w.FieldBool(3, *is_sorted);
  w.EndStruct();
}

Status DictionaryPageHeader::Deserialize(CompactReader& r) {
  bool has_num = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetI32(r, t, &num_values, &has_num);
      case 2: return GetEnum(r, t, &encoding);
      case 3: return GetOptBool(r, t, &is_sorted);
      default: return r.Skip(t);
    }
  }));
  if (!has_num) return Missing(r, "DictionaryPageHeader", "num_values");
  return Status::OK();
}

void DataPageHeaderV2::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, num_values);
  w.FieldI32(2, num_nulls);
  w.FieldI32(3, num_rows);
  w.FieldI32(4, static_cast<int32_t>(encoding));
  w.FieldI32(5, definition_levels_byte_length);
  w.FieldI32(6, repetition_levels_byte_length);
  w.FieldBool(7, is_compressed);
  if (statistics) {
    w.FieldStructHeader(8);
    statistics->Serialize(w);
  }
  w.EndStruct();
}

Status DataPageHeaderV2::Deserialize(CompactReader& r) {
  bool has[6] = {};
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetI32(r, t, &num_values, &has[0]);
      case 2: return GetI32(r, t, &num_nulls, &has[1]);
      case 3: return GetI32(r, t, &num_rows, &has[2]);
      case 4: return GetEnum(r, t, &encoding, &has[3]);
      case 5: return GetI32(r, t, &definition_levels_byte_length, &has[4]);
      case 6: return GetI32(r, t, &repetition_levels_byte_length, &has[5]);
      case 7: return GetBool(r, t, &is_compressed);
      case 8: return GetOptStruct(r, t, &statistics);
      default: return r.Skip(t);
    }
  }));
  static const char* kNames[6] = {"num_values", "num_nulls", "num_rows", "encoding",
                                  "definition_levels_byte_length",
                                  "repetition_levels_byte_length"};
  for (int i = 0; i < 6; ++i) {
    if (!has[i]) return Missing(r, "DataPageHeaderV2", kNames[i]);
  }
  return Status::OK();
}

void PageHeader::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, static_cast<int32_t>(type));
  w.FieldI32(2, uncompressed_page_size);
  w.FieldI32(3, compressed_page_size);
  if (crc) w.FieldI32(4, *crc);
  if (data_page_header) {
    w.FieldStructHeader(5);
    data_page_header->Serialize(w);
  }
  if (dictionary_page_header) {
    w.FieldStructHeader(7);
    dictionary_page_header->Serialize(w);
  }
  if (data_page_header_v2) {
    w.FieldStructHeader(8);
    data_page_header_v2->Serialize(w);
  }
  w.EndStruct();
}

Status PageHeader::Deserialize(CompactReader& r) {
  bool has[3] = {};
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetEnum(r, t, &type, &has[0]);
      case 2: return GetI32(r, t, &uncompressed_page_size, &has[1]);
      case 3: return GetI32(r, t, &compressed_page_size, &has[2]);
      case 4: return GetOptI32(r, t, &crc);
      case 5: return GetOptStruct(r, t, &data_page_header);
      case 7: return GetOptStruct(r, t, &dictionary_page_header);
      case 8: return GetOptStruct(r, t, &data_page_header_v2);
      default: return r.Skip(t);
    }
  }));
  if (!has[0]) return Missing(r, "PageHeader", "type");
  if (!has[1]) return Missing(r, "PageHeader", "uncompressed_page_size");
  if (!has[2]) return Missing(r, "PageHeader", "compressed_page_size");
  if (uncompressed_page_size < 0 || compressed_page_size < 0) {
    return r.Error("page header has a negative page size");
  }
  return Status::OK();
}

// ---- small structs ----------------------------------------------------------------------

void KeyValue::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldBinary(1, key);
  if (value) w.FieldBinary(2, *value);
  w.EndStruct();
}

Status KeyValue::Deserialize(CompactReader& r) {
  bool has_key = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    if (id == 1) return GetBinary(r, t, &key, &has_key);
    if (id == 2) return GetOptBinary(r, t, &value);
    return r.Skip(t);
  }));
  if (!has_key) return Missing(r, "KeyValue", "key");
  return Status::OK();
}

void SortingColumn::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, column_idx);
  w.FieldBool(2, descending);
  w.FieldBool(3, nulls_first);
  w.EndStruct();
}

Status SortingColumn::Deserialize(CompactReader& r) {
  return ForEachField(r, [&](int16_t id, T t) -> Status {
    if (id == 1) return GetI32(r, t, &column_idx);
    if (id == 2) return GetBool(r, t, &descending);
    if (id == 3) return GetBool(r, t, &nulls_first);
    return r.Skip(t);
  });
}

void PageEncodingStats::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, static_cast<int32_t>(page_type));
  w.FieldI32(2, static_cast<int32_t>(encoding));
  w.FieldI32(3, count);
  w.EndStruct();
}

Status PageEncodingStats::Deserialize(CompactReader& r) {
  return ForEachField(r, [&](int16_t id, T t) -> Status {
    if (id == 1) return GetEnum(r, t, &page_type);
    if (id == 2) return GetEnum(r, t, &encoding);
    if (id == 3) return GetI32(r, t, &count);
    return r.Skip(t);
  });
}

// ---- ColumnMetaData / ColumnChunk / RowGroup ---------------------------------------------

void ColumnMetaData::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, static_cast<int32_t>(type));
  w.FieldListBegin(2, T::kI32, static_cast<int32_t>(encodings.size()));
  for (Encoding e : encodings) w.ElemI32(static_cast<int32_t>(e));
  w.FieldListBegin(3, T::kBinary, static_cast<int32_t>(path_in_schema.size()));
  for (const auto& p : path_in_schema) w.ElemBinary(p);
  w.FieldI32(4, static_cast<int32_t>(codec));
  w.FieldI64(5, num_values);
  w.FieldI64(6, total_uncompressed_size);
  w.FieldI64(7, total_compressed_size);
  if (!key_value_metadata.empty()) {
    w.FieldListBegin(8, T::kStruct, static_cast<int32_t>(key_value_metadata.size()));
    for (const auto& kv : key_value_metadata) kv.Serialize(w);
  }
  w.FieldI64(9, data_page_offset);
  if (index_page_offset) w.FieldI64(10, *index_page_offset);
  if (dictionary_page_offset) w.FieldI64(11, *dictionary_page_offset);
  if (statistics) {
    w.FieldStructHeader(12);
    statistics->Serialize(w);
  }
  if (!encoding_stats.empty()) {
    w.FieldListBegin(13, T::kStruct, static_cast<int32_t>(encoding_stats.size()));
    for (const auto& s : encoding_stats) s.Serialize(w);
  }
  if (bloom_filter_offset) w.FieldI64(14, *bloom_filter_offset);
  if (bloom_filter_length) w.FieldI32(15, *bloom_filter_length);
  w.EndStruct();
}

Status ColumnMetaData::Deserialize(CompactReader& r) {
  bool has_type = false, has_codec = false, has_num_values = false, has_data_page = false,
       has_compressed = false, has_uncompressed = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetEnum(r, t, &type, &has_type);
      case 2:
        return GetList(r, t, T::kI32, [&]() -> Status {
          int32_t e;
          LP_RETURN_IF_ERROR(r.ReadI32(&e));
          encodings.push_back(static_cast<Encoding>(e));
          return Status::OK();
        });
      case 3:
        return GetList(r, t, T::kBinary, [&]() -> Status {
          path_in_schema.emplace_back();
          return r.ReadBinary(&path_in_schema.back());
        });
      case 4: return GetEnum(r, t, &codec, &has_codec);
      case 5: return GetI64(r, t, &num_values, &has_num_values);
      case 6: return GetI64(r, t, &total_uncompressed_size, &has_uncompressed);
      case 7: return GetI64(r, t, &total_compressed_size, &has_compressed);
      case 8: return GetStructList(r, t, &key_value_metadata);
      case 9: return GetI64(r, t, &data_page_offset, &has_data_page);
      case 10: return GetOptI64(r, t, &index_page_offset);
      case 11: return GetOptI64(r, t, &dictionary_page_offset);
      case 12: return GetOptStruct(r, t, &statistics);
      case 13: return GetStructList(r, t, &encoding_stats);
      case 14: return GetOptI64(r, t, &bloom_filter_offset);
      case 15: return GetOptI32(r, t, &bloom_filter_length);
      default: return r.Skip(t);
    }
  }));
  if (!has_type) return Missing(r, "ColumnMetaData", "type");
  if (!has_codec) return Missing(r, "ColumnMetaData", "codec");
  if (!has_num_values) return Missing(r, "ColumnMetaData", "num_values");
  if (!has_compressed) return Missing(r, "ColumnMetaData", "total_compressed_size");
  if (!has_uncompressed) return Missing(r, "ColumnMetaData", "total_uncompressed_size");
  if (!has_data_page) return Missing(r, "ColumnMetaData", "data_page_offset");
  if (static_cast<int32_t>(type) < 0 || static_cast<int32_t>(type) > 7) {
    return r.Error("column chunk has invalid physical type " +
                   std::to_string(static_cast<int32_t>(type)));
  }
  return Status::OK();
}

void ColumnChunk::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  if (file_path) w.FieldBinary(1, *file_path);
  w.FieldI64(2, file_offset);
  if (meta_data) {
    w.FieldStructHeader(3);
    meta_data->Serialize(w);
  }
  if (offset_index_offset) w.FieldI64(4, *offset_index_offset);
  if (offset_index_length) w.FieldI32(5, *offset_index_length);
  if (column_index_offset) w.FieldI64(6, *column_index_offset);
  if (column_index_length) w.FieldI32(7, *column_index_length);
  w.EndStruct();
}

Status ColumnChunk::Deserialize(CompactReader& r) {
  return ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetOptBinary(r, t, &file_path);
      case 2: return GetI64(r, t, &file_offset);
      case 3: return GetOptStruct(r, t, &meta_data);
      case 4: return GetOptI64(r, t, &offset_index_offset);
      case 5: return GetOptI32(r, t, &offset_index_length);
      case 6: return GetOptI64(r, t, &column_index_offset);
      case 7: return GetOptI32(r, t, &column_index_length);
      case 8:
      case 9: encrypted = true; return r.Skip(t);
      default: return r.Skip(t);
    }
  });
}

void RowGroup::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldListBegin(1, T::kStruct, static_cast<int32_t>(columns.size()));
  for (const auto& c : columns) c.Serialize(w);
  w.FieldI64(2, total_byte_size);
  w.FieldI64(3, num_rows);
  if (!sorting_columns.empty()) {
    w.FieldListBegin(4, T::kStruct, static_cast<int32_t>(sorting_columns.size()));
    for (const auto& s : sorting_columns) s.Serialize(w);
  }
  if (file_offset) w.FieldI64(5, *file_offset);
  if (total_compressed_size) w.FieldI64(6, *total_compressed_size);
  if (ordinal) w.FieldI16(7, *ordinal);
  w.EndStruct();
}

Status RowGroup::Deserialize(CompactReader& r) {
  bool has_columns = false, has_rows = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1:
        has_columns = true;
        return GetStructList(r, t, &columns);
      case 2: return GetI64(r, t, &total_byte_size);
      case 3: return GetI64(r, t, &num_rows, &has_rows);
      case 4: return GetStructList(r, t, &sorting_columns);
      case 5: return GetOptI64(r, t, &file_offset);
      case 6: return GetOptI64(r, t, &total_compressed_size);
      case 7:
        if (t != T::kI16) return r.Skip(t);
        {
          int16_t v;
          LP_RETURN_IF_ERROR(r.ReadI16(&v));
          ordinal = v;
        }
        return Status::OK();
      default: return r.Skip(t);
    }
  }));
  if (!has_columns) return Missing(r, "RowGroup", "columns");
  if (!has_rows) return Missing(r, "RowGroup", "num_rows");
  if (num_rows < 0) return r.Error("row group has negative num_rows");
  return Status::OK();
}

// ---- FileMetaData -----------------------------------------------------------------------

void FileMetaData::Serialize(CompactWriter& w) const {
  w.BeginStruct();
  w.FieldI32(1, version);
  w.FieldListBegin(2, T::kStruct, static_cast<int32_t>(schema.size()));
  for (const auto& s : schema) s.Serialize(w);
  w.FieldI64(3, num_rows);
  w.FieldListBegin(4, T::kStruct, static_cast<int32_t>(row_groups.size()));
  for (const auto& g : row_groups) g.Serialize(w);
  if (!key_value_metadata.empty()) {
    w.FieldListBegin(5, T::kStruct, static_cast<int32_t>(key_value_metadata.size()));
    for (const auto& kv : key_value_metadata) kv.Serialize(w);
  }
  if (created_by) w.FieldBinary(6, *created_by);
  if (!column_orders.empty()) {
    w.FieldListBegin(7, T::kStruct, static_cast<int32_t>(column_orders.size()));
    for (ColumnOrder o : column_orders) {
      w.BeginStruct();
      if (o != ColumnOrder::kUnknown) EmptyStruct(w, static_cast<int16_t>(o));
      w.EndStruct();
    }
  }
  w.EndStruct();
}

Status FileMetaData::Deserialize(CompactReader& r) {
  bool has_schema = false, has_rows = false, has_groups = false;
  LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t id, T t) -> Status {
    switch (id) {
      case 1: return GetI32(r, t, &version);
      case 2:
        has_schema = true;
        return GetStructList(r, t, &schema);
      case 3: return GetI64(r, t, &num_rows, &has_rows);
      case 4:
        has_groups = true;
        return GetStructList(r, t, &row_groups);
      case 5: return GetStructList(r, t, &key_value_metadata);
      case 6: return GetOptBinary(r, t, &created_by);
      case 7:
        return GetList(r, t, T::kStruct, [&]() -> Status {
          ColumnOrder order = ColumnOrder::kUnknown;
          LP_RETURN_IF_ERROR(ForEachField(r, [&](int16_t oid, T ot) -> Status {
            if (ot == T::kStruct && oid >= 1 && oid <= 3) order = static_cast<ColumnOrder>(oid);
            return r.Skip(ot);
          }));
          column_orders.push_back(order);
          return Status::OK();
        });
      case 8: encrypted = true; return r.Skip(t);
      default: return r.Skip(t);
    }
  }));
  if (!has_schema || schema.empty()) return Missing(r, "FileMetaData", "schema");
  if (!has_rows) return Missing(r, "FileMetaData", "num_rows");
  if (!has_groups) return Missing(r, "FileMetaData", "row_groups");
  if (num_rows < 0) return r.Error("negative num_rows");
  return Status::OK();
}

Status ParseFileMetaData(const uint8_t* data, size_t size, const std::string& what,
                         FileMetaData* out) {
  CompactReader r(data, size, "footer of " + what);
  *out = FileMetaData();
  return out->Deserialize(r);
}

Status ParsePageHeader(const uint8_t* data, size_t size, const std::string& what,
                       PageHeader* out, size_t* header_size) {
  CompactReader r(data, size, "page header in " + what);
  *out = PageHeader();
  LP_RETURN_IF_ERROR(out->Deserialize(r));
  *header_size = r.position();
  return Status::OK();
}

}  // namespace lakepipe::parquet
