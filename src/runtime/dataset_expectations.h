// DatasetExpectations: a dataset's expectations (`CONSTRAINT name EXPECT (...) ON VIOLATION
// ...`), bound once against the rows they check, then applied to its rows part after part:
// the rows failing a DROP ROW expectation go, those failing a QUARANTINE one are handed
// back for `<table>_quarantine`, a failing FAIL UPDATE one fails the update, and every
// expectation's passed and failed counts (with the rows dropped and quarantined) are added
// to a TableReport.
//
// Owns the bound predicates. Thread-safety: Apply is const; parts may be applied on any
// thread, one at a time. Call order: Bind, then Apply any number of times.
#pragma once

#include <vector>

#include "common/status.h"
#include "operators/expectations.h"
#include "operators/selection.h"
#include "runtime/pipeline_runner.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"

namespace lakepipe::runtime {

class DatasetExpectations {
 public:
  // `def`'s expectations, bound for dataset `ds` (an AUTO CDC target's check its change
  // events, before they are applied).
  static Result<DatasetExpectations> Bind(const sql::ResolvedDataset& ds, const sql::DatasetDefinition& def);

  bool empty() const { return expectations_.empty(); }

  // Applies them to `rows`: the rows kept replace them (selections of the same batches,
  // copied by no one here); returns the rows to quarantine. The counts are added to
  // `report`, whose `expectations` gets one entry per expectation, in order, when it has
  // none yet.
  Result<std::vector<RecordBatch>> Apply(std::vector<operators::SelectedBatch>* rows, TableReport* report) const;
  // The same over whole batches.
  Result<std::vector<RecordBatch>> Apply(std::vector<RecordBatch>* rows, TableReport* report) const;

 private:
  std::vector<operators::Expectation> expectations_;
  std::vector<ExpectationReport> zero_counts_;  // what `report` starts from
};

}  // namespace lakepipe::runtime
