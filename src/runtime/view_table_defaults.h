// The table properties a pipeline's materialized views get unless their TBLPROPERTIES say
// otherwise (docs/continuous.md, "Materialized views: one hour of history"): a short
// history. And, below, those of its streaming tables (same page, "Streaming tables:
// bounded tombstones"): a sparser checkpoint.
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

// The defaults of a pipeline's streaming tables (and of their `<t>_quarantine` and
// `<t>_late`, created with their properties): a checkpoint every 100 versions, and 7 days
// of log.
//
// Why: a streaming table commits once per micro-batch, ~10 times a second at 5,000
// lines/s, so Delta's checkpoint every 10 commits meant one a second, each rewriting every
// active file and every tombstone. Removed files are kept as Delta's default keeps them (7
// days): their readers follow them by version. What keeps their tombstones bounded is
// auto-compaction's removes, tagged to expire after an hour (delta/mtime_kept.h), not a
// shorter retention. The log is kept as long as the removed files, not Delta's 30 days:
// once the daily VACUUM has deleted the small files a compaction replaced, a version older
// than that retention cannot be read anyway, and 30 days at 10 commits a second is ~26
// million commit files per table.
const std::vector<std::pair<std::string, std::string>>& StreamingTableDefaults();
void AddStreamingTableDefaults(std::map<std::string, std::string>* configuration);

// A materialized view is vacuumed this often in continuous mode unless its
// `lakepipe.vacuum.interval` says otherwise (streaming tables: once a day).
inline constexpr int64_t kDefaultViewVacuumIntervalMicros = 3600LL * 1000000;

}  // namespace lakepipe::runtime
