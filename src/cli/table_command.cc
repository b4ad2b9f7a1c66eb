// `lakepipe table ...`: write a CSV / JSON lines / Parquet file into a Delta table, and
// show, describe, history, delete rows from (--where), optimize and vacuum a table. Each subcommand runs one function
// returning a Status; CommandRegistry::Finish prints "lakepipe: error: ..." on failure.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/audit.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "delta/row_changes.h"
#include "delta/table.h"
#include "expr/binder.h"
#include "expr/eval.h"
#include "formats/csv/csv_reader.h"
#include "formats/csv/csv_writer.h"
#include "formats/json/json_reader.h"
#include "formats/json/json_writer.h"
#include "formats/parquet/batch_reader.h"
#include "formats/parquet/parquet.h"
#include "runtime/storage_lock.h"
#include "sql/select.h"
#include "types/datetime.h"

namespace lakepipe::cli {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string HumanBytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string FormatMillis(int64_t millis) {
  return FormatTimestamp(millis * 1000) + " UTC";
}

// ---- table write --------------------------------------------------------------------------

struct WriteArgs {
  std::string from;
  std::string to;
  std::string format;
  std::string schema;
  std::string mode = "append";
  std::string partition_by;
  std::string header = "true";
};

Result<std::string> FormatOf(const WriteArgs& a) {
  std::string f = Lower(a.format);
  if (f.empty()) {
    std::string p = Lower(a.from);
    if (EndsWith(p, ".gz") || EndsWith(p, ".zst")) {
      return Status::NotSupported("compressed input files are not supported: " + a.from);
    }
    if (EndsWith(p, ".csv") || EndsWith(p, ".txt")) return std::string("csv");
    if (EndsWith(p, ".tsv")) return std::string("tsv");
    if (EndsWith(p, ".json") || EndsWith(p, ".jsonl") || EndsWith(p, ".ndjson")) return std::string("jsonl");
    if (EndsWith(p, ".parquet")) return std::string("parquet");
    return Status::InvalidArgument("cannot tell the format of " + a.from +
                                   " from its extension: pass --format csv|jsonl|parquet");
  }
  if (f == "json") f = "jsonl";
  if (f != "csv" && f != "tsv" && f != "jsonl" && f != "parquet") {
    return Status::InvalidArgument("unknown --format '" + a.format + "' (csv, jsonl or parquet)");
  }
  return f;
}

Status RunWrite(const WriteArgs& a) {
  if (a.from.empty()) return Status::InvalidArgument("table write needs --from FILE");
  if (a.to.empty()) return Status::InvalidArgument("table write needs --to TABLE (a folder)");
  FileSystem* fs = FileSystem::Default();
  auto info = fs->Stat(a.from);
  if (!info.ok() || info->is_dir) return Status::NotFound("no such file: " + a.from);
  LP_ASSIGN_OR_RETURN(std::string format, FormatOf(a));
  delta::WriteMode mode;
  if (a.mode == "append") {
    mode = delta::WriteMode::kAppend;
  } else if (a.mode == "overwrite") {
    mode = delta::WriteMode::kOverwrite;
  } else {
    return Status::InvalidArgument("unknown --mode '" + a.mode + "' (append or overwrite)");
  }
  bool header;
  if (a.header == "true") {
    header = true;
  } else if (a.header == "false") {
    header = false;
  } else {
    return Status::InvalidArgument("--header must be true or false, not '" + a.header + "'");
  }

  std::optional<Schema> schema;
  if (!a.schema.empty()) {
    auto s = Schema::ParseDDL(a.schema);
    if (!s.ok()) return Status::InvalidArgument("bad --schema: " + s.status().message());
    schema = *s;
  }
  // Appending to an existing table without --schema: read the file with the table's
  // types instead of guessing them again.
  std::unique_ptr<delta::DeltaTable> existing;
  if (delta::DeltaTable::Exists(a.to, fs)) {
    LP_ASSIGN_OR_RETURN(existing, delta::DeltaTable::Open(a.to, fs));
    if (!schema.has_value() && mode == delta::WriteMode::kAppend && format != "parquet") {
      LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, existing->Latest());
      Schema s;
      for (const auto& f : snap->schema().fields()) {
        if (f.name != "_rescued_data") s.AddField(f);
      }
      schema = s;
    }
  }

