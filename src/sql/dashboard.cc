#include "sql/dashboard.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "sql/lexer.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"
#include "sql/select.h"
#include "sql/yaml_reader.h"

namespace lakepipe::sql {

namespace {

const std::vector<std::string> kFormats = {"number", "integer", "money", "percent", "compact", "text"};
const std::vector<std::string> kColors = {"accent", "ok", "warn", "bad", "muted"};

bool IsId(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Reads one dashboard document; every error names the file, line, column and key path.
class DashboardReader : public YamlReader {
 public:
  explicit DashboardReader(std::string file) : YamlReader(std::move(file)) {}

  Result<int64_t> Int(const YAML::Node& n, const std::string& where, int64_t min, int64_t max) {
    if (n.IsScalar()) {
      const std::string& t = n.Scalar();
      bool digits = !t.empty() && t.size() < 12 &&
                    std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      if (digits) {
        int64_t v = std::stoll(t);
        if (v >= min && v <= max) return v;
      }
    }
    return ErrorAt(Loc(n), where + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }

  Result<std::string> OneOf(const YAML::Node& n, const std::string& where, const std::vector<std::string>& allowed) {
    LP_ASSIGN_OR_RETURN(std::string v, String(n, where));
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      return ErrorAt(Loc(n), where + ": `" + v + "` is not one of " + YamlReader::JoinNames(allowed));
    }
    return v;
  }

  Result<std::vector<std::string>> Names(const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar() && !n.IsSequence()) return ErrorAt(Loc(n), where + " must be a column name or a list of them");
    return StringList(n, where, "column names");
  }

  Result<std::vector<ChartSeries>> Series(const YAML::Node& n, const std::string& where) {
    std::vector<ChartSeries> out;
    auto one = [&](const YAML::Node& item, const std::string& at) -> Status {
      ChartSeries s;
      if (item.IsScalar()) {
        s.column = item.Scalar();
      } else {
        LP_RETURN_IF_ERROR(CheckKeys(item, {"column", "title", "format"}, at, ""));
        if (!item["column"]) return ErrorAt(Loc(item), at + " needs column:");
        LP_ASSIGN_OR_RETURN(s.column, String(item["column"], at + ".column"));
        if (item["title"]) {
          LP_ASSIGN_OR_RETURN(s.title, String(item["title"], at + ".title"));
        }
        if (item["format"]) {
          LP_ASSIGN_OR_RETURN(s.format, OneOf(item["format"], at + ".format", kFormats));
        }
      }
      if (s.title.empty()) s.title = s.column;
      if (s.format.empty()) s.format = "number";
      out.push_back(std::move(s));
      return Status::OK();
    };
    if (n.IsSequence()) {
      if (n.size() == 0) return ErrorAt(Loc(n), where + " needs at least one column");
      for (size_t i = 0; i < n.size(); ++i) LP_RETURN_IF_ERROR(one(n[i], where + "[" + std::to_string(i) + "]"));
    } else {
      LP_RETURN_IF_ERROR(one(n, where));
    }
    return out;
  }

  Result<ChartSpec> Chart(const YAML::Node& n, size_t index) {
    ChartSpec c;
    c.path = "dashboard.charts[" + std::to_string(index) + "]";
    c.loc = Loc(n);
    const std::string& at = c.path;
    if (!n.IsMap()) return ErrorAt(Loc(n), at + " must be a mapping with id, title, type and sql");
    for (const char* required : {"id", "type", "sql"}) {
      if (!n[required]) return ErrorAt(Loc(n), at + " needs " + required + ":");
    }
    LP_ASSIGN_OR_RETURN(c.id, String(n["id"], at + ".id"));
    if (!IsId(c.id)) {
      return ErrorAt(Loc(n["id"]), at + ".id: `" + c.id + "` must be 1 to 64 letters, digits, _ or - (it is part of a URL)");
    }
    LP_ASSIGN_OR_RETURN(std::string type, OneOf(n["type"], at + ".type", {"kpi", "bar", "line", "table"}));
    c.type = type == "kpi" ? ChartType::kKpi : type == "bar" ? ChartType::kBar : type == "line" ? ChartType::kLine
                                                                                                : ChartType::kTable;
    std::vector<std::string> known = {"id", "title", "type", "sql", "subtitle", "limit", "refresh"};
    switch (c.type) {
      case ChartType::kKpi: known.insert(known.end(), {"value", "format", "note"}); break;
      case ChartType::kBar:
        known.insert(known.end(), {"width", "x", "y", "horizontal", "share", "highlight_first", "color", "tooltip"});
        break;
      case ChartType::kLine: known.insert(known.end(), {"width", "x", "y", "color", "tooltip", "moving_average"}); break;
      case ChartType::kTable: known.insert(known.end(), {"width", "columns"}); break;
    }
    LP_RETURN_IF_ERROR(CheckKeys(n, known, at, " of a " + type + " chart"));
    c.title = c.id;
    if (n["title"]) {
      LP_ASSIGN_OR_RETURN(c.title, String(n["title"], at + ".title"));
    }
    LP_ASSIGN_OR_RETURN(c.sql, String(n["sql"], at + ".sql"));
    c.sql_loc = Loc(n["sql"]);
    if (n["subtitle"]) {
      LP_ASSIGN_OR_RETURN(c.subtitle, String(n["subtitle"], at + ".subtitle"));
    }
    if (n["limit"]) {
      LP_ASSIGN_OR_RETURN(c.limit, Int(n["limit"], at + ".limit", 1, kMaxChartRows));
    }
    if (n["refresh"]) {
      LP_ASSIGN_OR_RETURN(std::string text, String(n["refresh"], at + ".refresh"));
      Result<int64_t> d = ParseDuration(text);
      if (!d.ok()) return ErrorAt(Loc(n["refresh"]), at + ".refresh: " + d.status().message());
      if (*d < 1000000) return ErrorAt(Loc(n["refresh"]), at + ".refresh must be at least 1s");
      c.refresh_micros = *d;
    }
    if (n["width"]) {
      LP_ASSIGN_OR_RETURN(int64_t w, Int(n["width"], at + ".width", 1, 12));
      c.width = static_cast<int>(w);
    }
    if (n["value"]) {
      LP_ASSIGN_OR_RETURN(c.value, String(n["value"], at + ".value"));
    }
    if (n["format"]) {
      LP_ASSIGN_OR_RETURN(c.format, OneOf(n["format"], at + ".format", kFormats));
    }
    if (n["note"]) {
      LP_ASSIGN_OR_RETURN(c.note, String(n["note"], at + ".note"));
    }
    if (n["x"]) {
      LP_ASSIGN_OR_RETURN(c.x, String(n["x"], at + ".x"));
    }
    if (n["y"]) {
      LP_ASSIGN_OR_RETURN(c.y, Series(n["y"], at + ".y"));
    }
    if (n["horizontal"]) {
      LP_ASSIGN_OR_RETURN(c.horizontal, Bool(n["horizontal"], at + ".horizontal"));
    }
    if (n["share"]) {
      LP_ASSIGN_OR_RETURN(c.share, Bool(n["share"], at + ".share"));
    }
    if (n["highlight_first"]) {
      LP_ASSIGN_OR_RETURN(c.highlight_first, Bool(n["highlight_first"], at + ".highlight_first"));
    }
    if (n["color"]) {
      LP_ASSIGN_OR_RETURN(c.color, OneOf(n["color"], at + ".color", kColors));
    }
    if (n["tooltip"]) {
      LP_ASSIGN_OR_RETURN(c.tooltip, Names(n["tooltip"], at + ".tooltip"));
    }
    if (n["columns"]) {
      LP_ASSIGN_OR_RETURN(c.columns, Names(n["columns"], at + ".columns"));
    }
    if (const YAML::Node& m = n["moving_average"]) {
      std::string where = at + ".moving_average";
      if (m.IsScalar()) {
        LP_ASSIGN_OR_RETURN(int64_t w, Int(m, where, 2, 1000));
        c.moving_average = static_cast<int>(w);
      } else {
        LP_RETURN_IF_ERROR(CheckKeys(m, {"window", "title"}, where, ""));
        if (!m["window"]) return ErrorAt(Loc(m), where + " needs window: (points averaged)");
        LP_ASSIGN_OR_RETURN(int64_t w, Int(m["window"], where + ".window", 2, 1000));
        c.moving_average = static_cast<int>(w);
        if (m["title"]) {
          LP_ASSIGN_OR_RETURN(c.moving_average_title, String(m["title"], where + ".title"));
        }
      }
      if (c.moving_average_title.empty()) c.moving_average_title = std::to_string(c.moving_average) + "-point average";
    }
    return c;
  }

  Result<DashboardSpec> Read(const YAML::Node& n) {
    DashboardSpec d;
    d.file = file();
    d.loc = Loc(n);
    LP_RETURN_IF_ERROR(CheckKeys(n, {"title", "charts"}, "dashboard", ""));
    if (n["title"]) {
      LP_ASSIGN_OR_RETURN(d.title, String(n["title"], "dashboard.title"));
    }
    const YAML::Node& charts = n["charts"];
    if (!charts || !charts.IsSequence() || charts.size() == 0) {
      return ErrorAt(charts ? Loc(charts) : Loc(n), "dashboard needs charts: a list of {id, title, type, sql, ...}");
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < charts.size(); ++i) {
      LP_ASSIGN_OR_RETURN(ChartSpec c, Chart(charts[i], i));
      if (!ids.insert(c.id).second) return ErrorAt(Loc(charts[i]["id"]), c.path + ".id: `" + c.id + "` is used twice");
      d.charts.push_back(std::move(c));
    }
    return d;
  }

};

bool Numeric(const DataType& t) { return t.is_numeric(); }

// A table name as SQL: bare when it is a plain identifier, else in backticks.
std::string Quoted(const std::string& name) {
  bool plain = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (plain) return name;
  std::string out = "`";
  for (char c : name) out += c == '`' ? std::string("``") : std::string(1, c);
  return out + "`";
}

// The column `name` of a chart's query, or an error naming the chart's key (`key`).
Result<const Field*> Column(const ChartSpec& c, const Schema& columns, const std::string& name,
                           const std::string& key) {
  int i = columns.FindField(name);
  if (i < 0) {
    return ErrorAt(c.loc, c.path + " (" + c.id + ")." + key + ": `" + name + "` is not a column of the chart's query; its columns: " +
                              YamlReader::JoinNames(columns.names()));
  }
  return &columns.fields()[static_cast<size_t>(i)];
}

// Checks that the columns a chart type draws exist and fit; fills the defaults that
// depend on the query's columns.
Status CheckChart(ChartSpec* c, const Schema& columns) {
  const std::string at = c->path + " (" + c->id + ")";
  const auto& fields = columns.fields();
  auto numeric_or_fail = [&](const Field* f, const std::string& key) -> Status {
    if (Numeric(f->type)) return Status::OK();
    return ErrorAt(c->loc, at + "." + key + ": column `" + f->name + "` is " + f->type.ToString() +
                               "; a " + ChartTypeName(c->type) + " chart draws numbers there");
  };
  switch (c->type) {
    case ChartType::kKpi: {
      if (c->value.empty()) {
        if (fields.size() != 1) {
          return ErrorAt(c->loc, at + " needs value: (the column shown); its query has " + std::to_string(fields.size()) +
                                     " columns: " + YamlReader::JoinNames(columns.names()));
        }
        c->value = fields[0].name;
      }
      LP_ASSIGN_OR_RETURN(const Field* f, Column(*c, columns, c->value, "value"));
      if (c->format.empty()) c->format = Numeric(f->type) ? "number" : "text";
      if (c->format != "text") LP_RETURN_IF_ERROR(numeric_or_fail(f, "value"));
      // {column} and {column|format} in the note.
      for (size_t i = c->note.find('{'); i != std::string::npos; i = c->note.find('{', i + 1)) {
        size_t end = c->note.find('}', i);
        if (end == std::string::npos) return ErrorAt(c->loc, at + ".note: `{` without `}`");
        std::string ref = c->note.substr(i + 1, end - i - 1);
        std::string fmt;
        if (size_t bar = ref.find('|'); bar != std::string::npos) {
          fmt = ref.substr(bar + 1);
          ref = ref.substr(0, bar);
        }
        LP_ASSIGN_OR_RETURN(const Field* nf, Column(*c, columns, ref, "note"));
        if (!fmt.empty()) {
          if (!IsChartFormat(fmt)) return ErrorAt(c->loc, at + ".note: `" + fmt + "` is not one of " + YamlReader::JoinNames(kFormats));
          if (fmt != "text") LP_RETURN_IF_ERROR(numeric_or_fail(nf, "note"));
        }
      }
      if (c->limit == 0) c->limit = 1;
      break;
    }
    case ChartType::kBar:
    case ChartType::kLine: {
      if (c->x.empty() && c->y.empty() && fields.size() == 2) {
        c->x = fields[0].name;
        c->y.push_back({fields[1].name, fields[1].name, "number"});
      }
      if (c->x.empty()) return ErrorAt(c->loc, at + " needs x: (the column of categories or x values); its columns: " + YamlReader::JoinNames(columns.names()));
      if (c->y.empty()) return ErrorAt(c->loc, at + " needs y: (one or more columns of numbers); its columns: " + YamlReader::JoinNames(columns.names()));
      LP_ASSIGN_OR_RETURN(const Field* xf, Column(*c, columns, c->x, "x"));
      if (xf->type.is_nested() || xf->type.id() == TypeId::kBinary) {
        return ErrorAt(c->loc, at + ".x: column `" + xf->name + "` is " + xf->type.ToString() +
                                   "; x takes text, numbers, dates or timestamps");
      }
      for (const auto& s : c->y) {
        LP_ASSIGN_OR_RETURN(const Field* yf, Column(*c, columns, s.column, "y"));
        LP_RETURN_IF_ERROR(numeric_or_fail(yf, "y"));
      }
      for (const auto& t : c->tooltip) {
        LP_RETURN_IF_ERROR(Column(*c, columns, t, "tooltip").status());
      }
      if (c->width == 0) c->width = 6;
      if (c->limit == 0) c->limit = c->type == ChartType::kBar ? 50 : kMaxChartRows;
      break;
    }
    case ChartType::kTable: {
      for (const auto& col : c->columns) {
        LP_RETURN_IF_ERROR(Column(*c, columns, col, "columns").status());
      }
      if (c->columns.empty()) c->columns = columns.names();
      if (c->width == 0) c->width = 12;
      if (c->limit == 0) c->limit = 100;
      break;
    }
  }
  if (c->color.empty()) c->color = "accent";
  return Status::OK();
}

}  // namespace

const char* ChartTypeName(ChartType t) {
  switch (t) {
    case ChartType::kKpi: return "kpi";
    case ChartType::kBar: return "bar";
    case ChartType::kLine: return "line";
    case ChartType::kTable: return "table";
  }
  return "?";
}

bool IsChartFormat(const std::string& f) { return std::find(kFormats.begin(), kFormats.end(), f) != kFormats.end(); }

int64_t DefaultChartLimit(ChartType t) {
  switch (t) {
    case ChartType::kKpi: return 1;
    case ChartType::kBar: return 50;
    case ChartType::kLine: return kMaxChartRows;
    case ChartType::kTable: return 100;
  }
  return 100;
}

const ResolvedChart* ResolvedDashboard::Find(const std::string& id) const {
  for (const auto& c : charts) {
    if (c.spec.id == id) return &c;
  }
  return nullptr;
}

Result<DashboardSpec> ParseDashboard(const YAML::Node& node, const std::string& display_name, const std::string& folder,
                                     FileSystem* fs) {
  if (!node.IsScalar()) return DashboardReader(display_name).Read(node);
  // `dashboard: dashboard.yaml`: the same mapping in its own file (messages name it).
  std::string name = node.Scalar();
  std::string path = name.empty() || name[0] == '/' || folder.empty() ? name : JoinPath(folder, name);
  Result<std::string> text = fs->ReadFile(path);
  if (!text.ok()) {
    return ErrorAt(DashboardReader(display_name).Loc(node), "dashboard: cannot read `" + name + "`: " + text.status().message());
  }
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::ParserException& e) {
    return ErrorAt(SourceLocation{name, e.mark.line + 1, e.mark.column + 1}, "YAML syntax: " + e.msg);
  }
  if (!root || root.IsNull()) return ErrorAt(SourceLocation{name, 1, 1}, "empty dashboard file: it needs charts:");
  try {
    LP_ASSIGN_OR_RETURN(DashboardSpec d, DashboardReader(name).Read(root));
    d.source_file = name;
    return d;
  } catch (const YAML::Exception& e) {
    return ErrorAt(SourceLocation{name, e.mark.line + 1, e.mark.column + 1}, e.msg);
  }
}

