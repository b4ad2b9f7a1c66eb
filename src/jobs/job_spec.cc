#include "jobs/job_spec.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "common/interval_text.h"
#include "sql/yaml_reader.h"

namespace lakepipe::jobs {

const char* TaskKindName(TaskKind kind) {
  switch (kind) {
    case TaskKind::kGenerate: return "generate";
    case TaskKind::kPipelineUpdate: return "pipeline_update";
    case TaskKind::kPublish: return "publish";
    case TaskKind::kTableOptimize: return "table_optimize";
    case TaskKind::kTableVacuum: return "table_vacuum";
    case TaskKind::kCommand: return "command";
  }
  return "?";
}

const TaskSpec* JobSpec::FindTask(const std::string& name) const {
  for (const auto& t : tasks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const JobSpec* JobsFile::FindJob(const std::string& name) const {
  for (const auto& j : jobs) {
    if (j.name == name) return &j;
  }
  return nullptr;
}

std::string JobsFile::StoragePath() const {
  if (!storage.empty() && storage[0] == '/') return storage;
  return (folder.empty() ? std::string(".") : folder) + "/" + storage;
}

// Builtin parameters every run has (the runner fills them).
static const char* const kBuiltinParams[] = {"run_id", "job", "date", "timestamp", "jobs_dir", "storage", "lakepipe"};

Result<std::string> Substitute(const std::string& text, const std::map<std::string, std::string>& params,
                               const std::string& where) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string::npos) {
      out += text.substr(i);
      break;
    }
    size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) {
      return Status::InvalidArgument(where + ": '{{' without '}}' in '" + text + "'");
    }
    out += text.substr(i, open - i);
    std::string name = text.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    auto it = params.find(name);
    if (it == params.end()) {
      std::string known;
      for (const auto& [k, v] : params) known += (known.empty() ? "" : ", ") + k;
      return Status::InvalidArgument(where + ": unknown parameter {{" + name + "}} (parameters: " + known +
                                     "; declare it under the job's `parameters:` or pass --param " + name + "=...)");
    }
    out += it->second;
    i = close + 2;
  }
  return out;
}

namespace {

using sql::ErrorAt;
using sql::YamlReader;

// "90s", "5m", "2h", "1d", "250ms", a number of seconds, or an interval ("5 minutes").
Result<int64_t> ParseDurationMs(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i > 0) {
    std::string unit = text.substr(i);
    double v = std::stod(text.substr(0, i));
    double ms = -1;
    if (unit.empty() || unit == "s") ms = v * 1000;
    if (unit == "ms") ms = v;
    if (unit == "m" || unit == "min") ms = v * 60'000;
    if (unit == "h") ms = v * 3'600'000;
    if (unit == "d") ms = v * 86'400'000;
    if (ms >= 0) return static_cast<int64_t>(ms);
  }
  auto micros = ParseIntervalMicros(text);
  if (!micros.ok()) {
    return Status::InvalidArgument("'" + text + "' is not a duration (like 250ms, 30s, 5m, 2h, 1d or '5 minutes')");
  }
  return *micros / 1000;
}

class JobsReader : public YamlReader {
 public:
  using YamlReader::YamlReader;