  // Every format behind the one reader interface (types/batch_reader.h).
  std::unique_ptr<BatchReader> input;
  if (format == "csv" || format == "tsv") {
    csv::CsvOptions o;
    o.header = header;
    if (format == "tsv") o.delimiter = '\t';
    o.schema = schema;
    o.batch_rows = 1 << 17;
    LP_ASSIGN_OR_RETURN(input, csv::CsvReader::Open(fs, a.from, o));
  } else if (format == "jsonl") {
    json::JsonOptions o;
    o.schema = schema;
    o.batch_rows = 1 << 16;
    LP_ASSIGN_OR_RETURN(input, json::JsonReader::Open(fs, a.from, o));
  } else {
    if (schema.has_value() && !a.schema.empty()) {
      return Status::InvalidArgument("--schema applies to csv and jsonl input; a Parquet file "
                                     "carries its own schema");
    }
    LP_ASSIGN_OR_RETURN(input, parquet::OpenBatchReader(fs, a.from));
  }

  delta::WriteOptions wo;
  wo.mode = mode;
  wo.operation_parameters["source"] = a.from;
  std::vector<std::string> partition_by = SplitList(a.partition_by);
  for (const auto& p : partition_by) {
    if (input->schema().FindField(p) < 0) {
      return Status::InvalidArgument("--partition-by column '" + p + "' is not in the input (" +
                                     input->schema().ToDDL() + ")");
    }
  }
  if (existing == nullptr) {
    delta::CreateOptions create;
    create.schema = input->schema();
    create.partition_columns = partition_by;
    wo.create_if_missing = create;
  } else if (!partition_by.empty()) {
    LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, existing->Latest());
    if (snap->partition_columns() != partition_by) {
      return Status::InvalidArgument("--partition-by does not match the table's partition "
                                     "columns; an existing table keeps its partitioning");
    }
  }
  LP_ASSIGN_OR_RETURN(auto writer, delta::DeltaTable::NewWriter(a.to, wo, fs));
  ReadBatch batch;
  for (;;) {
    LP_ASSIGN_OR_RETURN(bool more, input->Next(&batch));
    if (!more) break;
    LP_RETURN_IF_ERROR(writer->Write(batch.batch));
  }
  LP_ASSIGN_OR_RETURN(delta::CommitResult result, writer->Commit());
  const ReadStats& stats = input->total_stats();
  std::printf("wrote %lld rows to %s (version %lld, %lld file%s, %s)\n",
              static_cast<long long>(result.num_rows), a.to.c_str(),
              static_cast<long long>(result.version), static_cast<long long>(result.num_files),
              result.num_files == 1 ? "" : "s", HumanBytes(result.num_bytes).c_str());
  if (stats.rescued_rows > 0) {
    std::string lines;
    for (int64_t l : stats.first_bad_lines) lines += (lines.empty() ? "" : ", ") + std::to_string(l);
    std::printf("%lld row%s kept values that did not fit the schema in _rescued_data "
                "(first at line%s %s)\n",
                static_cast<long long>(stats.rescued_rows), stats.rescued_rows == 1 ? "" : "s",
                stats.first_bad_lines.size() == 1 ? "" : "s", lines.c_str());
  }
  return Status::OK();
}

// ---- table show / describe / history / optimize / vacuum ------------------------------

Result<std::unique_ptr<delta::DeltaTable>> OpenTable(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("missing TABLE (the table's folder)");
  if (!delta::DeltaTable::Exists(path)) {
    return Status::NotFound("no Delta table at " + path + " (no _delta_log with a commit)");
  }
  return delta::DeltaTable::Open(path);
}

struct ShowArgs {
  std::string table;
  int64_t version = -1;
  std::string timestamp;
  int64_t limit = 20;
  std::string format = "table";
};

