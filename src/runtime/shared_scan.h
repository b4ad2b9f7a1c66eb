// SharedScans: materialized views that read the same upstream table at the same version in
// one update share one read of it (issue 15, "shared scans").
//
// Owns: the snapshots read while sharing is on, by (table path, version, columns); the
// first view to ask reads, the others wait for and reuse that read (the batches share
// their columns, which are immutable once built). Sharing is switched on by the caller
// for a set of views that run together (PipelineRunner::RunOnce's groups of independent
// views) and off again once they are done, which frees every read kept: memory is held
// only while the views that may use it run. When sharing is off, Read just reads.
//
// Thread-safety: all methods may be called from several threads at once; a read runs
// outside the lock, and callers of the same key wait for it.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::runtime {

class SharedScans {
 public:
  using Batches = std::vector<RecordBatch>;

  // From now on, reads of the same key are shared.
  void Begin();
  // Sharing stops and the kept reads are released.
  void End();

  // The rows of `table_path` at `version` in `columns` (in that order): from an earlier
  // or running read of the same key while sharing is on, else from `read`. A failed read
  // is returned to every caller that waited for it.
  Result<Batches> Read(const std::string& table_path, int64_t version, const std::vector<std::string>& columns,
                       const std::function<Result<Batches>()>& read);

  // Reads done and reads saved since Begin (for tests and the report).
  int64_t reads() const;
  int64_t reuses() const;

 private:
  mutable std::mutex mu_;
  bool sharing_ = false;
  std::map<std::string, std::shared_future<Result<Batches>>> kept_;
  int64_t reads_ = 0;
  int64_t reuses_ = 0;
};

}  // namespace lakepipe::runtime
