#include "runtime/table_handles.h"

namespace lakepipe::runtime {

Result<std::shared_ptr<delta::DeltaTable>> TableHandleCache::Open(const std::string& name, const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_path_.find(path);
    if (it != by_path_.end()) return it->second;
  }
  // Opened outside the lock (it reads the log); two threads opening the same table at once
  // both open it, and the first one kept wins.
  if (!delta::DeltaTable::Exists(path, fs_)) return Status::NotFound("table `" + name + "` has no commit yet");
  delta::TableOptions options;
  options.clock = clock_;
  LP_ASSIGN_OR_RETURN(auto opened, delta::DeltaTable::Open(path, fs_, options));
  std::shared_ptr<delta::DeltaTable> shared(std::move(opened));
  std::lock_guard<std::mutex> lock(mu_);
  return by_path_.emplace(path, std::move(shared)).first->second;
}

void TableHandleCache::Forget(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  by_path_.erase(path);
}

size_t TableHandleCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_path_.size();
}

}  // namespace lakepipe::runtime