Status RunShow(const ShowArgs& a) {
  LP_ASSIGN_OR_RETURN(OutputFormat format, ParseOutputFormat(a.format));
  if (a.version >= 0 && !a.timestamp.empty()) {
    return Status::InvalidArgument("give --version or --timestamp, not both");
  }
  if (a.limit < 0) return Status::InvalidArgument("--limit must be 0 or more");
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(a.table));
  delta::SnapshotPtr snap;
  if (a.version >= 0) {
    LP_ASSIGN_OR_RETURN(snap, table->AtVersion(a.version));
  } else if (!a.timestamp.empty()) {
    auto ts = ParseTimestamp(a.timestamp);
    if (!ts.ok()) return Status::InvalidArgument("bad --timestamp: " + ts.status().message());
    LP_ASSIGN_OR_RETURN(snap, table->AtTimestamp(FloorDiv(*ts, 1000)));
  } else {
    LP_ASSIGN_OR_RETURN(snap, table->Latest());
  }
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snap, {}));
  const Schema& schema = scan.output_schema();
  std::vector<RecordBatch> batches;
  int64_t rows = 0;
  for (size_t i = 0; i < scan.files().size() && rows < a.limit; ++i) {
    LP_ASSIGN_OR_RETURN(RecordBatch b, scan.ReadFile(i));
    if (rows + b.num_rows() > a.limit) b = b.Slice(0, a.limit - rows);
    rows += b.num_rows();
    batches.push_back(std::move(b));
  }
  PrintBatches(schema, batches, format);
  if (format != OutputFormat::kTable) return Status::OK();
  int64_t total = snap->num_records();
  if (total >= 0 && total > rows) {
    std::printf("%lld of %lld rows (version %lld; --limit N shows more)\n",
                static_cast<long long>(rows), static_cast<long long>(total),
                static_cast<long long>(snap->version()));
  } else {
    std::printf("%lld row%s (version %lld)\n", static_cast<long long>(rows), rows == 1 ? "" : "s",
                static_cast<long long>(snap->version()));
  }
  return Status::OK();
}

Status RunDescribe(const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->Latest());
  const delta::Metadata& md = snap->metadata();
  std::printf("table       %s\n", snap->table_path().c_str());
  std::printf("id          %s\n", md.id.c_str());
  if (md.name) std::printf("name        %s\n", md.name->c_str());
  if (md.description) std::printf("description %s\n", md.description->c_str());
  std::printf("version     %lld (%s)\n", static_cast<long long>(snap->version()),
              FormatMillis(snap->timestamp_millis()).c_str());
  if (md.created_time) std::printf("created     %s\n", FormatMillis(*md.created_time).c_str());
  std::string parts;
  for (const auto& p : snap->partition_columns()) parts += (parts.empty() ? "" : ", ") + p;
  std::printf("partitions  %s\n", parts.empty() ? "(none)" : parts.c_str());
  int64_t records = snap->num_records();
  std::printf("files       %zu\n", snap->files().size());
  std::printf("rows        %s\n", records >= 0 ? std::to_string(records).c_str() : "unknown (files without stats)");
  std::printf("size        %s (%lld bytes)\n", HumanBytes(snap->size_bytes()).c_str(),
              static_cast<long long>(snap->size_bytes()));
  const delta::Protocol& pr = snap->protocol();
  std::string protocol = "minReaderVersion " + std::to_string(pr.min_reader_version) +
                         ", minWriterVersion " + std::to_string(pr.min_writer_version);
  if (pr.reader_features && !pr.reader_features->empty()) {
    protocol += ", reader features:";
    for (const auto& f : *pr.reader_features) protocol += " " + f;
  }
  if (pr.writer_features && !pr.writer_features->empty()) {
    protocol += ", writer features:";
    for (const auto& f : *pr.writer_features) protocol += " " + f;
  }
  std::printf("protocol    %s\n", protocol.c_str());
  if (snap->configuration().empty()) {
    std::printf("properties  (none)\n");
  } else {
    std::printf("properties\n");
    for (const auto& [k, v] : snap->configuration()) std::printf("  %s = %s\n", k.c_str(), v.c_str());
  }
  std::printf("schema\n");
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : snap->schema().fields()) {
    bool is_partition = std::find(snap->partition_columns().begin(), snap->partition_columns().end(),
                                  f.name) != snap->partition_columns().end();
    rows.push_back({f.name, f.type.ToString(), f.nullable ? "yes" : "no",
                    is_partition ? "partition" : ""});
  }
  PrintTextTable({"column", "type", "nullable", ""}, rows, {});
  return Status::OK();
}

