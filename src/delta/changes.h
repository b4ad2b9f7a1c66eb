// Reading a table's changes by version, as Spark's Delta streaming source does: the rows
// that data-changing commits start..end appended. A downstream streaming flow reads its
// upstream table this way, one planned version range per micro-batch.
//
// Commits that only rearrange data (OPTIMIZE: add/remove with dataChange = false)
// contribute nothing. A commit that deletes or rewrites rows (a remove with
// dataChange = true, e.g. an overwrite) cannot be expressed as appended rows: it is an
// error naming the version, unless skip_change_commits is set (then its adds are ignored
// too, as Spark's skipChangeCommits option does); the error points at the change data
// feed (change_feed.h), which follows such commits. Pure function of the log; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "delta/table.h"
#include "types/batch.h"

namespace lakepipe::delta {

struct ChangeReadOptions {
  std::vector<std::string> columns;  // table columns to return; empty: all
  bool skip_change_commits = false;
};

// Rows appended by versions [start_version, end_version] of `table`, in commit order,
// in the table schema as of end_version.
Result<std::vector<RecordBatch>> ReadAppends(const DeltaTable& table, int64_t start_version,
                                             int64_t end_version, const ChangeReadOptions& options);

}  // namespace lakepipe::delta
