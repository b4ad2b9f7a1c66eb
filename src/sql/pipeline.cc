#include "sql/pipeline.h"

#include <arpa/inet.h>
#include <time.h>
#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "sql/event_log_settings.h"
#include "sql/lexer.h"
#include "sql/yaml_reader.h"

namespace lakepipe::sql {

namespace {

std::string TwoDigits(int v) { return (v < 10 ? "0" : "") + std::to_string(v); }

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

std::string Resolve(const std::string& folder, const std::string& p) {
  if (IsAbsolute(p) || folder.empty()) return p;
  std::string rel = p;
  while (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  if (rel.empty() || rel == ".") return folder;
  return JoinPath(folder, rel);
}

// Reads one pipeline.yaml document, with every error at file:line:col.
class SettingsReader : public YamlReader {
 public:
  SettingsReader(std::string display_name, std::string folder, FileSystem* fs)
      : YamlReader(std::move(display_name)), folder_(std::move(folder)), fs_(fs) {}

  // `at: ["08:00", "20:00"]`: minutes after local midnight, ascending, without repeats.
  Result<std::vector<int>> DailyTimes(const YAML::Node& n, const std::string& what) {
    LP_ASSIGN_OR_RETURN(std::vector<std::string> times, StringList(n, what));
    if (times.empty()) return ErrorAt(Loc(n), what + " needs at least one time");
    std::vector<int> minutes;
    for (const std::string& s : times) {
      int h = -1, m = -1;
      char extra = 0;
      if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59 ||
          s.size() < 4 || s.size() > 5) {
        return ErrorAt(Loc(n), what + ": `" + s + "` is not a time HH:MM (00:00 to 23:59)");
      }
      minutes.push_back(h * 60 + m);
    }
    std::sort(minutes.begin(), minutes.end());
    minutes.erase(std::unique(minutes.begin(), minutes.end()), minutes.end());
    return minutes;
  }

  Result<TriggerSpec> Trigger(const YAML::Node& key, const YAML::Node& n) {
    TriggerSpec t;
    t.loc = Loc(key);
    std::string table = key.Scalar();
    if (n.IsScalar()) {
      std::string v = ToLower(n.Scalar());
      if (v == "once") {
        t.kind = TriggerSpec::Kind::kOnce;
        return t;
      }
      if (v == "continuous") {
        t.kind = TriggerSpec::Kind::kContinuous;
        return t;
      }
      return ErrorAt(Loc(n), "trigger of `" + table + "` must be once, continuous, {interval: 5m} or {at: [\"08:00\"]}");
    }
    LP_RETURN_IF_ERROR(CheckKeys(n, {"interval", "at", "once", "continuous"}, "triggers." + table));
    if (n.size() != 1) return ErrorAt(Loc(n), "trigger of `" + table + "` takes exactly one of interval, at, once, continuous");
    if (n["interval"]) {
      LP_ASSIGN_OR_RETURN(std::string v, String(n["interval"], "triggers." + table + ".interval"));
      Result<int64_t> d = ParseDuration(v);
      if (!d.ok()) return ErrorAt(Loc(n["interval"]), "triggers." + table + ".interval: " + d.status().message());
      t.kind = TriggerSpec::Kind::kInterval;
      t.interval_micros = *d;
      return t;
    }
    if (n["at"]) {
      LP_ASSIGN_OR_RETURN(t.daily_minutes, DailyTimes(n["at"], "triggers." + table + ".at"));
      t.kind = TriggerSpec::Kind::kDaily;
      return t;
    }
    const char* word = n["once"] ? "once" : "continuous";
    LP_ASSIGN_OR_RETURN(bool on, Bool(n[word], std::string("triggers.") + table + "." + word));
    if (!on) return ErrorAt(Loc(n[word]), std::string("triggers.") + table + "." + word + ": false is not a trigger; remove the entry");
    t.kind = n["once"] ? TriggerSpec::Kind::kOnce : TriggerSpec::Kind::kContinuous;
    return t;
  }

  // `sla:` maps a layer or table to {max_lag: <duration>}; table names are checked against
  // the pipeline at resolve time (sql/resolve.cc), once the SQL is known.
  Result<std::vector<SlaSpec>> Slas(const YAML::Node& n) {
    if (!n.IsMap()) return ErrorAt(Loc(n), "sla must map layers (bronze, silver, gold) or table names to {max_lag: 2h}");
    std::vector<SlaSpec> out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      SlaSpec spec;
      spec.scope = it->first.Scalar();
      spec.loc = Loc(it->first);
      std::string lower = ToLower(spec.scope);
      spec.layer = lower == "bronze" || lower == "silver" || lower == "gold";
      const YAML::Node& v = it->second;
      std::string where = "sla." + spec.scope;
      if (!v.IsMap()) return ErrorAt(Loc(v), where + " must be a mapping such as {max_lag: 2h}");
      LP_RETURN_IF_ERROR(CheckKeys(v, {"max_lag"}, where));
      if (!v["max_lag"]) return ErrorAt(Loc(v), where + " needs max_lag (how far behind its inputs the table may fall, e.g. 5m or 2h)");
      LP_ASSIGN_OR_RETURN(std::string text, String(v["max_lag"], where + ".max_lag"));
      Result<int64_t> d = ParseDuration(text);
      if (!d.ok()) return ErrorAt(Loc(v["max_lag"]), where + ".max_lag: " + d.status().message());
      if (*d <= 0) return ErrorAt(Loc(v["max_lag"]), where + ".max_lag must be more than 0");
      spec.max_lag_micros = *d;
      for (const auto& other : out) {
        if (ToLower(other.scope) == lower) return ErrorAt(spec.loc, where + " is given twice");
      }
      out.push_back(std::move(spec));
    }
    return out;
  }