std::string JsonObjectText(const nlohmann::json& j, size_t max = 80) {
  if (!j.is_object() || j.empty()) return "";
  std::string s;
  for (const auto& [k, v] : j.items()) {
    if (!s.empty()) s += ", ";
    s += k + "=" + (v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  return Cell(s, max);
}

Status RunHistory(const std::string& path, int limit) {
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  LP_ASSIGN_OR_RETURN(auto history, table->History(limit));
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : history) {
    nlohmann::json info = nlohmann::json::parse(h.commit_info, nullptr, false);
    std::string params, metrics;
    if (!info.is_discarded()) {
      if (info.contains("operationParameters")) params = JsonObjectText(info["operationParameters"], 60);
      if (info.contains("operationMetrics")) metrics = JsonObjectText(info["operationMetrics"], 70);
    }
    rows.push_back({std::to_string(h.version), FormatTimestamp(h.timestamp_millis * 1000),
                    h.operation.empty() ? "(none)" : h.operation, params, metrics});
  }
  PrintTextTable({"version", "timestamp (UTC)", "operation", "parameters", "metrics"}, rows,
                 {true, false, false, false, false});
  return Status::OK();
}

// A table inside a pipeline's storage folder is written by the pipeline's runs: OPTIMIZE
// and VACUUM take the run's lock for their duration, or are refused while a run holds it
// (VACUUM --retain 0 would delete files that a running update is about to commit).
Result<runtime::StorageLock> LockStorageOf(const std::string& table_path, const std::string& purpose) {
  std::string storage = runtime::StorageLock::StorageOf(table_path);
  if (storage.empty()) return runtime::StorageLock();
  return runtime::StorageLock::Acquire(storage, purpose + " of " + table_path);
}

Status RunOptimize(const std::string& path, int64_t target_mb) {
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  LP_ASSIGN_OR_RETURN(runtime::StorageLock lock, LockStorageOf(path, "OPTIMIZE"));
  delta::OptimizeOptions o;
  if (target_mb > 0) o.target_file_bytes = target_mb << 20;
  LP_ASSIGN_OR_RETURN(delta::OptimizeResult r, table->Optimize(o));
  if (!r.version) {
    std::printf("nothing to compact in %s\n", path.c_str());
  } else {
    std::printf("compacted %lld files into %lld (version %lld)\n",
                static_cast<long long>(r.files_removed), static_cast<long long>(r.files_added),
                static_cast<long long>(*r.version));
    if (r.files_kept_by_time < r.files_removed) {
      // Safe (their tombstones keep the table's retention), but the bound on tombstones
      // (docs/delta.md, "Tombstones") does not hold for them: say so.
      std::printf("note: the modification time of %lld of the removed files could not be set; their tombstones "
                  "keep delta.deletedFileRetentionDuration instead of an hour\n",
                  static_cast<long long>(r.files_removed - r.files_kept_by_time));
    }
  }
  return Status::OK();
}

Status RunVacuum(const std::string& path, double retain_hours, bool force, bool dry_run) {
  if (retain_hours < 0) return Status::InvalidArgument("--retain must be 0 or more hours");
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  runtime::StorageLock lock;
  if (!dry_run) {
    LP_ASSIGN_OR_RETURN(lock, LockStorageOf(path, "VACUUM"));
  }
  delta::VacuumOptions o;
  o.retention_hours = retain_hours;
  o.disable_retention_check = force;
  o.dry_run = dry_run;
  LP_ASSIGN_OR_RETURN(delta::VacuumResult r, table->Vacuum(o));
  std::printf("%s %zu file%s no longer referenced for %g hours\n",
              dry_run ? "would delete" : "deleted", r.deleted.size(),
              r.deleted.size() == 1 ? "" : "s", retain_hours);
  for (const auto& f : r.deleted) std::printf("  %s\n", f.c_str());
  return Status::OK();
}

// Top-level `column op literal` conjuncts of a WHERE condition, for skipping files by
// their stats; the condition itself decides every row.
void SkipPredicates(const expr::Expr& e, const Schema& schema, std::vector<parquet::ColumnPredicate>* out) {
  if (e.kind != expr::ExprKind::kCall) return;
  if (e.function == "and") {
    for (const auto& a : e.args) SkipPredicates(*a, schema, out);
    return;
  }
  using Op = parquet::ColumnPredicate::Op;
  static const std::pair<const char*, Op> kOps[] = {{"=", Op::kEq}, {"<", Op::kLt}, {"<=", Op::kLe},
                                                    {">", Op::kGt}, {">=", Op::kGe}};
  static const std::pair<const char*, Op> kFlipped[] = {{"=", Op::kEq}, {"<", Op::kGt}, {"<=", Op::kGe},
                                                        {">", Op::kLt}, {">=", Op::kLe}};
  if (e.args.size() != 2) return;
  for (int side = 0; side < 2; ++side) {
    const expr::Expr& col = *e.args[side];
    const expr::Expr& lit = *e.args[1 - side];
    if (col.kind != expr::ExprKind::kColumn || lit.kind != expr::ExprKind::kLiteral || lit.literal.is_null()) continue;
    int idx = schema.FindField(col.name);
    if (idx < 0) continue;
    // Only literals of the column's own type family compare correctly with the stats.
    const DataType& t = schema.field(static_cast<size_t>(idx)).type;
    bool numeric = t.id() == TypeId::kByte || t.id() == TypeId::kShort || t.id() == TypeId::kInt || t.id() == TypeId::kLong;
    bool lit_int = lit.literal.id() == TypeId::kByte || lit.literal.id() == TypeId::kShort ||
                   lit.literal.id() == TypeId::kInt || lit.literal.id() == TypeId::kLong;
    bool strings = t.id() == TypeId::kString && lit.literal.id() == TypeId::kString;
    if (!(numeric && lit_int) && !strings) continue;
    for (const auto& [name, op] : side == 0 ? kOps : kFlipped) {
      if (e.function == name) out->push_back({schema.field(static_cast<size_t>(idx)).name, op, lit.literal});
    }
    return;
  }
}

Status RunDelete(const std::string& path, const std::string& where) {
  if (where.empty()) {
    return Status::InvalidArgument("table delete needs --where 'condition' (e.g. --where 'customer_id = 42')");
  }
  LP_ASSIGN_OR_RETURN(auto table, OpenTable(path));
  LP_ASSIGN_OR_RETURN(runtime::StorageLock lock, LockStorageOf(path, "DELETE"));
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr snap, table->Latest());
  auto file = std::make_shared<sql::SourceFile>("--where", where);
  LP_ASSIGN_OR_RETURN(expr::ExprPtr condition, sql::ParseExpression(sql::MappedText::Of(file)));
  auto bound = expr::Bind(*condition, snap->schema());
  if (!bound.ok()) return bound.status().WithContext("--where");
  if (bound->ContainsAggregate()) return Status::InvalidArgument("--where: an aggregate cannot select rows");
  if (bound->type.id() != TypeId::kBoolean) {
    return Status::InvalidArgument("--where '" + where + "' is " + bound->type.ToString() + ", not a boolean condition");
  }
  std::vector<parquet::ColumnPredicate> skip;
  SkipPredicates(*condition, snap->schema(), &skip);
  expr::BoundExpr predicate = std::move(bound).value();
  auto select = [&predicate](const RecordBatch& rows) -> Result<std::vector<uint8_t>> {
    LP_ASSIGN_OR_RETURN(ColumnPtr c, expr::Evaluate(predicate, rows));
    std::vector<uint8_t> mask(static_cast<size_t>(rows.num_rows()));
    for (int64_t r = 0; r < rows.num_rows(); ++r) mask[r] = c->IsValid(r) && c->Get<uint8_t>(r) != 0;
    return mask;
  };
  LP_ASSIGN_OR_RETURN(delta::RowChangeResult r, delta::DeleteRows(*table, skip, select, where, {}));
  if (!r.committed) {
    std::printf("no row of %s matches %s: nothing deleted (version %lld)\n", path.c_str(), where.c_str(),
                static_cast<long long>(r.version));
  } else {
    std::printf("deleted %lld rows from %s (version %lld; %lld files rewritten, %lld rows copied)\n",
                static_cast<long long>(r.rows_removed), path.c_str(), static_cast<long long>(r.version),
                static_cast<long long>(r.files_removed), static_cast<long long>(r.rows_copied));
  }
  return Status::OK();
}

}  // namespace

