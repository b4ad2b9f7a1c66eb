#include "delta/schema_merge.h"

namespace lakepipe::delta {
namespace {

int FieldIndex(const std::vector<Field>& fields, const std::string& name) {
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].name == name) return static_cast<int>(i);
  return -1;
}

// Whether `wider` has everything of `narrower` (equal, or fields added to structs).
bool Covers(const DataType& narrower, const DataType& wider) {
  if (SameTypeIgnoringNullability(narrower, wider)) return true;
  if (narrower.id() != TypeId::kStruct || wider.id() != TypeId::kStruct) return false;
  for (const Field& f : narrower.fields()) {
    int i = FieldIndex(wider.fields(), f.name);
    if (i < 0 || !Covers(f.type, wider.fields()[static_cast<size_t>(i)].type)) return false;
  }
  return true;
}

}  // namespace

bool GainsStructFields(const DataType& narrower, const DataType& wider) {
  return !SameTypeIgnoringNullability(narrower, wider) && Covers(narrower, wider);
}

DataType MergeStructFields(const DataType& table, const DataType& data) {
  if (table.id() != TypeId::kStruct || data.id() != TypeId::kStruct) return table;
  std::vector<Field> fields;
  for (const Field& f : table.fields()) {
    Field merged = f;
    int i = FieldIndex(data.fields(), f.name);
    if (i >= 0) merged.type = MergeStructFields(f.type, data.fields()[static_cast<size_t>(i)].type);
    fields.push_back(std::move(merged));
  }
  for (const Field& f : data.fields()) {
    if (FieldIndex(table.fields(), f.name) >= 0) continue;
    Field added = f;
    added.nullable = true;  // earlier rows have no value there
    fields.push_back(std::move(added));
  }
  return DataType::Struct(std::move(fields));
}

Result<Column> WidenStructColumn(const Column& in, const DataType& to) {
  if (SameTypeIgnoringNullability(in.type(), to)) return in;
  if (!GainsStructFields(in.type(), to)) {
    return Status::InvalidArgument("a column of type " + in.type().ToString() + " cannot be read as " + to.ToString() +
                                   " (only struct fields may be added)");
  }
  // Each child once, widened as a whole; then the rows, NULL where the input has none.
  const std::vector<Field>& out_fields = to.fields();
  std::vector<Column> children;
  std::vector<int> from;
  for (const Field& f : out_fields) {
    int i = FieldIndex(in.type().fields(), f.name);
    from.push_back(i);
    if (i < 0) {
      children.emplace_back();
    } else {
      LP_ASSIGN_OR_RETURN(Column c, WidenStructColumn(in.child(static_cast<size_t>(i)), f.type));
      children.push_back(std::move(c));
    }
  }
  Column out(to);
  out.Reserve(in.size());
  for (int64_t r = 0; r < in.size(); ++r) {
    if (in.IsNull(r)) {
      out.AppendNull();
      continue;
    }
    for (size_t j = 0; j < out_fields.size(); ++j) {
      if (from[j] < 0) {
        out.child(j).AppendNull();
      } else {
        out.child(j).AppendRange(children[j], r, 1);
      }
    }
    out.CloseStructRow();
  }
  return out;
}

}  // namespace lakepipe::delta
