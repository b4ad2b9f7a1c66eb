// Streaming tables as flows: plan, process, commit, record (docs/checkpoint.md).
#include <algorithm>

#include "common/kill_point.h"
#include "common/utf8.h"
#include "delta/changes.h"
#include "operators/expectations.h"
#include "runtime/torn_commit_repair.h"
#include "runtime/batch_stream.h"
#include "runtime/ordered_stages.h"
#include "runtime/pipeline_runner_internal.h"
#include "runtime/file_source_schema.h"
#include "runtime/file_watcher.h"
#include "runtime/status_board.h"
#include "sql/stream_join.h"
#include "sql/streaming_rules.h"
#include "types/datetime.h"

namespace lakepipe::runtime {

namespace {

// In continuous runs, how long a file that does not end as a complete file (an empty
// one, a last line without its newline) may still be being written (runtime/file_source.h).
constexpr int64_t kUnterminatedSettleMicros = 1'000'000;

// Adds what `plan` consumed to the flow's record of consumed input. A file recorded
// without its time (a compact file of format 1, an older plan's skippedExisting) is
// remembered as of `now_micros`: kept for a whole maxFileAge from the upgrade, as its real
// time is no later (docs/checkpoint.md, "Retention").
void NoteConsumed(const BatchPlan& plan, Flow& flow, int64_t now_micros) {
  for (const auto& s : plan.sources) {
    switch (s.kind) {
      case PlannedSource::Kind::kFiles: {
        TakenFiles& taken = flow.file_sources[s.path].taken;
        for (const auto* list : {&s.files, &s.skipped_existing}) {
          for (const auto& f : *list) {
            if (f.mtime_known) {
              taken.Insert(f.path, f.mtime_micros);
            } else {
              taken.InsertWithoutTime(f.path, now_micros);
            }
          }
        }
        if (s.newest_mtime_micros != INT64_MIN) taken.NoteNewest(s.newest_mtime_micros);
        if (s.forgotten_before_micros != INT64_MIN) taken.NoteForgottenBefore(s.forgotten_before_micros);
        break;
      }
      case PlannedSource::Kind::kDelta:
        flow.last_version[Lower(s.table)] = s.end_version;
        break;
      case PlannedSource::Kind::kSnapshot:  // an incremental view's first batch
        flow.last_version[Lower(s.table)] = s.version;
        break;
      case PlannedSource::Kind::kStream:  // a message source: where its next range starts
        flow.stream_ranges[s.key] = s.range;
        break;
    }
  }
}

// Reads the segment files a compact file of format 3 lists into the flow's memory of its
// file sources, before NoteConsumed notes the rest of it (runtime/taken_segments.h).
Status LoadTakenSegments(const BatchPlan& compact, Flow& flow, FileSystem* fs) {
  for (const auto& s : compact.sources) {
    if (s.kind != PlannedSource::Kind::kFiles || s.segments.empty()) continue;
    auto& source = flow.file_sources[s.path];
    LP_RETURN_IF_ERROR(source.segments.Load(fs, flow.cp.taken_dir(), s, &source.taken));
  }
  return Status::OK();
}

// What the flow's plans consumed so far, as the compact file FlowCheckpoint::Retain writes
// and LoadTakenSegments and NoteConsumed read back into the same Flow fields. Each file
// source first forgets the files older than its maxFileAge horizon (the compact file and
// the memory keep one maxFileAge of files, whatever the flow's age), then writes the
// segment files of what it took since the last compaction (runtime/taken_segments.h).
Result<FlowCheckpoint::Compaction> CompactConsumed(Flow& flow, int64_t batch_id) {
  BatchPlan summary;
  summary.batch_id = batch_id;
  summary.compact = true;
  FlowCheckpoint::Compaction out;
  auto after = std::make_shared<std::vector<std::pair<TakenSegments*, TakenSegments>>>();
  int sequence = 0;
  FlowCheckpoint& cp = flow.cp;
  for (auto& [path, source] : flow.file_sources) {
    OldFiles& old = source.old;
    source.segments.Forget(&source.taken, source.taken.Horizon(source.max_age_micros),
                           [&old](std::string_view forgotten) { old.Forgotten(forgotten); });
    LP_ASSIGN_OR_RETURN(TakenSegments next,
                        source.segments.Compact(source.taken, path, batch_id, &sequence,
                                                [&cp](const std::string& name, std::string_view text) {
                                                  return cp.WriteSegment(name, text);
                                                }));
    PlannedSource s;
    s.kind = PlannedSource::Kind::kFiles;
    s.path = path;
    s.segments = next.Refs();
    for (const auto& g : s.segments) out.segments.push_back(g.name);
    s.newest_mtime_micros = source.taken.newest_micros();
    s.forgotten_before_micros = source.taken.forgotten_before_micros();
    summary.sources.push_back(std::move(s));
    after->emplace_back(&source.segments, std::move(next));
  }
  for (const auto& [table, version] : flow.last_version) {
    PlannedSource s;
    s.kind = PlannedSource::Kind::kDelta;
    s.table = table;
    s.end_version = version;
    summary.sources.push_back(std::move(s));
  }
  for (const auto& [key, range] : flow.stream_ranges) {
    PlannedSource s;
    s.kind = PlannedSource::Kind::kStream;
    s.key = key;
    s.range = range;
    summary.sources.push_back(std::move(s));
  }
  out.text = summary.Serialize();
  out.durable = [after] {
    for (auto& [memory, next] : *after) *memory = std::move(next);
  };
  return out;
}

// "7 days", "12 hours", "90 seconds": a duration as read_files options spell it.
std::string DurationText(int64_t micros) {
  struct Unit {
    int64_t micros;
    const char* name;
  };
  for (Unit u : {Unit{86'400'000'000LL, "day"}, Unit{3'600'000'000LL, "hour"}, Unit{60'000'000LL, "minute"},
                 Unit{1'000'000LL, "second"}, Unit{1'000LL, "millisecond"}}) {
    if (micros % u.micros == 0) {
      int64_t n = micros / u.micros;
      return std::to_string(n) + " " + u.name + (n == 1 ? "" : "s");
    }
  }
  return std::to_string(micros) + " microseconds";
}

// The warning for files a listing did not take for their age: how many, the first few by
// name, and the horizon they are behind.
std::string TooOldMessage(const sql::ReadFilesSpec& spec, const std::vector<SourceFileEntry>& files,
                          const FileListOptions& limits) {
  constexpr size_t kNamed = 5;
  std::string names;
  for (size_t i = 0; i < files.size() && i < kNamed; ++i) {
    names += (i == 0 ? "" : ", ") + (files[i].path.empty() ? spec.path : files[i].path) + " (modified " +
             FormatTimestampIso(files[i].mtime_micros) + ")";
  }
  if (files.size() > kNamed) names += " and " + std::to_string(files.size() - kNamed) + " more";
  return "read_files " + spec.path + ": " + std::to_string(files.size()) + (files.size() == 1 ? " file" : " files") +
         " older than maxFileAge allows, not taken: " + names + "; the horizon is " +
         FormatTimestampIso(limits.horizon_micros) + " (the newest file taken, minus maxFileAge " +
         DurationText(limits.max_file_age_micros) +
         ", or where older files were forgotten, if later). To have such a file read, land it again "
         "under a new name with a newer time (docs/continuous.md, \"The file source\")";
}

// The warning for files not taken because their names are not valid UTF-8: the first few
// by name (each bad byte shown as U+FFFD) and the reason.
std::string BadNameMessage(const sql::ReadFilesSpec& spec, const std::vector<SourceFileEntry>& files) {
  constexpr size_t kNamed = 5;
  std::string names;
  for (size_t i = 0; i < files.size() && i < kNamed; ++i) names += (i == 0 ? "" : ", ") + RepairUtf8(files[i].path);
  if (files.size() > kNamed) names += " and " + std::to_string(files.size() - kNamed) + " more";
  return "read_files " + spec.path + ": " + std::to_string(files.size()) + (files.size() == 1 ? " file" : " files") +
         " not taken: the name is not valid UTF-8 (" + names +
         "), which the checkpoint cannot record, so a restart would read the file again. Rename it "
         "(docs/continuous.md, \"The file source\")";
}

// What cleaning a batch's source files did: counted for the status, failures warned.
void NoteCleaning(const std::string& table, PlanCleaning done, Flow& flow, StatusBoard* board) {
  for (auto& w : done.warnings) flow.warnings.push_back({"file_not_cleaned", std::move(w)});
  if (board != nullptr && (done.cleaned > 0 || done.not_cleaned > 0))
    board->AddCleanedFiles(table, done.cleaned, done.not_cleaned);
}

}  // namespace

Result<int64_t> MinBatchesToRetain(const sql::PipelineSettings& settings) {
  static const std::string kKey = "spark.sql.streaming.minBatchesToRetain";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return FlowCheckpoint::kDefaultMinBatchesToRetain;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoll(v) < 1) {
    return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + v +
                                   "'; it must be a whole number of batches, at least 1 (Spark's default is 100)");
  }
  return std::stoll(v);
}

Result<Flow*> PipelineRunner::Impl::OpenFlow(const sql::ResolvedDataset& ds, bool full_refresh,
                                             const sql::ResolvedDataset::MoreFlow* more) {
  std::string key = Lower(ds.name);
  std::string cp_dir = CheckpointPath(ds.name);
  if (more != nullptr) {
    key += "/" + Lower(more->name);
    cp_dir = JoinPath(cp_dir, "flows/" + more->name);
  }
  std::unique_lock<std::mutex> lock(flows_mu);
  if (full_refresh) {
    flows.erase(key);  // closes its state stores before the folder goes
    if (more == nullptr) {
      // The table's folder holds its other flows' folders and the AUTO CDC state they
      // share: close those too.
      for (auto it = flows.begin(); it != flows.end();) {
        it = it->first.rfind(key + "/", 0) == 0 ? flows.erase(it) : std::next(it);
      }
      scd_stores.erase(key);
    }
    LP_RETURN_IF_ERROR(FlowCheckpoint::Reset(fs, cp_dir));
  }
  auto it = flows.find(key);
  if (it == flows.end()) {
    LP_ASSIGN_OR_RETURN(FlowCheckpoint cp, FlowCheckpoint::Open(fs, cp_dir, more ? more->name : ds.name));
    it = flows.emplace(key, std::make_unique<Flow>(std::move(cp), fs, ds.name)).first;
  }
  Flow& flow = *it->second;
  if (full_refresh) flow.start_from_snapshot = true;
  lock.unlock();
  LP_ASSIGN_OR_RETURN(int64_t retain, MinBatchesToRetain(pipeline.settings));
  flow.cp.set_min_batches_to_retain(retain);
  if (!flow.history_loaded) {
    // Before resuming, the checkpoint must agree with the table (issue 19: deleted
    // commits, offsets or state lost or doubled rows). A full refresh starts both afresh.
    if (ds.kind == sql::DatasetKind::kStreamingTable && !full_refresh) {
      // A newest commit of this flow that a crash cut short is set aside and its batch
      // replayed (runtime/torn_commit_repair.h); any other torn commit is refused here.
      LP_ASSIGN_OR_RETURN(std::string repaired, RepairTornNewestCommit(fs, ds.name, TablePath(ds.name), flow.cp));
      if (!repaired.empty()) flow.warnings.push_back({"torn_commit_set_aside", repaired});
      LP_ASSIGN_OR_RETURN(auto progress, FlowCheckpoint::ReadTableProgress(fs, TablePath(ds.name), flow.cp.flow_id()));
      // Other flows write the table too: its own others, or other runs' (LOCATION).
      bool shared = more != nullptr || !ds.more_flows.empty() || !Definition(ds).location.empty();
      LP_RETURN_IF_ERROR(flow.cp.CheckAgainstTable(ds.name, progress, shared));
    }
    // The compact file of the retained history first (if any), then the plans after it.
    LP_ASSIGN_OR_RETURN(auto history, flow.cp.ReadAllPlans());
    for (const auto& stored : history) {
      LP_ASSIGN_OR_RETURN(BatchPlan plan, ParseBatchPlan(stored.text, stored.file));
      if (plan.compact) LP_RETURN_IF_ERROR(LoadTakenSegments(plan, flow, fs));
      NoteConsumed(plan, flow, clock->NowMicros());
    }
    flow.history_loaded = true;
  }
  return &flow;
}

Result<StreamSource*> PipelineRunner::Impl::OpenStreamSourceOf(const sql::ResolvedDataset& ds, Flow& flow,
                                                               const sql::PlanNode& scan) {
  std::string key = StreamSourceKey(scan.stream_source);
  auto it = flow.stream_sources.find(key);
  if (it != flow.stream_sources.end()) return it->second.get();
  StreamSourceContext context;
  context.table = ds.name;
  context.flow_id = flow.cp.flow_id();
  context.state_dir = JoinPath(flow.cp.dir(), "sources/" + std::to_string(flow.stream_sources.size()));
  LP_RETURN_IF_ERROR(fs->CreateDirs(context.state_dir));
  Flow* f = &flow;
  context.warn = [f](const std::string& kind, const std::string& message) { f->warnings.push_back({kind, message}); };
  auto opened = OpenStreamSource(scan.stream_source, context);
  if (!opened.ok()) return Status(opened.status().code(), scan.loc.ToString() + ": " + opened.status().message());
  auto wake = stream_wakes.find(Lower(ds.name));
  if (wake != stream_wakes.end()) {
    std::shared_ptr<std::atomic<bool>> flag = wake->second;
    (*opened)->SetWakeup([this, flag] {
      flag->store(true);
      if (FileWatcher* w = watcher.load()) w->Wake();
    });
  }
  return flow.stream_sources.emplace(key, std::move(*opened)).first->second.get();
}

Result<std::optional<BatchPlan>> PipelineRunner::Impl::PlanNextBatch(const sql::ResolvedDataset& ds, Flow& flow,
                                                              int64_t batch_id) {
  PlanSources sources;
  CollectSources(*ds.plan, &sources);
  bool any_new = false;
  flow.backlog_files = flow.backlog_bytes = flow.next_stable_in_micros = 0;
  BatchPlan plan;
  plan.batch_id = batch_id;
  plan.planned_at_millis = clock->NowMillis();
  std::set<std::string> planned_paths;
  for (const sql::PlanNode* scan : sources.file_scans) {
    const auto& spec = scan->read_files;
    // An inferred schema is kept before the first batch that reads with it.
    LP_RETURN_IF_ERROR(KeepInferredSchema(fs, spec, clock->NowMillis()));
    if (!planned_paths.insert(spec.path).second) continue;
    LP_ASSIGN_OR_RETURN(FileListOptions limits, FileListOptionsFrom(spec));
    limits.now_micros = clock->NowMicros();
    if (continuous) limits.unterminated_settle_micros = kUnterminatedSettleMicros;
    Flow::FileSourceMemory& memory = flow.file_sources[spec.path];
    memory.max_age_micros = limits.max_file_age_micros;
    PlannedSource entry;
    entry.kind = PlannedSource::Kind::kFiles;
    entry.path = spec.path;
    if (batch_id == 0 && !limits.include_existing) {
      // includeExistingFiles = false: what is there at the flow's start is recorded as
      // consumed without being read, in this first plan.
      LP_ASSIGN_OR_RETURN(auto existing, ListAllFiles(fs, spec.path, limits.selection));
      for (const auto& f : existing) {
        PlannedFile skipped;
        skipped.path = f.path;
        skipped.mtime_micros = f.mtime_micros;
        entry.skipped_existing.push_back(std::move(skipped));
        memory.taken.Insert(f.path, f.mtime_micros);
      }
      any_new = true;  // the first plan is written even when it reads nothing
    }
    // maxFileAge: a file older than the newest taken one by more than that is not taken
    // (none is before the first file is taken: a flow's first batch takes every file).
    limits.horizon_micros = memory.taken.Horizon(limits.max_file_age_micros);
    memory.old.BeginListing();
    KnownFile known = [&memory](const std::string& path) {
      return memory.taken.Contains(path) || memory.old.Skip(path);
    };
    auto listing = ListNewFiles(fs, spec.path, known, limits);
    if (!listing.ok()) {
      if (listing.status().IsNotFound()) {
        return Status::NotFound("read_files path " + spec.path + " does not exist");
      }
      return listing.status();
    }
    for (const auto& f : listing->too_old) memory.old.Add(f.path);
    for (const auto& f : listing->bad_names) memory.old.Add(f.path);  // said once, then passed by
    memory.old.EndListing();
    if (!listing->too_old.empty()) {
      flow.files_too_old += static_cast<int64_t>(listing->too_old.size());
      flow.warnings.push_back({"file_too_old", TooOldMessage(spec, listing->too_old, limits)});
    }
    if (!listing->bad_names.empty()) {
      flow.warnings.push_back({"file_name_not_utf8", BadNameMessage(spec, listing->bad_names)});
    }
    for (const auto& link : listing->not_followed) {
      if (flow.links_reported.insert(spec.path + ": " + link).second)
        flow.warnings.push_back({"link_not_followed", "read_files " + spec.path + ": not followed: " + link});
    }
    for (const auto& f : listing->files) entry.files.push_back({f.path, f.size, f.mtime_micros});
    any_new |= !listing->files.empty();
    flow.backlog_files += listing->backlog_files;
    flow.backlog_bytes += listing->backlog_bytes;
    if (listing->next_stable_in_micros > 0 &&
        (flow.next_stable_in_micros == 0 || listing->next_stable_in_micros < flow.next_stable_in_micros))
      flow.next_stable_in_micros = listing->next_stable_in_micros;
    plan.sources.push_back(std::move(entry));
  }
  std::set<std::string> planned_tables;
  for (const sql::PlanNode* scan : sources.streaming_tables) {
    std::string key = Lower(scan->table);
    if (!planned_tables.insert(key).second) continue;
    // An upstream table that has no commit yet has nothing to read (version -1).
    int64_t latest = -1;
    auto upstream = Table(scan->table);
    if (upstream.ok()) {
      LP_ASSIGN_OR_RETURN(latest, (*upstream)->LatestVersion());
    } else if (!upstream.status().IsNotFound()) {
      return upstream.status();
    }
    int64_t start = flow.last_version.count(key) ? flow.last_version[key] + 1 : 0;
    any_new |= start <= latest;
    PlannedSource entry;
    entry.table = scan->table;
    // Another pipeline's table starts, as Spark's Delta source does, from its snapshot
    // at the first batch's version, then its later commits: its history may hold its own
    // rewrites (a full refresh) or be cleaned up (docs/catalog.md).
    bool external = resolved.FindExternal(scan->table) != nullptr;
    if (start == 0 && latest >= 0 && (flow.start_from_snapshot || external)) {
      entry.kind = PlannedSource::Kind::kSnapshot;
      entry.version = latest;
    } else {
      entry.kind = PlannedSource::Kind::kDelta;
      entry.start_version = start;
      entry.end_version = std::max(latest, start - 1);
    }
    plan.sources.push_back(std::move(entry));
  }
  // Message sources: each plans its next range after its range in the latest plan. A
  // source with nothing new still carries its range forward (it is where it stands).
  flow.backlog_records = 0;
  flow.lag_bytes = -1;
  flow.lag_seconds = -1;
  std::set<std::string> planned_streams;
  std::vector<PlannedSource> stream_entries;
  for (const sql::PlanNode* scan : sources.stream_scans) {
    std::string key = StreamSourceKey(scan->stream_source);
    if (!planned_streams.insert(key).second) continue;
    LP_ASSIGN_OR_RETURN(StreamSource * source, OpenStreamSourceOf(ds, flow, *scan));
    auto prev = flow.stream_ranges.find(key);
    auto next = source->PlanNext(prev == flow.stream_ranges.end() ? nullptr : &prev->second);
    if (!next.ok()) return Status(next.status().code(), scan->loc.ToString() + ": " + next.status().message());
    StreamBacklog backlog = source->Backlog();
    if (backlog.records > 0) flow.backlog_records += backlog.records;
    flow.lag_bytes = std::max(flow.lag_bytes, backlog.lag_bytes);
    flow.lag_seconds = std::max(flow.lag_seconds, backlog.lag_seconds);
    PlannedSource entry;
    entry.kind = PlannedSource::Kind::kStream;
    entry.key = key;
    if (next->has_value()) {
      any_new = true;
      entry.range = std::move(**next);
      plan.sources.push_back(std::move(entry));
    } else if (prev != flow.stream_ranges.end()) {
      entry.range = prev->second;
      stream_entries.push_back(std::move(entry));
    } else {
      return Status::Internal(scan->loc.ToString() + ": " + key + " planned nothing for the flow's first batch");
    }
  }
  if (!any_new) return std::optional<BatchPlan>();
  for (auto& e : stream_entries) plan.sources.push_back(std::move(e));
  return std::optional<BatchPlan>(std::move(plan));
}

namespace {

// Whether a range read by parts gives, part by part, exactly the rows (and the late rows)
// of the whole range read at once (docs/execution.md, "Two ways to run a micro-batch").
// - Row-wise steps: each output row from one input row, or dropped.
// - A DISTINCT and a keyed de-duplication (QUALIFY row_number() ... = 1 over a watermarked
//   stream): their seen keys are the flow's durable set, which every part inserts into,
//   and with a watermark the set carries it from part to part (SeenKeySet::
//   RecordedWatermark, which includes the batch's own), so each row meets the watermark it
//   meets in the whole read.
// - A time-window aggregate over a watermarked stream: each part continues from the open
//   windows the part before staged (operators::WindowState), as a micro-batch continues
//   from the one before, and hands on the windows the watermark closed in it.
// - A join of the stream (its left input) with a side that reads no stream (a stored
//   table, a view or subquery over stored tables): that side is read and built once, at
//   the first part (ExecOptions::across_parts), so every part is joined with the same
//   version of it, and each row of the stream gives what it gives in the whole read.
//   An INNER join whose stream is on the right is the same join with its sides swapped:
//   its left side is built once and the stream's parts probe it (added to `build_left`).
//   Not a join between two streams (nor a LEFT join with the stream on the right, which
//   a streaming table refuses).
// A view read as a stream (STREAM(v)) runs its query once per part: the same holds for it.
// - UNION ALL of streams (`row_wise`: a query of several sources): each part runs with
//   the next part of every source (one whose input ended gives none), so the parts hold
//   the whole read's rows, interleaved by source. Only row-wise steps may then follow,
//   joins with stored tables, and a DISTINCT without a watermark (neither depends on the
//   order of its rows): another step that keeps state would meet the rows in another
//   order than in the whole read, and a watermark would advance in another order.
bool ReadsByParts(const sql::PlanNode& node, const PipelineRunner::Impl& r, bool row_wise,
                  std::vector<const sql::PlanNode*>* build_left) {
  switch (node.kind) {
    case sql::PlanKind::kReadStream:
    case sql::PlanKind::kReadFiles:
    case sql::PlanKind::kFilter:
    case sql::PlanKind::kProject:
    case sql::PlanKind::kSubqueryAlias:
    case sql::PlanKind::kGenerate:
      break;
    case sql::PlanKind::kUnionAll:
      if (!row_wise) return false;
      break;
    case sql::PlanKind::kDistinct:
      // Without a watermark, the rows a DISTINCT lets through are the same in any order
      // (the first of identical rows), so it may follow a union of streams.
      if (row_wise && sql::WatermarkScanBelow(node) != nullptr) return false;
      break;
    case sql::PlanKind::kTableScan: {
      // A streaming read of a stored table's appends or of its change feed, or of a view.
      if (!node.streaming) return false;
      const sql::ResolvedDataset* view = r.Find(node.table);
      if (view != nullptr && view->kind == sql::DatasetKind::kView) return ReadsByParts(*view->plan, r, row_wise, build_left);
      break;
    }
    case sql::PlanKind::kWindow:
      if (row_wise || !sql::IsStreamingKeyedDedup(node)) return false;
      break;
    case sql::PlanKind::kAggregate:
      if (row_wise || sql::WindowKeyIndex(node) < 0 || sql::WatermarkScanBelow(node) == nullptr) return false;
      break;
    case sql::PlanKind::kJoin: {
      // A join with stored tables gives each stream row what it gives alone: it may take
      // a union of streams (`row_wise`) too.
      if (sql::IsStreamStreamJoin(node) || node.inputs.size() != 2 || !node.inputs[0] || !node.inputs[1]) return false;
      auto reads_no_source = [&r](const sql::PlanNode& side) {
        PlanSources sources;
        r.CollectSources(side, &sources);
        return sources.file_scans.empty() && sources.streaming_tables.empty() && sources.stream_scans.empty();
      };
      if (reads_no_source(*node.inputs[1])) return ReadsByParts(*node.inputs[0], r, row_wise, build_left);
      if (node.join_type != sql::JoinType::kInner || !reads_no_source(*node.inputs[0])) return false;
      if (!ReadsByParts(*node.inputs[1], r, row_wise, build_left)) return false;
      build_left->push_back(&node);
      return true;
    }
    default:
      return false;
  }
  for (const auto& in : node.inputs)
    if (!in || !ReadsByParts(*in, r, row_wise, build_left)) return false;
  return true;
}

}  // namespace

Result<int64_t> BatchRows(const sql::PipelineSettings& settings) {
  static const std::string kKey = "lakepipe.batchRows";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return kDefaultBatchRows;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoll(v) < 1) {
    return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + v +
                                   "'; it must be a whole number of rows, at least 1 (the default is " +
                                   std::to_string(kDefaultBatchRows) + ")");
  }
  return std::stoll(v);
}