void RegisterTableCommands(CLI::App& app, CommandRegistry& registry) {
  CLI::App* table = app.add_subcommand("table", "Write files into Delta tables and inspect them");
  table->require_subcommand(1);

  auto write_args = std::make_shared<WriteArgs>();
  CLI::App* write = table->add_subcommand(
      "write", "Write a CSV, JSON lines or Parquet file into a Delta table (created if missing)");
  write->add_option("--from", write_args->from, "Input file (.csv, .tsv, .jsonl/.json, .parquet)");
  write->add_option("--to", write_args->to, "Table folder");
  write->add_option("--format", write_args->format,
                    "csv, tsv, jsonl or parquet (default: from the file extension)");
  write->add_option("--schema", write_args->schema,
                    "Column types, e.g. 'a INT, b STRING' (default: inferred, or the table's)");
  write->add_option("--mode", write_args->mode, "append or overwrite")->capture_default_str();
  write->add_option("--partition-by", write_args->partition_by, "Partition columns, comma separated");
  write->add_option("--header", write_args->header, "CSV: the first line names the columns (true|false)")
      ->capture_default_str();
  write->callback([write_args, &registry]() { registry.Finish(RunWrite(*write_args)); });

  auto show_args = std::make_shared<ShowArgs>();
  CLI::App* show = table->add_subcommand("show", "Print a table's rows (any version)");
  show->add_option("table", show_args->table, "Table folder");
  show->add_option("--version", show_args->version, "Time travel to this version");
  show->add_option("--timestamp", show_args->timestamp,
                   "Time travel to the version current at this time (e.g. 2024-01-31T10:00:00Z)");
  show->add_option("--limit", show_args->limit, "Rows to print")->capture_default_str();
  show->add_option("--format", show_args->format, "table, csv or jsonl")->capture_default_str();
  show->callback([show_args, &registry]() { registry.Finish(RunShow(*show_args)); });

  auto describe_table = std::make_shared<std::string>();
  CLI::App* describe = table->add_subcommand("describe", "Print a table's schema, files, size and protocol");
  describe->add_option("table", *describe_table, "Table folder");
  describe->callback([describe_table, &registry]() { registry.Finish(RunDescribe(*describe_table)); });

  auto history_table = std::make_shared<std::string>();
  auto history_limit = std::make_shared<int>(0);
  CLI::App* history = table->add_subcommand("history", "Print a table's commits, newest first");
  history->add_option("table", *history_table, "Table folder");
  history->add_option("--limit", *history_limit, "Commits to print (default: all)");
  history->callback([history_table, history_limit, &registry]() {
    registry.Finish(RunHistory(*history_table, *history_limit));
  });

  auto delete_table = std::make_shared<std::string>();
  auto delete_where = std::make_shared<std::string>();
  CLI::App* del = table->add_subcommand(
      "delete", "Delete the rows a condition selects (e.g. GDPR requests), recorded in the table history");
  del->add_option("table", *delete_table, "Table folder");
  del->add_option("--where", *delete_where, "The rows to delete, a SQL condition, e.g. 'customer_id = 42'");
  del->callback([delete_table, delete_where, &registry]() {
    AuditedAction what{"delete", "", "WHERE " + *delete_where, false};
    registry.Finish(AuditTableCommand(*delete_table, what, [&] { return RunDelete(*delete_table, *delete_where); }));
  });

  auto optimize_table = std::make_shared<std::string>();
  auto optimize_mb = std::make_shared<int64_t>(0);
  CLI::App* optimize = table->add_subcommand("optimize", "Compact small data files (OPTIMIZE)");
  optimize->add_option("table", *optimize_table, "Table folder");
  optimize->add_option("--target-file-mb", *optimize_mb, "Target file size in MiB (default 128)");
  optimize->callback([optimize_table, optimize_mb, &registry]() {
    AuditedAction what{"optimize", "", "", false};
    registry.Finish(AuditTableCommand(*optimize_table, what, [&] { return RunOptimize(*optimize_table, *optimize_mb); }));
  });

  struct VacuumArgs {
    std::string table;
    double retain = 168;
    bool force = false;
    bool dry_run = false;
  };
  auto vacuum_args = std::make_shared<VacuumArgs>();
  CLI::App* vacuum = table->add_subcommand(
      "vacuum", "Delete data files no longer referenced and older than the retention");
  vacuum->add_option("table", vacuum_args->table, "Table folder");
  vacuum->add_option("--retain", vacuum_args->retain, "Retention in hours")->capture_default_str();
  vacuum->add_flag("--force", vacuum_args->force,
                   "Allow a retention below 168 hours (Delta's safety check)");
  vacuum->add_flag("--dry-run", vacuum_args->dry_run, "List the files without deleting them");
  vacuum->callback([vacuum_args, &registry]() {
    AuditedAction what{"vacuum", "", "retain " + std::to_string(vacuum_args->retain) + " hours" +
                                         (vacuum_args->dry_run ? ", dry run" : ""), false};
    registry.Finish(AuditTableCommand(vacuum_args->table, what, [&] {
      return RunVacuum(vacuum_args->table, vacuum_args->retain, vacuum_args->force, vacuum_args->dry_run);
    }));
  });
}

}  // namespace lakepipe::cli