  Result<PostgresPublish> Postgres(const YAML::Node& n, const std::map<std::string, std::string>& configuration) {
    PostgresPublish p;
    p.loc = Loc(n);
    LP_RETURN_IF_ERROR(CheckKeys(n, {"dsn", "schema", "reader_role", "at", "tables"}, "publish.postgres"));
    if (!n["dsn"]) return ErrorAt(Loc(n), "publish.postgres needs dsn (a libpq connection string)");
    LP_ASSIGN_OR_RETURN(p.dsn, String(n["dsn"], "publish.postgres.dsn"));
    // A password or a per-run port belongs in the environment or --set, not in the file.
    LP_ASSIGN_OR_RETURN(p.dsn, Substitute(p.dsn, n["dsn"], configuration, "publish.postgres.dsn"));
    if (n["schema"]) {
      LP_ASSIGN_OR_RETURN(p.schema, String(n["schema"], "publish.postgres.schema"));
    }
    if (n["reader_role"]) {
      LP_ASSIGN_OR_RETURN(p.reader_role, String(n["reader_role"], "publish.postgres.reader_role"));
    }
    if (n["at"]) {
      LP_ASSIGN_OR_RETURN(p.daily_minutes, DailyTimes(n["at"], "publish.postgres.at"));
    }
    if (!n["tables"] || !n["tables"].IsSequence() || n["tables"].size() == 0) {
      return ErrorAt(Loc(n), "publish.postgres needs tables: a list of pipeline tables");
    }
    std::set<std::string> targets;
    for (const auto& item : n["tables"]) {
      PublishTable t;
      t.loc = Loc(item);
      if (item.IsScalar()) {
        t.table = item.Scalar();
      } else {
        LP_RETURN_IF_ERROR(CheckKeys(item, {"table", "target", "key"}, "publish.postgres.tables entry"));
        if (!item["table"]) return ErrorAt(Loc(item), "publish.postgres.tables entry needs table:");
        LP_ASSIGN_OR_RETURN(t.table, String(item["table"], "publish.postgres.tables[].table"));
        if (item["target"]) {
      LP_ASSIGN_OR_RETURN(t.target, String(item["target"], "publish.postgres.tables[].target"));
    }
        if (item["key"]) {
          LP_ASSIGN_OR_RETURN(t.key, StringList(item["key"], "publish.postgres.tables[].key"));
        }
      }
      if (t.target.empty()) t.target = t.table;
      if (!targets.insert(ToLower(t.target)).second) {
        return ErrorAt(t.loc, "publish.postgres: two tables publish to `" + t.target + "`");
      }
      p.tables.push_back(std::move(t));
    }
    return p;
  }

