// `lakepipe run DIR [--once]` and `lakepipe query DIR 'SELECT ...'`.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>

#include <cstdio>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "cli/audit.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/fs.h"
#include "common/local_postgres.h"
#include "common/memory.h"
#include "kafka/dev_broker.h"
#include "publish/file_export.h"
#include "publish/kafka_sink.h"
#include "publish/publish_loop.h"
#include "publish/publisher.h"
#include "runtime/event_log.h"
#include "runtime/pipeline_runner.h"
#include "runtime/status_board.h"
#include "server/http_server.h"
#include "server/sla.h"
#include "sql/pipeline.h"

namespace lakepipe::cli {
namespace {

struct RunArgs {
  std::string folder;
  bool once = false;
  int port = -1;           // --port: serve the API and dashboard on this port (0: any free)
  bool no_server = false;
  bool summary = false;    // continuous: a status line every few seconds instead of a line per update
  std::string full_refresh;
  bool full_refresh_all = false;
  std::string refresh;     // --refresh T1,T2: update only these tables (refresh selection)
  std::vector<std::string> sets;
};

std::set<std::string> SplitCommas(const std::string& s) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.insert(item);
    start = comma + 1;
  }
  return out;
}

// The runner a SIGINT/SIGTERM handler stops (one run per process).
std::atomic<runtime::PipelineRunner*> g_running{nullptr};

extern "C" void StopOnSignal(int) {
  if (runtime::PipelineRunner* r = g_running.load()) r->RequestStop();
}

// Installs the stop handler for the lifetime of a run; a second signal while stopping
// kills the process the default way.
class StopSignals {
 public:
  explicit StopSignals(runtime::PipelineRunner* runner) {
    g_running.store(runner);
    struct sigaction sa {};
    sa.sa_handler = StopOnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_running.store(nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// "14:03:07.123", local time, for continuous-mode lines.
std::string FormatLocalTime() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm local;
  localtime_r(&ts.tv_sec, &local);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", local.tm_hour, local.tm_min, local.tm_sec,
                static_cast<long>(ts.tv_nsec / 1000000));
  return buf;
}

std::string Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string ReportLine(const runtime::TableReport& t) {
  std::string line = t.table + " (" + t.kind + "): " + t.status;
  if (t.status == "up to date") {
    line += ", version " + std::to_string(t.table_version);
  } else if (t.status == "waiting") {
    line += ": " + t.message;
  } else if (t.status == "updated") {
    line += ", " + Thousands(t.rows_written) + (t.rows_written == 1 ? " row written" : " rows written");
    if (t.rows_dropped) line += ", " + Thousands(t.rows_dropped) + " dropped";
    if (t.rows_quarantined) line += ", " + Thousands(t.rows_quarantined) + " quarantined";
    if (t.rows_late) line += ", " + Thousands(t.rows_late) + " late";
    if (t.rows_rescued) line += ", " + Thousands(t.rows_rescued) + " with _rescued_data";
    line += ", version " + std::to_string(t.table_version) + ", " + std::to_string(t.duration_ms) + " ms";
    if (t.shared_read_views > 1) line += ", input read once for " + std::to_string(t.shared_read_views) + " views";
  } else {
    line += ": " + t.message;
  }
  return line;
}

void PrintReport(const runtime::TableReport& t, const char* prefix) {
  std::printf("%s%s\n", prefix, ReportLine(t).c_str());
  for (const auto& e : t.expectations) {
    if (e.failed == 0) continue;
    std::printf("      expectation %s (%s): %s failed, %s passed\n", e.name.c_str(), e.action.c_str(),
                Thousands(e.failed).c_str(), Thousands(e.passed).c_str());
  }
  std::fflush(stdout);
}

// --once on a terminal: one progress bar line redrawn in place, then the table's line.
class ProgressBar {
 public:
  void Start(const std::string& table, int index, int total) {
    index_ = index;
    total_ = total;
    Draw(table);
  }
  void Done(const runtime::TableReport& t) {
    std::printf("\r\033[K");
    PrintReport(t, "  ");
    Draw("");
  }
  void Clear() {
    std::printf("\r\033[K");
    std::fflush(stdout);
  }