Result<ResolvedDashboard> ResolveDashboard(const Pipeline& pipeline, const ResolvedPipeline& resolved) {
  ResolvedDashboard out;
  const auto& graph = resolved.graph;
  // The stored tables under `name` (itself unless it is a view).
  std::function<void(int, std::set<std::string>*, std::vector<std::string>*)> stored_under =
      [&](int node, std::set<std::string>* seen, std::vector<std::string>* tables) {
        const auto& n = graph.nodes()[static_cast<size_t>(node)];
        if (!seen->insert(ToLower(n.name)).second) return;
        if (n.kind != DatasetKind::kView) {
          tables->push_back(n.name);
          return;
        }
        for (size_t up : n.upstream) stored_under(static_cast<int>(up), seen, tables);
      };

  const auto& settings = pipeline.settings;
  if (!settings.dashboard) {
    // No dashboard declared: one table chart per Gold table (named gold_*), else per table
    // nothing reads (the end of the pipeline).
    out.title = settings.name;
    std::vector<const ResolvedDataset*> shown;
    for (const auto& d : resolved.datasets) {
      if (d.kind != DatasetKind::kView && ToLower(d.name).rfind("gold_", 0) == 0) shown.push_back(&d);
    }
    if (shown.empty()) {
      std::set<size_t> read;
      for (const auto& n : graph.nodes())
        for (size_t up : n.upstream) read.insert(up);
      for (const auto& d : resolved.datasets) {
        int i = graph.Find(d.name);
        if (d.kind != DatasetKind::kView && i >= 0 && !read.count(static_cast<size_t>(i))) shown.push_back(&d);
      }
    }
    for (const ResolvedDataset* d : shown) {
      ResolvedChart c;
      c.spec.id = d->name;
      c.spec.title = d->name;
      c.spec.type = ChartType::kTable;
      c.spec.sql = "SELECT * FROM " + Quoted(d->name);
      c.spec.subtitle = pipeline.datasets[d->dataset_index].comment;
      c.spec.limit = DefaultChartLimit(ChartType::kTable);
      c.spec.width = shown.size() == 1 ? 12 : 6;
      c.spec.columns = d->schema.names();
      c.spec.color = "accent";
      c.spec.path = "(default dashboard)";
      c.columns = d->schema;
      c.tables = {d->name};
      out.charts.push_back(std::move(c));
    }
    return out;
  }

  const DashboardSpec& spec = *settings.dashboard;
  out.declared = true;
  out.title = spec.title.empty() ? settings.name : spec.title;
  for (const ChartSpec& declared : spec.charts) {
    ResolvedChart c;
    c.spec = declared;
    const std::string at = declared.path + " (" + declared.id + ")";
    auto wrap = [&](const Status& s) {
      return ErrorAt(declared.sql_loc, at + ".sql: " + s.message());
    };
    // The query's own positions are `sql:line:col` inside the sql: value.
    auto file = std::make_shared<SourceFile>("sql", declared.sql);
    PlanOptions options;
    options.base_dir = settings.folder;
    Result<PlanPtr> plan = PlanQuery(MappedText::Of(file), options);
    if (!plan.ok()) return wrap(plan.status());
    std::set<std::string> seen;
    std::vector<std::string> tables;
    TableSchemaLookup lookup = [&](const std::string& table, const SourceLocation& loc) -> Result<Schema> {
      const ResolvedDataset* d = resolved.Find(table);
      if (d == nullptr) {
        std::string known;
        for (const auto& x : resolved.datasets) known += (known.empty() ? "" : ", ") + x.name;
        return ErrorAt(loc, "unknown table `" + table + "`; a chart reads the pipeline's tables: " + known);
      }
      int i = graph.Find(d->name);
      if (i >= 0) stored_under(i, &seen, &tables);
      return d->schema;
    };
    // No read_files lookup: a chart reads tables, not landing files.
    Result<PlanPtr> planned = ResolvePlan(*plan, lookup);
    if (!planned.ok()) return wrap(planned.status());
    // Streaming reads and sources have no meaning for a chart (it reads a snapshot).
    std::function<Status(const PlanNode&)> check = [&](const PlanNode& n) -> Status {
      if (n.kind == PlanKind::kReadFiles || n.kind == PlanKind::kReadStream) {
        return ErrorAt(declared.sql_loc, at + ".sql: a chart reads the pipeline's tables, not read_files or a stream source");
      }
      if (n.kind == PlanKind::kTableScan && n.streaming) {
        return ErrorAt(declared.sql_loc, at + ".sql: STREAM(" + n.table + ") in a chart: a chart reads the tables' latest versions; drop STREAM");
      }
      for (const auto& in : n.inputs) LP_RETURN_IF_ERROR(check(*in));
      return Status::OK();
    };
    LP_RETURN_IF_ERROR(check(**planned));
    if (tables.empty()) {
      return ErrorAt(declared.sql_loc, at + ".sql reads no table of the pipeline");
    }
    c.columns = (*planned)->schema;
    c.tables = std::move(tables);
    LP_RETURN_IF_ERROR(CheckChart(&c.spec, c.columns));
    out.charts.push_back(std::move(c));
  }
  return out;
}

}  // namespace lakepipe::sql