  Result<JobsFile> Read(const YAML::Node& root) {
    JobsFile file;
    if (!root.IsMap()) return ErrorAt(Loc(root), "a jobs file is a mapping with `jobs:` (see docs/jobs.md)");
    LP_RETURN_IF_ERROR(CheckKeys(root, {"storage", "log_retention", "jobs", "governance"}, "the jobs file"));
    // governance: principals and grants (docs/governance.md), read by `job serve`
    // (governance::Policy::Load) with its own file:line:col errors.
    if (root["governance"] && !root["governance"].IsScalar() && !root["governance"].IsMap()) {
      return ErrorAt(Loc(root["governance"]), "`governance:` is a mapping (principals:, grants:) or the path of a "
                                              "governance.yaml (see docs/governance.md)");
    }
    file.has_governance = static_cast<bool>(root["governance"]);
    if (root["storage"]) {
      LP_ASSIGN_OR_RETURN(file.storage, String(root["storage"], "storage"));
    } else {
      file.storage = ".lakepipe-jobs";
    }
    if (root["log_retention"]) {
      LP_ASSIGN_OR_RETURN(int64_t ms, Duration(root["log_retention"], "log_retention"));
      if (ms < 3'600'000) {
        return ErrorAt(Loc(root["log_retention"]), "log_retention must be at least an hour (task logs are deleted "
                                                   "this long after their run's last write; default 30d)");
      }
      file.log_retention_micros = ms * 1000;
    }
    const YAML::Node jobs = root["jobs"];
    if (!jobs || !jobs.IsMap() || jobs.size() == 0) {
      return ErrorAt(Loc(jobs ? jobs : root), "`jobs:` must map job names to jobs (see docs/jobs.md)");
    }
    std::set<std::string> names;
    for (auto it = jobs.begin(); it != jobs.end(); ++it) {
      std::string name = it->first.Scalar();
      LP_RETURN_IF_ERROR(CheckName(it->first, name, "job"));
      if (!names.insert(name).second) return ErrorAt(Loc(it->first), "job `" + name + "` is declared twice");
      LP_ASSIGN_OR_RETURN(JobSpec job, ReadJob(name, it->first, it->second));
      file.jobs.push_back(std::move(job));
    }
    return file;
  }