  Result<FilesPublish> Files(const YAML::Node& n, const std::map<std::string, std::string>& configuration) {
    FilesPublish f;
    f.loc = Loc(n);
    const char* shape = "publish.files needs a list of {table: T, path: folder, format: csv|json|parquet, partition_by: column}";
    if (!n.IsSequence() || n.size() == 0) return ErrorAt(Loc(n), shape);
    std::set<std::string> paths;
    for (const auto& item : n) {
      FilesPublishTable t;
      t.loc = Loc(item);
      if (!item.IsMap()) return ErrorAt(t.loc, shape);
      LP_RETURN_IF_ERROR(CheckKeys(item, {"table", "path", "format", "partition_by"}, "publish.files entry"));
      if (!item["table"] || !item["path"]) return ErrorAt(t.loc, "publish.files entry needs table: and path:");
      LP_ASSIGN_OR_RETURN(t.table, String(item["table"], "publish.files[].table"));
      LP_ASSIGN_OR_RETURN(t.path, String(item["path"], "publish.files[].path"));
      LP_ASSIGN_OR_RETURN(t.path, Substitute(t.path, item["path"], configuration, "publish.files[].path"));
      if (t.path.empty()) return ErrorAt(Loc(item["path"]), "publish.files[].path must not be empty");
      if (item["format"]) {
        LP_ASSIGN_OR_RETURN(t.format, String(item["format"], "publish.files[].format"));
        if (t.format != "csv" && t.format != "json" && t.format != "parquet") {
          return ErrorAt(Loc(item["format"]), "publish.files[].format: `" + t.format + "` is not csv, json or parquet");
        }
      }
      if (item["partition_by"]) {
        LP_ASSIGN_OR_RETURN(t.partition_by, String(item["partition_by"], "publish.files[].partition_by"));
      }
      // Two exports into one folder would remove each other's partitions.
      if (!paths.insert(t.path).second) {
        return ErrorAt(t.loc, "publish.files: two entries write to `" + t.path + "`; give each its own folder");
      }
      f.tables.push_back(std::move(t));
    }
    return f;
  }

