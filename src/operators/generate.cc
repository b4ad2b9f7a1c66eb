#include "operators/generate.h"

#include "expr/eval.h"
#include "formats/json/json_value.h"
#include "operators/filter.h"

namespace lakepipe::operators {

Result<RecordBatch> Generate(const RecordBatch& batch, const expr::BoundGenerator& g, const Schema& output_schema) {
  using expr::GeneratorKind;
  LP_ASSIGN_OR_RETURN(ColumnPtr arg, expr::Evaluate(g.args[0], batch));
  const Column& in = *arg;
  std::vector<int32_t> rows;  // the input row of each output row
  std::vector<Column> gen;
  for (const Field& f : g.outputs) gen.emplace_back(f.type);
  auto null_row = [&](int64_t r) {
    rows.push_back(static_cast<int32_t>(r));
    for (auto& c : gen) c.AppendNull();
  };
  int64_t n = batch.num_rows();
  if (g.kind == GeneratorKind::kJsonTuple) {
    json::JsonTextParser parser;
    std::vector<std::pair<bool, std::string>> values;
    for (int64_t r = 0; r < n; ++r) {
      rows.push_back(static_cast<int32_t>(r));
      bool object = in.type().id() != TypeId::kNull && !in.IsNull(r) && parser.TopLevelValues(in.GetString(r), g.keys, &values);
      for (size_t k = 0; k < gen.size(); ++k) {
        if (object && values[k].first) gen[k].AppendString(values[k].second); else gen[k].AppendNull();
      }
    }
  } else {
    bool is_map = in.type().id() == TypeId::kMap;
    for (int64_t r = 0; r < n; ++r) {
      int64_t begin = 0, end = 0;
      if (in.type().id() != TypeId::kNull && !in.IsNull(r)) {
        begin = in.offsets()[r];
        end = in.offsets()[r + 1];
      }
      if (begin == end) {
        if (g.outer) null_row(r);
        continue;
      }
      for (int64_t j = begin; j < end; ++j) rows.push_back(static_cast<int32_t>(r));
      size_t c = 0;
      if (g.kind == GeneratorKind::kPosExplode) {
        for (int64_t j = begin; j < end; ++j) gen[0].Append<int32_t>(static_cast<int32_t>(j - begin));
        c = 1;
      }
      if (g.kind == GeneratorKind::kInline) {
        const Column& structs = in.child(0);
        for (int64_t j = begin; j < end; ++j) {
          for (size_t f = 0; f < gen.size(); ++f) {
            if (structs.IsNull(j)) gen[f].AppendNull(); else gen[f].AppendRange(structs.child(f), j, 1);
          }
        }
      } else if (is_map) {
        gen[c].AppendRange(in.child(0), begin, end - begin);
        gen[c + 1].AppendRange(in.child(1), begin, end - begin);
      } else {
        gen[c].AppendRange(in.child(0), begin, end - begin);
      }
    }
  }
  RecordBatch base = TakeRows(batch, rows);
  std::vector<ColumnPtr> cols;
  for (size_t c = 0; c < base.num_columns(); ++c) cols.push_back(base.column_ptr(c));
  for (auto& c : gen) cols.push_back(MakeColumn(std::move(c)));
  return RecordBatch(output_schema, std::move(cols), static_cast<int64_t>(rows.size()));
}

}  // namespace lakepipe::operators
