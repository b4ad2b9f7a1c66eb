// Other pipelines' tables as a run reads them (docs/catalog.md): the lookup resolution
// uses for `<pipeline>.<table>` (the catalog entry, then the Delta table's current schema),
// and, for continuous runs, the watch that notices their new versions.
//
// A table of another pipeline is read like a table of this one, by version: a batch read
// takes its latest snapshot (the version goes into the view's recorded inputs), a
// STREAM() read plans version ranges into this pipeline's checkpoint. The runner maps the
// qualified name to the table's folder (ResolvedPipeline::external_tables).
//
// Thread-safety: a lookup is used by one resolution at a time. ExternalTableWatch polls on
// a thread of its own and calls its callbacks there; Start and Stop from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fs.h"
#include "sql/pipeline.h"
#include "sql/resolve.h"

namespace lakepipe::runtime {

// The lookup `validate` and `run` resolve `pipeline` with: the first qualified name loads
// the catalog pipeline.yaml names and checks that the pipelines' reads form no cycle;
// each name is then found through the catalog and its schema read from its Delta log.
// `pipeline` must outlive the lookup.
sql::ExternalTableLookup ExternalTableLookupFor(FileSystem* fs, const sql::Pipeline& pipeline);

// Polls other pipelines' tables for new commits (the next `_delta_log/%020d.json`): a
// commit appears by link() from a finished temporary file, so a poll never sees half a
// commit, and inotify would report the temporary file before the commit exists.
class ExternalTableWatch {
 public:
  struct Watched {
    std::string path;                 // the Delta table's folder
    int64_t version = -1;             // the latest version known at the start (-1: none)
    std::function<void()> on_commit;  // called (on the watch thread) after each new version
  };
  // Every `period_micros` (kDefaultPeriodMicros by default).
  static constexpr int64_t kDefaultPeriodMicros = 200 * 1000;
  ExternalTableWatch(FileSystem* fs, std::vector<Watched> tables, int64_t period_micros = kDefaultPeriodMicros);
  ~ExternalTableWatch();  // stops
  ExternalTableWatch(const ExternalTableWatch&) = delete;
  ExternalTableWatch& operator=(const ExternalTableWatch&) = delete;

  void Start();
  void Stop();

 private:
  void Loop();
  FileSystem* fs_;
  std::vector<Watched> tables_;
  int64_t period_micros_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace lakepipe::runtime
