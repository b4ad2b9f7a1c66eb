// The pipeline folder: `pipeline.yaml` (settings) plus the Lakeflow SQL files it lists.
//
// pipeline.yaml keys (unknown keys are errors naming the key and listing the known ones):
//   name: orders                      # required
//   storage: ./storage                # tables at <storage>/<table>/ (default ./storage)
//   libraries: [sql/*.sql, extra.sql] # SQL files or globs (wildcards in the file name
//                                     # part; a folder means its *.sql); default *.sql
//   configuration: {landing: ./landing}   # values for ${key} in the SQL
//   continuous: true                  # `lakepipe run` keeps running (default); false:
//                                     # it processes what is there and exits (--once)
//   triggers:                         # per table; default: continuous or as triggered
//     silver_orders: {interval: 5m}   # s, m, h, d
//     gold_daily: {at: ["08:00", "20:00"]}   # daily windows, local time
//     backfill: once                  # also `continuous`
//   publish:                          # Gold to PostgreSQL (docs/publish.md); ${VAR} in dsn
//     postgres: {dsn: "host=... dbname=...", schema: gold, reader_role: bi_reader,
//                at: ["23:00"],      # optional: publish daily at these local times (default:
//                                    # as soon as a table commits)
//                tables: [gold_kpis, {table: gold_revenue_by_country, target: revenue, key: [Country]}]}
//     kafka:                          # new rows / change feed to topics (docs/kafka.md "Sink")
//       {bootstrap_servers: "${kafka}", properties: {linger.ms: "20"},
//        tables: [{table: silver_orders, topic: orders-clean, key: TransactionNo}]}
//   server: {host: 127.0.0.1, port: 8080, tokens: ["${API_TOKEN}"]}   # tokens required off
//                                     # loopback; ${VAR} from configuration or environment
//   sla:                              # freshness objectives (docs/sla.md): per layer
//     gold: {max_lag: 2h}             # (bronze, silver, gold: tables named <layer>_*) or
//     bronze_orders: {max_lag: 5m}    # per table (a table's entry wins over its layer's)
//   dashboard:                        # the page's charts (docs/dashboard.md; sql/dashboard.h),
//     {title: Orders, charts: [{id: kpis, type: kpi, sql: "SELECT ...", value: x}]}
//                                     # or a file holding that mapping: dashboard: dash.yaml
//   catalog: ../catalog.yaml          # maps other pipelines' names to their storage, so the
//                                     # SQL reads `<pipeline>.<table>` (sql/pipeline_catalog.h,
//                                     # which reads this key; docs/catalog.md)
// Relative paths (storage, libraries, read_files paths) are relative to the pipeline
// folder. Overrides (`--set key=value`) replace `storage` or a configuration value;
// `--set triggers=continuous` (for tests and demos) drops every `triggers:` entry and the
// publication times (`publish.postgres.at`) after checking them: every table runs as soon
// as its input changes, and publication follows each commit.
// Errors name pipeline.yaml:line:col. All file access goes through FileSystem.
// Pure functions; thread-safe given a thread-safe FileSystem.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "sql/dashboard.h"
#include "sql/source.h"
#include "sql/statement.h"

