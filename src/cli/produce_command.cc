// `lakepipe produce --from FILE --to DIR --rate LINES_PER_S --lines-per-file N [--loop]
// [--limit LINES]`: the demo's event producer. Splits a CSV into small files (the header
// repeated in each) and drops them into a landing folder at a steady rate.
//
// Each file is written as a hidden temporary file, fsynced and renamed into place
// (FileSystem::WriteFileAtomic), so a reader that skips names starting with '.' (the file
// source's rule) never sees half a file. Names sort in production order, also across
// restarts: `<prefix>-<UTC start time>-<run id>-<sequence>.csv`.
//
// Pacing: the file that brings the total to L lines is due at start + L / rate on the
// monotonic clock. Deadlines are absolute, so sleeping late never accumulates drift; a
// producer that falls behind writes the overdue files at once and catches up.
// SIGINT/SIGTERM stop after the file being written; the files written are complete.
//
// `--to kafka://HOST:PORT/TOPIC` sends each line as one message instead, a JSON object
// with the header's names (numbers as JSON numbers, empty fields null), keyed by `--key
// COLUMN` when given; the same pacing applies per group of --lines-per-file messages,
// each group flushed (acknowledged by the broker) before the next.
//
// `--from FILE.csv --to postgresql://...` writes each line into the outbox table
// shop.outbox (docs/postgres-cdc.md, "Loading a CSV into the outbox"), created if absent:
// payload = the line's JSON object as for Kafka, aggregate_id = the `--key` column's value
// (or the line's number), aggregate_type/event_type from --aggregate-type/--event-type.
// Consecutive lines with the same key value are one transaction (an order's lines are
// committed together, as an order system would); the same pacing applies per group of
// --lines-per-file lines, each group one round trip. A key run that a group boundary cuts
// waits for the next group, so it still commits once; a stop commits the lines read.
//
// An input named *.json, *.jsonl or *.ndjson is JSON lines (no header): each line is one
// message as it is (a line that is not JSON too: the feed's flaws travel as they are),
// keyed by the top-level field `--key` of the object when given; to a folder it is split
// into .json files.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/produce_postgres.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/pg_connection.h"
#include "common/uuid.h"
#include "kafka/producer.h"

#include <nlohmann/json.hpp>
#include <vector>

namespace lakepipe::cli {
namespace {

struct ProduceArgs {
  std::string from;
  std::string to;
  std::string rate;
  int64_t lines_per_file = 100;
  bool loop = false;
  int64_t limit = 0;
  std::string prefix;
  std::string key;  // kafka: the column whose value keys each message; postgres: aggregate_id
  std::string aggregate_type = "record";     // postgres outbox rows
  std::string event_type = "RecordAdded";
  ProducePostgresArgs pg;  // --to postgresql://...
};

// Splits one CSV record (without its line ending) into fields, removing quotes.
std::vector<std::string> SplitCsv(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back().push_back(c);
    }
  }
  return out;
}

bool LooksLikeJsonNumber(const std::string& v) {
  if (v.empty()) return false;
  nlohmann::json j = nlohmann::json::parse(v, nullptr, false);
  return !j.is_discarded() && j.is_number() && v.size() < 18 && !(v.size() > 1 && v[0] == '0' && v[1] != '.');
}

// The message of a CSV record: a JSON object named by the header.
std::string RecordJson(const std::vector<std::string>& names, const std::vector<std::string>& fields) {
  nlohmann::json obj = nlohmann::json::object();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string v = i < fields.size() ? fields[i] : "";
    if (v.empty()) obj[names[i]] = nullptr;
    else if (LooksLikeJsonNumber(v)) obj[names[i]] = nlohmann::json::parse(v);
    else obj[names[i]] = v;
  }
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::atomic<int> g_stop_signal{0};

extern "C" void OnStopSignal(int sig) { g_stop_signal.store(sig); }

// Installs the handlers without SA_RESTART so that a sleep is cut short by the signal.
void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// Reads a CSV file record by record through the FileSystem, in large chunks. A record
// ends at a newline outside double quotes, so quoted fields may hold newlines. Each
// record is returned with its line ending.
class CsvRecordReader {
 public:
  // `lines`: every newline ends a record (JSON lines, where quotes are JSON's own).
  static Result<std::unique_ptr<CsvRecordReader>> Open(FileSystem* fs, const std::string& path, bool lines = false) {
    LP_ASSIGN_OR_RETURN(auto file, fs->NewRandomAccessFile(path));
    auto reader = std::unique_ptr<CsvRecordReader>(new CsvRecordReader());
    reader->file_ = std::move(file);
    reader->lines_ = lines;
    return reader;
  }