Result<int> FlowThreads(const sql::PipelineSettings& settings) {
  static const std::string kKey = "lakepipe.flowThreads";
  auto it = settings.configuration.find(kKey);
  if (it == settings.configuration.end()) return kDefaultFlowThreads;
  const std::string& v = it->second;
  if (v != "1" && v != "2" && v != "3") {
    return Status::InvalidArgument(settings.settings_file + ": configuration " + kKey + " is '" + v +
                                   "'; it must be 1, 2 or 3 threads (the default is " +
                                   std::to_string(kDefaultFlowThreads) + ")");
  }
  return std::stoi(v);
}

namespace {

// Where a micro-batch run by parts on three threads cuts its query: the topmost DISTINCT
// or keyed de-duplication, with only row-wise steps above it. The part up to it (the read
// and the seen-key set, whose answers depend on the order of the rows) stays on one
// thread; the steps above it depend on nothing but their row and run on the next.
// nullptr: no such step.
const sql::PlanNode* StageCut(const sql::PlanNode& plan) {
  const sql::PlanNode* node = &plan;
  while (true) {
    if (node->kind == sql::PlanKind::kDistinct) return node;
    if (node->kind == sql::PlanKind::kWindow && sql::IsStreamingKeyedDedup(*node)) return node;
    switch (node->kind) {
      case sql::PlanKind::kProject:
      case sql::PlanKind::kFilter:
      case sql::PlanKind::kSubqueryAlias:
      case sql::PlanKind::kGenerate:
        break;
      default:
        return nullptr;
    }
    if (node->inputs.size() != 1 || !node->inputs[0]) return nullptr;
    node = node->inputs[0].get();
  }
}

// The provider of the upper half of a cut query: its only input is the given rows of the
// cut (ExecOptions::given_rows), so any read is a bug.
class NoScans final : public ScanProvider {
 public:
  Result<std::vector<RecordBatch>> ReadTable(const sql::PlanNode& node) override { return Unexpected(node); }
  Result<std::vector<RecordBatch>> ReadFiles(const sql::PlanNode& node) override { return Unexpected(node); }
  Result<std::vector<RecordBatch>> ReadStream(const sql::PlanNode& node) override { return Unexpected(node); }