 private:
  void Draw(const std::string& table) {
    constexpr int kWidth = 30;
    int done = table.empty() ? index_ + 1 : index_;
    int filled = total_ > 0 ? done * kWidth / total_ : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::printf("\r\033[K[%s] %d/%d tables%s%s", bar.c_str(), done, total_, table.empty() ? "" : "  updating ",
                table.c_str());
    std::fflush(stdout);
  }
  int index_ = 0;
  int total_ = 0;
};

// Every few seconds: rows per layer, the Gold latency, the backlog (continuous --summary).
void PrintSummaries(const runtime::StatusBoard& board, const std::atomic<bool>& done) {
  int64_t seen = -1;
  while (!done.load()) {
    for (int i = 0; i < 20 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    runtime::PipelineStatus status = board.Snapshot();
    if (done.load() || status.generation == seen) continue;
    seen = status.generation;
    std::string line = FormatLocalTime();
    double p99 = 0;
    int64_t backlog = 0;
    for (const auto& t : status.tables) {
      backlog += t.backlog_files;
      if (t.kind == "streaming table") line += "  " + t.name + " " + Thousands(t.rows_out) + " rows";
      if (t.end_to_end_latency_seconds.count > 0) p99 = std::max(p99, t.end_to_end_latency_seconds.Quantile(0.99));
    }
    char tail[96];
    std::snprintf(tail, sizeof tail, "  latency p99 %.0f ms  backlog %lld files", p99 * 1000, static_cast<long long>(backlog));
    std::printf("%s%s\n", line.c_str(), tail);
    std::fflush(stdout);
  }
}

Status RunPipeline(const RunArgs& a) {
  if (a.full_refresh_all && !a.full_refresh.empty()) {
    return Status::InvalidArgument("give --full-refresh T1,T2 or --full-refresh-all, not both");
  }
  if (!a.refresh.empty() && a.full_refresh_all) {
    return Status::InvalidArgument("--refresh selects tables to update, --full-refresh-all rebuilds every table: "
                                   "give one (--full-refresh T1,T2 rebuilds selected tables)");
  }
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::Open(a.folder, overrides));
  const auto& settings = runner->pipeline().settings;
  bool once = a.once || !settings.continuous;
  if (once && (a.port >= 0 || a.summary)) {
    // Both act only while a pipeline runs continuously; silently ignoring them would
    // leave the user waiting for a server or status lines that never come.
    return Status::InvalidArgument(std::string(a.port >= 0 ? "--port" : "--summary") +
                                   " applies to a continuous run, but this run does one update and exits (" +
                                   (a.once ? "--once" : "continuous: false in pipeline.yaml") +
                                   "); serve the tables with `lakepipe serve " + a.folder + "`");
  }
  if (!a.refresh.empty() && !once) {
    // A continuous run updates every table as its input changes; a selection would
    // silently stop the others.
    return Status::InvalidArgument("--refresh selects the tables of one triggered update: add --once");
  }
  runtime::RunOptions options;
  options.refresh_selection = SplitCommas(a.refresh);
  options.full_refresh = SplitCommas(a.full_refresh);
  options.full_refresh_all = a.full_refresh_all;
  runtime::StatusBoard board;
  options.board = &board;
  StopSignals signals(runner.get());

  // Fewer malloc arenas, and freed memory given back every 10 s (common/memory.h), so RSS
  // follows what the run holds rather than what it once held: for a run of months, and
  // for a large --once, whose Silver threads' freed arenas stayed resident under the gold
  // views' peak (20M lines: 373 MB with glibc's defaults, 336 MB with two arenas;
  // docs/BENCHMARKS.md, "Memory: one budget").
  TuneAllocatorForLongRun();
  if (!once) {
    // The HTTP API and dashboard, when pipeline.yaml has `server:` or --port is given.
    server::HttpServer http;
    if (!a.no_server && (settings.server.has_value() || a.port >= 0)) {
      server::ServerOptions server_options =
          settings.server ? server::ServerOptions::FromSettings(*settings.server) : server::ServerOptions();
      if (a.port >= 0) server_options.port = a.port;
      LP_RETURN_IF_ERROR(http.Start(server_options, runner.get(), &board));
      std::printf("pipeline %s: dashboard and API at %s\n", settings.name.c_str(), http.url().c_str());
    }
    std::printf("pipeline %s: running continuously (Ctrl-C stops after the current batch)\n", settings.name.c_str());
    std::fflush(stdout);
    std::thread summary;
    std::atomic<bool> done{false};
    if (a.summary) {
      summary = std::thread([&] { PrintSummaries(board, done); });
    } else {
      options.on_table = [](const runtime::TableReport& t) {
        std::string stamp = FormatLocalTime();
        std::printf("%s  ", stamp.c_str());
        PrintReport(t, "");
      };
    }
    // Publication beside the pipeline: its own thread, so PostgreSQL down or slow never
    // holds a table's commit back.
    std::unique_ptr<runtime::EventLog> publish_events;
    std::vector<std::unique_ptr<publish::PublishLoop>> publishers;
    auto table_path = [&](const std::string& t) { return runner->TablePath(t); };
    auto publish_beside = [&](std::unique_ptr<publish::TablePublisher> destination,
                              publish::PublishLoopOptions loop_options = {}) {
      if (!publish_events) {
        publish_events = std::make_unique<runtime::EventLog>(FileSystem::Default(), settings.storage, settings.name,
                                                             Clock::System());
      }
      publishers.push_back(
          std::make_unique<publish::PublishLoop>(std::move(destination), &board, publish_events.get(), loop_options));
      publishers.back()->Start();
    };
    if (settings.publish.postgres) {
      publish::PublishLoopOptions loop_options;
      loop_options.daily_minutes = settings.publish.postgres->daily_minutes;
      publish_beside(std::make_unique<publish::Publisher>(publish::OptionsFromSettings(*settings.publish.postgres, table_path)),
                     loop_options);
      std::string when;
      if (!loop_options.daily_minutes.empty()) {
        sql::TriggerSpec times;
        times.kind = sql::TriggerSpec::Kind::kDaily;
        times.daily_minutes = loop_options.daily_minutes;
        when = " " + times.ToString();  // "daily at 23:00"
      }
      std::printf("pipeline %s: publishing %zu table(s) to PostgreSQL schema %s%s\n", settings.name.c_str(),
                  settings.publish.postgres->tables.size(), settings.publish.postgres->schema.c_str(), when.c_str());
    }
    if (settings.publish.kafka) {
      publish_beside(std::make_unique<publish::KafkaSink>(
          publish::KafkaSinkOptionsFromSettings(*settings.publish.kafka, settings.storage, table_path)));
      std::printf("pipeline %s: sending %zu table(s) to Kafka at %s\n", settings.name.c_str(),
                  settings.publish.kafka->tables.size(), settings.publish.kafka->bootstrap_servers.c_str());
    }
    if (settings.publish.files) {
      publish_beside(std::make_unique<publish::FileExport>(
          publish::FileExportTargetsFromSettings(*settings.publish.files, settings.folder, table_path)));
      std::printf("pipeline %s: exporting %zu table(s) as files\n", settings.name.c_str(),
                  settings.publish.files->tables.size());
    }
    // SLAs (docs/sla.md): evaluated every second beside the run; a change of breach state
    // is an event. The thread waits in small steps so that stopping is prompt.
    std::thread sla_thread;
    if (!settings.slas.empty()) {
      sla_thread = std::thread([&] {
        server::SlaMonitor monitor(runner.get());
        runtime::EventLog events(FileSystem::Default(), settings.storage, settings.name, Clock::System());
        std::string last_error;
        while (!done.load()) {
          auto changes = monitor.Check();
          if (changes.ok()) {
            last_error.clear();
            for (auto& e : *changes) {
              std::printf("%s  sla: %s\n", FormatLocalTime().c_str(), e.message.c_str());
              events.Add(std::move(e));
            }
            std::fflush(stdout);
          } else if (changes.status().message() != last_error) {
            last_error = changes.status().message();  // said once, not every second
            std::fprintf(stderr, "lakepipe: warning: SLA evaluation failed: %s\n", last_error.c_str());
          }
          Status flushed = events.Flush();  // kept and retried next time when it fails
          (void)flushed;
          for (int i = 0; i < 10 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        (void)events.Flush();
      });
    }
    Status run;
    {
      MemoryReleaser releaser(std::chrono::seconds(10));
      run = runner->RunContinuous(options);
    }
    for (auto it = publishers.rbegin(); it != publishers.rend(); ++it) (*it)->Stop();
    done.store(true);
    if (sla_thread.joinable()) sla_thread.join();
    if (summary.joinable()) summary.join();
    http.Stop();
    LP_RETURN_IF_ERROR(run);
    std::printf("pipeline %s: stopped\n", settings.name.c_str());
    return Status::OK();
  }

  bool tty = ::isatty(STDOUT_FILENO) == 1;
  ProgressBar bar;
  if (tty) {
    options.on_table_start = [&bar](const std::string& table, int index, int total) { bar.Start(table, index, total); };
    options.on_table = [&bar](const runtime::TableReport& t) { bar.Done(t); };
  } else {
    options.on_table = [](const runtime::TableReport& t) { PrintReport(t, "  "); };
  }
  // What the tables free is given back every 10 s, not after each table: the next table
  // reuses it (one arena, fixed thresholds: common/memory.h), where memory given back is
  // fresh pages again, each first touch a fault (5M lines: 4.10-4.27 s against 4.29-4.77 s,
  // the same peak RSS; docs/BENCHMARKS.md, "The 1M-line drain").
  std::printf("pipeline %s: update started\n", settings.name.c_str());
  std::fflush(stdout);
  std::optional<Result<runtime::UpdateReport>> ran;
  {
    MemoryReleaser releaser(std::chrono::seconds(10));
    ran.emplace(runner->RunOnce(options));
  }
  LP_ASSIGN_OR_RETURN(runtime::UpdateReport report, std::move(*ran));
  if (tty) bar.Clear();
  int failed = 0;
  for (const auto& t : report.tables) failed += t.status == "failed" || t.status == "skipped";
  // What the update committed is published even when some tables failed: each published
  // table goes to PostgreSQL as of its latest Delta version.
  Status published = Status::OK();
  if (settings.publish.postgres || settings.publish.kafka || settings.publish.files) {
    published = PublishTables(*runner, "", /*rebuild=*/false);
  }
  if (failed > 0) {
    return Status::Aborted("update " + report.update_id + " finished with " + std::to_string(failed) +
                           " table(s) failed or skipped (details above and in the event log)");
  }
  LP_RETURN_IF_ERROR(published);
  size_t tables = 0;
  size_t expected = 0;  // the tables this update runs: all, or those of a refresh selection
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::set<std::string> selected;
  for (const auto& t : options.refresh_selection) selected.insert(lower(t));
  for (const auto& t : options.full_refresh) selected.insert(lower(t));
  for (const auto& ds : runner->resolved().datasets) {
    if (ds.kind == sql::DatasetKind::kView) continue;
    ++tables;
    expected += options.refresh_selection.empty() || selected.count(lower(ds.name)) > 0;
  }
  std::printf("pipeline %s: update %s in %lld ms (%zu of %zu tables%s)\n", settings.name.c_str(),
              report.tables.size() < expected ? "stopped" : "completed", static_cast<long long>(report.duration_ms),
              report.tables.size(), tables, options.refresh_selection.empty() ? "" : ", as selected by --refresh");
  return Status::OK();
}

// `lakepipe demo`: the orders pipeline running continuously on generated data, with the
// producer dropping files into its landing folder (or sending them to a development Kafka
// broker in this process, --source kafka) and the dashboard served.
struct DemoArgs {
  std::string dir = "lakepipe-demo";
  std::string example;  // default: examples/orders (-kafka, -cdc) beside the working folder or the binary
  int port = 8080;
  int64_t rows = 200000;  // per round; each round has a new seed
  int64_t rounds = 0;     // files, kafka: rounds produced; 0: until stopped
  int64_t rate = 0;  // 0: the source's default (files, kafka: 2,000 lines/s; postgres: 200 orders/s)
  int64_t lines_per_file = 200;
  int partitions = 4;     // kafka: partitions of the orders topic
  bool no_postgres = false;
  std::string source = "files";  // files | kafka | postgres
  int days = 30;                 // video-metrics: days of feed generated
  double batch_seconds = 5;      // video-metrics: seconds between two landed batch files
};

// The demo's PostgreSQL: in <dir>/postgres, or (when the unprivileged user the server runs
// as cannot reach that folder, or its path is too long for a socket) in /tmp.
Result<std::unique_ptr<LocalPostgres>> StartDemoPostgres(const std::string& dir, std::string* fallback,
                                                         bool logical_replication = false) {
  LocalPostgresOptions options;
  options.folder = JoinPath(dir, "postgres");
  options.logical_replication = logical_replication;
  auto pg = LocalPostgres::Start(options);
  if (pg.ok()) return pg;
  std::string first = pg.status().message();
  *fallback = "/tmp/lakepipe-demo-postgres-" + std::to_string(std::hash<std::string>()(dir) % 1000000007);
  options.folder = *fallback;
  pg = LocalPostgres::Start(options);
  if (!pg.ok()) return Status::IOError(first + "; in " + *fallback + ": " + pg.status().message());
  return pg;
}

// `interval: 5m` -> `interval: 5s` wherever it appears in a pipeline.yaml text.
std::string MinutesToSeconds(std::string yaml) {
  const std::string key = "interval:";
  for (size_t at = yaml.find(key); at != std::string::npos; at = yaml.find(key, at + 1)) {
    size_t digits = yaml.find_first_not_of(' ', at + key.size());
    size_t unit = digits == std::string::npos ? digits : yaml.find_first_not_of("0123456789", digits);
    if (unit == std::string::npos || unit == digits || yaml[unit] != 'm') continue;
    if (unit + 1 < yaml.size() && std::isalpha(static_cast<unsigned char>(yaml[unit + 1]))) continue;
    yaml[unit] = 's';
  }
  return yaml;
}

// A copy of the pipeline folder with a publish section for the demo's PostgreSQL. With
// `seconds_for_minutes`, interval triggers in minutes become as many seconds (the CDC
// example's Silver every 5 minutes and Gold every 15 run every 5 and 15 seconds).
// SQL files the example shares from elsewhere (`../orders/silver.sql` in its `libraries`),
// and its dashboard file, are copied beside it under their own names, and the copy's
// pipeline.yaml names them so. CopyDemoPipeline does the copying; `edit` rewrites the
// copy's pipeline.yaml text.
Status CopyDemoPipeline(const std::string& example, const std::string& to,
                        const std::function<std::string(std::string)>& edit) {
  FileSystem* fs = FileSystem::Default();
  LP_RETURN_IF_ERROR(fs->CreateDirs(to));
  LP_ASSIGN_OR_RETURN(sql::PipelineSettings settings, sql::LoadPipelineSettings(example));
  std::map<std::string, std::string> renamed;  // library as written -> its name in the copy
  std::set<std::string> names;
  LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(example));
  for (const auto& f : entries)
    if (!f.is_dir) names.insert(f.name);
  for (const auto& lib : settings.libraries) {
    if (lib.find('/') == std::string::npos) continue;
    if (lib.find_first_of("*?[") != std::string::npos) {
      return Status::NotSupported("demo: library " + lib + " of " + example +
                                  " is a pattern outside the pipeline folder; list its files");
    }
    std::string base = BaseName(lib);
    if (!names.insert(base).second) {
      return Status::InvalidArgument("demo: library " + lib + " of " + example + " has the name of another file (" +
                                     base + ") in the pipeline folder");
    }
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(JoinPath(example, lib)));
    LP_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(to, base), text));
    renamed[lib] = base;
  }
  // A dashboard file shared the same way (`dashboard: ../orders/dashboard.yaml`).
  if (settings.dashboard && settings.dashboard->source_file.find('/') != std::string::npos &&
      settings.dashboard->source_file[0] != '/') {
    const std::string& file = settings.dashboard->source_file;
    std::string base = BaseName(file);
    if (!names.insert(base).second) {
      return Status::InvalidArgument("demo: dashboard " + file + " of " + example + " has the name of another file (" +
                                     base + ") in the pipeline folder");
    }
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(JoinPath(example, file)));
    LP_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(to, base), text));
    renamed[file] = base;
  }
  for (const auto& f : entries) {
    if (f.is_dir) continue;
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(JoinPath(example, f.name)));
    if (f.name == "pipeline.yaml") {
      for (const auto& [lib, base] : renamed) {
        for (size_t at = text.find(lib); at != std::string::npos; at = text.find(lib, at + base.size()))
          text.replace(at, lib.size(), base);
      }
      text = edit(std::move(text));
    }
    LP_RETURN_IF_ERROR(fs->WriteFileAtomic(JoinPath(to, f.name), text));
  }
  return Status::OK();
}

