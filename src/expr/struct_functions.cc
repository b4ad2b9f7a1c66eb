// Struct field access: get_field(s, 'x'), which the binder also builds for `s.x`.
#include "expr/eval_internal.h"
#include "expr/function.h"

namespace lakepipe::expr {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<ColumnPtr> GetField(const BoundExpr& e, const std::vector<ColumnPtr>& args, int64_t) {
  const Column& s = *args[0];
  Column child = s.child(static_cast<size_t>(e.column_index));
  if (s.has_nulls()) {
    for (int64_t i = 0; i < s.size(); ++i) {
      if (s.IsNull(i)) child.SetNull(i);
    }
  }
  return MakeColumn(std::move(child));
}

// Resolves the field name (a constant) to its index, kept in column_index for the kernel.
Status BindGetField(CallBinder& c) {
  const DataType& t = c.arg_type(0);
  LP_RETURN_IF_ERROR(c.ExpectLiteral(1));
  if (t.id() != TypeId::kStruct) return c.Error("`" + c.expr().ToString() + "`: " + t.ToString() + " has no fields");
  std::string want = Lower(c.arg(1).literal.string_value());
  std::string names;
  for (size_t i = 0; i < t.fields().size(); ++i) {
    names += (i ? ", " : "") + t.fields()[i].name;
    if (Lower(t.fields()[i].name) == want) {
      c.SetResult(t.fields()[i].type);
      c.bound().column_index = static_cast<int>(i);
      c.bound().nullable = true;
      return Status::OK();
    }
  }
  return c.Error("field `" + c.arg(1).literal.string_value() + "` not found in `" + c.arg(0).text + "`; available: " + names);
}

}  // namespace

void RegisterStructFunctions(FunctionRegistry* r) { r->Add({"get_field", 2, 2, BindGetField, GetField, nullptr, false}); }

}  // namespace lakepipe::expr
