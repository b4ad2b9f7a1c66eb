// TableHandleCache: open handles on Delta tables, by folder, each opened once and shared
// by its users. A handle keeps the table's latest snapshot, so each later use replays only
// the commits since (and a second handle on a table would hold all of it a second time).
// The runner keeps one for its tables; a compactor on its own keeps another.
//
// Owns the handles until Forget or its end; users hold shared pointers. Thread-safe:
// continuous runs open tables from several workers and background threads.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/fs.h"
#include "common/status.h"
#include "delta/table.h"

namespace lakepipe::runtime {

class TableHandleCache {
 public:
  // Tables are opened on `fs` with `clock` (both outlive the cache).
  TableHandleCache(FileSystem* fs, Clock* clock) : fs_(fs), clock_(clock) {}
  TableHandleCache(const TableHandleCache&) = delete;
  TableHandleCache& operator=(const TableHandleCache&) = delete;

  // The handle on the table in folder `path`, opened on first use; NotFound naming table
  // `name` when the folder has no commit yet.
  Result<std::shared_ptr<delta::DeltaTable>> Open(const std::string& name, const std::string& path);
  // Drops the handle of `path` (its folder was removed or replaced); the next Open opens
  // the table again.
  void Forget(const std::string& path);
  // How many handles are open.
  size_t size() const;

 private:
  FileSystem* fs_;
  Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<delta::DeltaTable>> by_path_;
};

}  // namespace lakepipe::runtime