Status WriteDemoPipeline(const std::string& example, const std::string& to, const std::string& dsn,
                         bool seconds_for_minutes = false) {
  return CopyDemoPipeline(example, to, [&](std::string text) {
    if (seconds_for_minutes) text = MinutesToSeconds(text);
    text += "\n# Added by `lakepipe demo`: the Gold tables in the demo's PostgreSQL.\n"
            "publish:\n"
            "  postgres:\n"
            "    dsn: \"" + dsn + "\"\n"
            "    schema: gold\n"
            "    reader_role: bi_reader\n"
            "    tables:\n"
            "      - gold_kpis\n"
            "      - {table: gold_revenue_by_country, target: revenue, key: [Country]}\n"
            "      - {table: gold_daily_revenue, target: daily_revenue, key: [OrderDate]}\n"
            "      - {table: gold_top_products, target: top_products, key: [ProductNo]}\n";
    return text;
  });
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("lakepipe");
}

// Starts `lakepipe args...` (this binary) as a child; -1 on failure. `quiet` sends its
// output to /dev/null.
pid_t SpawnSelf(const std::vector<std::string>& args, bool quiet = false) {
  std::string exe = SelfExe();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (quiet) {
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
  }
  // The demo's Ctrl-C goes to the whole process group: the child stops on its own signal.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& x : args) argv.push_back(const_cast<char*>(x.c_str()));
  argv.push_back(nullptr);
  ::execv(exe.c_str(), argv.data());
  ::_exit(127);
}

