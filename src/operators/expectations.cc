#include "operators/expectations.h"

#include "expr/eval.h"
#include "operators/filter.h"

namespace lakepipe::operators {

Schema QuarantineSchema(const Schema& input) {
  Schema s = input;
  s.AddField(Field{"_failed_constraints", DataType::Array(DataType::String(), false), false});
  return s;
}

namespace {

std::string RenderRow(const RecordBatch& batch, int64_t row) {
  std::string s = "{";
  std::vector<Value> values = batch.Row(row);
  for (size_t c = 0; c < values.size(); ++c) {
    if (c) s += ", ";
    s += batch.schema().field(c).name + ": " + values[c].ToString();
  }
  return s + "}";
}

}  // namespace

Result<ExpectationResult> ApplyExpectations(const RecordBatch& batch, const std::vector<Expectation>& expectations) {
  int64_t n = batch.num_rows();
  ExpectationResult result;
  // failed[e][row]
  std::vector<std::vector<uint8_t>> failed(expectations.size());
  std::vector<uint8_t> drop(static_cast<size_t>(n), 0), quarantine(static_cast<size_t>(n), 0);
  for (size_t e = 0; e < expectations.size(); ++e) {
    const Expectation& x = expectations[e];
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(x.predicate, batch));
    if (c->type().id() != TypeId::kBoolean && c->type().id() != TypeId::kNull) {
      return Status::InvalidArgument("expectation `" + x.name + "` (" + x.predicate.text + ") is " +
                                     c->type().ToString() + ", not boolean");
    }
    auto& f = failed[e];
    f.assign(static_cast<size_t>(n), 0);
    ExpectationCounts counts{x.name, 0, 0};
    bool void_type = c->type().id() == TypeId::kNull;
    for (int64_t i = 0; i < n; ++i) {
      bool fails = !void_type && c->IsValid(i) && c->data<uint8_t>()[i] == 0;
      f[static_cast<size_t>(i)] = fails;
      counts.failed += fails;
    }
    counts.passed = n - counts.failed;
    if (x.action == ViolationAction::kFail && counts.failed > 0) {
      for (int64_t i = 0; i < n; ++i) {
        if (f[static_cast<size_t>(i)]) {
          return Status::Aborted("expectation `" + x.name + "` (" + x.predicate.text + ") failed with ON VIOLATION FAIL UPDATE: " +
                                 std::to_string(counts.failed) + " of " + std::to_string(n) +
                                 " rows violate it; for example " + RenderRow(batch, i));
        }
      }
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!f[static_cast<size_t>(i)]) continue;
      if (x.action == ViolationAction::kDrop) drop[static_cast<size_t>(i)] = 1;
      if (x.action == ViolationAction::kQuarantine) quarantine[static_cast<size_t>(i)] = 1;
    }
    result.counts.push_back(counts);
  }
  std::vector<int32_t> kept_rows, quarantined_rows;
  for (int64_t i = 0; i < n; ++i) {
    if (quarantine[static_cast<size_t>(i)]) {
      quarantined_rows.push_back(static_cast<int32_t>(i));
    } else if (!drop[static_cast<size_t>(i)]) {
      kept_rows.push_back(static_cast<int32_t>(i));
    }
  }
  result.kept = static_cast<int64_t>(kept_rows.size()) == n ? batch : TakeRows(batch, kept_rows);
  RecordBatch q = TakeRows(batch, quarantined_rows);
  Column names(DataType::Array(DataType::String(), false));
  for (int32_t r : quarantined_rows) {
    for (size_t e = 0; e < expectations.size(); ++e) {
      if (failed[e][static_cast<size_t>(r)]) names.child(0).AppendString(expectations[e].name);
    }
    names.CloseListRow();
  }
  std::vector<ColumnPtr> cols = q.columns();
  cols.push_back(MakeColumn(std::move(names)));
  result.quarantined = RecordBatch(QuarantineSchema(batch.schema()), std::move(cols), q.num_rows());
  return result;
}

}  // namespace lakepipe::operators