 private:
  Status CheckName(const YAML::Node& n, const std::string& name, const std::string& what) const {
    bool ok = !name.empty() && name.size() <= 100;
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) ok = false;
    }
    if (!ok || name[0] == '.') {
      return ErrorAt(Loc(n), what + " name '" + name + "' must be letters, digits, '_', '-' or '.' (not first)");
    }
    return Status::OK();
  }

  Result<std::map<std::string, std::string>> StringMap(const YAML::Node& n, const std::string& where) const {
    std::map<std::string, std::string> out;
    if (!n.IsMap()) return ErrorAt(Loc(n), where + " must be a mapping of key: value");
    for (auto it = n.begin(); it != n.end(); ++it) {
      LP_ASSIGN_OR_RETURN(std::string v, String(it->second, where + "." + it->first.Scalar()));
      out[it->first.Scalar()] = v;
    }
    return out;
  }

  Result<int64_t> Integer(const YAML::Node& n, const std::string& where, int64_t lo, int64_t hi) const {
    LP_ASSIGN_OR_RETURN(std::string s, String(n, where));
    bool digits = !s.empty() && s.size() < 12;
    for (char c : s) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (!digits || std::stoll(s) < lo || std::stoll(s) > hi) {
      return ErrorAt(Loc(n), where + " must be a whole number from " + std::to_string(lo) + " to " +
                                 std::to_string(hi) + ", not '" + s + "'");
    }
    return std::stoll(s);
  }

  Result<int64_t> Duration(const YAML::Node& n, const std::string& where) const {
    LP_ASSIGN_OR_RETURN(std::string s, String(n, where));
    auto ms = ParseDurationMs(s);
    if (!ms.ok()) return ErrorAt(Loc(n), where + ": " + ms.status().message());
    return *ms;
  }

  Result<JobSpec> ReadJob(const std::string& name, const YAML::Node& key, const YAML::Node& n) {
    JobSpec job;
    job.name = name;
    job.line = Loc(key).ToString();
    const std::string where = "job " + name;
    LP_RETURN_IF_ERROR(CheckKeys(n, {"description", "schedule", "parameters", "max_parallel", "tasks"}, where));
    if (n["description"]) {
      LP_ASSIGN_OR_RETURN(job.description, String(n["description"], where + " description"));
    }
    if (n["parameters"]) {
      LP_ASSIGN_OR_RETURN(job.parameters, StringMap(n["parameters"], where + " parameters"));
    }
    for (const char* b : kBuiltinParams) {
      if (job.parameters.count(b)) {
        return ErrorAt(Loc(n["parameters"]), where + ": parameter `" + b + "` is built in (run_id, job, date, "
                                             "timestamp, jobs_dir, storage, lakepipe); choose another name");
      }
    }
    if (n["max_parallel"]) {
      LP_ASSIGN_OR_RETURN(int64_t p, Integer(n["max_parallel"], where + " max_parallel", 1, 64));
      job.max_parallel = static_cast<int>(p);
    }
    if (n["schedule"]) {
      const YAML::Node s = n["schedule"];
      LP_RETURN_IF_ERROR(CheckKeys(s, {"cron", "timezone"}, where + " schedule"));
      if (!s["cron"]) return ErrorAt(Loc(s), where + " schedule needs `cron:` (5 fields, e.g. \"0 2 * * *\")");
      LP_ASSIGN_OR_RETURN(std::string cron, String(s["cron"], where + " schedule.cron"));
      auto parsed = CronSchedule::Parse(cron);
      if (!parsed.ok()) return ErrorAt(Loc(s["cron"]), parsed.status().message());
      job.cron = *parsed;
      if (s["timezone"]) {
        LP_ASSIGN_OR_RETURN(std::string zone, String(s["timezone"], where + " schedule.timezone"));
        auto tz = TimeZone::Load(zone);
        if (!tz.ok()) return ErrorAt(Loc(s["timezone"]), tz.status().message());
        job.timezone = *tz;
      }
    }
    const YAML::Node tasks = n["tasks"];
    if (!tasks || !tasks.IsSequence() || tasks.size() == 0) {
      return ErrorAt(Loc(tasks ? tasks : key), where + " needs `tasks:`, a list of tasks (each with name and kind)");
    }
    std::vector<TaskSpec> declared;
    std::vector<YAML::Node> nodes;
    for (const auto& t : tasks) {
      LP_ASSIGN_OR_RETURN(TaskSpec task, ReadTask(job, t));
      for (const auto& other : declared) {
        if (other.name == task.name) {
          return ErrorAt(Loc(t["name"]), where + ": task `" + task.name + "` is declared twice (first at " +
                                             other.line + ")");
        }
      }
      declared.push_back(std::move(task));
      nodes.push_back(t);
    }
    // Dependencies: known, not the task itself, no cycle. Tasks are kept in an order where
    // each follows its dependencies (file order where free).
    for (size_t i = 0; i < declared.size(); ++i) {
      const YAML::Node deps = nodes[i]["depends_on"];
      for (size_t d = 0; d < declared[i].depends_on.size(); ++d) {
        const std::string& dep = declared[i].depends_on[d];
        YAML::Node at = deps.IsSequence() ? deps[d] : deps;
        if (dep == declared[i].name) return ErrorAt(Loc(at), where + ": task `" + dep + "` depends on itself");
        bool found = false;
        for (const auto& other : declared) found = found || other.name == dep;
        if (!found) {
          std::string names;
          for (const auto& other : declared) names += (names.empty() ? "" : ", ") + other.name;
          return ErrorAt(Loc(at), where + ": task `" + declared[i].name + "` depends on unknown task `" + dep +
                                      "` (tasks: " + names + ")");
        }
      }
    }
    std::vector<bool> placed(declared.size(), false);
    while (job.tasks.size() < declared.size()) {
      bool progress = false;
      for (size_t i = 0; i < declared.size(); ++i) {
        if (placed[i]) continue;
        bool ready = true;
        for (const auto& dep : declared[i].depends_on) ready = ready && job.FindTask(dep) != nullptr;
        if (ready) {
          job.tasks.push_back(declared[i]);
          placed[i] = true;
          progress = true;
          break;  // rescan from the top: file order wherever the dependencies allow
        }
      }
      if (!progress) return CycleError(job, declared, placed, nodes);
    }
    // Every {{parameter}} a task uses must exist: checked now, not at 2 a.m.
    std::map<std::string, std::string> known = job.parameters;
    for (const char* b : kBuiltinParams) known[b] = "x";
    for (size_t i = 0; i < declared.size(); ++i) {
      auto argv = TaskArgv(declared[i], "lakepipe", known);
      if (!argv.ok()) return ErrorAt(Loc(nodes[i]), argv.status().message());
    }
    return job;
  }

  Status CycleError(const JobSpec& job, const std::vector<TaskSpec>& declared, const std::vector<bool>& placed,
                    const std::vector<YAML::Node>& nodes) const {
    // Follow unplaced dependencies from the first unplaced task until a task repeats.
    auto index_of = [&](const std::string& name) {
      for (size_t i = 0; i < declared.size(); ++i) {
        if (declared[i].name == name) return i;
      }
      return declared.size();
    };
    size_t at = 0;
    while (placed[at]) ++at;
    std::vector<size_t> path;
    while (std::find(path.begin(), path.end(), at) == path.end()) {
      path.push_back(at);
      for (const auto& dep : declared[at].depends_on) {
        size_t d = index_of(dep);
        if (!placed[d]) {
          at = d;
          break;
        }
      }
    }
    auto start = std::find(path.begin(), path.end(), at);
    std::string cycle;
    for (auto it = start; it != path.end(); ++it) cycle += declared[*it].name + " -> ";
    cycle += declared[at].name;
    return ErrorAt(Loc(nodes[at]), "job " + job.name + ": the tasks' dependencies form a cycle: " + cycle +
                                       " (`a -> b`: a waits for b)");
  }

  Result<TaskSpec> ReadTask(const JobSpec& job, const YAML::Node& n) {
    TaskSpec t;
    std::string where = "job " + job.name + " task";
    if (!n.IsMap()) return ErrorAt(Loc(n), where + " must be a mapping with name and kind");
    if (!n["name"]) return ErrorAt(Loc(n), where + " needs `name:`");
    LP_ASSIGN_OR_RETURN(t.name, String(n["name"], where + " name"));
    LP_RETURN_IF_ERROR(CheckName(n["name"], t.name, "task"));
    t.line = Loc(n).ToString();
    where = "job " + job.name + " task " + t.name;
    if (!n["kind"]) {
      return ErrorAt(Loc(n), where + " needs `kind:` (generate, pipeline_update, publish, table_optimize, "
                                     "table_vacuum or command)");
    }
    LP_ASSIGN_OR_RETURN(std::string kind, String(n["kind"], where + " kind"));
    std::vector<std::string> keys = {"name", "kind", "depends_on", "retries", "retry_backoff",
                                     "retry_backoff_max", "timeout", "run_if"};
    std::vector<std::string> own;
    if (kind == "generate") {
      t.kind = TaskKind::kGenerate;
      own = {"dataset", "out", "options"};
    } else if (kind == "pipeline_update") {
      t.kind = TaskKind::kPipelineUpdate;
      own = {"pipeline", "full_refresh", "tables", "set"};
    } else if (kind == "publish") {
      t.kind = TaskKind::kPublish;
      own = {"pipeline", "table", "rebuild", "set"};
    } else if (kind == "table_optimize") {
      t.kind = TaskKind::kTableOptimize;
      own = {"table", "target_file_mb"};
    } else if (kind == "table_vacuum") {
      t.kind = TaskKind::kTableVacuum;
      own = {"table", "retain_hours", "force"};
    } else if (kind == "command") {
      t.kind = TaskKind::kCommand;
      own = {"argv", "env", "cwd"};
    } else {
      return ErrorAt(Loc(n["kind"]), where + ": unknown kind `" + kind +
                                         "` (generate, pipeline_update, publish, table_optimize, table_vacuum, command)");
    }
    keys.insert(keys.end(), own.begin(), own.end());
    LP_RETURN_IF_ERROR(CheckKeys(n, keys, where, " of a " + kind + " task"));
    if (n["depends_on"]) {
      LP_ASSIGN_OR_RETURN(t.depends_on, StringList(n["depends_on"], where + " depends_on", "task names"));
    }
    if (n["retries"]) {
      LP_ASSIGN_OR_RETURN(int64_t r, Integer(n["retries"], where + " retries", 0, 100));
      t.retries = static_cast<int>(r);
    }
    if (n["retry_backoff"]) {
      LP_ASSIGN_OR_RETURN(t.retry_backoff_ms, Duration(n["retry_backoff"], where + " retry_backoff"));
    }
    if (n["retry_backoff_max"]) {
      LP_ASSIGN_OR_RETURN(t.retry_backoff_max_ms, Duration(n["retry_backoff_max"], where + " retry_backoff_max"));
    }
    if (n["timeout"]) {
      LP_ASSIGN_OR_RETURN(t.timeout_ms, Duration(n["timeout"], where + " timeout"));
    }
    if (n["run_if"]) {
      LP_ASSIGN_OR_RETURN(std::string run_if, String(n["run_if"], where + " run_if"));
      if (run_if != "all_success") {
        return sql::NotSupportedAt(Loc(n["run_if"]), where + ": run_if `" + run_if +
                                                         "` is not built yet; a task runs when all its "
                                                         "dependencies succeeded (run_if: all_success)");
      }
    }
    auto required = [&](const char* key, std::string* out) -> Status {
      if (!n[key]) return ErrorAt(Loc(n), where + " (" + kind + ") needs `" + key + ":`");
      LP_ASSIGN_OR_RETURN(*out, String(n[key], where + " " + key));
      if (out->empty()) return ErrorAt(Loc(n[key]), where + " " + key + " is empty");
      return Status::OK();
    };
    if (n["set"]) {
      LP_ASSIGN_OR_RETURN(t.set, StringMap(n["set"], where + " set"));
    }
    switch (t.kind) {
      case TaskKind::kGenerate:
        LP_RETURN_IF_ERROR(required("dataset", &t.dataset));
        LP_RETURN_IF_ERROR(required("out", &t.out));
        if (n["options"]) {
          LP_ASSIGN_OR_RETURN(t.options, StringMap(n["options"], where + " options"));
        }
        for (const auto& [k, v] : t.options) {
          if (k == "out" || k.empty() || k[0] == '-') {
            return ErrorAt(Loc(n["options"]), where + " options: `" + k + "` is not an option name of `lakepipe generate`");
          }
        }
        break;
      case TaskKind::kPipelineUpdate:
        LP_RETURN_IF_ERROR(required("pipeline", &t.pipeline));
        if (n["full_refresh"]) {
          LP_ASSIGN_OR_RETURN(t.full_refresh, Bool(n["full_refresh"], where + " full_refresh"));
        }
        if (n["tables"]) {
          LP_ASSIGN_OR_RETURN(t.tables, StringList(n["tables"], where + " tables", "table names"));
        }
        break;
      case TaskKind::kPublish:
        LP_RETURN_IF_ERROR(required("pipeline", &t.pipeline));
        if (n["table"]) {
          LP_ASSIGN_OR_RETURN(t.table, String(n["table"], where + " table"));
        }
        if (n["rebuild"]) {
          LP_ASSIGN_OR_RETURN(t.rebuild, Bool(n["rebuild"], where + " rebuild"));
        }
        break;
      case TaskKind::kTableOptimize:
        LP_RETURN_IF_ERROR(required("table", &t.table));
        if (n["target_file_mb"]) {
          LP_ASSIGN_OR_RETURN(t.target_file_mb, Integer(n["target_file_mb"], where + " target_file_mb", 1, 1 << 20));
        }
        break;
      case TaskKind::kTableVacuum:
        LP_RETURN_IF_ERROR(required("table", &t.table));
        if (n["retain_hours"]) {
          LP_ASSIGN_OR_RETURN(int64_t h, Integer(n["retain_hours"], where + " retain_hours", 0, 1'000'000));
          t.retain_hours = static_cast<double>(h);
        }
        if (n["force"]) {
          LP_ASSIGN_OR_RETURN(t.force, Bool(n["force"], where + " force"));
        }
        break;
      case TaskKind::kCommand:
        if (!n["argv"]) {
          return ErrorAt(Loc(n), where + " (command) needs `argv:`, the program and its arguments as a list");
        }
        if (!n["argv"].IsSequence()) {
          return ErrorAt(Loc(n["argv"]), where + " argv must be a list (program first); for a shell line "
                                                 "write [sh, -c, \"...\"]");
        }
        LP_ASSIGN_OR_RETURN(t.argv, StringList(n["argv"], where + " argv", "single values"));
        if (t.argv.empty() || t.argv[0].empty()) return ErrorAt(Loc(n["argv"]), where + " argv is empty");
        if (n["env"]) {
          LP_ASSIGN_OR_RETURN(t.env, StringMap(n["env"], where + " env"));
        }
        if (n["cwd"]) {
          LP_ASSIGN_OR_RETURN(t.cwd, String(n["cwd"], where + " cwd"));
        }
        break;
    }
    return t;
  }
};

}  // namespace

