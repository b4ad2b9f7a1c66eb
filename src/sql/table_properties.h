// The table properties (TBLPROPERTIES) that lakepipe acts on, beyond storing every property
// in the Delta table's `metaData.configuration`: the commit rate of continuous mode
// (`pipelines.trigger.interval`), auto-compaction (`delta.autoOptimize.autoCompact`,
// `lakepipe.autoCompact.minNumFiles`),
// scheduled VACUUM (`lakepipe.vacuum.interval`), and the Delta retention properties that
// log cleanup and checkpoints read (`delta.logRetentionDuration`,
// `delta.deletedFileRetentionDuration`, `delta.checkpointInterval`).
//
// CheckTableProperty runs where the SQL is parsed, so `validate` and `run` refuse the same
// values; TablePropertiesOf then reads the checked values for the runtime. Keys of the
// `pipelines.` and `lakepipe.` namespaces that are not built are refused (never stored and
// ignored). Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lakepipe::sql {

// A materialized view commits at most once per this interval in continuous mode unless its
// `pipelines.trigger.interval` says otherwise (docs/continuous.md, "Commit rate").
inline constexpr int64_t kDefaultViewTriggerIntervalMicros = 1000 * 1000;

struct TableProperties {
  // pipelines.trigger.interval: at most one update (one commit) per interval in
  // continuous mode. nullopt: the default (1 s for materialized views, none for
  // streaming tables).
  std::optional<int64_t> trigger_interval_micros;
  // delta.autoOptimize.autoCompact: on unless 'false' for pipeline tables.
  bool auto_compact = true;
  // lakepipe.autoCompact.minNumFiles: the small files a partition needs before it is
  // compacted (nullopt: the default, 50, as Databricks' autoCompact.minNumFiles).
  std::optional<int> auto_compact_min_files;
  // lakepipe.vacuum.interval: VACUUM the table this often in continuous mode, keeping
  // delta.deletedFileRetentionDuration. nullopt: the default, once a day
  // (kDefaultVacuumIntervalMicros, as Lakeflow's daily maintenance); 0: 'off'.
  std::optional<int64_t> vacuum_interval_micros;
};
inline constexpr int64_t kDefaultVacuumIntervalMicros = 24LL * 3600 * 1000000;

// Checks one `key = value` pair of TBLPROPERTIES: InvalidArgument for a value the key
// cannot take, NotSupported for a `pipelines.` / `lakepipe.` key that is not built. The
// message names the key; the caller adds the location.
Status CheckTableProperty(std::string_view key, std::string_view value);

// The properties lakepipe acts on, from pairs CheckTableProperty accepted.
TableProperties TablePropertiesOf(const std::vector<std::pair<std::string, std::string>>& properties);

}  // namespace lakepipe::sql