 private:
  static Status Unexpected(const sql::PlanNode& node) {
    return Status::Internal("the upper half of a cut streaming query reads a source (" + node.loc.ToString() + ")");
  }
};

void MergeExpectationCounts(const TableReport& part, TableReport* batch) {
  batch->rows_dropped += part.rows_dropped;
  batch->rows_quarantined += part.rows_quarantined;
  if (batch->expectations.empty()) {
    batch->expectations = part.expectations;
    return;
  }
  for (size_t i = 0; i < batch->expectations.size() && i < part.expectations.size(); ++i) {
    batch->expectations[i].passed += part.expectations[i].passed;
    batch->expectations[i].failed += part.expectations[i].failed;
  }
}

// Another flow's rows in the table's columns, by name (the table's other columns NULL).
Batches ConformByName(const Batches& rows, const Schema& table) {
  Batches out;
  for (const auto& b : rows) {
    std::vector<ColumnPtr> cols;
    for (const Field& f : table.fields()) {
      int i = b.schema().FindField(f.name);
      cols.push_back(i >= 0 ? b.column_ptr(static_cast<size_t>(i)) : MakeColumn(Column::Nulls(f.type, b.num_rows())));
    }
    out.emplace_back(table, std::move(cols), b.num_rows());
  }
  return out;
}

}  // namespace

