// Structs: field access get_field(s, 'x') (the binder builds it for `s.x`, the front end for
// `a.b.c.d` and `(expr).x`; over an array of structs it gives the array of that field, as
// Spark does), and the constructors named_struct('a', x, ...) and struct(x, y, ...).
#include "expr/eval_internal.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The field of a struct column with the struct's own NULLs applied.
Column FieldOf(const Column& s, size_t index) {
  Column child = s.child(index);
  if (s.has_nulls()) {
    for (int64_t i = 0; i < s.size(); ++i) {
      if (s.IsNull(i)) child.SetNull(i);
    }
  }
  return child;
}

Result<ColumnPtr> GetField(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& s = *args[0];
  if (s.type().id() == TypeId::kNull) return MakeColumn(Column::Nulls(e.type, s.size()));
  if (s.type().id() == TypeId::kArray) {
    Column field = FieldOf(s.child(0), static_cast<size_t>(e.column_index));
    Column out(e.type);
    for (int64_t i = 0; i < s.size(); ++i) {
      if (s.IsNull(i)) { out.AppendNull(); continue; }
      out.child(0).AppendRange(field, s.offsets()[i], s.offsets()[i + 1] - s.offsets()[i]);
      out.CloseListRow();
    }
    return MakeColumn(std::move(out));
  }
  return MakeColumn(FieldOf(s, static_cast<size_t>(e.column_index)));
}

// Resolves the field name (a constant) to its index, kept in column_index for the kernel.
Status BindGetField(CallBinder& c) {
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (c.arg_type(0).id() == TypeId::kNull) {
    c.SetResult(DataType::Null());
    return Status::OK();
  }
  bool over_array = c.arg_type(0).id() == TypeId::kArray && c.arg_type(0).element().id() == TypeId::kStruct;
  const DataType& t = over_array ? c.arg_type(0).element() : c.arg_type(0);
  if (t.id() != TypeId::kStruct) return c.Error("`" + c.expr().ToString() + "`: " + t.ToString() + " has no fields");
  std::string want = Lower(c.arg(1).literal.string_value());
  std::string names;
  for (size_t i = 0; i < t.fields().size(); ++i) {
    names += (i ? ", " : "") + t.fields()[i].name;
    if (Lower(t.fields()[i].name) == want) {
      c.SetResult(over_array ? DataType::Array(t.fields()[i].type) : t.fields()[i].type);
      c.bound().column_index = static_cast<int>(i);
      c.bound().nullable = true;
      return Status::OK();
    }
  }
  return c.Error("field `" + c.arg(1).literal.string_value() + "` not found in `" + c.arg(0).text + "`; available: " + names);
}

// named_struct / struct: the arguments become the children; the struct itself is never
// NULL (its fields keep their NULLs).
Result<ColumnPtr> MakeStruct(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t n) {
  Column out(e.type);
  bool named = e.function == "named_struct";
  for (size_t f = 0; f < out.num_children(); ++f) {
    const Column& v = *args[named ? 2 * f + 1 : f];
    if (v.type().id() == TypeId::kNull) out.child(f) = Column::Nulls(e.type.fields()[f].type, n); else out.child(f) = v;
  }
  for (int64_t i = 0; i < n; ++i) out.CloseStructRow();
  return MakeColumn(std::move(out));
}

// A void field (a bare NULL) becomes a string field: void has no Parquet form.
DataType FieldType(const DataType& t) { return t.id() == TypeId::kNull ? DataType::String() : t; }

Status BindNamedStruct(CallBinder& c) {
  if (c.num_args() % 2 != 0) return c.Error("`named_struct` takes name, value pairs; got " + std::to_string(c.num_args()) + " arguments in `" + c.expr().ToString() + "`");
  std::vector<Field> fields;
  for (size_t i = 0; i < c.num_args(); i += 2) {
    LP_RETURN_IF_ERROR(c.ExpectLiteral(i));
    if (c.arg_type(i).id() != TypeId::kString || c.arg(i).literal.is_null()) {
      return c.Error("`named_struct` field names must be string constants, got `" + c.arg(i).text + "`");
    }
    std::string name = c.arg(i).literal.string_value();
    for (const auto& f : fields) {
      if (Lower(f.name) == Lower(name)) return c.Error("`named_struct` names the field `" + name + "` twice");
    }
    fields.push_back(Field{name, FieldType(c.arg_type(i + 1)), true});
  }
  c.SetResult(DataType::Struct(std::move(fields)));
  c.bound().nullable = false;
  return Status::OK();
}

// struct(a, s.x, 1): a column (or field) argument keeps its name, others are colN.
Status BindStruct(CallBinder& c) {
  std::vector<Field> fields;
  for (size_t i = 0; i < c.num_args(); ++i) {
    const Expr& a = *c.expr().args[i];
    std::string name = "col" + std::to_string(i + 1);
    if (a.kind == ExprKind::kColumn) name = a.name;
    if (a.kind == ExprKind::kCall && a.function == "get_field" && a.args.size() == 2 && a.args[1]->kind == ExprKind::kLiteral) {
      name = a.args[1]->literal.string_value();
    }
    fields.push_back(Field{name, FieldType(c.arg_type(i)), true});
  }
  c.SetResult(DataType::Struct(std::move(fields)));
  c.bound().nullable = false;
  return Status::OK();
}

}  // namespace

void RegisterStructFunctions(FunctionRegistry* r) {
  r->Add({"get_field", 2, 2, BindGetField, GetField, nullptr, false});
  r->Add({"named_struct", 0, -1, BindNamedStruct, MakeStruct, nullptr, false});
  r->Add({"struct", 0, -1, BindStruct, MakeStruct, nullptr, false});
}

}  // namespace lakepipe::expr
