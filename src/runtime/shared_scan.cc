#include "runtime/shared_scan.h"

namespace lakepipe::runtime {

void SharedScans::Begin() {
  std::lock_guard<std::mutex> lock(mu_);
  sharing_ = true;
  reads_ = 0;
  reuses_ = 0;
}

void SharedScans::End() {
  std::map<std::string, std::shared_future<Result<Batches>>> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sharing_ = false;
    released.swap(kept_);
  }
  // The batches are freed here, outside the lock (views still holding them keep them).
}

Result<SharedScans::Batches> SharedScans::Read(const std::string& table_path, int64_t version,
                                               const std::vector<std::string>& columns,
                                               const std::function<Result<Batches>()>& read) {
  std::string key = table_path + '\0' + std::to_string(version);
  for (const auto& c : columns) key += '\0' + c;
  std::promise<Result<Batches>> promise;
  std::shared_future<Result<Batches>> running;  // another view's read of the same key
  bool shared = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sharing_) {
      auto it = kept_.find(key);
      if (it != kept_.end()) {
        ++reuses_;
        running = it->second;
      } else {
        kept_.emplace(key, promise.get_future().share());
        shared = true;
        ++reads_;
      }
    } else {
      ++reads_;
    }
  }
  // Waited for outside the lock: other keys are read meanwhile.
  if (running.valid()) return running.get();
  Result<Batches> rows = read();
  if (shared) promise.set_value(rows);
  return rows;
}

int64_t SharedScans::reads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reads_;
}

int64_t SharedScans::reuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reuses_;
}

}  // namespace lakepipe::runtime
