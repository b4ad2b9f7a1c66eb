#include "formats/parquet/schema_mapping.h"

#include <algorithm>

namespace lakepipe::parquet {
namespace {

constexpr int kMaxNesting = 64;  // deeper schemas are refused (keeps recursion bounded)

struct TreeNode {
  int element = 0;
  std::vector<TreeNode> children;
};

class Mapper {
 public:
  Mapper(const std::vector<SchemaElement>& elements, const std::string& file)
      : el_(elements), file_(file) {}

  Result<FileSchema> Run();

 private:
  Status BuildTree(int depth, TreeNode* node);
  Status Corrupt(const std::string& what) const {
    return Status::Corruption(file_ + ": Parquet schema: " + what);
  }
  const SchemaElement& E(const TreeNode& n) const { return el_[static_cast<size_t>(n.element)]; }
  bool IsGroup(const TreeNode& n) const { return !E(n).type.has_value() || E(n).num_children.value_or(0) > 0; }
  Repetition Rep(const TreeNode& n) const { return E(n).repetition_type.value_or(Repetition::kOptional); }
  bool IsList(const TreeNode& n) const {
    const auto& e = E(n);
    if (e.logical_type.kind == LogicalType::Kind::kList) return true;
    return e.logical_type.kind == LogicalType::Kind::kNone && e.converted_type == ConvertedType::kList;
  }
  bool IsMap(const TreeNode& n) const {
    const auto& e = E(n);
    if (e.logical_type.kind == LogicalType::Kind::kMap) return true;
    return e.logical_type.kind == LogicalType::Kind::kNone &&
           (e.converted_type == ConvertedType::kMap || e.converted_type == ConvertedType::kMapKeyValue);
  }

  // Maps `n` as a value (a repeated `n` becomes a list of it, unless `as_element`).
  Status MapNode(const TreeNode& n, int16_t parent_def, int16_t parent_rep, int depth,
                 std::vector<std::string> path, bool as_element, AssemblyNode* out, bool* nullable);
  Status MapNonRepeated(const TreeNode& n, int16_t def, int16_t rep, int depth,
                        const std::vector<std::string>& path, AssemblyNode* out);
  Status MapPrimitive(const TreeNode& n, int16_t def, int16_t rep, const std::vector<std::string>& path,
                      AssemblyNode* out);

