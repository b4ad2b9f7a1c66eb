#include "publish/table_publisher.h"

#include <algorithm>

#include "delta/table.h"

namespace lakepipe::publish {

DeltaTableHandles::DeltaTableHandles(FileSystem* fs) : fs_(fs) {}
DeltaTableHandles::~DeltaTableHandles() = default;

Result<delta::DeltaTable*> DeltaTableHandles::Get(const std::string& table, const std::string& path) {
  auto it = open_.find(table);
  if (it != open_.end()) return it->second.get();
  if (!delta::DeltaTable::Exists(path, fs_)) return nullptr;
  LP_ASSIGN_OR_RETURN(auto opened, delta::DeltaTable::Open(path, fs_));
  delta::DeltaTable* raw = opened.get();
  open_[table] = std::move(opened);
  return raw;
}

Result<int64_t> DeltaTableHandles::LatestVersion(const std::string& table, const std::string& path) {
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * dt, Get(table, path));
  if (dt == nullptr) return int64_t{-1};
  return dt->LatestVersion();
}

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