  Result<KafkaPublish> Kafka(const YAML::Node& n, const std::map<std::string, std::string>& configuration) {
    KafkaPublish k;
    k.loc = Loc(n);
    LP_RETURN_IF_ERROR(CheckKeys(n, {"bootstrap_servers", "properties", "tables"}, "publish.kafka"));
    if (!n["bootstrap_servers"]) return ErrorAt(Loc(n), "publish.kafka needs bootstrap_servers (host:port[,host:port])");
    LP_ASSIGN_OR_RETURN(k.bootstrap_servers, String(n["bootstrap_servers"], "publish.kafka.bootstrap_servers"));
    LP_ASSIGN_OR_RETURN(k.bootstrap_servers, Substitute(k.bootstrap_servers, n["bootstrap_servers"], configuration,
                                                        "publish.kafka.bootstrap_servers"));
    if (n["properties"]) {
      const YAML::Node& props = n["properties"];
      if (!props.IsMap()) return ErrorAt(Loc(props), "publish.kafka.properties must map librdkafka properties to values");
      for (auto it = props.begin(); it != props.end(); ++it) {
        std::string key = it->first.Scalar();
        if (!it->second.IsScalar()) return ErrorAt(Loc(it->second), "publish.kafka.properties." + key + " must be a single value");
        // The sink owns delivery guarantees: weakening them would break exactly-once.
        if (key == "enable.idempotence" || key == "acks" || key == "request.required.acks" ||
            key == "transactional.id" || key == "bootstrap.servers") {
          return ErrorAt(Loc(it->first), "publish.kafka.properties: `" + key +
                                             "` is set by the sink (idempotent producer, acks=all) and cannot be changed");
        }
        LP_ASSIGN_OR_RETURN(k.properties[key], Substitute(it->second.Scalar(), it->second, configuration,
                                                          "publish.kafka.properties." + key));
      }
    }
    if (!n["tables"] || !n["tables"].IsSequence() || n["tables"].size() == 0) {
      return ErrorAt(Loc(n), "publish.kafka needs tables: a list of {table: T, topic: name, key: column}");
    }
    std::set<std::string> pairs;
    for (const auto& item : n["tables"]) {
      KafkaPublishTable t;
      t.loc = Loc(item);
      if (item.IsScalar()) {
        t.table = item.Scalar();
      } else {
        LP_RETURN_IF_ERROR(CheckKeys(item, {"table", "topic", "key"}, "publish.kafka.tables entry"));
        if (!item["table"]) return ErrorAt(Loc(item), "publish.kafka.tables entry needs table:");
        LP_ASSIGN_OR_RETURN(t.table, String(item["table"], "publish.kafka.tables[].table"));
        if (item["topic"]) {
          LP_ASSIGN_OR_RETURN(t.topic, String(item["topic"], "publish.kafka.tables[].topic"));
        }
        if (item["key"]) {
          LP_ASSIGN_OR_RETURN(t.key, String(item["key"], "publish.kafka.tables[].key"));
        }
      }
      if (t.topic.empty()) t.topic = t.table;
      bool valid = t.topic.size() <= 249 && t.topic != "." && t.topic != "..";
      for (char c : t.topic) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
      if (!valid) {
        return ErrorAt(t.loc, "publish.kafka: `" + t.topic + "` is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)");
      }
      // One topic per table: the sink's progress (and the board's status) is per table.
      if (!pairs.insert(t.table).second) {
        return ErrorAt(t.loc, "publish.kafka: `" + t.table + "` is listed twice (a table is sent to one topic)");
      }
      k.tables.push_back(std::move(t));
    }
    return k;
  }

  // `${VAR}` in a token: secrets belong in the environment (or --set), not in the file.
  // A configuration value wins over an environment variable of the same name, as --set
  // overrides everything; an unset variable is an error, never the literal text.
  Result<std::string> Substitute(const std::string& token, const YAML::Node& where,
                                 const std::map<std::string, std::string>& configuration, const std::string& what) {
    std::string out;
    size_t i = 0;
    while (i < token.size()) {
      size_t open = token.find("${", i);
      if (open == std::string::npos) {
        out += token.substr(i);
        break;
      }
      out += token.substr(i, open - i);
      size_t close = token.find('}', open + 2);
      if (close == std::string::npos) return ErrorAt(Loc(where), what + ": unterminated ${");
      std::string name = token.substr(open + 2, close - open - 2);
      if (name.empty()) return ErrorAt(Loc(where), what + ": empty ${}");
      auto it = configuration.find(name);
      if (it != configuration.end()) {
        out += it->second;
      } else if (const char* env = std::getenv(name.c_str()); env != nullptr) {
        out += env;
      } else {
        return ErrorAt(Loc(where), what + ": ${" + name +
                                       "} is not set: export the environment variable " + name +
                                       " (or give --set " + name + "=...)");
      }
      i = close + 1;
    }
    return out;
  }