Result<JobsFile> JobsFile::Parse(const std::string& path, const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    sql::SourceLocation loc;
    loc.file = path;
    loc.line = e.mark.line + 1;
    loc.column = e.mark.column + 1;
    return ErrorAt(loc, "not valid YAML: " + e.msg);
  }
  JobsReader reader(path);
  LP_ASSIGN_OR_RETURN(JobsFile file, reader.Read(root));
  file.path = path;
  size_t slash = path.rfind('/');
  file.folder = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  return file;
}

Result<JobsFile> JobsFile::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read the jobs file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return Parse(path, text.str());
}

Result<std::vector<std::string>> TaskArgv(const TaskSpec& t, const std::string& bin,
                                          const std::map<std::string, std::string>& params) {
  const std::string where = t.line.empty() ? "task " + t.name : t.line + ": task " + t.name;
  auto sub = [&](const std::string& s) { return Substitute(s, params, where); };
  std::vector<std::string> argv;
  auto add_sets = [&]() -> Status {
    for (const auto& [k, v] : t.set) {
      LP_ASSIGN_OR_RETURN(std::string value, sub(v));
      argv.push_back("--set");
      argv.push_back(k + "=" + value);
    }
    return Status::OK();
  };
  switch (t.kind) {
    case TaskKind::kGenerate: {
      LP_ASSIGN_OR_RETURN(std::string dataset, sub(t.dataset));
      LP_ASSIGN_OR_RETURN(std::string out, sub(t.out));
      argv = {bin, "generate", dataset, "--out", out};
      for (const auto& [k, v] : t.options) {
        LP_ASSIGN_OR_RETURN(std::string value, sub(v));
        argv.push_back("--" + k);
        argv.push_back(value);
      }
      break;
    }
    case TaskKind::kPipelineUpdate: {
      LP_ASSIGN_OR_RETURN(std::string pipeline, sub(t.pipeline));
      argv = {bin, "run", pipeline, "--once", "--no-server"};
      if (t.full_refresh && t.tables.empty()) argv.push_back("--full-refresh-all");
      if (!t.tables.empty()) {
        // Without full_refresh, a refresh selection: only these tables are updated.
        std::string list;
        for (const auto& table : t.tables) {
          LP_ASSIGN_OR_RETURN(std::string name, sub(table));
          list += (list.empty() ? "" : ",") + name;
        }
        argv.push_back(t.full_refresh ? "--full-refresh" : "--refresh");
        argv.push_back(list);
      }
      LP_RETURN_IF_ERROR(add_sets());
      break;
    }
    case TaskKind::kPublish: {
      LP_ASSIGN_OR_RETURN(std::string pipeline, sub(t.pipeline));
      argv = {bin, "publish", pipeline};
      if (!t.table.empty()) {
        argv.push_back("--table");
        argv.push_back(t.table);
      }
      if (t.rebuild) argv.push_back("--rebuild");
      LP_RETURN_IF_ERROR(add_sets());
      break;
    }
    case TaskKind::kTableOptimize: {
      LP_ASSIGN_OR_RETURN(std::string table, sub(t.table));
      argv = {bin, "table", "optimize", table};
      if (t.target_file_mb > 0) {
        argv.push_back("--target-file-mb");
        argv.push_back(std::to_string(t.target_file_mb));
      }
      break;
    }
    case TaskKind::kTableVacuum: {
      LP_ASSIGN_OR_RETURN(std::string table, sub(t.table));
      argv = {bin, "table", "vacuum", table};
      if (t.retain_hours) {
        argv.push_back("--retain");
        argv.push_back(std::to_string(static_cast<int64_t>(*t.retain_hours)));
      }
      if (t.force) argv.push_back("--force");
      break;
    }
    case TaskKind::kCommand:
      for (const auto& a : t.argv) {
        LP_ASSIGN_OR_RETURN(std::string s, sub(a));
        argv.push_back(s);
      }
      for (const auto& [k, v] : t.env) LP_RETURN_IF_ERROR(sub(v).status());
      LP_RETURN_IF_ERROR(sub(t.cwd).status());
      break;
  }
  return argv;
}

}  // namespace lakepipe::jobs