// Runs `lakepipe args...` (this binary) and waits; an error names the command.
Status RunSelf(const std::vector<std::string>& args, bool quiet = false) {
  pid_t pid = SpawnSelf(args, quiet);
  if (pid < 0) return Status::IOError("cannot start lakepipe " + args[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return Status::IOError("lakepipe " + args[0] + " failed");
  return Status::OK();
}

// `--example NAME`: a folder holding pipeline.yaml, else examples/NAME in the working
// folder or beside the binary (`--example video-metrics`); as given when none exists.
std::string ExampleFolder(const std::string& name) {
  FileSystem* fs = FileSystem::Default();
  if (fs->Exists(JoinPath(name, "pipeline.yaml")) || name.find('/') != std::string::npos) return name;
  for (const std::string& root : {std::string("."), DirName(DirName(SelfExe()))}) {
    std::string folder = JoinPath(root, "examples/" + name);
    if (fs->Exists(JoinPath(folder, "pipeline.yaml"))) return root == "." ? "examples/" + name : folder;
  }
  return name;
}

// The demo's arguments with the working folder made absolute (the pipeline resolves
// relative paths against its own folder, the producers against ours), the example folder
// found (`default_example` in the working folder or beside the binary) and the rate set.
Result<DemoArgs> ResolveDemoArgs(const DemoArgs& args, const std::string& default_example, int64_t default_rate) {
  FileSystem* fs = FileSystem::Default();
  DemoArgs a = args;
  std::error_code ec;
  a.dir = std::filesystem::absolute(a.dir, ec).lexically_normal().string();
  if (ec) return Status::InvalidArgument("demo folder " + args.dir + ": " + ec.message());
  if (a.example.empty()) {
    std::string beside_binary = DirName(DirName(SelfExe())) + "/" + default_example;
    a.example = fs->Exists(default_example + "/pipeline.yaml") ? default_example : beside_binary;
  } else {
    a.example = ExampleFolder(a.example);
  }
  if (!fs->Exists(JoinPath(a.example, "pipeline.yaml"))) {
    return Status::NotFound("the demo pipeline " + a.example + "/pipeline.yaml is missing; run from the lakepipe "
                            "source folder or give --example DIR");
  }
  if (a.rate == 0) a.rate = default_rate;
  if (a.rate < 0) return Status::InvalidArgument("demo --rate must be > 0");
  return a;
}

// `lakepipe demo --source postgres`: seed 001 over change data capture. A private
// PostgreSQL with wal_level = logical runs the orders application (`produce --to
// postgresql://`), examples/orders-cdc reads its outbox and dimensions through logical
// replication, and the Gold tables are published back to the same server (schema gold).
// Unlike the files demo, PostgreSQL is the source: without it there is no demo.
Status RunPostgresDemo(const DemoArgs& args) {
  if (args.no_postgres) return Status::InvalidArgument("demo --source postgres needs PostgreSQL: drop --no-postgres");
  LP_ASSIGN_OR_RETURN(DemoArgs a, ResolveDemoArgs(args, "examples/orders-cdc", 200));
  std::string pg_fallback;
  LP_ASSIGN_OR_RETURN(auto pg, StartDemoPostgres(a.dir, &pg_fallback, /*logical_replication=*/true));
  // Everything below stops the server and removes a /tmp folder on the way out.
  auto stop_postgres = [&] {
    (void)pg->Stop();
    if (!pg_fallback.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(pg_fallback, ec);
    }
  };
  // A URI (`produce --to` takes one; libpq and read_postgres_cdc take either form).
  std::string dsn = "postgresql://postgres@127.0.0.1:" + std::to_string(pg->port()) + "/shop";
  std::string pipeline = JoinPath(a.dir, "pipeline");
  auto has_db = pg->Psql("SELECT 1 FROM pg_database WHERE datname = 'shop'");
  Status ready = has_db.status();
  if (ready.ok() && has_db->empty()) ready = pg->Psql("CREATE DATABASE shop").status();
  // The application's schema and first rows exist before the pipeline resolves its sources.
  if (ready.ok()) ready = RunSelf({"produce", "--to", dsn, "--rate", "1000", "--limit", "1"}, /*quiet=*/true);
  if (ready.ok()) ready = WriteDemoPipeline(a.example, pipeline, dsn, /*seconds_for_minutes=*/true);
  if (!ready.ok()) {
    stop_postgres();
    return ready;
  }
  std::printf("demo: PostgreSQL on 127.0.0.1:%d (data in %s), wal_level = logical; the orders application writes "
              "%s orders/s to database shop (schema shop, with an outbox)\n"
              "demo: seed 001's cadence in seconds: Silver every 5 s, Gold every 15 s; Gold is published to schema "
              "gold. Try:\n"
              "  %s -c 'SELECT country, total_revenue, orders FROM gold.revenue ORDER BY total_revenue DESC LIMIT 5'\n",
              pg->port(), pg->folder().c_str(), Thousands(a.rate).c_str(), pg->PsqlCommand("shop", "bi_reader").c_str());
  std::fflush(stdout);
  pid_t producer = SpawnSelf({"produce", "--to", dsn, "--rate", std::to_string(a.rate)}, /*quiet=*/true);
  RunArgs run;
  run.folder = pipeline;
  run.port = a.port;
  run.summary = true;
  run.sets = {"postgres_dsn=" + dsn, "storage=" + JoinPath(a.dir, "storage")};
  Status st = producer < 0 ? Status::IOError("cannot start the orders application (lakepipe produce)")
                           : RunPipeline(run);
  if (producer > 0) {
    ::kill(producer, SIGTERM);
    int status = 0;
    ::waitpid(producer, &status, 0);
  }
  stop_postgres();
  std::printf("demo: stopped; the tables stay in %s (lakepipe query %s --set storage=%s 'SELECT * FROM gold_kpis'); "
              "the next demo in %s continues them\n",
              JoinPath(a.dir, "storage").c_str(), a.example.c_str(), JoinPath(a.dir, "storage").c_str(), a.dir.c_str());
  return st;
}

// `lakepipe demo --example video-metrics`: seed 003. The feed of `--days` days is generated
// once (`generate videos`, into <dir>/videos-feed), then its batch files are landed one by
// one, every `--batch-seconds` (a simulated half day), into <dir>/videos-landing; each is
// given the time it lands as its modification time, as a file dropped by the feed would
// have. The example runs continuously with `--set triggers=continuous` (its 08h/20h/22h/23h
// schedule would leave a demo idle), publishing Gold to a private PostgreSQL (database
// videos, schema video) as the orders demo does — or, when PostgreSQL cannot start (or
// --no-postgres), with `--set publish.postgres=off`, saying so — and
// exporting the CSV files per day into <dir>/videos-exports. Batches already landed by an
// earlier demo in the same folder are not landed again: the lake in <dir>/videos-storage
// continues.
Status RunVideoDemo(const DemoArgs& args) {
  if (args.source != "files") {
    return Status::InvalidArgument("demo --example video-metrics reads a landing folder; --source " + args.source +
                                   " is for the orders examples");
  }
  if (args.days < 1) return Status::InvalidArgument("demo --days must be >= 1");
  if (!(args.batch_seconds > 0)) return Status::InvalidArgument("demo --batch-seconds must be > 0");
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(DemoArgs a, ResolveDemoArgs(args, "examples/video-metrics", 1));
  const std::string feed = JoinPath(a.dir, "videos-feed"), landing = JoinPath(a.dir, "videos-landing");
  const std::string storage = JoinPath(a.dir, "videos-storage"), exports = JoinPath(a.dir, "videos-exports");
  LP_RETURN_IF_ERROR(fs->CreateDirs(landing));
  if (!fs->Exists(feed)) {
    LP_RETURN_IF_ERROR(RunSelf({"generate", "videos", "--days", std::to_string(a.days), "--out", feed}, /*quiet=*/true));
  }
  LP_ASSIGN_OR_RETURN(auto feed_entries, fs->ListDir(feed));
  std::vector<std::string> batches;
  for (const auto& e : feed_entries)
    if (!e.is_dir && e.name.rfind("videos_", 0) == 0) batches.push_back(e.name);
  std::sort(batches.begin(), batches.end());  // videos_<yyyy-mm-dd>T<hh>.json: by time
  size_t landed = 0;
  for (const auto& b : batches) landed += fs->Exists(JoinPath(landing, b));
  std::printf("demo: seed 003's video feed, %zu batch files in %s (%zu landed already); landing one every %.1f s "
              "(half a day of events) into %s\n",
              batches.size(), feed.c_str(), landed, a.batch_seconds, landing.c_str());
  std::fflush(stdout);

  std::unique_ptr<LocalPostgres> pg;
  std::string pg_fallback;
  std::vector<std::string> sets = {"storage=" + storage, "landing=" + landing, "exports=" + exports,
                                   "triggers=continuous"};
  const std::string pipeline = a.example;
  Status ready = a.no_postgres ? Status::Aborted("--no-postgres") : Status::OK();
  if (ready.ok()) {
    auto started = StartDemoPostgres(a.dir, &pg_fallback);
    ready = started.status();
    if (started.ok()) {
      pg = std::move(*started);
      auto has_db = pg->Psql("SELECT 1 FROM pg_database WHERE datname = 'videos'");
      ready = has_db.status();
      if (ready.ok() && has_db->empty()) ready = pg->Psql("CREATE DATABASE videos").status();
    }
  }
  if (ready.ok()) {
    sets.push_back("postgres_dsn=" + pg->Dsn("videos"));
    std::printf("demo: PostgreSQL on 127.0.0.1:%d (data in %s); the Gold tables are published to schema video. Try:\n"
                "  %s -c 'SELECT day, network, views FROM video.views_per_day_network ORDER BY day DESC, views DESC "
                "LIMIT 6'\n",
                pg->port(), pg->folder().c_str(), pg->PsqlCommand("videos", "bi_reader").c_str());
  } else {
    // The pipeline names a PostgreSQL it would fail to reach: run without it.
    std::printf("demo: PostgreSQL not started (%s); running without publication to PostgreSQL (the CSV files per day "
                "are still exported)\n",
                ready.message().c_str());
    if (pg) {
      (void)pg->Stop();
      pg.reset();
    }
    sets.push_back("publish.postgres=off");
  }
  std::printf("demo: the Gold CSV files per day go to %s/views_per_day_network and .../views_per_day_institution\n",
              exports.c_str());
  std::fflush(stdout);

  // A copy under a hidden name, stamped now, renamed into place: the file source sees it
  // whole, and its landing time is now (freshness and SLAs are measured from it).
  auto land = [&](const std::string& name) {
    std::string from = JoinPath(feed, name), hidden = JoinPath(landing, "." + name + ".tmp");
    std::error_code ec;
    std::filesystem::copy_file(from, hidden, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) std::filesystem::last_write_time(hidden, std::filesystem::file_time_type::clock::now(), ec);
    if (!ec) std::filesystem::rename(hidden, JoinPath(landing, name), ec);
    if (ec) return Status::IOError("demo: cannot land " + name + ": " + ec.message());
    return Status::OK();
  };
  // The schema is inferred from the landed files: the first batch is there before the run.
  if (landed == 0 && !batches.empty()) LP_RETURN_IF_ERROR(land(batches[0]));
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    for (const std::string& name : batches) {
      if (fs->Exists(JoinPath(landing, name))) continue;
      for (double waited = 0; waited < a.batch_seconds && !stop.load(); waited += 0.05)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (stop.load()) return;
      Status landed_one = land(name);
      if (!landed_one.ok()) {
        std::fprintf(stderr, "lakepipe: warning: %s\n", landed_one.message().c_str());
        return;
      }
    }
    if (!stop.load()) {
      std::printf("demo: the whole feed (%zu batches) has landed; the pipeline keeps running until Ctrl-C\n",
                  batches.size());
      std::fflush(stdout);
    }
  });
  RunArgs run;
  run.folder = pipeline;
  run.port = a.port;
  run.summary = true;
  run.sets = sets;
  Status st = RunPipeline(run);
  stop.store(true);
  feeder.join();
  if (pg) {
    (void)pg->Stop();
    pg.reset();
    if (!pg_fallback.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(pg_fallback, ec);
    }
  }
  std::printf("demo: stopped; the tables stay in %s (lakepipe query %s --set storage=%s 'SELECT * FROM "
              "gold_views_per_day_network'); the next demo in %s continues them\n",
              storage.c_str(), a.example.c_str(), storage.c_str(), a.dir.c_str());
  return st;
}