  // `has_governance`: pipeline.yaml declares `governance:` (principals with tokens, read
  // by src/governance), which serves off loopback as server.tokens do.
  Result<ServerSettings> Server(const YAML::Node& n, const std::map<std::string, std::string>& configuration,
                                bool has_governance) {
    ServerSettings s;
    s.loc = Loc(n);
    LP_RETURN_IF_ERROR(CheckKeys(n, {"host", "port", "tokens"}, "server"));
    if (n["host"]) {
      LP_ASSIGN_OR_RETURN(s.host, String(n["host"], "server.host"));
    }
    if (n["port"]) {
      LP_ASSIGN_OR_RETURN(std::string port, String(n["port"], "server.port"));
      char* end = nullptr;
      long v = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end != 0 || v < 1 || v > 65535) {
        return ErrorAt(Loc(n["port"]), "server.port must be a number from 1 to 65535, not `" + port + "`");
      }
      s.port = static_cast<int>(v);
    }
    if (n["tokens"]) {
      LP_ASSIGN_OR_RETURN(s.tokens, StringList(n["tokens"], "server.tokens"));
      for (auto& t : s.tokens) {
        LP_ASSIGN_OR_RETURN(t, Substitute(t, n["tokens"], configuration, "server.tokens"));
      }
    }
    for (const auto& t : s.tokens) {
      if (t.size() < 16) return ErrorAt(Loc(n["tokens"]), "server.tokens: each token needs at least 16 characters");
    }
    if (!s.IsLoopback() && s.tokens.empty() && !has_governance) {
      return ErrorAt(Loc(n["host"] ? n["host"] : n),
                     "server.host " + s.host +
                         " is reachable from other machines: set server.tokens (bearer tokens) or declare "
                         "governance: principals (docs/governance.md)");
    }
    return s;
  }

  Status Libraries(const std::vector<std::string>& patterns, const YAML::Node& where, PipelineSettings* out) {
    std::set<std::string> seen;
    for (const std::string& pattern : patterns) {
      std::string full = Resolve(folder_, pattern);
      std::string dir = DirName(full), base = BaseName(full);
      bool wildcard = base.find_first_of("*?[") != std::string::npos;
      if (dir.find_first_of("*?[") != std::string::npos) {
        return NotSupportedAt(Loc(where), "libraries: wildcards in folder names (`" + pattern + "`); use folder/*.sql");
      }
      std::vector<std::string> found;
      if (!wildcard) {
        Result<FileInfo> st = fs_->Stat(full);
        if (!st.ok()) return ErrorAt(Loc(where), "libraries: `" + pattern + "` not found (" + full + ")");
        if (st->is_dir) {
          dir = full;
          base = "*.sql";
          wildcard = true;
        } else {
          found.push_back(full);
        }
      }
      if (wildcard) {
        Result<std::vector<FileInfo>> entries = fs_->ListDir(dir);
        if (!entries.ok()) return ErrorAt(Loc(where), "libraries: cannot list `" + dir + "`: " + entries.status().message());
        for (const FileInfo& e : *entries) {
          if (!e.is_dir && fnmatch(base.c_str(), e.name.c_str(), 0) == 0) found.push_back(JoinPath(dir, e.name));
        }
        if (found.empty()) return ErrorAt(Loc(where), "libraries: `" + pattern + "` matches no file");
      }
      for (const auto& f : found) {
        if (seen.insert(f).second) out->sql_files.push_back(f);
      }
    }
    return Status::OK();
  }