  const std::vector<SchemaElement>& el_;
  const std::string& file_;
  int next_ = 0;
  FileSchema result_;
};

Status Mapper::BuildTree(int depth, TreeNode* node) {
  if (depth > kMaxNesting) return Corrupt("nesting deeper than " + std::to_string(kMaxNesting) + " levels");
  if (next_ >= static_cast<int>(el_.size())) return Corrupt("num_children points past the last schema element");
  node->element = next_++;
  const auto& e = E(*node);
  int32_t kids = e.num_children.value_or(0);
  if (kids < 0) return Corrupt("element '" + e.name + "' has negative num_children");
  if (!e.type.has_value() && kids == 0 && node->element != 0) {
    return Corrupt("group '" + e.name + "' has no children");
  }
  if (kids > static_cast<int32_t>(el_.size()) - next_) {
    return Corrupt("element '" + e.name + "' claims " + std::to_string(kids) + " children, only " +
                   std::to_string(static_cast<int32_t>(el_.size()) - next_) + " elements follow");
  }
  node->children.resize(static_cast<size_t>(kids));
  for (auto& c : node->children) LP_RETURN_IF_ERROR(BuildTree(depth + 1, &c));
  return Status::OK();
}

Result<FileSchema> Mapper::Run() {
  if (el_.empty()) return Corrupt("no schema elements");
  TreeNode root;
  LP_RETURN_IF_ERROR(BuildTree(0, &root));
  if (next_ != static_cast<int>(el_.size())) {
    return Corrupt(std::to_string(el_.size() - static_cast<size_t>(next_)) +
                   " schema elements lie outside the root's children");
  }
  for (const auto& child : root.children) {
    AssemblyNode node;
    bool nullable = true;
    LP_RETURN_IF_ERROR(MapNode(child, 0, 0, 1, {}, false, &node, &nullable));
    Field f;
    f.name = E(child).name;
    f.type = node.type;
    f.nullable = nullable;
    result_.schema.AddField(std::move(f));
    result_.fields.push_back(std::move(node));
  }
  return std::move(result_);
}

Status Mapper::MapNode(const TreeNode& n, int16_t parent_def, int16_t parent_rep, int depth,
                       std::vector<std::string> path, bool as_element, AssemblyNode* out,
                       bool* nullable) {
  const auto& e = E(n);
  path.push_back(e.name);
  Repetition rep = Rep(n);
  int16_t def = static_cast<int16_t>(parent_def + (rep == Repetition::kRequired ? 0 : 1));
  int16_t rlev = static_cast<int16_t>(parent_rep + (rep == Repetition::kRepeated ? 1 : 0));
  *nullable = rep == Repetition::kOptional;
  if (rep == Repetition::kRepeated && !as_element) {
    // A repeated field outside a LIST/MAP group: a required list of required elements.
    out->kind = AssemblyNode::Kind::kList;
    out->def_level = parent_def;
    out->rep_level = rlev;
    out->element_def_level = def;
    AssemblyNode elem;
    LP_RETURN_IF_ERROR(MapNonRepeated(n, def, rlev, depth, path, &elem));
    out->first_leaf = elem.first_leaf;
    out->num_leaves = elem.num_leaves;
    out->type = DataType::Array(elem.type, false);
    out->children.push_back(std::move(elem));
    *nullable = false;
    return Status::OK();
  }
  return MapNonRepeated(n, def, rlev, depth, path, out);
}

Status Mapper::MapNonRepeated(const TreeNode& n, int16_t def, int16_t rep, int depth,
                              const std::vector<std::string>& path, AssemblyNode* out) {
  const auto& e = E(n);
  if (depth > kMaxNesting) return Corrupt("nesting deeper than " + std::to_string(kMaxNesting) + " levels");
  if (!IsGroup(n)) return MapPrimitive(n, def, rep, path, out);
  out->def_level = def;
  out->first_leaf = static_cast<int>(result_.leaves.size());

  if (IsList(n) && n.children.size() == 1 && Rep(n.children[0]) == Repetition::kRepeated) {
    const TreeNode& repeated = n.children[0];
    const auto& re = E(repeated);
    out->kind = AssemblyNode::Kind::kList;
    out->rep_level = static_cast<int16_t>(rep + 1);
    out->element_def_level = static_cast<int16_t>(def + 1);
    std::vector<std::string> rpath = path;
    rpath.push_back(re.name);
    AssemblyNode elem;
    bool elem_nullable = false;
    // LogicalTypes.md backward-compatibility rules: the repeated field itself is the
    // element when it is primitive, a group of several fields, or a one-field group named
    // `array` or `<list>_tuple`; otherwise its single child is the element.
    bool repeated_is_element = !IsGroup(repeated) || repeated.children.size() != 1 ||
                               re.name == "array" || re.name == e.name + "_tuple";
    if (repeated_is_element) {
      LP_RETURN_IF_ERROR(MapNonRepeated(repeated, out->element_def_level, out->rep_level, depth + 1, rpath, &elem));
    } else {
      LP_RETURN_IF_ERROR(MapNode(repeated.children[0], out->element_def_level, out->rep_level, depth + 1,
                                 rpath, false, &elem, &elem_nullable));
    }
    out->type = DataType::Array(elem.type, elem_nullable);
    out->children.push_back(std::move(elem));
  } else if (IsMap(n) && n.children.size() == 1 && Rep(n.children[0]) == Repetition::kRepeated &&
             IsGroup(n.children[0])) {
    const TreeNode& kv = n.children[0];
    out->kind = AssemblyNode::Kind::kMap;
    out->rep_level = static_cast<int16_t>(rep + 1);
    out->element_def_level = static_cast<int16_t>(def + 1);
    std::vector<std::string> kvpath = path;
    kvpath.push_back(E(kv).name);
    if (kv.children.size() > 2) {
      return Status::NotSupported(file_ + ": map '" + e.name + "' has " + std::to_string(kv.children.size()) +
                                  " fields in its key_value group (key and value expected)");
    }
    AssemblyNode key;
    bool key_nullable = false;
    LP_RETURN_IF_ERROR(MapNode(kv.children[0], out->element_def_level, out->rep_level, depth + 1, kvpath,
                               false, &key, &key_nullable));
    DataType value_type = DataType::Null();
    bool value_nullable = true;
    out->children.push_back(std::move(key));
    if (kv.children.size() == 2) {
      AssemblyNode value;
      LP_RETURN_IF_ERROR(MapNode(kv.children[1], out->element_def_level, out->rep_level, depth + 1, kvpath,
                                 false, &value, &value_nullable));
      value_type = value.type;
      out->children.push_back(std::move(value));
    } else {
      out->value_missing = true;
    }
    out->type = DataType::Map(out->children[0].type, value_type, value_nullable);
  } else {
    // A plain group (or a LIST/MAP annotation whose layout fits no rule: read as a struct).
    out->kind = AssemblyNode::Kind::kStruct;
    std::vector<Field> fields;
    for (const auto& c : n.children) {
      AssemblyNode child;
      bool child_nullable = true;
      LP_RETURN_IF_ERROR(MapNode(c, def, rep, depth + 1, path, false, &child, &child_nullable));
      Field f;
      f.name = E(c).name;
      f.type = child.type;
      f.nullable = child_nullable;
      fields.push_back(std::move(f));
      out->children.push_back(std::move(child));
    }
    out->type = DataType::Struct(std::move(fields));
  }
  out->num_leaves = static_cast<int>(result_.leaves.size()) - out->first_leaf;
  return Status::OK();
}

Status Mapper::MapPrimitive(const TreeNode& n, int16_t def, int16_t rep, const std::vector<std::string>& path,
                            AssemblyNode* out) {
  const auto& e = E(n);
  LeafColumn leaf;
  leaf.path = path;
  leaf.physical = *e.type;
  leaf.type_length = e.type_length.value_or(0);
  leaf.max_def = def;
  leaf.max_rep = rep;
  const std::string col = "column '" + leaf.PathString() + "'";
  auto unsupported = [&](const std::string& what) {
    return Status::NotSupported(file_ + ": " + col + ": " + what + " is not supported by lakepipe");
  };
  if (leaf.physical == PhysicalType::kFixedLenByteArray && (leaf.type_length <= 0 || leaf.type_length > (1 << 24))) {
    return Corrupt(col + " is FIXED_LEN_BYTE_ARRAY with type_length " + std::to_string(leaf.type_length));
  }

  // Normalise the logical type: the LogicalType union when present (and known), else the
  // legacy ConvertedType.
  using K = LogicalType::Kind;
  LogicalType lt = e.logical_type;
  if (lt.kind == K::kOther || lt.kind == K::kNone) {
    lt = LogicalType();
    if (e.converted_type) {
      switch (*e.converted_type) {
        case ConvertedType::kUtf8: lt.kind = K::kString; break;
        case ConvertedType::kEnum: lt.kind = K::kEnum; break;
        case ConvertedType::kJson: lt.kind = K::kJson; break;
        case ConvertedType::kBson: lt.kind = K::kBson; break;
        case ConvertedType::kDecimal:
          lt.kind = K::kDecimal;
          lt.decimal_precision = e.precision.value_or(0);
          lt.decimal_scale = e.scale.value_or(0);
          break;
        case ConvertedType::kDate: lt.kind = K::kDate; break;
        case ConvertedType::kTimeMillis:
        case ConvertedType::kTimeMicros: lt.kind = K::kTime; break;
        case ConvertedType::kTimestampMillis:
        case ConvertedType::kTimestampMicros:
          lt.kind = K::kTimestamp;
          lt.is_adjusted_to_utc = true;  // legacy timestamps are UTC instants
          lt.unit = *e.converted_type == ConvertedType::kTimestampMillis ? TimeUnit::kMillis : TimeUnit::kMicros;
          break;
        case ConvertedType::kUint8: lt = {}; lt.kind = K::kInteger; lt.bit_width = 8; lt.is_signed = false; break;
        case ConvertedType::kUint16: lt.kind = K::kInteger; lt.bit_width = 16; lt.is_signed = false; break;
        case ConvertedType::kUint32: lt.kind = K::kInteger; lt.bit_width = 32; lt.is_signed = false; break;
        case ConvertedType::kUint64: lt.kind = K::kInteger; lt.bit_width = 64; lt.is_signed = false; break;
        case ConvertedType::kInt8: lt.kind = K::kInteger; lt.bit_width = 8; break;
        case ConvertedType::kInt16: lt.kind = K::kInteger; lt.bit_width = 16; break;
        case ConvertedType::kInt32: lt.kind = K::kInteger; lt.bit_width = 32; break;
        case ConvertedType::kInt64: lt.kind = K::kInteger; lt.bit_width = 64; break;
        case ConvertedType::kInterval: return unsupported("the INTERVAL type");
        default: break;  // MAP/LIST on a primitive: ignore the annotation
      }
    }
  }

  auto decimal = [&](Conversion conv) -> Status {
    int p = lt.decimal_precision, s = lt.decimal_scale;
    if (p <= 0 || s < 0 || s > p) {
      return Corrupt(col + " has DECIMAL(" + std::to_string(p) + "," + std::to_string(s) + ")");
    }
    if (p > 38) return unsupported("DECIMAL precision " + std::to_string(p) + " (above 38)");
    leaf.type = DataType::Decimal(p, s);
    leaf.conversion = conv;
    return Status::OK();
  };
  auto timestamp = [&](Conversion conv) {
    leaf.type = lt.is_adjusted_to_utc ? DataType::Timestamp() : DataType::TimestampNtz();
    leaf.conversion = conv;
  };

  switch (leaf.physical) {
    case PhysicalType::kBoolean:
      leaf.type = DataType::Boolean();
      leaf.signed_stats_ok = true;
      break;
    case PhysicalType::kInt32:
      leaf.signed_stats_ok = true;
      if (lt.kind == K::kInteger) {
        if (!lt.is_signed) {
          leaf.signed_stats_ok = false;
          if (lt.bit_width == 32) {
            leaf.type = DataType::Long();
            leaf.conversion = Conversion::kUint32ToLong;
          } else {
            leaf.type = DataType::Int();
          }
        } else if (lt.bit_width == 8) {
          leaf.type = DataType::Byte();
          leaf.conversion = Conversion::kInt32ToByte;
        } else if (lt.bit_width == 16) {
          leaf.type = DataType::Short();
          leaf.conversion = Conversion::kInt32ToShort;
        } else {
          leaf.type = DataType::Int();
        }
      } else if (lt.kind == K::kDate) {
        leaf.type = DataType::Date();
      } else if (lt.kind == K::kDecimal) {
        LP_RETURN_IF_ERROR(decimal(Conversion::kInt32ToDecimal));
      } else if (lt.kind == K::kTime) {
        return unsupported("the TIME type");
      } else if (lt.kind == K::kUnknown) {
        leaf.type = DataType::Null();
        leaf.conversion = Conversion::kAllNull;
      } else {
        leaf.type = DataType::Int();
      }
      break;
    case PhysicalType::kInt64:
      leaf.signed_stats_ok = true;
      if (lt.kind == K::kInteger && !lt.is_signed) {
        leaf.signed_stats_ok = false;
        leaf.type = DataType::Decimal(20, 0);
        leaf.conversion = Conversion::kUint64ToDecimal;
      } else if (lt.kind == K::kDecimal) {
        LP_RETURN_IF_ERROR(decimal(Conversion::kInt64ToDecimal));
      } else if (lt.kind == K::kTimestamp) {
        timestamp(lt.unit == TimeUnit::kMillis  ? Conversion::kMillisToMicros
                  : lt.unit == TimeUnit::kNanos ? Conversion::kNanosToMicros
                                                : Conversion::kCopy);
      } else if (lt.kind == K::kTime) {
        return unsupported("the TIME type");
      } else if (lt.kind == K::kUnknown) {
        leaf.type = DataType::Null();
        leaf.conversion = Conversion::kAllNull;
      } else {
        leaf.type = DataType::Long();
      }
      break;
    case PhysicalType::kInt96:
      // Impala/Spark/Hive timestamps: UTC instants.
      leaf.type = DataType::Timestamp();
      leaf.conversion = Conversion::kInt96ToMicros;
      break;
    case PhysicalType::kFloat:
      leaf.type = DataType::Float();
      leaf.signed_stats_ok = true;
      break;
    case PhysicalType::kDouble:
      leaf.type = DataType::Double();
      leaf.signed_stats_ok = true;
      break;
    case PhysicalType::kByteArray:
    case PhysicalType::kFixedLenByteArray:
      leaf.conversion = Conversion::kBytes;
      if (lt.kind == K::kString || lt.kind == K::kEnum || lt.kind == K::kJson) {
        leaf.type = DataType::String();
      } else if (lt.kind == K::kDecimal) {
        LP_RETURN_IF_ERROR(decimal(Conversion::kBigEndianDecimal));
      } else if (lt.kind == K::kFloat16 && leaf.physical == PhysicalType::kFixedLenByteArray) {
        if (leaf.type_length != 2) return Corrupt(col + " is FLOAT16 with type_length " + std::to_string(leaf.type_length));
        leaf.type = DataType::Float();
        leaf.conversion = Conversion::kFloat16ToFloat;
      } else if (lt.kind == K::kUuid && leaf.physical == PhysicalType::kFixedLenByteArray && leaf.type_length == 16) {
        leaf.type = DataType::String();
        leaf.conversion = Conversion::kUuidToString;
      } else if (lt.kind == K::kUnknown) {
        leaf.type = DataType::Null();
        leaf.conversion = Conversion::kAllNull;
      } else if (lt.kind == K::kTime || lt.kind == K::kTimestamp || lt.kind == K::kDate ||
                 lt.kind == K::kInteger) {
        return Corrupt(col + " annotates a byte array with a numeric logical type");
      } else {
        leaf.type = DataType::Binary();
      }
      break;
  }
  out->kind = AssemblyNode::Kind::kLeaf;
  out->type = leaf.type;
  out->def_level = def;
  out->leaf = static_cast<int>(result_.leaves.size());
  out->first_leaf = out->leaf;
  out->num_leaves = 1;
  result_.leaves.push_back(std::move(leaf));
  return Status::OK();
}

}  // namespace

std::string LeafColumn::PathString() const {
  std::string s;
  for (const auto& p : path) {
    if (!s.empty()) s += '.';
    s += p;
  }
  return s;
}

Result<FileSchema> MapSchema(const std::vector<SchemaElement>& elements, const std::string& file) {
  Mapper m(elements, file);
  return m.Run();
}

}  // namespace lakepipe::parquet