// `lakepipe demo --example shop`: seed 004. `generate shop --days N` once into
// <dir>/shop-feed, then landed into <dir>/shop-landing a day at a time, one day every
// `--batch-seconds`: the reference files (stores, channels, campaigns) and the first day
// before the run starts, then each day's product changes, CRM extract, orders and events
// (in that order, so a day's dimensions are there before its facts). Each file is copied
// under a hidden name, stamped as it lands and renamed into place. examples/shop runs
// continuously with its dashboard (it publishes nothing). Days landed by an earlier demo in
// the same folder are not landed again: the lake in <dir>/shop-storage continues.
Status RunShopDemo(const DemoArgs& args) {
  if (args.source != "files") {
    return Status::InvalidArgument("demo --example shop reads a landing folder; --source " + args.source +
                                   " is for the orders examples");
  }
  if (args.days < 1) return Status::InvalidArgument("demo --days must be >= 1");
  if (!(args.batch_seconds > 0)) return Status::InvalidArgument("demo --batch-seconds must be > 0");
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(DemoArgs a, ResolveDemoArgs(args, "examples/shop", 1));
  const std::string feed = JoinPath(a.dir, "shop-feed"), landing = JoinPath(a.dir, "shop-landing");
  const std::string storage = JoinPath(a.dir, "shop-storage");
  if (!fs->Exists(feed)) {
    LP_RETURN_IF_ERROR(RunSelf({"generate", "shop", "--days", std::to_string(a.days), "--out", feed}, /*quiet=*/true));
  }
  // The feed's files by day (the date in their names), each day in landing order.
  const std::vector<std::string> fixed = {"erp/stores", "erp/channels", "marketing/campaigns"};
  const std::vector<std::string> daily = {"erp/products", "crm/customers", "orders", "events"};
  std::vector<std::string> reference;
  std::map<std::string, std::vector<std::string>> days;  // yyyy-mm-dd -> relative paths
  for (const std::string& sub : fixed) {
    LP_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(landing, sub)));
    LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(JoinPath(feed, sub)));
    for (const auto& e : entries) reference.push_back(sub + "/" + e.name);
  }
  for (const std::string& sub : daily) {
    LP_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(landing, sub)));
    LP_ASSIGN_OR_RETURN(auto entries, fs->ListDir(JoinPath(feed, sub)));
    for (const auto& e : entries) {
      size_t us = e.name.rfind('_');
      if (us == std::string::npos || e.name.size() < us + 11) continue;
      days[e.name.substr(us + 1, 10)].push_back(sub + "/" + e.name);
    }
  }
  auto landed = [&](const std::vector<std::string>& files) {
    for (const std::string& f : files)
      if (!fs->Exists(JoinPath(landing, f))) return false;
    return true;
  };
  size_t already = 0;
  for (const auto& [day, files] : days) already += landed(files);
  std::printf("demo: seed 004's shop, %zu days of sources in %s (%zu landed already); landing one day every %.1f s "
              "into %s\n",
              days.size(), feed.c_str(), already, a.batch_seconds, landing.c_str());
  std::fflush(stdout);
  auto land = [&](const std::string& rel) {
    if (fs->Exists(JoinPath(landing, rel))) return Status::OK();
    std::string to = JoinPath(landing, rel);
    std::string hidden = JoinPath(DirName(to), "." + BaseName(to) + ".tmp");
    std::error_code ec;
    std::filesystem::copy_file(JoinPath(feed, rel), hidden, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) std::filesystem::last_write_time(hidden, std::filesystem::file_time_type::clock::now(), ec);
    if (!ec) std::filesystem::rename(hidden, to, ec);
    if (ec) return Status::IOError("demo: cannot land " + rel + ": " + ec.message());
    return Status::OK();
  };
  for (const std::string& f : reference) LP_RETURN_IF_ERROR(land(f));
  if (!days.empty()) {
    for (const std::string& f : days.begin()->second) LP_RETURN_IF_ERROR(land(f));
  }
  std::atomic<bool> stop{false};
  std::thread feeder([&] {
    for (const auto& [day, files] : days) {
      if (landed(files)) continue;
      for (double waited = 0; waited < a.batch_seconds && !stop.load(); waited += 0.05)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (stop.load()) return;
      for (const std::string& f : files) {
        Status st = land(f);
        if (!st.ok()) {
          std::fprintf(stderr, "lakepipe: warning: %s\n", st.message().c_str());
          return;
        }
      }
    }
    if (!stop.load()) {
      std::printf("demo: all %zu days have landed; the pipeline keeps running until Ctrl-C\n", days.size());
      std::fflush(stdout);
    }
  });
  RunArgs run;
  run.folder = a.example;
  run.port = a.port;
  run.summary = true;
  run.sets = {"storage=" + storage, "landing=" + landing};
  Status st = RunPipeline(run);
  stop.store(true);
  feeder.join();
  std::printf("demo: stopped; the tables stay in %s (lakepipe query %s --set storage=%s 'SELECT * FROM "
              "gold_sales_by_channel_day'); the next demo in %s continues them\n",
              storage.c_str(), a.example.c_str(), storage.c_str(), a.dir.c_str());
  return st;
}