  Result<PipelineSettings> Read(const std::string& text, const std::map<std::string, std::string>& overrides) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      SourceLocation loc{file(), e.mark.line + 1, e.mark.column + 1};
      return ErrorAt(loc, "YAML syntax: " + e.msg);
    }
    try {
      return ReadRoot(root, overrides);
    } catch (const YAML::Exception& e) {
      SourceLocation loc{file(), e.mark.line + 1, e.mark.column + 1};
      return ErrorAt(loc, e.msg);
    }
  }

  Result<PipelineSettings> ReadRoot(const YAML::Node& root, const std::map<std::string, std::string>& overrides) {
    PipelineSettings s;
    s.folder = folder_;
    s.settings_file = JoinPath(folder_, "pipeline.yaml");
    if (!root || root.IsNull()) return ErrorAt(SourceLocation{file(), 1, 1}, "empty settings: at least `name:` is required");
    LP_RETURN_IF_ERROR(CheckKeys(root, {"name", "storage", "libraries", "configuration", "continuous", "triggers",
                                        "publish", "server", "sla", "dashboard", "governance", "catalog"},
                                 "pipeline.yaml"));
    if (!root["name"]) return ErrorAt(Loc(root), "`name:` is required");
    LP_ASSIGN_OR_RETURN(s.name, String(root["name"], "name"));
    if (s.name.empty()) return ErrorAt(Loc(root["name"]), "name must not be empty");
    std::string storage = "storage";
    if (root["storage"]) {
      LP_ASSIGN_OR_RETURN(storage, String(root["storage"], "storage"));
    }
    if (root["configuration"]) {
      const YAML::Node& c = root["configuration"];
      if (!c.IsMap()) return ErrorAt(Loc(c), "configuration must be a mapping of key: value");
      for (auto it = c.begin(); it != c.end(); ++it) {
        std::string key = it->first.Scalar();
        if (!it->second.IsScalar() && !it->second.IsNull()) {
          return ErrorAt(Loc(it->second), "configuration." + key + " must be a single value (text, number or true/false)");
        }
        s.configuration[key] = it->second.IsNull() ? "" : it->second.Scalar();
      }
    }
    bool all_continuous = false;
    bool no_postgres = false;
    for (const auto& [key, value] : overrides) {
      if (key == "storage") {
        storage = value;
      } else if (key == "triggers") {
        if (value != "continuous") {
          return Status::InvalidArgument("--set triggers=" + value +
                                         ": the one override of triggers is `--set triggers=continuous` (every table "
                                         "runs as soon as its input changes; publication follows each commit)");
        }
        all_continuous = true;
      } else if (key == "publish.postgres") {
        if (value != "off") {
          return Status::InvalidArgument("--set publish.postgres=" + value +
                                         ": the one override of publish.postgres is `--set publish.postgres=off` (run "
                                         "without publishing to PostgreSQL)");
        }
        no_postgres = true;
      } else {
        s.configuration[key] = value;
      }
    }
    // Checked here so that `validate` refuses what `run` would (the runner reads the number).
    if (auto it = s.configuration.find("pipelines.maxFlowRetryAttempts"); it != s.configuration.end()) {
      const std::string& v = it->second;
      if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Status::InvalidArgument(s.settings_file + ": configuration pipelines.maxFlowRetryAttempts is '" + v +
                                       "'; it must be a whole number of restarts, 0 to 9999 (Lakeflow's default is 2)");
      }
    }
    // Checked here too, so that `validate` refuses what `run` would.
    LP_RETURN_IF_ERROR(EventLogSettingsOf(s.configuration, s.settings_file).status());
    s.storage = Resolve(folder_, storage);
    if (root["continuous"]) {
      LP_ASSIGN_OR_RETURN(s.continuous, Bool(root["continuous"], "continuous"));
    }
    if (root["triggers"]) {
      const YAML::Node& t = root["triggers"];
      if (!t.IsMap()) return ErrorAt(Loc(t), "triggers must map table names to triggers");
      for (auto it = t.begin(); it != t.end(); ++it) {
        LP_ASSIGN_OR_RETURN(TriggerSpec spec, Trigger(it->first, it->second));
        s.triggers[it->first.Scalar()] = spec;
      }
    }
    if (root["publish"]) {
      const YAML::Node& p = root["publish"];
      LP_RETURN_IF_ERROR(CheckKeys(p, {"postgres", "kafka", "files"}, "publish"));
      if (p["postgres"]) {
        LP_ASSIGN_OR_RETURN(s.publish.postgres, Postgres(p["postgres"], s.configuration));
      }
      if (p["kafka"]) {
        LP_ASSIGN_OR_RETURN(s.publish.kafka, Kafka(p["kafka"], s.configuration));
      }
      if (p["files"]) {
        LP_ASSIGN_OR_RETURN(s.publish.files, Files(p["files"], s.configuration));
      }
    }
    if (root["server"]) {
      const YAML::Node& sv = root["server"];
      if (sv.IsNull()) {
        s.server = ServerSettings{};
      } else {
        // governance: itself is read by src/governance (governance/policy.h), which the
        // server loads; it is checked there, with the pipeline's table names.
        LP_ASSIGN_OR_RETURN(s.server, Server(sv, s.configuration, static_cast<bool>(root["governance"])));
      }
    }
    if (root["sla"]) {
      LP_ASSIGN_OR_RETURN(s.slas, Slas(root["sla"]));
    }
    if (root["dashboard"]) {
      LP_ASSIGN_OR_RETURN(s.dashboard, ParseDashboard(root["dashboard"], file(), folder_, fs_));
    }
    if (all_continuous) {
      // Checked above like any settings, then dropped: tests and demos run the pipeline
      // at their own pace instead of the production schedule.
      s.triggers.clear();
      if (s.publish.postgres) s.publish.postgres->daily_minutes.clear();
    }
    // Checked above too, then dropped: a run without a PostgreSQL to publish to (the
    // dashboard tests, `lakepipe demo` when it cannot start one).
    if (no_postgres) s.publish.postgres.reset();
    YAML::Node libs = root["libraries"];
    if (libs) {
      LP_ASSIGN_OR_RETURN(s.libraries, StringList(libs, "libraries"));
      if (s.libraries.empty()) return ErrorAt(Loc(libs), "libraries is empty: list the SQL files");
      LP_RETURN_IF_ERROR(Libraries(s.libraries, libs, &s));
    } else {
      s.libraries = {"*.sql"};
      LP_RETURN_IF_ERROR(Libraries(s.libraries, root, &s));
    }
    return s;
  }

 private:
  std::string folder_;
  FileSystem* fs_;
};

}  // namespace