  void Rewind() {
    offset_ = 0;
    buffer_.clear();
    pos_ = 0;
  }

  // Appends the next record to `out`; false at the end of the file.
  Result<bool> Next(std::string* out) {
    bool in_quotes = false;
    bool any = false;
    while (true) {
      if (pos_ == buffer_.size()) {
        LP_ASSIGN_OR_RETURN(bool more, Fill());
        if (!more) {
          if (any && out->back() != '\n') out->push_back('\n');  // a last line without newline
          return any;
        }
      }
      size_t start = pos_;
      while (pos_ < buffer_.size()) {
        char c = buffer_[pos_++];
        if (c == '"' && !lines_) {
          in_quotes = !in_quotes;
        } else if (c == '\n' && !in_quotes) {
          out->append(buffer_, start, pos_ - start);
          return true;
        }
      }
      out->append(buffer_, start, pos_ - start);
      any = true;
    }
  }

 private:
  CsvRecordReader() = default;

  Result<bool> Fill() {
    int64_t left = file_->Size() - offset_;
    if (left <= 0) return false;
    int64_t n = std::min<int64_t>(left, kChunk);
    buffer_.resize(static_cast<size_t>(n));
    LP_RETURN_IF_ERROR(file_->ReadAt(offset_, n, buffer_.data()));
    offset_ += n;
    pos_ = 0;
    return true;
  }

  static constexpr int64_t kChunk = 1 << 20;
  bool lines_ = false;
  std::unique_ptr<RandomAccessFile> file_;
  std::string buffer_;
  size_t pos_ = 0;
  int64_t offset_ = 0;
};

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<double> ParseRate(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("produce: --rate LINES_PER_S is required");
  char* end = nullptr;
  errno = 0;
  double rate = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || errno != 0 || !std::isfinite(rate) || rate <= 0) {
    return Status::InvalidArgument("produce: --rate must be a number of lines per second > 0, got '" +
                                   text + "'");
  }
  return rate;
}

// "orders-2026.csv" -> "orders-2026"; hidden-looking names lose their leading '.'/'_'.
std::string DefaultPrefix(const std::string& from) {
  std::string base = BaseName(from);
  size_t dot = base.rfind('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  while (!base.empty() && (base[0] == '.' || base[0] == '_')) base.erase(0, 1);
  return base.empty() ? "part" : base;
}

std::string UtcStamp() {
  int64_t micros = Clock::System()->NowMicros();
  time_t secs = static_cast<time_t>(micros / 1000000);
  struct tm tm = {};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(micros / 1000 % 1000));
  return buf;
}