// Whether `--example` names the shop pipeline (by its pipeline.yaml's name).
bool IsShopExample(const std::string& example) {
  if (example.empty()) return false;
  auto settings = sql::LoadPipelineSettings(ExampleFolder(example));
  return settings.ok() && settings->name == "shop";
}

// Whether `--example` names the video-metrics pipeline (by its pipeline.yaml's name).
bool IsVideoExample(const std::string& example) {
  if (example.empty()) return false;
  auto settings = sql::LoadPipelineSettings(ExampleFolder(example));
  return settings.ok() && settings->name == "video-metrics";
}

Status RunDemo(const DemoArgs& args) {
  if (IsVideoExample(args.example)) return RunVideoDemo(args);
  if (IsShopExample(args.example)) return RunShopDemo(args);
  if (args.source == "postgres") return RunPostgresDemo(args);
  if (args.source != "files" && args.source != "kafka") {
    return Status::InvalidArgument("demo --source must be files, kafka or postgres, not " + args.source);
  }
  if (args.rounds < 0) return Status::InvalidArgument("demo --rounds must be >= 0 (0: until stopped)");
  if (args.partitions < 1) return Status::InvalidArgument("demo --partitions must be >= 1");
  const bool kafka = args.source == "kafka";
  FileSystem* fs = FileSystem::Default();
  LP_ASSIGN_OR_RETURN(DemoArgs a, ResolveDemoArgs(args, kafka ? "examples/orders-kafka" : "examples/orders", 2000));
  std::string example = a.example;
  LP_RETURN_IF_ERROR(fs->CreateDirs(a.dir));
  std::string landing = JoinPath(a.dir, "landing");
  std::string storage = JoinPath(a.dir, kafka ? "storage-kafka" : "storage");
  std::unique_ptr<kafka::DevBroker> broker;
  std::string destination = landing;
  std::vector<std::string> sets = {"storage=" + storage};
  if (kafka) {
    // The development broker keeps messages in memory, so it starts empty: a lake kept
    // from an earlier Kafka demo would hold offsets this broker never had (the flow would
    // report them lost). The Kafka demo's lake therefore starts empty too.
    if (fs->Exists(storage)) {
      std::error_code ec;
      std::filesystem::remove_all(storage, ec);
      if (ec) return Status::IOError("demo: cannot remove the previous Kafka demo's lake " + storage + ": " + ec.message());
      std::printf("demo: removed the previous Kafka demo's lake %s (the development broker starts empty)\n",
                  storage.c_str());
    }
    LP_ASSIGN_OR_RETURN(broker, kafka::DevBroker::Start());
    LP_RETURN_IF_ERROR(broker->CreateTopic("orders", a.partitions));
    destination = "kafka://" + broker->bootstrap_servers() + "/orders";
    sets.push_back("kafka=" + broker->bootstrap_servers());
    sets.push_back("topic=orders");
    std::printf("demo: a development Kafka broker (in memory) at bootstrap.servers=%s, topic orders with %d "
                "partitions\n",
                broker->bootstrap_servers().c_str(), a.partitions);
  } else {
    LP_RETURN_IF_ERROR(fs->CreateDirs(landing));
    sets.push_back("landing=" + landing);
  }
  // Fresh orders for as long as the demo runs: each round generates `rows` lines with the
  // next seed and sends them at `rate` (replaying one file would only feed Silver exact
  // duplicates, which it drops).
  auto round_input = [&](uint64_t seed) { return JoinPath(a.dir, "orders-" + std::to_string(seed) + ".csv"); };
  LP_RETURN_IF_ERROR(RunSelf({"generate", "orders", "--rows", std::to_string(a.rows), "--seed", "1", "--out", round_input(1)},
                             /*quiet=*/true));
  if (kafka) {
    std::printf("demo: sending %s order lines/s to %s as JSON messages keyed by TransactionNo (a fresh %s-line "
                "batch each round)\n",
                Thousands(a.rate).c_str(), destination.c_str(), Thousands(a.rows).c_str());
  } else {
    std::printf("demo: dropping %s order lines/s into %s (%s lines per file; a fresh %s-line batch each round)\n",
                Thousands(a.rate).c_str(), landing.c_str(), Thousands(a.lines_per_file).c_str(),
                Thousands(a.rows).c_str());
  }
  std::fflush(stdout);
  std::atomic<bool> stop{false};
  std::atomic<pid_t> producer{-1};
  std::atomic<bool> feeder_done{false};
  std::thread feeder([&] {
    for (uint64_t seed = 1; !stop.load() && (a.rounds == 0 || seed <= static_cast<uint64_t>(a.rounds)); ++seed) {
      std::string input = round_input(seed);
      if (!fs->Exists(input) &&
          !RunSelf({"generate", "orders", "--rows", std::to_string(a.rows), "--seed", std::to_string(seed), "--out", input},
                   /*quiet=*/true)
               .ok())
        break;
      if (stop.load()) break;
      std::vector<std::string> produce = {"produce", "--from", input, "--to", destination, "--rate", std::to_string(a.rate),
                                          "--lines-per-file", std::to_string(a.lines_per_file)};
      if (kafka) {
        produce.insert(produce.end(), {"--key", "TransactionNo"});
      } else {
        produce.insert(produce.end(), {"--prefix", "demo-" + std::to_string(seed)});
      }
      pid_t pid = SpawnSelf(produce, /*quiet=*/true);
      if (pid < 0) break;
      producer.store(pid);
      int status = 0;
      ::waitpid(pid, &status, 0);
      producer.store(-1);
      (void)fs->RemoveFile(input);
    }
    feeder_done.store(true);
  });
  // PostgreSQL for the serving layer; the demo runs on without it when it cannot start.
  // The Kafka demo publishes to its own database, rebuilt with its lake.
  const std::string database = kafka ? "shop_kafka" : "shop";
  std::unique_ptr<LocalPostgres> pg;
  std::string pg_fallback;
  std::string pipeline = example;
  if (!a.no_postgres) {
    auto started = StartDemoPostgres(a.dir, &pg_fallback);
    Status ready = started.status();
    if (started.ok()) {
      pg = std::move(*started);
      if (kafka) ready = pg->Psql("DROP DATABASE IF EXISTS " + database).status();
      auto has_db = ready.ok() ? pg->Psql("SELECT 1 FROM pg_database WHERE datname = '" + database + "'")
                               : Result<std::string>(ready);
      ready = has_db.status();
      if (ready.ok() && has_db->empty()) ready = pg->Psql("CREATE DATABASE " + database).status();
      if (ready.ok()) {
        ready = WriteDemoPipeline(example, JoinPath(a.dir, kafka ? "pipeline-kafka" : "pipeline"), pg->Dsn(database));
      }
    }
    if (ready.ok()) {
      pipeline = JoinPath(a.dir, kafka ? "pipeline-kafka" : "pipeline");
      std::printf("demo: PostgreSQL on 127.0.0.1:%d (data in %s); the Gold tables are published to schema gold. Try:\n"
                  "  %s -c 'SELECT country, total_revenue, orders FROM gold.revenue ORDER BY total_revenue DESC LIMIT 5'\n",
                  pg->port(), pg->folder().c_str(),
                  pg->PsqlCommand(database, "bi_reader").c_str());
    } else {
      std::printf("demo: PostgreSQL not started (%s); running without publication\n", ready.message().c_str());
      pg.reset();
    }
    std::fflush(stdout);
  }
  RunArgs run;
  run.folder = pipeline;
  run.port = a.port;
  run.summary = true;
  run.sets = sets;
  Status st = RunPipeline(run);
  stop.store(true);
  while (!feeder_done.load()) {
    pid_t pid = producer.load();
    if (pid > 0) ::kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  feeder.join();
  broker.reset();
  if (pg) {
    (void)pg->Stop();
    pg.reset();
    // A server folder in /tmp is not the demo's to keep (the lake is; --rebuild-free: the
    // next demo publishes from the lake again).
    if (!pg_fallback.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(pg_fallback, ec);
    }
  }
  std::printf("demo: stopped; the tables stay in %s (lakepipe query %s --set storage=%s 'SELECT * FROM gold_kpis')\n",
              storage.c_str(), example.c_str(), storage.c_str());
  return st;
}

struct QueryArgs {
  std::string folder;
  std::string sql;
  std::string format = "table";
  std::vector<std::string> sets;
};

Status RunQuery(const QueryArgs& a) {
  LP_ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(a.format));
  LP_ASSIGN_OR_RETURN(auto overrides, sql::ParseOverrides(a.sets));
  Status unresolved;
  LP_ASSIGN_OR_RETURN(auto runner, runtime::PipelineRunner::OpenForQuery(a.folder, overrides, &unresolved));
  if (!unresolved.ok()) {
    // The stored tables are still there: say why the views are not, and read the tables.
    std::fprintf(stderr, "lakepipe: note: reading the stored tables only; the pipeline does not resolve: %s\n",
                 unresolved.message().c_str());
  }
  LP_ASSIGN_OR_RETURN(auto result, runner->Query(a.sql));
  PrintBatches(result.schema, result.batches, format);
  if (format == OutputFormat::kTable) {
    int64_t rows = 0;
    for (const auto& b : result.batches) rows += b.num_rows();
    std::printf("%lld row%s\n", static_cast<long long>(rows), rows == 1 ? "" : "s");
  }
  return Status::OK();
}

}  // namespace

