// Arrays and maps: the `x[k]` subscript, element_at / try_element_at, size, array_contains,
// map_keys / map_values, and the constructors array(...) and map(...). Structs
// (get_field, named_struct, struct) are in struct_functions.cc.
//
// Kernels copy the selected elements with Column::AppendRange, so they work for elements
// of any type, nested ones included; the per-row work is proportional to the row's
// elements, never to the batch.
#include "expr/eval_internal.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

// The index of key `k` (row `row` of `keys`) among the map row's keys, or -1.
int64_t FindMapKey(const Column& map, int64_t row, const Column& keys, int64_t key_row) {
  const Column& mk = map.child(0);
  Value want = keys.GetValue(key_row);
  for (int64_t j = map.offsets()[row]; j < map.offsets()[row + 1]; ++j) {
    if (mk.GetValue(j).Compare(want) == 0) return j;
  }
  return -1;
}

enum class IndexMode { kZeroBased, kOneBased };

// Shared by x[k], element_at and try_element_at: for arrays the element at the index
// (errors or NULL when out of range), for maps the value of the key (NULL when absent).
Result<ColumnPtr> ElementKernel(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n, IndexMode mode,
                                bool null_on_error) {
  const Column& x = *args[0];
  const Column& k = *args[1];
  Column out(e.type);
  bool is_map = x.type().id() == TypeId::kMap;
  const Column& elements = is_map ? x.child(1) : x.child(0);
  for (int64_t i = 0; i < n; ++i) {
    if (x.IsNull(i) || k.IsNull(i) || k.type().id() == TypeId::kNull) {
      out.AppendNull();
      continue;
    }
    int64_t begin = x.offsets()[i], count = x.offsets()[i + 1] - begin;
    int64_t at = -1;
    if (is_map) {
      at = FindMapKey(x, i, k, i);
    } else {
      int64_t idx = k.GetValue(i).int_value();
      bool bad = false;
      if (mode == IndexMode::kZeroBased) {
        bad = idx < 0 || idx >= count;
        if (!bad) at = begin + idx;
      } else if (idx == 0) {
        if (!null_on_error) return EvalError(e, "[INVALID_INDEX_OF_ZERO] element_at index is 1-based: 0 is not an element; use try_element_at to get NULL");
        bad = true;
      } else {
        bad = idx > count || -idx > count;
        if (!bad) at = idx > 0 ? begin + idx - 1 : begin + count + idx;
      }
      if (bad && !null_on_error) {
        return EvalError(e, "[INVALID_ARRAY_INDEX] the index " + std::to_string(idx) + " is out of bounds: the array has " +
                                std::to_string(count) + " elements" +
                                (mode == IndexMode::kZeroBased ? " (x[i] counts from 0)" : " (element_at counts from 1)") +
                                "; use try_element_at to get NULL");
      }
    }
    if (at < 0) {
      out.AppendNull();
    } else {
      out.AppendRange(elements, at, 1);
    }
  }
  return MakeColumn(std::move(out));
}

Result<ColumnPtr> Subscript(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return ElementKernel(e, args, n, IndexMode::kZeroBased, false);
}
Result<ColumnPtr> ElementAt(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return ElementKernel(e, args, n, IndexMode::kOneBased, false);
}
Result<ColumnPtr> TryElementAt(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  return ElementKernel(e, args, n, IndexMode::kOneBased, true);
}

Status BindElement(CallBinder& c) {
  const DataType& t = c.arg_type(0);
  if (t.id() == TypeId::kArray) {
    if (!c.arg_type(1).is_integer() && c.arg_type(1).id() != TypeId::kNull) {
      return c.Error("an array index must be an integer, got " + c.arg_type(1).ToString() + " in `" + c.expr().ToString() + "`");
    }
    LP_RETURN_IF_ERROR(c.ExpectType(1, DataType::Long()));
    c.SetResult(t.element());
  } else if (t.id() == TypeId::kMap) {
    LP_RETURN_IF_ERROR(c.ExpectType(1, t.key()));
    c.SetResult(t.value());
  } else if (t.id() == TypeId::kNull) {
    c.SetResult(DataType::Null());
  } else {
    return c.Error("`" + c.expr().ToString() + "`: " + t.ToString() + " is not an array or a map, so it has no elements");
  }
  c.bound().nullable = true;
  return Status::OK();
}

// Spark 4 (ANSI): size(NULL) is NULL.
Result<ColumnPtr> Size(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& x = *args[0];
  return FixedResult<int32_t>(e.type, args, n, [&](int64_t i, int32_t* r) {
    *r = static_cast<int32_t>(x.offsets()[i + 1] - x.offsets()[i]);
    return true;
  });
}

Status BindSize(CallBinder& c) {
  TypeId id = c.arg_type(0).id();
  if (id != TypeId::kArray && id != TypeId::kMap && id != TypeId::kNull) {
    return c.Error("`" + c.written_name() + "` takes an array or a map, got " + c.arg_type(0).ToString() + " in `" + c.expr().ToString() + "`");
  }
  c.SetResult(DataType::Int());
  return Status::OK();
}

// NULL when the array or the value is NULL, or when the value is absent and the array
// holds a NULL (three-valued IN semantics, as Spark).
Result<ColumnPtr> ArrayContains(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& x = *args[0];
  const Column& v = *args[1];
  const Column& el = x.child(0);
  return FixedResult<uint8_t>(e.type, args, n, [&](int64_t i, uint8_t* r) {
    Value want = v.GetValue(i);
    bool saw_null = false;
    for (int64_t j = x.offsets()[i]; j < x.offsets()[i + 1]; ++j) {
      if (el.IsNull(j)) { saw_null = true; continue; }
      if (el.GetValue(j).Compare(want) == 0) { *r = 1; return true; }
    }
    *r = 0;
    return !saw_null;
  });
}