namespace lakepipe::sql {

struct TriggerSpec {
  enum class Kind { kContinuous, kInterval, kDaily, kOnce };
  Kind kind = Kind::kContinuous;
  int64_t interval_micros = 0;      // kInterval
  std::vector<int> daily_minutes;   // kDaily: minutes after midnight, ascending
  SourceLocation loc;               // the table's key in pipeline.yaml
  std::string ToString() const;     // "every 5m", "daily at 08:00, 20:00", "once", "continuous"
};

// The first of the daily times `minutes` (minutes after local midnight, ascending) at or
// after `now_micros`, in microseconds since the epoch (daily triggers, publication times).
int64_t NextDailyMicros(const std::vector<int>& minutes, int64_t now_micros);

struct PublishTable {
  std::string table;             // pipeline table
  std::string target;            // Postgres table name (default: same)
  std::vector<std::string> key;  // upsert key columns (empty: replace)
  SourceLocation loc;
};

struct PostgresPublish {
  std::string dsn;          // libpq connection string
  std::string schema = "public";
  std::string reader_role;  // read-only role granted SELECT for BI (empty: none)
  std::vector<int> daily_minutes;  // `at:` local times to publish (minutes after midnight,
                                   // ascending); empty: as soon as a table commits
  std::vector<PublishTable> tables;
  SourceLocation loc;
};

// One table sent to a Kafka topic (publish.kafka.tables[]).
struct KafkaPublishTable {
  std::string table;  // pipeline table
  std::string topic;  // Kafka topic (default: the table's name)
  std::string key;    // column whose value is each message's key (empty: no key)
  SourceLocation loc;
};

struct KafkaPublish {
  std::string bootstrap_servers;                  // host:port[,host:port]
  std::map<std::string, std::string> properties;  // librdkafka producer properties
  std::vector<KafkaPublishTable> tables;
  SourceLocation loc;
};

// One table written as plain files (publish.files[], publish/file_export.h).
struct FilesPublishTable {
  std::string table;         // pipeline table
  std::string path;          // export folder, as written (relative: to the pipeline folder)
  std::string format = "csv";  // csv | json | parquet
  std::string partition_by;  // a column: one file per value; empty: one file
  SourceLocation loc;
};

struct FilesPublish {
  std::vector<FilesPublishTable> tables;
  SourceLocation loc;
};

struct PublishSettings {
  std::optional<PostgresPublish> postgres;
  std::optional<KafkaPublish> kafka;
  std::optional<FilesPublish> files;
};

struct ServerSettings {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> tokens;
  SourceLocation loc;
  bool IsLoopback() const;  // IsLoopbackAddress(host)
};

// Whether `host` is a loopback address: IPv4 127.0.0.0/8 or ::1 (also ::ffff:127.x.y.z),
// parsed as an address, or exactly "localhost". Any other name is not loopback, since
// what it resolves to is not ours to trust.
bool IsLoopbackAddress(const std::string& host);

// One `sla:` entry: a layer (`bronze`, `silver`, `gold`: the tables whose names start with
// `<layer>_`) or a table, and how far behind its inputs it may fall (docs/sla.md).
struct SlaSpec {
  std::string scope;          // as written: a layer or a table name
  bool layer = false;         // scope is bronze / silver / gold
  int64_t max_lag_micros = 0;
  SourceLocation loc;
};

struct PipelineSettings {
  std::string folder;        // the pipeline folder as given
  std::string settings_file; // <folder>/pipeline.yaml
  std::string name;
  std::string storage;       // resolved against the folder
  std::vector<std::string> libraries;  // as written
  std::vector<std::string> sql_files;  // resolved paths of every SQL file, in library order
  std::map<std::string, std::string> configuration;
  bool continuous = true;
  std::map<std::string, TriggerSpec> triggers;
  PublishSettings publish;
  std::optional<ServerSettings> server;
  std::vector<SlaSpec> slas;  // in pipeline.yaml order
  std::optional<DashboardSpec> dashboard;  // none: the default dashboard
};

struct Pipeline {
  PipelineSettings settings;
  std::vector<DatasetDefinition> datasets;  // in file order, then statement order
  std::vector<FlowDefinition> flows;        // attached to their tables (AttachFlows)
};

// Parses "key=value" strings (from --set) into a map; InvalidArgument on a missing '='.
Result<std::map<std::string, std::string>> ParseOverrides(const std::vector<std::string>& assignments);

// Reads <folder>/pipeline.yaml and finds the SQL files (does not parse them).
Result<PipelineSettings> LoadPipelineSettings(const std::string& folder,
                                              const std::map<std::string, std::string>& overrides = {},
                                              FileSystem* fs = FileSystem::Default());

// Parses pipeline.yaml text (for tests); `display_name` is used in messages. Library
// globs are expanded against `folder` through `fs`.
Result<PipelineSettings> ParsePipelineSettings(const std::string& yaml_text, const std::string& folder,
                                               const std::string& display_name,
                                               const std::map<std::string, std::string>& overrides,
                                               FileSystem* fs);

// LoadPipelineSettings, then parses every SQL file (with `${key}` substitution).
Result<Pipeline> LoadPipeline(const std::string& folder,
                              const std::map<std::string, std::string>& overrides = {},
                              FileSystem* fs = FileSystem::Default());

// "5m" / "30s" / "2h" / "1d" / "90 seconds" -> microseconds.
Result<int64_t> ParseDuration(const std::string& text);

}  // namespace lakepipe::sql