void RegisterRunCommands(CLI::App& app, CommandRegistry& registry) {
  auto run_args = std::make_shared<RunArgs>();
  CLI::App* run = app.add_subcommand("run", "Run a pipeline folder: every table, in dependency order");
  run->add_option("folder", run_args->folder, "Pipeline folder (pipeline.yaml + *.sql)")->required();
  run->add_flag("--once", run_args->once,
                "Process the input that is there now, then exit (default: run continuously until Ctrl-C)");
  run->add_option("--full-refresh", run_args->full_refresh,
                  "Comma-separated tables to rebuild from their sources");
  run->add_flag("--full-refresh-all", run_args->full_refresh_all, "Rebuild every table");
  run->add_option("--refresh", run_args->refresh,
                  "With --once: comma-separated tables to update, the others (upstream ones too) are not "
                  "(Databricks' refresh_selection); with --full-refresh, its tables are updated too");
  run->add_option("--set", run_args->sets, "Override a configuration value or storage: key=value");
  run->add_option("--port", run_args->port,
                  "Serve the HTTP API and dashboard on this port while running (0: any free port; "
                  "default: as pipeline.yaml's server:, else no server)");
  run->add_flag("--summary", run_args->summary,
                "Continuous mode: a status line every 2 s instead of a line per table update");
  run->add_flag("--no-server", run_args->no_server, "Do not start the HTTP server even if pipeline.yaml sets one");
  run->callback([run_args, &registry]() {
    AuditedAction what;
    bool refresh = run_args->full_refresh_all || !run_args->full_refresh.empty();
    what.action = refresh ? "full_refresh" : "run";
    what.target = run_args->full_refresh_all ? "*" : run_args->full_refresh;
    if (!run_args->refresh.empty()) {
      what.target += (what.target.empty() ? "" : ",") + run_args->refresh;
    }
    what.detail = run_args->once ? "--once" : "";
    what.record_start = !run_args->once;
    registry.Finish(AuditPipelineCommand(run_args->folder, run_args->sets, what, [&] { return RunPipeline(*run_args); }));
  });

  auto demo_args = std::make_shared<DemoArgs>();
  CLI::App* demo = app.add_subcommand(
      "demo", "Generate orders, drop them into a landing folder (or send them to a development Kafka broker, "
              "--source kafka) at a steady rate, and run the orders pipeline continuously with the dashboard "
              "(Ctrl-C stops)");
  demo->add_option("--dir", demo_args->dir, "Working folder (input, landing, storage)")->capture_default_str();
  demo->add_option("--example", demo_args->example,
                   "The pipeline folder or the name of one in examples/ (default: examples/orders, -kafka with --source "
                   "kafka, -cdc with postgres; video-metrics: seed 003's video feed, landed batch by batch; shop: seed "
                   "004's sources, landed a day at a time)");
  demo->add_option("--port", demo_args->port, "Dashboard and API port")->capture_default_str();
  demo->add_option("--rows", demo_args->rows, "Order lines generated per round (each round with a new seed)")
      ->capture_default_str();
  demo->add_option("--rounds", demo_args->rounds, "files, kafka: rounds of --rows lines to send (0: until stopped)")
      ->capture_default_str();
  demo->add_option("--rate", demo_args->rate,
                   "Lines per second dropped into the landing folder or sent to Kafka (default 2000); with --source "
                   "postgres, orders per second (default 200)");
  demo->add_option("--lines-per-file", demo_args->lines_per_file,
                   "Lines per landing file (kafka: messages per acknowledged group)")
      ->capture_default_str();
  demo->add_option("--partitions", demo_args->partitions, "kafka: partitions of the orders topic")
      ->capture_default_str();
  demo->add_flag("--no-postgres", demo_args->no_postgres,
                 "Do not start PostgreSQL (by default the demo starts one and publishes the Gold tables to it)");
  demo->add_option("--days", demo_args->days, "video-metrics, shop: days of the feed generated")->capture_default_str();
  demo->add_option("--batch-seconds", demo_args->batch_seconds,
                   "video-metrics: seconds between two batch files landed (each is half a day of events); shop: "
                   "between two days landed")
      ->capture_default_str();
  demo->add_option("--source", demo_args->source, "Where the orders come from: files (a landing folder), kafka or postgres")
      ->capture_default_str();
  demo->callback([demo_args, &registry]() { registry.Finish(RunDemo(*demo_args)); });

  auto query_args = std::make_shared<QueryArgs>();
  CLI::App* query = app.add_subcommand("query", "Run a one-off SELECT over a pipeline's tables");
  query->add_option("folder", query_args->folder, "Pipeline folder")->required();
  query->add_option("sql", query_args->sql, "The SELECT statement")->required();
  query->add_option("--format", query_args->format, "table, csv or jsonl")->capture_default_str();
  query->add_option("--set", query_args->sets, "Override a configuration value or storage: key=value");
  query->callback([query_args, &registry]() {
    AuditedAction what{"query", "", query_args->sql, false};
    registry.Finish(AuditPipelineCommand(query_args->folder, query_args->sets, what, [&] { return RunQuery(*query_args); }));
  });
}

}  // namespace lakepipe::cli
