#include "delta/append_log_compaction.h"

#include "delta/table.h"

namespace lakepipe::delta {

Status CompactAppendLog(const DeltaTable& table) {
  OptimizeOptions optimize;
  optimize.min_files = 2;
  return table.Optimize(optimize).status();
}

}  // namespace lakepipe::delta