// Sleeps until `deadline_nanos` on the monotonic clock, or until a stop signal arrives.
void SleepUntil(int64_t deadline_nanos) {
  while (g_stop_signal.load() == 0) {
    int64_t now = MonotonicNanos();
    if (now >= deadline_nanos) return;
    int64_t wait = std::min<int64_t>(deadline_nanos - now, 200'000'000);
    struct timespec ts = {static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    nanosleep(&ts, nullptr);  // EINTR on a signal: the loop checks the flag
  }
}

class Progress {
 public:
  explicit Progress(double target_rate) : target_rate_(target_rate), tty_(isatty(STDOUT_FILENO) == 1) {}

  void Update(int64_t start_nanos, int64_t lines, int64_t files, bool final) {
    int64_t now = MonotonicNanos();
    int64_t interval = tty_ ? 200'000'000 : 5'000'000'000;
    if (!final && now - last_print_ < interval) return;
    last_print_ = now;
    double seconds = static_cast<double>(now - start_nanos) / 1e9;
    double rate = seconds > 0 ? static_cast<double>(lines) / seconds : 0;
    char line[256];
    std::snprintf(line, sizeof line, "produced %lld lines in %lld files, %.0f lines/s (target %.0f), %.1f s",
                  static_cast<long long>(lines), static_cast<long long>(files), rate, target_rate_, seconds);
    if (tty_) {
      std::printf("\r%s\x1b[K%s", line, final ? "\n" : "");
    } else {
      std::printf("%s\n", line);
    }
    std::fflush(stdout);
  }

 private:
  double target_rate_;
  bool tty_;
  int64_t last_print_ = 0;
};

// The outbox table of docs/postgres-cdc.md (the orders application creates the same).
const char* kOutboxSql = R"sql(
CREATE SCHEMA IF NOT EXISTS shop;
CREATE TABLE IF NOT EXISTS shop.outbox (
  id bigserial PRIMARY KEY, aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  event_type text NOT NULL, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE shop.outbox REPLICA IDENTITY FULL;
)sql";

// `s` as a PostgreSQL string literal (standard_conforming_strings, the default since 9.1).
std::string PgLiteral(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// Builds the transactions of the outbox target: one per run of consecutive lines with the
// same key. Take() returns the SQL of the closed runs; the open one stays until it closes
// or Finish().
class OutboxBatch {
 public:
  OutboxBatch(std::string aggregate_type, std::string event_type)
      : prefix_("," + PgLiteral(event_type) + ","), type_(PgLiteral(aggregate_type)) {}

  void Add(const std::string& key, const std::string& payload) {
    if (open_ && key != open_key_) Close();
    values_ += std::string(open_ ? "," : "") + "(" + type_ + "," + PgLiteral(key) + prefix_ + PgLiteral(payload) +
               "::jsonb)";
    open_ = true;
    open_key_ = key;
  }
  void Finish() { Close(); }
  std::string Take() { return std::move(closed_); }

 private:
  void Close() {
    if (!open_) return;
    closed_ += "BEGIN;INSERT INTO shop.outbox (aggregate_type, aggregate_id, event_type, payload) VALUES " + values_ +
               ";COMMIT;";
    values_.clear();
    open_ = false;
  }

  std::string prefix_, type_, values_, open_key_, closed_;
  bool open_ = false;
};

Status RunProduce(const ProduceArgs& a) {
  if (IsPostgresTarget(a.to) && a.from.empty()) {
    ProducePostgresArgs pg = a.pg;
    pg.dsn = a.to;
    LP_ASSIGN_OR_RETURN(pg.rate, ParseRate(a.rate));
    pg.limit = a.limit;
    return RunProducePostgres(pg);
  }
  if (a.from.empty()) return Status::InvalidArgument("produce: --from FILE is required");
  if (a.to.empty()) return Status::InvalidArgument("produce: --to DIR is required");
  LP_ASSIGN_OR_RETURN(double rate, ParseRate(a.rate));
  if (a.lines_per_file < 1) {
    return Status::InvalidArgument("produce: --lines-per-file must be >= 1, got " +
                                   std::to_string(a.lines_per_file));
  }
  if (a.limit < 0) {
    return Status::InvalidArgument("produce: --limit must be >= 0 (0: no limit), got " + std::to_string(a.limit));
  }
  FileSystem* fs = FileSystem::Default();
  auto info = fs->Stat(a.from);
  if (!info.ok()) return Status::NotFound("produce: cannot read input " + a.from + ": " + info.status().message());
  if (info->is_dir) return Status::InvalidArgument("produce: input " + a.from + " is a folder, not a CSV file");
  const bool json_lines = EndsWith(a.from, ".json") || EndsWith(a.from, ".jsonl") || EndsWith(a.from, ".ndjson");
  auto opened = CsvRecordReader::Open(fs, a.from, json_lines);
  if (!opened.ok()) {
    return Status::NotFound("produce: cannot read input " + a.from + ": " + opened.status().message());
  }
  CsvRecordReader& reader = **opened;
  std::string header;  // stays empty for JSON lines
  if (!json_lines) {
    LP_ASSIGN_OR_RETURN(bool has_header, reader.Next(&header));
    if (!has_header) return Status::InvalidArgument("produce: input " + a.from + " is empty (no header line)");
  }

  std::unique_ptr<kafka::Producer> producer;
  std::unique_ptr<PgConnection> pg;
  std::optional<OutboxBatch> outbox;
  std::string topic;
  std::vector<std::string> names = SplitCsv(header);
  int key_index = -1;
  if (IsPostgresTarget(a.to)) {
    if (json_lines) {
      return Status::InvalidArgument("produce: --to postgresql://... takes a CSV --from (JSON lines into the "
                                     "outbox: not built yet)");
    }
    if (!a.key.empty()) {
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == a.key) key_index = static_cast<int>(i);
      if (key_index < 0) return Status::InvalidArgument("produce: --key " + a.key + " is not a column of " + a.from);
    }
    LP_ASSIGN_OR_RETURN(pg, PgConnection::Connect(a.to));
    LP_RETURN_IF_ERROR(pg->Exec(kOutboxSql));
    outbox.emplace(a.aggregate_type, a.event_type);
  } else if (a.to.rfind("kafka://", 0) == 0) {
    std::string rest = a.to.substr(8);
    size_t slash = rest.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == rest.size()) {
      return Status::InvalidArgument("produce: --to kafka://HOST:PORT/TOPIC, not " + a.to);
    }
    topic = rest.substr(slash + 1);
    LP_ASSIGN_OR_RETURN(producer, kafka::Producer::Open(rest.substr(0, slash)));
    if (!a.key.empty() && !json_lines) {
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == a.key) key_index = static_cast<int>(i);
      if (key_index < 0) return Status::InvalidArgument("produce: --key " + a.key + " is not a column of " + a.from);
    }
  } else if (!a.key.empty()) {
    return Status::InvalidArgument("produce: --key applies to --to kafka://... and postgresql://...");
  } else if (fs->Exists(a.to)) {
    auto to_info = fs->Stat(a.to);
    if (to_info.ok() && !to_info->is_dir) {
      return Status::InvalidArgument("produce: --to " + a.to + " is a file, not a folder");
    }
  } else if (!producer) {
    Status st = fs->CreateDirs(a.to);
    if (!st.ok()) return Status::IOError("produce: cannot create the folder " + a.to + ": " + st.message());
  }

  std::string prefix = a.prefix.empty() ? DefaultPrefix(a.from) : a.prefix;
  std::string run_id = NewUuid().substr(0, 8);
  std::string name_stem = prefix + "-" + UtcStamp() + "-" + run_id + "-";
  InstallStopHandlers();

  Progress progress(rate);
  const int64_t start = MonotonicNanos();
  int64_t lines = 0;
  int64_t files = 0;
  bool input_done = false;
  bool data_seen = false;
  std::string content;
  while (!input_done && g_stop_signal.load() == 0) {
    content = header;
    int64_t in_file = 0;
    while (in_file < a.lines_per_file && (a.limit == 0 || lines + in_file < a.limit)) {
      LP_ASSIGN_OR_RETURN(bool got, reader.Next(&content));
      if (got) {
        ++in_file;
        data_seen = true;
        continue;
      }
      if (a.loop && data_seen) {
        reader.Rewind();
        std::string skipped_header;
        bool again = true;
        if (!json_lines) {
          LP_ASSIGN_OR_RETURN(again, reader.Next(&skipped_header));
        }
        if (again) continue;
      }
      input_done = true;
      break;
    }
    if (a.limit != 0 && lines + in_file >= a.limit) input_done = true;
    if (in_file == 0) break;
    // Due when its last line is due: total lines after this file / rate.
    int64_t due = start + static_cast<int64_t>(static_cast<double>(lines + in_file) / rate * 1e9);
    SleepUntil(due);
    if (g_stop_signal.load() != 0) break;  // stopped while waiting: this file is not written
    if (pg) {
      size_t pos = header.size();
      int64_t n = lines;
      while (pos < content.size()) {
        size_t end = pos;
        bool q = false;
        while (end < content.size() && (content[end] != '\n' || q)) {
          if (content[end] == '"') q = !q;
          ++end;
        }
        std::vector<std::string> fields = SplitCsv(std::string_view(content).substr(pos, end - pos));
        ++n;
        std::string key = key_index >= 0 && static_cast<size_t>(key_index) < fields.size()
                              ? fields[static_cast<size_t>(key_index)]
                              : std::to_string(n);
        outbox->Add(key, RecordJson(names, fields));
        pos = end + 1;
      }
      if (input_done) outbox->Finish();
      std::string sql = outbox->Take();
      if (!sql.empty()) LP_RETURN_IF_ERROR(pg->Exec(sql));
      lines += in_file;
      ++files;
      progress.Update(start, lines, files, false);
      continue;
    }
    if (producer) {
      // Each data line of `content` (after the header) is one message.
      size_t pos = header.size();
      while (pos < content.size()) {
        size_t end = pos;
        bool q = false;
        while (end < content.size() && (content[end] != '\n' || q)) {
          if (content[end] == '"' && !json_lines) q = !q;
          ++end;
        }
        std::string_view record = std::string_view(content).substr(pos, end - pos);
        std::string value, key_text;
        std::optional<std::string_view> key;
        if (json_lines) {
          while (!record.empty() && record.back() == '\r') record.remove_suffix(1);
          value = std::string(record);
          if (!a.key.empty()) {
            nlohmann::json obj = nlohmann::json::parse(value, nullptr, false);
            if (!obj.is_discarded() && obj.is_object() && obj.contains(a.key) && !obj[a.key].is_null()) {
              key_text = obj[a.key].is_string() ? obj[a.key].get<std::string>() : obj[a.key].dump();
              key = key_text;
            }
          }
        } else {
          std::vector<std::string> fields = SplitCsv(record);
          value = RecordJson(names, fields);
          if (key_index >= 0 && static_cast<size_t>(key_index) < fields.size()) key = fields[static_cast<size_t>(key_index)];
        }
        LP_RETURN_IF_ERROR(producer->Send(topic, -1, key, value));
        pos = end + 1;
      }
      LP_RETURN_IF_ERROR(producer->Flush());
      lines += in_file;
      ++files;
      progress.Update(start, lines, files, false);
      continue;
    }
    char seq[24];
    std::snprintf(seq, sizeof seq, "%08lld", static_cast<long long>(files + 1));
    std::string path = JoinPath(a.to, name_stem + seq + (json_lines ? ".json" : ".csv"));
    Status st = fs->WriteFileAtomic(path, content);
    if (!st.ok()) return Status::IOError("produce: cannot write " + path + ": " + st.message());
    lines += in_file;
    ++files;
    progress.Update(start, lines, files, false);
  }
  if (outbox) {
    outbox->Finish();  // the end of the input, or a stop: the lines read are committed
    std::string sql = outbox->Take();
    if (!sql.empty()) LP_RETURN_IF_ERROR(pg->Exec(sql));
  }
  progress.Update(start, lines, files, true);
  if (!data_seen && lines == 0 && g_stop_signal.load() == 0) {
    return Status::InvalidArgument("produce: input " + a.from +
                                   (json_lines ? " has no lines" : " has a header but no data lines"));
  }
  if (int sig = g_stop_signal.load(); sig != 0) {
    std::printf("stopped by %s after %lld files\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
                static_cast<long long>(files));
    std::fflush(stdout);
  }
  return Status::OK();
}

}  // namespace