int64_t NextDailyMicros(const std::vector<int>& minutes, int64_t now_micros) {
  time_t now = static_cast<time_t>(now_micros / 1000000);
  for (int day = 0; day < 2; ++day) {
    for (int m : minutes) {
      struct tm local;
      localtime_r(&now, &local);
      local.tm_mday += day;
      local.tm_hour = m / 60;
      local.tm_min = m % 60;
      local.tm_sec = 0;
      local.tm_isdst = -1;
      int64_t at = static_cast<int64_t>(mktime(&local)) * 1000000;
      if (at >= now_micros) return at;
    }
  }
  return now_micros + 24LL * 3600 * 1000000;
}

std::string TriggerSpec::ToString() const {
  switch (kind) {
    case Kind::kContinuous: return "continuous";
    case Kind::kOnce: return "once";
    case Kind::kInterval: {
      int64_t s = interval_micros / 1000000;
      if (s % 86400 == 0) return "every " + std::to_string(s / 86400) + "d";
      if (s % 3600 == 0) return "every " + std::to_string(s / 3600) + "h";
      if (s % 60 == 0) return "every " + std::to_string(s / 60) + "m";
      return "every " + std::to_string(s) + "s";
    }
    case Kind::kDaily: {
      std::string out = "daily at ";
      for (size_t i = 0; i < daily_minutes.size(); ++i) {
        out += (i ? ", " : "") + TwoDigits(daily_minutes[i] / 60) + ":" + TwoDigits(daily_minutes[i] % 60);
      }
      return out;
    }
  }
  return "?";
}

bool ServerSettings::IsLoopback() const { return IsLoopbackAddress(host); }

