// TakenSegments: how a flow's checkpoint keeps a read_files source's taken files
// (runtime/taken_files.h) from compact format 3 on (docs/checkpoint.md, "Retention"):
// in immutable segment files in the checkpoint folder's taken/, each listing a run of the
// files in the order they were taken, while the compact file lists the segments, not the
// files. A compaction so writes the files taken since the previous one (and now and then
// a merge of small segments), not everything the source remembers: at 6 million files
// the whole list is ~430 MB, what 100 batches took is a few KB.
//
// Each segment covers a contiguous run of the source's TakenFiles entries (forgetting
// keeps their order), so what a segment lists is always in memory: merging and rewriting
// format what memory holds and never read a segment back.
//
// The policy, per compaction of one source:
//  - a segment whose files are all forgotten (dropped from memory: Forget) is dropped;
//    one left with fewer than half the files it was written with is rewritten with the rest;
//  - the files taken since the last compaction become new segments of level 0, at most
//    kMaxFiles files each (a segment of kMaxFiles is full: level kFullLevel);
//  - whenever the newest kFanIn segments have the same level L below kFullLevel they are
//    merged into one of level L + 1, or, when that would list more than kMaxFiles files,
//    marked full instead (no rewrite).
// So a file is written about 1 + log4(kMaxFiles / files per compaction) times (6 at 100
// files per compaction), no compaction writes more than kMaxFiles files but for a
// backlog's own, and a source keeps at most 3 small segments per level plus full ones
// of 65,536 files on average at least (the four of a promotion hold more than kMaxFiles).
//
// Plain values; not thread-safe (one flow thread). Call order per compaction: Forget,
// then Compact (which writes the new segment files), then, once the compact file that
// lists them is durable, assign the result to the source's TakenSegments. Until then
// the old list stays valid: its files are deleted only after that.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "runtime/batch_plan.h"
#include "runtime/taken_files.h"

namespace lakepipe::runtime {

class TakenSegments {
 public:
  static constexpr int kFanIn = 4;
  static constexpr int64_t kMaxFiles = 262144;
  static constexpr int kFullLevel = 100;

  struct Segment {
    PlannedSegment ref;  // as the compact file lists it (ref.files: as written)
    size_t end = 0;      // one past its last TakenFiles entry; it begins where the one before ends
  };
  const std::vector<Segment>& segments() const { return segments_; }
  // TakenFiles entries from here on are in no segment yet.
  size_t covered() const { return segments_.empty() ? 0 : segments_.back().end; }

  // Reads the segment files a format-3 compact file lists for `source` from `dir` (the
  // checkpoint's taken/) into `taken`, oldest first, leaving out the files older than the
  // source's forgottenBefore (forgotten before the compact file was written), and notes
  // the segments. Call on an empty TakenFiles, before the plans after the compact file.
  // A segment missing, malformed, or not listing what the compact file says is
  // Corruption naming its file.
  Status Load(FileSystem* fs, const std::string& dir, const PlannedSource& source, TakenFiles* taken);

  // Forgets the files older than `horizon` (taken->ForgetOlderThan, keeping the segments'
  // runs in step) once they are at least 1/kForgetShare of what `taken` holds; before,
  // only notes `horizon` as forgottenBefore and returns 0. Rebuilding TakenFiles costs
  // all it holds (~0.1 s of CPU a million files), and at a steady rate a few files fall
  // behind the horizon at every compaction, so forgetting them at once would make each
  // compaction cost the whole memory. Files kept so are forgotten all the same where it
  // shows: a listing passes them by silently (as it passes forgotten ones), and a
  // restart does not load them (they are older than the compact file's forgottenBefore).
  static constexpr size_t kForgetShare = 8;
  size_t Forget(TakenFiles* taken, int64_t horizon, const std::function<void(std::string_view)>& forgotten);

  // The segments after this compaction (batch `batch_id`) of the source whose folder is
  // `source_path`, by the policy above. Each new segment is passed to `write(name, text)`
  // (named "<batch_id>-<n>.json", n counting up from *sequence, which this advances)
  // before this returns; the segments kept are named as they were.
  Result<TakenSegments> Compact(const TakenFiles& taken, const std::string& source_path, int64_t batch_id,
                                int* sequence,
                                const std::function<Status(const std::string& name, std::string_view text)>& write) const;

  std::vector<PlannedSegment> Refs() const;

 private:
  std::vector<Segment> segments_;
};

// The text of a segment file listing entries [begin, end) of `taken` (docs/checkpoint.md,
// "Segment files").
std::string SerializeSegment(const std::string& source_path, const TakenFiles& taken, size_t begin, size_t end);

// Reads the segment file `ref` of `source` from `dir` (the checkpoint's taken/), calling
// visit(path, mtime) for each file in order but those older than the source's
// forgottenBefore; a segment whose files all are is not read. A segment missing, malformed,
// or not listing what `ref` says is Corruption naming its file.
Status ReadSegment(FileSystem* fs, const std::string& dir, const PlannedSource& source, const PlannedSegment& ref,
                   const std::function<void(std::string_view, int64_t)>& visit);

// Parses a segment file, calling visit(path, mtime) for each file in order. Corruption
// naming `file` unless it is a segment of `source_path` listing `expected_files` files.
Status ParseSegment(std::string_view text, const std::string& file, const std::string& source_path,
                    int64_t expected_files, const std::function<void(std::string_view, int64_t)>& visit);

}  // namespace lakepipe::runtime
