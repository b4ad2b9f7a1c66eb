#include "publish/table_publisher.h"

#include <algorithm>

#include "delta/table.h"

namespace lakepipe::publish {

Status FillLag(delta::DeltaTable* table, int64_t published_version, const Clock& clock, PublishLag* lag) {
  lag->published_version = published_version;
  if (table == nullptr) return Status::OK();
  LP_ASSIGN_OR_RETURN(lag->latest_version, table->LatestVersion());
  lag->lag_versions = std::max<int64_t>(0, lag->latest_version - published_version);
  if (lag->lag_versions > 0) {
    // Since the first commit the destination does not hold.
    auto snap = table->AtVersion(std::max<int64_t>(0, published_version + 1));
    if (!snap.ok()) snap = table->Latest();
    if (snap.ok()) lag->lag_seconds = std::max(0.0, (clock.NowMicros() / 1000 - (*snap)->timestamp_millis()) / 1000.0);
  }
  return Status::OK();
}

}  // namespace lakepipe::publish
