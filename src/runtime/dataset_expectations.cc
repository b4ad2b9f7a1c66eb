#include "runtime/dataset_expectations.h"

#include "expr/binder.h"
#include "sql/lexer.h"

namespace lakepipe::runtime {

Result<DatasetExpectations> DatasetExpectations::Bind(const sql::ResolvedDataset& ds,
                                                      const sql::DatasetDefinition& def) {
  DatasetExpectations out;
  for (const auto& e : def.expectations) {
    LP_ASSIGN_OR_RETURN(expr::BoundExpr predicate,
                        sql::BindExpectation(e, ds, ds.apply_changes ? ds.apply_changes->source_schema : ds.schema));
    operators::Expectation x;
    x.name = e.name;
    x.predicate = std::move(predicate);
    switch (e.action) {
      case sql::ViolationAction::kWarn: x.action = operators::ViolationAction::kWarn; break;
      case sql::ViolationAction::kDropRow: x.action = operators::ViolationAction::kDrop; break;
      case sql::ViolationAction::kFailUpdate: x.action = operators::ViolationAction::kFail; break;
      case sql::ViolationAction::kQuarantine: x.action = operators::ViolationAction::kQuarantine; break;
    }
    out.expectations_.push_back(std::move(x));
    out.zero_counts_.push_back({e.name, sql::ToLower(sql::ViolationActionName(e.action)), 0, 0});
  }
  return out;
}

Result<std::vector<RecordBatch>> DatasetExpectations::Apply(std::vector<operators::SelectedBatch>* rows,
                                                            TableReport* report) const {
  std::vector<RecordBatch> quarantined;
  if (expectations_.empty()) return quarantined;
  if (report->expectations.empty()) report->expectations = zero_counts_;
  std::vector<operators::SelectedBatch> kept;
  for (auto& b : *rows) {
    const int64_t n = b.num_rows();
    LP_ASSIGN_OR_RETURN(operators::SelectedExpectationResult result,
                        operators::ApplyExpectationsSelected(std::move(b), expectations_));
    for (size_t i = 0; i < result.counts.size(); ++i) {
      report->expectations[i].passed += result.counts[i].passed;
      report->expectations[i].failed += result.counts[i].failed;
    }
    report->rows_dropped += n - result.kept.num_rows() - result.quarantined.num_rows();
    report->rows_quarantined += result.quarantined.num_rows();
    if (result.kept.num_rows() > 0) kept.push_back(std::move(result.kept));
    if (result.quarantined.num_rows() > 0) quarantined.push_back(std::move(result.quarantined));
  }
  *rows = std::move(kept);
  return quarantined;
}

Result<std::vector<RecordBatch>> DatasetExpectations::Apply(std::vector<RecordBatch>* rows, TableReport* report) const {
  if (expectations_.empty()) return std::vector<RecordBatch>();
  std::vector<operators::SelectedBatch> selected;
  selected.reserve(rows->size());
  for (auto& b : *rows) selected.emplace_back(std::move(b));
  rows->clear();
  LP_ASSIGN_OR_RETURN(std::vector<RecordBatch> quarantined, Apply(&selected, report));
  for (const auto& b : selected) rows->push_back(b.Materialize());
  return quarantined;
}

}  // namespace lakepipe::runtime