bool IsLoopbackAddress(const std::string& host) {
  // Parsed, never matched as text: "127.attacker.example" is a DNS name, not 127.0.0.0/8.
  if (ToLower(host) == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  std::string v6_text = host;
  if (v6_text.size() >= 2 && v6_text.front() == '[' && v6_text.back() == ']') v6_text = v6_text.substr(1, v6_text.size() - 2);
  in6_addr v6{};
  if (inet_pton(AF_INET6, v6_text.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.x.y.z, an IPv4 loopback address written as IPv6.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

Result<int64_t> ParseDuration(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t start = i;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == start) return Status::InvalidArgument("`" + text + "` is not a duration such as 30s, 5m, 2h or 1d");
  double amount = std::strtod(text.substr(start, i - start).c_str(), nullptr);
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  std::string unit = ToLower(text.substr(i));
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.pop_back();
  double seconds;
  if (unit == "s" || unit == "sec" || unit == "second" || unit == "seconds") seconds = 1;
  else if (unit == "m" || unit == "min" || unit == "minute" || unit == "minutes") seconds = 60;
  else if (unit == "h" || unit == "hour" || unit == "hours") seconds = 3600;
  else if (unit == "d" || unit == "day" || unit == "days") seconds = 86400;
  else return Status::InvalidArgument("`" + text + "` is not a duration such as 30s, 5m, 2h or 1d");
  // Bounded before the conversion: a double beyond int64's range does not convert (make fuzz
  // found `99999...9m`).
  constexpr double kMaxMicros = 100.0 * 365 * 86400 * 1e6;
  double total = amount * seconds * 1e6;
  if (!(total <= kMaxMicros)) return Status::InvalidArgument("duration `" + text + "` is too long (at most 100 years)");
  int64_t micros = static_cast<int64_t>(total);
  if (micros <= 0) return Status::InvalidArgument("duration `" + text + "` must be positive");
  return micros;
}

Result<std::map<std::string, std::string>> ParseOverrides(const std::vector<std::string>& assignments) {
  std::map<std::string, std::string> out;
  for (const std::string& a : assignments) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("--set `" + a + "`: expected key=value");
    }
    out[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return out;
}

Result<PipelineSettings> ParsePipelineSettings(const std::string& yaml_text, const std::string& folder,
                                               const std::string& display_name,
                                               const std::map<std::string, std::string>& overrides,
                                               FileSystem* fs) {
  SettingsReader reader(display_name, folder, fs);
  return reader.Read(yaml_text, overrides);
}

Result<PipelineSettings> LoadPipelineSettings(const std::string& folder,
                                              const std::map<std::string, std::string>& overrides,
                                              FileSystem* fs) {
  std::string path = JoinPath(folder, "pipeline.yaml");
  Result<std::string> text = fs->ReadFile(path);
  if (!text.ok()) {
    if (!fs->Exists(folder)) return Status::NotFound("pipeline folder " + folder + " does not exist");
    return Status::NotFound(path + ": cannot read the pipeline settings (" + text.status().message() + ")");
  }
  return ParsePipelineSettings(*text, folder, path, overrides, fs);
}

Result<Pipeline> LoadPipeline(const std::string& folder, const std::map<std::string, std::string>& overrides,
                              FileSystem* fs) {
  Pipeline p;
  LP_ASSIGN_OR_RETURN(p.settings, LoadPipelineSettings(folder, overrides, fs));
  PlanOptions options;
  options.base_dir = folder;
  for (const std::string& path : p.settings.sql_files) {
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
    auto file = std::make_shared<SourceFile>(path, std::move(text));
    LP_ASSIGN_OR_RETURN(SqlFileStatements parsed, ParseSqlStatements(file, p.settings.configuration, options));
    for (auto& d : parsed.datasets) p.datasets.push_back(std::move(d));
    for (auto& f : parsed.flows) p.flows.push_back(std::move(f));
  }
  // Flows may be in another file than the table they write.
  LP_RETURN_IF_ERROR(AttachFlows(&p.datasets, p.flows));
  return p;
}

}  // namespace lakepipe::sql