Result<TableReport> PipelineRunner::Impl::UpdateStreamingTable(const sql::ResolvedDataset& ds, bool full_refresh,
                                                               StatusBoard* board) {
  if (ds.apply_changes && !ds.more_flows.empty() && !full_refresh) {
    // Several AUTO CDC flows share the target's per-key state: a batch one of them
    // committed to the table before a crash, but not yet to the state, is finished before
    // any flow plans a new batch against that state.
    LP_RETURN_IF_ERROR(UpdateStreamingFlow(ds, nullptr, false, board, /*replay_only=*/true).status());
    for (const auto& more : ds.more_flows) {
      LP_RETURN_IF_ERROR(UpdateStreamingFlow(ds, &more, false, board, /*replay_only=*/true).status());
    }
  }
  LP_ASSIGN_OR_RETURN(TableReport report, UpdateStreamingFlow(ds, nullptr, full_refresh, board));
  for (const auto& more : ds.more_flows) {
    LP_ASSIGN_OR_RETURN(TableReport r, UpdateStreamingFlow(ds, &more, full_refresh, board));
    report.rows_read += r.rows_read;
    report.rows_written += r.rows_written;
    report.rows_rescued += r.rows_rescued;
    report.batches += r.batches;
    report.rows_dropped += r.rows_dropped;
    report.rows_quarantined += r.rows_quarantined;
    report.rows_late += r.rows_late;
    report.duration_ms += r.duration_ms;
    report.state_keys += r.state_keys;
    report.state_bytes += r.state_bytes;
    for (auto& o : r.operators) report.operators.push_back({more.name + "/" + o.name, o.keys, o.bytes});
    for (auto& w : r.warnings) report.warnings.push_back(std::move(w));
    if (r.status == "updated") report.status = r.status;
    if (r.table_version > report.table_version) report.table_version = r.table_version;
  }
  return report;
}