void RegisterProduceCommands(CLI::App& app, CommandRegistry& registry) {
  auto args = std::make_shared<ProduceArgs>();
  CLI::App* cmd = app.add_subcommand(
      "produce", "Split a CSV into small files dropped atomically into a folder at a steady rate, or send it "
                 "to Kafka, or (--to postgresql://...) run the orders application against PostgreSQL");
  cmd->add_option("--from", args->from, "The CSV file to read (its header is repeated in each file)");
  cmd->add_option("--to", args->to, "The landing folder (created if missing), kafka://HOST:PORT/TOPIC, or "
                                    "postgresql://... (the orders application, or with --from the outbox; "
                                    "docs/postgres-cdc.md)")->required();
  cmd->add_option("--key", args->key,
                  "kafka: the column whose value keys each message; postgresql: the outbox's aggregate_id, "
                  "consecutive lines with one value committed together");
  cmd->add_option("--aggregate-type", args->aggregate_type, "postgresql --from CSV: the outbox rows' aggregate_type")
      ->capture_default_str();
  cmd->add_option("--event-type", args->event_type, "postgresql --from CSV: the outbox rows' event_type")
      ->capture_default_str();
  cmd->add_option("--rate", args->rate, "Data lines (orders for PostgreSQL) per second")->required();
  cmd->add_option("--customers", args->pg.customers, "PostgreSQL: customers seeded")->capture_default_str();
  cmd->add_option("--products", args->pg.products, "PostgreSQL: products seeded")->capture_default_str();
  cmd->add_option("--dimension-every", args->pg.dimension_every,
                  "PostgreSQL: one customer/product update, delete or insert per this many orders (0: none)")
      ->capture_default_str();
  cmd->add_option("--seed", args->pg.seed, "PostgreSQL: random seed")->capture_default_str();
  cmd->add_option("--lines-per-file", args->lines_per_file, "Data lines per file")->capture_default_str();
  cmd->add_flag("--loop", args->loop, "Start again from the top at the end of the input");
  cmd->add_option("--limit", args->limit, "Stop after this many data lines (0: no limit)")->capture_default_str();
  cmd->add_option("--prefix", args->prefix, "File name prefix (default: the input's name)");
  cmd->callback([args, &registry]() { registry.Finish(RunProduce(*args)); });
}

}  // namespace lakepipe::cli
