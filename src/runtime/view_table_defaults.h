// The table properties a pipeline's materialized views get unless their TBLPROPERTIES say
// otherwise (docs/continuous.md, "Materialized views: short history"): a short history.
//
// Why: in continuous mode a view commits up to once per second (pipelines.trigger.interval)
// and each version replaces its result file, so each version leaves one removed file and
// one tombstone. With Delta's defaults (tombstones and removed files kept 7 days, the log
// 30 days, a checkpoint every 10 versions) a view carried ~600,000 tombstones in memory
// and in every checkpoint after a week, and kept ~260,000 checkpoints and 2.6 million
// commit files after a month (docs/BENCHMARKS.md, "Tombstones"). A view is recomputed
// from its inputs, never appended to: its readers want its latest version, and an old one
// can be recomputed from its inputs' history. So a view keeps one hour of removed files
// and of log, checkpoints every 100 versions, and is vacuumed every hour: at one version
// per second that is at most ~3,600 tombstones per checkpoint, ~7,200 removed files and
// ~3,700 log files per view, flat however long the run.
//
// The properties are written into the view's Delta table when lakepipe creates it (so
// every Delta reader and `lakepipe table vacuum` see them); a key the user set, in any
// letter case, is left as the user set it. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lakepipe::runtime {

// The defaults, key -> value.
const std::vector<std::pair<std::string, std::string>>& MaterializedViewTableDefaults();

// Adds to `configuration` each default whose key it does not hold (compared ignoring case).
void AddMaterializedViewTableDefaults(std::map<std::string, std::string>* configuration);

// A materialized view is vacuumed this often in continuous mode unless its
// `lakepipe.vacuum.interval` says otherwise (streaming tables: once a day).
inline constexpr int64_t kDefaultViewVacuumIntervalMicros = 3600LL * 1000000;

}  // namespace lakepipe::runtime
