// Expectations (Lakeflow/DLT data-quality constraints) applied to a batch.
//
// Each constraint is a named boolean predicate with an action for rows where it is FALSE
// (a NULL result counts as passed, as Databricks defines failing as "returns false"):
//   WARN        keep the row, count the failure;
//   DROP        drop the row;
//   QUARANTINE  move the row to the quarantine output (our extension), which has the input
//               columns plus `_failed_constraints` array<string> naming every constraint the
//               row broke;
//   FAIL        stop: an Aborted status naming the constraint and showing one failing row.
// Per-constraint passed/failed counts are returned for the event log.
//
// Call order: bind each predicate against the batch schema, then ApplyExpectations per
// batch (a pure function; thread-safe).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "expr/binder.h"
#include "operators/selection.h"
#include "types/batch.h"

namespace lakepipe::operators {

enum class ViolationAction { kWarn, kDrop, kFail, kQuarantine };

struct Expectation {
  std::string name;
  expr::BoundExpr predicate;
  ViolationAction action = ViolationAction::kWarn;
};

struct ExpectationCounts {
  std::string name;
  int64_t passed = 0;
  int64_t failed = 0;
};

struct ExpectationResult {
  RecordBatch kept;         // input schema
  RecordBatch quarantined;  // QuarantineSchema(input schema)
  std::vector<ExpectationCounts> counts;  // one per expectation, in order
};

// The input schema plus `_failed_constraints array<string>`.
Schema QuarantineSchema(const Schema& input);

Result<ExpectationResult> ApplyExpectations(const RecordBatch& batch, const std::vector<Expectation>& expectations);

// As ApplyExpectations over the selected rows of `in`, with the kept rows handed back as a
// selection of the same batch (no copy; the predicates are evaluated over the whole batch,
// see EvaluateOverSelection). Counts, quarantined rows and a FAIL's message are those of
// ApplyExpectations(in.Materialize(), ...).
struct SelectedExpectationResult {
  SelectedBatch kept;
  RecordBatch quarantined;  // QuarantineSchema(input schema)
  std::vector<ExpectationCounts> counts;
};
Result<SelectedExpectationResult> ApplyExpectationsSelected(SelectedBatch in,
                                                            const std::vector<Expectation>& expectations);

}  // namespace lakepipe::operators