namespace {

// One update of one flow into a streaming table: batch after batch, each planned (or, after
// a crash, replayed), processed, written to the table in one Delta commit with the flow's
// txn, its operator state committed, recorded as done, then its source cleaned and
// acknowledged (docs/checkpoint.md, "The protocol"). Run() once; one thread.
class StreamingFlowUpdate {
 public:
  StreamingFlowUpdate(PipelineRunner::Impl& runner, const sql::ResolvedDataset& table_ds,
                      const sql::ResolvedDataset::MoreFlow* more, bool full_refresh, StatusBoard* board,
                      bool replay_only)
      : r_(runner), more_(more), full_refresh_(full_refresh), board_(board), replay_only_(replay_only) {
    // Another flow runs as the table with that flow's query (and its AUTO CDC spec).
    if (more != nullptr) {
      flow_ds_ = table_ds;
      flow_ds_.plan = more->plan;
      if (more->apply_changes) flow_ds_.apply_changes = more->apply_changes;
    }
    ds_ = more != nullptr ? &flow_ds_ : &table_ds;
    scd_marker_ = more != nullptr ? more->name : std::string();
    once_ = more != nullptr ? more->once : ds_->once;
    report_.table = ds_->name;
    report_.kind = sql::DatasetKindName(ds_->kind);
  }

  Result<TableReport> Run();

 private:
  // What processing a batch gave: its table commit and its counts.
  struct Processed {
    delta::CommitResult commit;
    int64_t rows_read = 0;
    int64_t rows_out = 0;
    int64_t rows_late = 0;
    int64_t parts = 0;  // read by parts: how many had rows
    TableReport expectations;  // the batch's expectation counts
    // Rows behind a watermark, for `<table>_late`: the batch's (read whole), or the part's
    // being read (by parts).
    Batches late;
  };

  Status Open();
  // The batch to run next: one planned before a crash (replayed as planned), else a new
  // one planned and written; nullopt when there is none.
  Result<std::optional<BatchPlan>> NextBatch();
  delta::WriteOptions WriteOptionsFor(int64_t batch_id) const;
  // Reads the batch by parts, each part processed and written as it comes (bounded memory).
  Status ProcessByParts(BatchScanProvider& provider, const ExecOptions& exec, const delta::WriteOptions& options,
                        Processed* out);
  // Reads and processes the batch whole, then writes the quarantine, late and main tables.
  Status ProcessWhole(const BatchPlan& plan, BatchScanProvider& provider, const ExecOptions& exec,
                      const delta::WriteOptions& options, Processed* out);
  // After the table commit: latency bookkeeping, readers woken.
  void NoteCommitted(const BatchPlan& plan, const BatchScanProvider& provider, const delta::CommitResult& commit);
  // After the state commit: the commit record, then what may only follow it.
  Status Record(const BatchPlan& plan, const delta::CommitResult& commit);
  void ReportBatch(const BatchScanProvider& provider, const Processed& done, int64_t batch_start);
  // The table of the rows behind a watermark.
  std::string LateTable() const { return ds_->name + "_late"; }
  Result<TableReport> Finish();
  // Whether the side table `name` (quarantine, late rows) is written by this batch: when
  // it has rows, and on a first batch so that the table exists (a replay then finds its
  // txn and writes nothing).
  bool WritesSideTable(const std::string& name, bool has_rows, const delta::WriteOptions& options) const {
    return has_rows || options.mode == delta::WriteMode::kOverwrite ||
           !delta::DeltaTable::Exists(r_.TablePath(name), r_.fs);
  }

  PipelineRunner::Impl& r_;
  const sql::ResolvedDataset::MoreFlow* more_;
  const bool full_refresh_;
  StatusBoard* board_;
  const bool replay_only_;
  sql::ResolvedDataset flow_ds_;  // another flow: the table with that flow's query
  const sql::ResolvedDataset* ds_ = nullptr;
  std::string scd_marker_;
  bool once_ = false;
  TableReport report_;

