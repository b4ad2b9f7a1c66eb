#include "operators/expectations.h"

#include <functional>

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

Result<SelectedExpectationResult> ApplyExpectationsSelected(SelectedBatch in,
                                                            const std::vector<Expectation>& expectations) {
  // The predicates over the whole batch; on an error, again over the selected rows alone.
  std::function<Result<std::vector<ColumnPtr>>(const RecordBatch&)> eval =
      [&](const RecordBatch& b) -> Result<std::vector<ColumnPtr>> {
    std::vector<ColumnPtr> results;
    for (const Expectation& x : expectations) {
      LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(x.predicate, b));
      if (c->type().id() != TypeId::kBoolean && c->type().id() != TypeId::kNull) {
        return Status::InvalidArgument("expectation `" + x.name + "` (" + x.predicate.text + ") is " +
                                       c->type().ToString() + ", not boolean");
      }
      results.push_back(std::move(c));
    }
    return results;
  };
  LP_ASSIGN_OR_RETURN(std::vector<ColumnPtr> results, EvaluateOverSelection(&in, eval));
  const RecordBatch& batch = in.batch;
  // The rows looked at, in order: the selection, or every row.
  const int64_t n = in.num_rows();
  auto row_at = [&](int64_t k) -> int32_t {
    return in.rows ? (*in.rows)[static_cast<size_t>(k)] : static_cast<int32_t>(k);
  };
  SelectedExpectationResult result;
  // failed[e][k] for the k-th row looked at
  std::vector<std::vector<uint8_t>> failed(expectations.size());
  std::vector<uint8_t> drop(static_cast<size_t>(n), 0), quarantine(static_cast<size_t>(n), 0);
  bool any_out = false;
  for (size_t e = 0; e < expectations.size(); ++e) {
    const Expectation& x = expectations[e];
    const Column& c = *results[e];
    auto& f = failed[e];
    f.assign(static_cast<size_t>(n), 0);
    ExpectationCounts counts{x.name, 0, 0};
    if (c.type().id() != TypeId::kNull) {
      const uint8_t* v = c.data<uint8_t>();
      const bool nulls = c.has_nulls();
      for (int64_t k = 0; k < n; ++k) {
        const int32_t i = row_at(k);
        const bool fails = v[i] == 0 && !(nulls && c.IsNull(i));
        f[static_cast<size_t>(k)] = fails;
        counts.failed += fails;
      }
    }
    counts.passed = n - counts.failed;
    if (x.action == ViolationAction::kFail && counts.failed > 0) {
      for (int64_t k = 0; k < n; ++k) {
        if (f[static_cast<size_t>(k)]) {
          return Status::Aborted("expectation `" + x.name + "` (" + x.predicate.text + ") failed with ON VIOLATION FAIL UPDATE: " +
                                 std::to_string(counts.failed) + " of " + std::to_string(n) +
                                 " rows violate it; for example " + RenderRow(batch, row_at(k)));
        }
      }
    }
    if (counts.failed > 0 && (x.action == ViolationAction::kDrop || x.action == ViolationAction::kQuarantine)) {
      any_out = true;
      std::vector<uint8_t>& mark = x.action == ViolationAction::kDrop ? drop : quarantine;
      for (int64_t k = 0; k < n; ++k) mark[static_cast<size_t>(k)] |= f[static_cast<size_t>(k)];
    }
    result.counts.push_back(counts);
  }
  std::vector<int32_t> kept_rows, quarantined_rows;
  std::vector<int64_t> quarantined_at;  // k of each quarantined row
  if (any_out) {
    kept_rows.reserve(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      if (quarantine[static_cast<size_t>(k)]) {
        quarantined_rows.push_back(row_at(k));
        quarantined_at.push_back(k);
      } else if (!drop[static_cast<size_t>(k)]) {
        kept_rows.push_back(row_at(k));
      }
    }
    result.kept = SelectedBatch(batch, std::move(kept_rows));
  } else {
    result.kept = std::move(in);
  }
  const RecordBatch& source = result.kept.batch;  // `in`'s batch, in either case
  RecordBatch q = TakeRows(source, quarantined_rows);
  Column names(DataType::Array(DataType::String(), false));
  for (int64_t k : quarantined_at) {
    for (size_t e = 0; e < expectations.size(); ++e) {
      if (failed[e][static_cast<size_t>(k)]) names.child(0).AppendString(expectations[e].name);
    }
    names.CloseListRow();
  }
  std::vector<ColumnPtr> cols = q.columns();
  cols.push_back(MakeColumn(std::move(names)));
  result.quarantined = RecordBatch(QuarantineSchema(source.schema()), std::move(cols), q.num_rows());
  return result;
}

Result<ExpectationResult> ApplyExpectations(const RecordBatch& batch, const std::vector<Expectation>& expectations) {
  LP_ASSIGN_OR_RETURN(SelectedExpectationResult selected, ApplyExpectationsSelected(SelectedBatch(batch), expectations));
  ExpectationResult result;
  result.kept = selected.kept.Materialize();
  result.quarantined = std::move(selected.quarantined);
  result.counts = std::move(selected.counts);
  return result;
}

}  // namespace lakepipe::operators
