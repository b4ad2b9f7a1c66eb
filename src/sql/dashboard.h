// The dashboard a pipeline declares (docs/dashboard.md): the `dashboard:` section of
// pipeline.yaml, or a YAML file it names (`dashboard: dashboard.yaml`). A title and a list
// of charts; each chart is a SELECT over the pipeline's tables and a type (kpi, bar, line,
// table) with the columns that type draws.
//
// Two steps, as for the rest of pipeline.yaml:
//   - ParseDashboard (from LoadPipelineSettings): keys, types and values; unknown keys are
//     refused with their key path (`dashboard.charts[2].colour`) and pipeline.yaml:line:col;
//   - ResolveDashboard (from ResolvePipeline, so `validate` and `run` agree): plans every
//     chart's SQL against the resolved tables' schemas without reading data, and checks that
//     the columns the type needs exist and fit (a bar's values are numbers, ...).
// A pipeline without `dashboard:` gets DefaultDashboard: one table chart per Gold table.
// Pure functions; thread-safe given a thread-safe FileSystem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "sql/source.h"
#include "types/schema.h"

namespace YAML {
class Node;
}

namespace lakepipe::sql {

enum class ChartType { kKpi, kBar, kLine, kTable };
const char* ChartTypeName(ChartType t);  // "kpi", "bar", "line", "table"

// A value column a bar or line chart draws (one series each).
struct ChartSeries {
  std::string column;
  std::string title;   // legend / tooltip name (default: the column)
  std::string format;  // number format (below); default "number"
};

// Number formats the page knows: number (up to 2 decimals), integer, money (2 decimals),
// percent (a ratio: 0.25 is 25 %), compact (1.2K), text (as is).
bool IsChartFormat(const std::string& f);

struct ChartSpec {
  std::string id;        // [A-Za-z0-9_-]+, unique in the dashboard; the URL of its rows
  std::string title;
  ChartType type = ChartType::kTable;
  std::string sql;       // one SELECT over the pipeline's tables
  std::string subtitle;  // the card's hint (default: the tables it reads)
  int64_t limit = 0;     // rows drawn (the query's first ones); 0: the type's default
  int64_t refresh_micros = 0;  // also re-read this often; 0: only when a table it reads changes
  int width = 0;         // grid columns of 12 (bar, line, table); 0: the type's default
  // kpi: the first row's `value`, in `format`; `note` is a line under it in which
  // {column} or {column|format} is replaced by that column of the first row.
  std::string value;
  std::string format;
  std::string note;
  // bar, line: categories / x values and one series per `y`.
  std::string x;
  std::vector<ChartSeries> y;
  bool horizontal = true;        // bar: bars grow to the right, first row on top
  bool share = false;            // bar: label each bar with its share of the total
  bool highlight_first = false;  // bar: the first row's bar in the accent colour
  std::string color;             // bar, line: accent, ok, warn, bad, muted (default accent)
  std::vector<std::string> tooltip;  // bar, line: more columns shown in the tooltip
  int moving_average = 0;        // line: a trailing mean of the first series over N points
  std::string moving_average_title;
  // table: the columns shown, in order (default: all).
  std::vector<std::string> columns;

  SourceLocation loc;      // the chart's entry
  SourceLocation sql_loc;  // its sql: value
  std::string path;        // "dashboard.charts[2]": the key path in messages
};

struct DashboardSpec {
  std::string title;  // default: the pipeline's name
  std::vector<ChartSpec> charts;
  std::string file;   // where it was read: pipeline.yaml or the file `dashboard:` names
  std::string source_file;  // `dashboard: FILE` as written (relative: to the folder); empty inline
  SourceLocation loc;
};

// A chart after planning: its query's columns and the stored tables it reads (views are
// followed to the tables under them), which is when the page re-reads it.
struct ResolvedChart {
  ChartSpec spec;
  Schema columns;
  std::vector<std::string> tables;
};

struct ResolvedDashboard {
  std::string title;
  bool declared = false;  // false: DefaultDashboard
  std::vector<ResolvedChart> charts;
  const ResolvedChart* Find(const std::string& id) const;
};

// Limits of every chart.
constexpr int64_t kMaxChartRows = 10000;
int64_t DefaultChartLimit(ChartType t);

struct Pipeline;
struct ResolvedPipeline;

// Reads a `dashboard:` node: a mapping, or a file name (relative to `folder`) holding one.
// `display_name` is the settings file as messages name it.
Result<DashboardSpec> ParseDashboard(const YAML::Node& node, const std::string& display_name,
                                     const std::string& folder, FileSystem* fs);

// Plans the declared charts against `resolved` (its datasets must be resolved), or builds
// the default dashboard when the pipeline declares none. Errors name the chart's key path
// and file:line:col.
Result<ResolvedDashboard> ResolveDashboard(const Pipeline& pipeline, const ResolvedPipeline& resolved);

}  // namespace lakepipe::sql