Status BindArrayContains(CallBinder& c) {
  const DataType& t = c.arg_type(0);
  if (t.id() != TypeId::kArray) return c.Error("`array_contains` takes an array first, got " + t.ToString() + " in `" + c.expr().ToString() + "`");
  if (t.element().is_nested()) return c.Unsupported("array_contains over arrays of " + t.element().ToString() + " is not built yet");
  LP_RETURN_IF_ERROR(c.ExpectType(1, t.element()));
  c.SetResult(DataType::Boolean());
  return Status::OK();
}

// map_keys / map_values: the map's child column under the map's own offsets.
template <int kChild>
Result<ColumnPtr> MapPart(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  const Column& x = *args[0];
  Column out(e.type);
  for (int64_t i = 0; i < n; ++i) {
    if (x.IsNull(i)) { out.AppendNull(); continue; }
    out.child(0).AppendRange(x.child(kChild), x.offsets()[i], x.offsets()[i + 1] - x.offsets()[i]);
    out.CloseListRow();
  }
  return MakeColumn(std::move(out));
}

template <int kChild>
Status BindMapPart(CallBinder& c) {
  const DataType& t = c.arg_type(0);
  if (t.id() != TypeId::kMap) return c.Error("`" + c.written_name() + "` takes a map, got " + t.ToString() + " in `" + c.expr().ToString() + "`");
  c.SetResult(DataType::Array(kChild == 0 ? t.key() : t.value()));
  return Status::OK();
}

// array(a, b, ...): never NULL itself; the elements keep their NULLs.
Result<ColumnPtr> MakeArray(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  Column out(e.type);
  for (int64_t i = 0; i < n; ++i) {
    for (const auto& a : args) {
      if (a->type().id() == TypeId::kNull) out.child(0).AppendNull(); else out.child(0).AppendRange(*a, i, 1);
    }
    out.CloseListRow();
  }
  return MakeColumn(std::move(out));
}

Status BindMakeArray(CallBinder& c) {
  DataType common = DataType::Null();
  if (c.num_args() > 0) LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 1, &common));
  if (common.id() == TypeId::kNull) common = DataType::String();  // array() / array(NULL): Spark's ARRAY<VOID> has no Parquet form
  c.SetResult(DataType::Array(common));
  c.bound().nullable = false;
  return Status::OK();
}

// map(k1, v1, k2, v2, ...): a NULL key or a repeated key is an error (Spark's
// mapKeyDedupPolicy=EXCEPTION).
Result<ColumnPtr> MakeMap(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  Column out(e.type);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<Value> keys;
    for (size_t a = 0; a + 1 < args.size(); a += 2) {
      const Column& k = *args[a];
      if (k.type().id() == TypeId::kNull || k.IsNull(i)) return EvalError(e, "[NULL_MAP_KEY] a map key cannot be NULL");
      Value kv = k.GetValue(i);
      for (const Value& seen : keys) {
        if (seen.Compare(kv) == 0) return EvalError(e, "[DUPLICATED_MAP_KEY] the key " + kv.ToString() + " appears twice");
      }
      keys.push_back(kv);
      out.child(0).AppendRange(k, i, 1);
      const Column& v = *args[a + 1];
      if (v.type().id() == TypeId::kNull) out.child(1).AppendNull(); else out.child(1).AppendRange(v, i, 1);
    }
    out.CloseListRow();
  }
  return MakeColumn(std::move(out));
}

Status BindMakeMap(CallBinder& c) {
  if (c.num_args() % 2 != 0) return c.Error("`map` takes key, value pairs; got " + std::to_string(c.num_args()) + " arguments in `" + c.expr().ToString() + "`");
  DataType kt = DataType::String(), vt = DataType::String();
  if (c.num_args() > 0) {
    LP_RETURN_IF_ERROR(c.CoerceToCommon(0, 2, &kt));
    LP_RETURN_IF_ERROR(c.CoerceToCommon(1, 2, &vt));
    if (kt.id() == TypeId::kNull) return c.Error("[NULL_MAP_KEY] a map key cannot be NULL in `" + c.expr().ToString() + "`");
    if (kt.is_nested()) return c.Unsupported("map keys of type " + kt.ToString() + " are not built yet");
    if (vt.id() == TypeId::kNull) vt = DataType::String();
  }
  c.SetResult(DataType::Map(kt, vt));
  c.bound().nullable = false;
  return Status::OK();
}

}  // namespace

void RegisterNestedFunctions(FunctionRegistry* r) {
  r->Add({"subscript", 2, 2, BindElement, Subscript, nullptr, true});
  r->Add({"element_at", 2, 2, BindElement, ElementAt, nullptr, true});
  r->Add({"try_element_at", 2, 2, BindElement, TryElementAt, nullptr, false});
  r->Add({"size", 1, 1, BindSize, Size, nullptr, false});
  r->AddAlias("cardinality", "size");
  r->AddAlias("array_size", "size");
  r->Add({"array_contains", 2, 2, BindArrayContains, ArrayContains, nullptr, false});
  r->Add({"map_keys", 1, 1, BindMapPart<0>, MapPart<0>, nullptr, false});
  r->Add({"map_values", 1, 1, BindMapPart<1>, MapPart<1>, nullptr, false});
  r->Add({"array", 0, -1, BindMakeArray, MakeArray, nullptr, false});
  r->Add({"map", 0, -1, BindMakeMap, MakeMap, nullptr, true});
}

}  // namespace lakepipe::expr
