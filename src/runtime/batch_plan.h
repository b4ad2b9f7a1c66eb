// BatchPlan: the typed form of a streaming flow's batch plan, the file `offsets/<N>` of its
// checkpoint folder (and the compact file `offsets/<C>.compact`), docs/checkpoint.md
// "Plans". A plan lists what batch N reads from each source: new files of a read_files
// folder, a version range (or a snapshot version) of an upstream table, a message
// source's range. It is written once before the batch reads anything and replayed as is
// after a crash, so reading it back must never trust its shape: ParseBatchPlan checks
// every field any reader uses and gives Corruption naming the file, and callers use the
// struct, never the JSON. The message source's range stays JSON: its source owns it.
//
// Plain values; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace lakepipe::runtime {

struct PlannedFile {
  std::string path;
  int64_t size = 0;
  int64_t mtime_micros = 0;
  // False when the file came without its time: a compact file of format 1, or a
  // skippedExisting name of a plan written before times were recorded there.
  bool mtime_known = true;
};

// A compact file of format 3 lists a read_files source's taken files as segment files
// (runtime/taken_segments.h, docs/checkpoint.md "Retention"): one of them.
struct PlannedSegment {
  std::string name;   // its file name in the checkpoint folder's taken/
  int level = 0;      // its place in the merge policy (TakenSegments::kFullLevel: not merged again)
  int64_t files = 0;  // how many files it lists
  int64_t newest_micros = INT64_MIN;  // the newest modification time among them
};

struct PlannedSource {
  enum class Kind {
    kFiles,     // read_files: `path` (the folder as written), `files`, `skipped_existing`
    kDelta,     // an upstream table's versions start_version..end_version (start > end: none)
    kSnapshot,  // an upstream table whole at `version` (an incremental reader's first batch)
    kStream,    // a message source `key` (Kafka, PostgreSQL CDC) and its `range`
  };
  Kind kind = Kind::kFiles;
  std::string path;
  std::vector<PlannedFile> files;
  // includeExistingFiles = false: what the folder held at the flow's start, recorded as
  // consumed without being read (first plan only; path and mtime, no size).
  std::vector<PlannedFile> skipped_existing;
  // A compact file of format 2: the newest modification time of any file the source took
  // (also of files forgotten since), the base of its maxFileAge horizon. INT64_MIN: none.
  int64_t newest_mtime_micros = INT64_MIN;
  // A compact file of format 2: the horizon the source last forgot files at
  // (runtime/taken_files.h); INT64_MIN: none.
  int64_t forgotten_before_micros = INT64_MIN;
  // A compact file of format 3: the segment files holding the taken files (`files` is
  // then empty), oldest first.
  std::vector<PlannedSegment> segments;
  std::string table;
  int64_t start_version = 0;  // kDelta (absent from a compact file: 0)
  int64_t end_version = -1;   // kDelta
  int64_t version = -1;       // kSnapshot
  std::string key;
  nlohmann::json range;  // kStream: owned by the source (runtime/stream_source.h)
};

struct BatchPlan {
  int64_t batch_id = -1;
  int64_t planned_at_millis = 0;
  bool once = false;     // a ONCE flow's batch (reads whole tables only)
  bool compact = false;  // offsets/<C>.compact: what plans 0..C consumed
  // A compact file's format: 1 (files as paths only; no "version" field), 2 (each file
  // with its "mtime", and the source's "newest") or 3 (a files source lists segment files
  // instead of its files). Written as compact_format (kCompactFormat unless set).
  static constexpr int kCompactFormat = 3;
  int compact_format = kCompactFormat;
  // An AUTO CDC FROM SNAPSHOT flow's batch at the end of a triggered update's backlog: it
  // reads nothing and processes the snapshot version held as incomplete
  // (docs/sql-reference.md, "AUTO CDC FROM SNAPSHOT").
  bool snapshot_end = false;
  std::vector<PlannedSource> sources;

  nlohmann::json ToJson() const;
  std::string Serialize() const;
};

// Parses a stored plan; `file` names it in Corruption messages ("<file>: sources[2].files[0].size:
// not an integer").
Result<BatchPlan> ParseBatchPlan(std::string_view text, const std::string& file);

}  // namespace lakepipe::runtime