  // Set by Open.
  Flow* flow_ = nullptr;
  PlanSources sources_;
  bool cleans_source_ = false;
  bool quarantines_ = false;
  std::optional<Schema> late_schema_;
  bool by_parts_ = false;
  int64_t batch_rows_ = 0;
  int flow_threads_ = 1;
  // By parts: the inner joins whose stream is their right input (ReadsByParts), which
  // build their left side once and probe it with the stream's parts.
  std::vector<const sql::PlanNode*> build_left_joins_;
  bool stop_after_batch_ = false;  // replay_only: the replayed batch is the last
};

Status StreamingFlowUpdate::Open() {
  const sql::ResolvedDataset& ds = *ds_;
  r_.CollectSources(*ds.plan, &sources_);
  if (sources_.file_scans.empty() && sources_.streaming_tables.empty() && sources_.stream_scans.empty() && !once_) {
    return Status::InvalidArgument("streaming table `" + ds.name +
                                   "` reads no streaming source: use STREAM(table), read_files(...) or "
                                   "STREAM read_kafka(...)");
  }
  LP_ASSIGN_OR_RETURN(flow_, r_.OpenFlow(ds, full_refresh_, more_));
  FlowCheckpoint& cp = flow_->cp;
  if (!flow_->clean_targets) {
    // cleanSource: a crash after a batch's commit record may have left some of what it
    // took; the batch is durably done, so that is cleaned now (its record made durable
    // first, in case an earlier process wrote it unsynced).
    LP_ASSIGN_OR_RETURN(auto targets, CleanTargetsOf(r_.fs, sources_.file_scans));
    LP_ASSIGN_OR_RETURN(auto committed, cp.LatestCommitted());
    if (!targets.empty() && committed) {
      LP_RETURN_IF_ERROR(cp.SyncCommit(*committed));
      LP_ASSIGN_OR_RETURN(std::string text, cp.ReadPlan(*committed));
      LP_ASSIGN_OR_RETURN(BatchPlan done, ParseBatchPlan(text, cp.dir() + "/offsets/" + std::to_string(*committed)));
      NoteCleaning(ds.name, CleanPlannedFiles(r_.fs, done, targets), *flow_, board_);
    }
    flow_->clean_targets = std::move(targets);
  }
  cleans_source_ = !flow_->clean_targets->empty();
  for (const auto& e : r_.Definition(ds).expectations)
    quarantines_ |= e.action == sql::ViolationAction::kQuarantine;
  // Rows behind a watermark go to `<table>_late` (docs/sql-reference.md "Streaming
  // semantics"), committed with each batch like the quarantine table.
  LP_ASSIGN_OR_RETURN(late_schema_, LateRowsSchema(*ds.plan));
  // A query over its sources (message sources, read_files, stored tables read as
  // streams) whose parts give the rows of the whole (ReadsByParts) reads its batch by parts
  // (StreamSource::ReadPart; about batch_rows rows of the files or of the planned
  // versions' row groups), each processed and written as it comes into the batch's one
  // commit: a micro-batch of any size takes memory for a few parts, not for the batch
  // (docs/execution.md).
  // Several sources (a UNION ALL of streams) each give their own parts. A source read
  // twice (a view referenced twice shares its plan nodes) would be asked for two parts
  // in one: it is read whole.
  std::set<const sql::PlanNode*> distinct_sources(sources_.stream_scans.begin(), sources_.stream_scans.end());
  distinct_sources.insert(sources_.file_scans.begin(), sources_.file_scans.end());
  distinct_sources.insert(sources_.streaming_tables.begin(), sources_.streaming_tables.end());
  const size_t num_sources = sources_.stream_scans.size() + sources_.file_scans.size() + sources_.streaming_tables.size();
  by_parts_ = num_sources >= 1 && distinct_sources.size() == num_sources && !ds.apply_changes &&
              ReadsByParts(*ds.plan, r_, /*row_wise=*/num_sources > 1, &build_left_joins_);
  if (!by_parts_) build_left_joins_.clear();
  LP_ASSIGN_OR_RETURN(batch_rows_, BatchRows(r_.pipeline.settings));
  LP_ASSIGN_OR_RETURN(flow_threads_, FlowThreads(r_.pipeline.settings));
  return Status::OK();
}

Result<std::optional<BatchPlan>> StreamingFlowUpdate::NextBatch() {
  const sql::ResolvedDataset& ds = *ds_;
  FlowCheckpoint& cp = flow_->cp;
  LP_ASSIGN_OR_RETURN(auto planned, cp.LatestPlanned());
  LP_ASSIGN_OR_RETURN(auto committed, cp.LatestCommitted());
  if (planned && (!committed || *committed < *planned)) {
    // A batch planned before a crash: replay exactly that input.
    LP_ASSIGN_OR_RETURN(std::string text, cp.ReadPlan(*planned));
    if (replay_only_) stop_after_batch_ = true;
    LP_ASSIGN_OR_RETURN(BatchPlan plan, ParseBatchPlan(text, cp.dir() + "/offsets/" + std::to_string(*planned)));
    plan.batch_id = *planned;  // the file's name rules (older plans may not say)
    return std::optional<BatchPlan>(std::move(plan));
  }
  if (replay_only_) return std::optional<BatchPlan>();
  if (once_ && planned) return std::optional<BatchPlan>();  // a ONCE flow has run (docs/checkpoint.md, "Flows")
  const int64_t batch_id = planned ? *planned + 1 : 0;
  LP_ASSIGN_OR_RETURN(auto next, r_.PlanNextBatch(ds, *flow_, batch_id));
  if (!next && !r_.continuous && ds.apply_changes && ds.apply_changes->spec->from_snapshot) {
    // The end of a triggered update's backlog completes the snapshot version held as
    // incomplete: one batch that reads nothing (docs/sql-reference.md, "AUTO CDC FROM
    // SNAPSHOT"). A continuous run waits for a later version instead.
    LP_RETURN_IF_ERROR(r_.OpenScdState(ds, *flow_, scd_marker_));
    LP_ASSIGN_OR_RETURN(bool held, flow_->scd_store->HoldsSnapshotVersion());
    if (held) {
      next.emplace();
      next->batch_id = batch_id;
      next->planned_at_millis = r_.clock->NowMillis();
      next->snapshot_end = true;
    }
  }
  if (!next && once_) {
    // Its one batch reads whole tables only: the plan lists no source.
    next.emplace();
    next->batch_id = batch_id;
    next->planned_at_millis = r_.clock->NowMillis();
    next->once = true;
  }
  if (!next) return next;
  next->batch_id = batch_id;
  LP_RETURN_IF_ERROR(cp.WritePlan(batch_id, next->Serialize()));
  NoteConsumed(*next, *flow_, r_.clock->NowMicros());
  LP_KILL_POINT("flow.after_plan");
  return next;
}

delta::WriteOptions StreamingFlowUpdate::WriteOptionsFor(int64_t batch_id) const {
  delta::WriteOptions options;
  // The first batch after a full refresh replaces the old rows; the history stays.
  // (The table's own flow runs first; the other flows then append to what it wrote.)
  options.mode = (full_refresh_ && batch_id == 0 && more_ == nullptr) ? delta::WriteMode::kOverwrite
                                                                        : delta::WriteMode::kAppend;
  if (more_ != nullptr) options.operation_parameters["flow"] = "\"" + more_->name + "\"";
  options.operation = "STREAMING UPDATE";
  options.operation_parameters["batchId"] = std::to_string(batch_id);
  options.txn_app_id = flow_->cp.flow_id();
  options.txn_version = batch_id;
  return options;
}

Status StreamingFlowUpdate::ProcessByParts(BatchScanProvider& provider, const ExecOptions& exec,
                                           const delta::WriteOptions& options, Processed* out) {
  const sql::ResolvedDataset& ds = *ds_;
  // The side tables commit first (quarantine, late rows, then the table), as ProcessWhole's
  // order. The late-rows writer opens at the first late row (or to create the table on the
  // first batch): most batches have none, and opening reads the table's latest version.
  std::unique_ptr<delta::TableWriter> quarantine_writer, late_writer, writer;
  if (quarantines_) {
    LP_ASSIGN_OR_RETURN(quarantine_writer, r_.OpenTableWriter(ds.name + "_quarantine",
                                                              operators::QuarantineSchema(ds.schema), ds, options));
  }
  auto open_late_writer = [&]() -> Status {
    if (late_writer == nullptr) {
      LP_ASSIGN_OR_RETURN(late_writer, r_.OpenTableWriter(LateTable(), *late_schema_, ds, options));
    }
    return Status::OK();
  };
  LP_ASSIGN_OR_RETURN(writer, r_.OpenTableWriter(ds.name, ds.schema, ds, options));
  bool any_quarantined = false;
  // Each part goes through three steps: the query up to its DISTINCT (reads the part;
  // the seen-key set decides in row order), the rest of the query with the
  // expectations, the writers. With lakepipe.flowThreads = 3 each step has a thread
  // and works on the next part while the following step takes this one; with 2 the
  // first two share a thread; with 1 all run here, part after part. Every step sees
  // the parts in order, so all three forms write the same rows in the same order
  // (docs/execution.md, "Both cores").
  // A part's rows stay selections of the batches read (operators/selection.h) from the
  // DISTINCT through the expectations, and are copied once, at the end of the second
  // step, when any was dropped.
  struct PartWork {
    std::vector<operators::SelectedBatch> selected;
    Batches rows, quarantined, late;
    int64_t rows_read = 0;
    TableReport report;  // its expectation counts
  };
  // Bound once for the batch's parts.
  LP_ASSIGN_OR_RETURN(const DatasetExpectations checks, DatasetExpectations::Bind(ds, r_.Definition(ds)));
  const sql::PlanNode* cut = flow_threads_ >= 3 ? StageCut(*ds.plan) : nullptr;
  int next_part = 0;
  bool read_all = false;
  auto read_part = [&](PartWork* w) -> Result<bool> {
    if (read_all) return false;
    provider.SetPart(next_part++, batch_rows_);
    LP_ASSIGN_OR_RETURN(w->selected, ExecuteSelected(cut != nullptr ? *cut : *ds.plan, provider, exec));
    // The late rows go where the query hands them (exec.late_rows: out->late), only here
    // and on this thread: every stateful step is below the cut.
    w->late = std::move(out->late);
    out->late.clear();
    read_all = !provider.more_parts();
    return true;
  };
  auto finish_query = [&](PartWork& w) -> Status {
    if (cut != nullptr) {
      ExecOptions upper = exec;
      upper.given_node = cut;
      upper.given_selected = &w.selected;
      NoScans no_scans;
      LP_ASSIGN_OR_RETURN(std::vector<operators::SelectedBatch> selected, ExecuteSelected(*ds.plan, no_scans, upper));
      w.selected = std::move(selected);
    }
    if (more_ != nullptr) {
      Batches dense;
      for (const auto& b : w.selected) dense.push_back(b.Materialize());
      dense = ConformByName(dense, ds.schema);
      w.selected.clear();
      for (auto& b : dense) w.selected.emplace_back(std::move(b));
    }
    w.rows_read = operators::CountSelectedRows(w.selected);
    LP_ASSIGN_OR_RETURN(w.quarantined, checks.Apply(&w.selected, &w.report));
    w.rows.clear();
    for (const auto& b : w.selected) w.rows.push_back(b.Materialize());
    w.selected.clear();
    return Status::OK();
  };
  // The last step runs on this thread (RunOrderedStages), so it may open the late writer.
  auto write_part = [&](PartWork& w) -> Status {
    out->rows_read += w.rows_read;
    MergeExpectationCounts(w.report, &out->expectations);
    for (const auto& b : w.quarantined) LP_RETURN_IF_ERROR(quarantine_writer->Write(b));
    any_quarantined |= !w.quarantined.empty();
    if (!w.late.empty()) LP_RETURN_IF_ERROR(open_late_writer());
    for (const auto& b : w.late) LP_RETURN_IF_ERROR(late_writer->Write(b));
    out->rows_late += CountRows(w.late);
    for (const auto& b : w.rows) LP_RETURN_IF_ERROR(writer->Write(b));
    out->rows_out += CountRows(w.rows);
    return Status::OK();
  };
  using Step = std::function<Status(PartWork&)>;
  if (flow_threads_ == 2) {
    auto read_and_finish = [&](PartWork* w) -> Result<bool> {
      LP_ASSIGN_OR_RETURN(bool got, read_part(w));
      if (got) LP_RETURN_IF_ERROR(finish_query(*w));
      return got;
    };
    LP_RETURN_IF_ERROR(RunOrderedStages<PartWork>(read_and_finish, std::vector<Step>{write_part}, 2, true));
  } else {
    LP_RETURN_IF_ERROR(
        RunOrderedStages<PartWork>(read_part, std::vector<Step>{finish_query, write_part}, 2, flow_threads_ > 1));
  }
  report_.rows_read += out->rows_read;
  report_.rows_rescued += provider.file_stats().rescued_rows;
  out->parts = provider.parts_read();
  NoteFileWarnings(provider.file_stats(), &report_);
  LP_KILL_POINT("flow.after_process");
  if (quarantines_ && WritesSideTable(ds.name + "_quarantine", any_quarantined, options)) {
    LP_RETURN_IF_ERROR(quarantine_writer->Commit().status());
    LP_KILL_POINT("flow.after_quarantine_commit");
  }
  if (late_schema_ && WritesSideTable(LateTable(), out->rows_late > 0, options)) {
    LP_RETURN_IF_ERROR(open_late_writer());
    LP_RETURN_IF_ERROR(late_writer->Commit().status());
    LP_KILL_POINT("flow.after_late_commit");
  }
  LP_ASSIGN_OR_RETURN(out->commit, writer->Commit());
  return Status::OK();
}

Status StreamingFlowUpdate::ProcessWhole(const BatchPlan& plan, BatchScanProvider& provider, const ExecOptions& exec,
                                         const delta::WriteOptions& options, Processed* out) {
  const sql::ResolvedDataset& ds = *ds_;
  Batches rows;
  // A snapshot flow's end-of-backlog batch reads nothing: its plan lists no source.
  if (!plan.snapshot_end) {
    LP_ASSIGN_OR_RETURN(rows, Execute(*ds.plan, provider, exec));
  }
  if (more_ != nullptr && !more_->apply_changes) rows = ConformByName(rows, ds.schema);
  out->rows_read = CountRows(rows);
  report_.rows_read += out->rows_read;
  report_.rows_rescued += provider.file_stats().rescued_rows;
  NoteFileWarnings(provider.file_stats(), &report_);
  LP_ASSIGN_OR_RETURN(DatasetExpectations checks, DatasetExpectations::Bind(ds, r_.Definition(ds)));
  LP_ASSIGN_OR_RETURN(Batches quarantined, checks.Apply(&rows, &out->expectations));
  LP_KILL_POINT("flow.after_process");

  // A batch without quarantined rows leaves the quarantine table alone (a replay of it
  // has none either), except to create the table on the flow's first batch.
  if (quarantines_ && WritesSideTable(ds.name + "_quarantine", !quarantined.empty(), options)) {
    // AUTO CDC quarantines change events (its expectations check them), not table rows.
    const Schema& checked = ds.apply_changes ? ds.apply_changes->source_schema : ds.schema;
    LP_RETURN_IF_ERROR(
        r_.WriteTable(ds.name + "_quarantine", operators::QuarantineSchema(checked), ds, quarantined, options).status());
    LP_KILL_POINT("flow.after_quarantine_commit");
  }
  out->rows_late = CountRows(out->late);
  if (late_schema_ && WritesSideTable(LateTable(), !out->late.empty(), options)) {
    LP_RETURN_IF_ERROR(r_.WriteTable(LateTable(), *late_schema_, ds, out->late, options).status());
    LP_KILL_POINT("flow.after_late_commit");
  }
  if (ds.apply_changes) {
    LP_ASSIGN_OR_RETURN(out->commit, r_.ApplyChangesBatch(ds, *flow_, scd_marker_, rows, options,
                                                          full_refresh_ && plan.batch_id == 0 && more_ == nullptr,
                                                          plan.snapshot_end));
  } else {
    LP_ASSIGN_OR_RETURN(out->commit, r_.WriteTable(ds.name, ds.schema, ds, rows, options));
  }
  out->rows_out = CountRows(rows);
  return Status::OK();
}

void StreamingFlowUpdate::NoteCommitted(const BatchPlan& plan, const BatchScanProvider& provider,
                                        const delta::CommitResult& commit) {
  NoteCheckpointFailure(commit, &report_);
  if (commit.already_committed) return;
  // Bookkeeping for reports and latency, recorded before the readers of the new version
  // are woken (they look up what it holds).
  Arrivals arrivals = provider.file_stats().rows_by_file_mtime;
  arrivals.insert(arrivals.end(), provider.stream_arrivals().begin(), provider.stream_arrivals().end());
  for (const auto& s : plan.sources) {
    if (s.kind != PlannedSource::Kind::kDelta) continue;
    Arrivals up = r_.arrivals.Between(s.table, s.start_version - 1, s.end_version);
    arrivals.insert(arrivals.end(), up.begin(), up.end());
  }
  r_.RecordArrivals(ds_->name, commit.version, std::move(arrivals), board_);
  // The version is durable and visible: what follows (state, commit record) is this
  // flow's own, and a crash before it replays the batch against its txn.
  if (r_.on_table_commit) r_.on_table_commit(ds_->name);
}

Status StreamingFlowUpdate::Record(const BatchPlan& plan, const delta::CommitResult& commit) {
  FlowCheckpoint& cp = flow_->cp;
  LP_RETURN_IF_ERROR(cp.WriteCommit(plan.batch_id, commit.version, /*durable=*/cleans_source_));
  LP_KILL_POINT("flow.after_commit_log");
  // The batch is durably done (table, state, record): its files may go (cleanSource).
  if (cleans_source_) NoteCleaning(ds_->name, CleanPlannedFiles(r_.fs, plan, *flow_->clean_targets), *flow_, board_);
  // Only now may a message source let go of what the batch read (runtime/stream_source.h).
  for (const auto& s : plan.sources) {
    if (s.kind != PlannedSource::Kind::kStream) continue;
    auto src = flow_->stream_sources.find(s.key);
    if (src != flow_->stream_sources.end()) LP_RETURN_IF_ERROR(src->second->Acknowledge(s.range));
  }
  // Bounded history (docs/checkpoint.md, "Retention"): every min_batches_to_retain
  // batches, what the plans consumed so far is compacted and older batch files go.
  const int64_t batch_id = plan.batch_id;
  LP_RETURN_IF_ERROR(cp.Retain(batch_id, [this, batch_id] { return CompactConsumed(*flow_, batch_id); }));
  // Replication lag as it stands after the acknowledgement.
  if (flow_->lag_bytes >= 0) {
    flow_->lag_bytes = -1;
    flow_->lag_seconds = -1;
    for (const auto& [key, src] : flow_->stream_sources) {
      StreamBacklog b = src->Backlog();
      flow_->lag_bytes = std::max(flow_->lag_bytes, b.lag_bytes);
      flow_->lag_seconds = std::max(flow_->lag_seconds, b.lag_seconds);
    }
  }
  return Status::OK();
}

void StreamingFlowUpdate::ReportBatch(const BatchScanProvider& provider, const Processed& done, int64_t batch_start) {
  const bool written = !done.commit.already_committed;
  const TableReport& batch = done.expectations;
  if (written) report_.rows_written += done.rows_out;
  report_.rows_dropped += batch.rows_dropped;
  report_.rows_quarantined += batch.rows_quarantined;
  const int64_t rows_late = written ? done.rows_late : 0;
  report_.rows_late += rows_late;
  report_.parts += done.parts;
  if (report_.expectations.empty()) {
    report_.expectations = batch.expectations;
  } else {
    for (size_t i = 0; i < report_.expectations.size(); ++i) {
      report_.expectations[i].passed += batch.expectations[i].passed;
      report_.expectations[i].failed += batch.expectations[i].failed;
    }
  }
  report_.table_version = done.commit.version;
  report_.batches += 1;
  if (board_ == nullptr) return;
  TableReport one = batch;
  one.table = ds_->name;
  one.kind = report_.kind;
  one.status = "updated";
  one.rows_read = done.rows_read;
  one.rows_rescued = provider.file_stats().rescued_rows;
  one.rows_written = written ? done.rows_out : 0;
  one.rows_late = rows_late;
  one.table_version = done.commit.version;
  one.batches = 1;
  one.duration_ms = ElapsedMs(batch_start);
  board_->RecordBatch(one, r_.clock->NowMillis());
  board_->SetStateSize(ds_->name, report_.state_keys, report_.state_bytes);
  board_->SetBacklog(ds_->name, flow_->backlog_files, flow_->backlog_bytes);
  if (flow_->lag_bytes >= 0) board_->SetReplicationLag(ds_->name, flow_->lag_bytes, flow_->lag_seconds);
}

Result<TableReport> StreamingFlowUpdate::Run() {
  LP_RETURN_IF_ERROR(Open());
  const sql::ResolvedDataset& ds = *ds_;
  sql::ViewPlanLookup views = [this](const std::string& name) -> const sql::PlanNode* {
    const sql::ResolvedDataset* d = r_.Find(name);
    return d != nullptr && d->kind == sql::DatasetKind::kView ? d->plan.get() : nullptr;
  };
  while (!r_.stop_requested.load() && !stop_after_batch_) {
    int64_t batch_start = MonotonicNanos();
    LP_ASSIGN_OR_RETURN(std::optional<BatchPlan> next, NextBatch());
    if (!next) break;
    const BatchPlan& plan = *next;
    Processed done;
    ExecOptions exec;
    exec.current_timestamp_micros = r_.clock->NowMicros();
    if (late_schema_) {
      exec.late_rows = [&done, this](const sql::PlanNode&, const RecordBatch& rows,
                                     const std::vector<std::string>& reasons) -> Status {
        LP_ASSIGN_OR_RETURN(RecordBatch b, ToLateRows(*late_schema_, rows, reasons));
        done.late.push_back(std::move(b));
        return Status::OK();
      };
    }
    // Read by parts, the query runs once a part: what it keeps from part to part (the
    // provider runs the views read as streams with the same options).
    AcrossParts across;
    if (by_parts_) {
      exec.across_parts = &across;
      for (const sql::PlanNode* join : build_left_joins_) across.BuildLeft(*join);
    }
    LP_RETURN_IF_ERROR(flow_->states.AbandonAll());
    flow_->states.Install(&exec, plan.batch_id, views, &r_.pipeline.settings);
    // A replayed plan may name message sources this process has not opened yet.
    for (const sql::PlanNode* scan : sources_.stream_scans)
      LP_RETURN_IF_ERROR(r_.OpenStreamSourceOf(ds, *flow_, *scan).status());
    BatchScanProvider provider(r_.Scans(), exec, plan, &flow_->stream_sources);
    const delta::WriteOptions options = WriteOptionsFor(plan.batch_id);
    if (by_parts_) {
      LP_RETURN_IF_ERROR(ProcessByParts(provider, exec, options, &done));
    } else {
      LP_RETURN_IF_ERROR(ProcessWhole(plan, provider, exec, options, &done));
    }
    LP_KILL_POINT("flow.after_table_commit");
    NoteCommitted(plan, provider, done.commit);
    // State follows the table: applied only once the batch is in the table, then the
    // batch is recorded as done (docs/checkpoint.md).
    LP_RETURN_IF_ERROR(flow_->states.CommitAll(plan.batch_id, &report_));
    LP_RETURN_IF_ERROR(Record(plan, done.commit));
    ReportBatch(provider, done, batch_start);
    // Continuous mode takes one batch at a time, so that the tables downstream start on it
    // while this one plans the next (the scheduler runs it again at once).
    if (r_.continuous) break;
  }
  return Finish();
}

Result<TableReport> StreamingFlowUpdate::Finish() {
  const std::string& name = ds_->name;
  if (board_ != nullptr) {
    board_->SetBacklog(name, flow_->backlog_files, flow_->backlog_bytes);
    if (flow_->files_too_old > 0) board_->SetFilesTooOld(name, flow_->files_too_old);
    if (flow_->lag_bytes >= 0) board_->SetReplicationLag(name, flow_->lag_bytes, flow_->lag_seconds);
  }
  report_.replication_lag_bytes = flow_->lag_bytes;
  report_.replication_lag_seconds = flow_->lag_seconds;
  report_.warnings.insert(report_.warnings.end(), flow_->warnings.begin(), flow_->warnings.end());
  flow_->warnings.clear();
  report_.status = report_.batches > 0 ? "updated" : "up to date";
  if (report_.table_version < 0 && delta::DeltaTable::Exists(r_.TablePath(name), r_.fs)) {
    LP_ASSIGN_OR_RETURN(auto table, delta::DeltaTable::Open(r_.TablePath(name), r_.fs));
    LP_ASSIGN_OR_RETURN(report_.table_version, table->LatestVersion());
  }
  return std::move(report_);
}

}  // namespace

Result<TableReport> PipelineRunner::Impl::UpdateStreamingFlow(const sql::ResolvedDataset& table_ds,
                                                              const sql::ResolvedDataset::MoreFlow* more,
                                                              bool full_refresh, StatusBoard* board, bool replay_only) {
  return StreamingFlowUpdate(*this, table_ds, more, full_refresh, board, replay_only).Run();
}

}  // namespace lakepipe::runtime
