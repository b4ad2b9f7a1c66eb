#include "runtime/shared_part_scan.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>

#include "delta/changes.h"
#include "sql/lexer.h"

namespace lakepipe::runtime {


// One shared read: a decode thread that reads the snapshot's parts into a window, and a
// cursor per view. A part leaves the window once every view still reading has taken it;
// the decode thread waits while the window is full.
class PartFanout {
 public:
  PartFanout(delta::SnapshotPtr snap, delta::ScanOptions options, int64_t cut_rows, size_t consumers,
             size_t window, std::shared_ptr<std::atomic<int64_t>> max_held)
      : snap_(std::move(snap)),
        options_(std::move(options)),
        cut_rows_(cut_rows),
        window_(window),
        cursor_(consumers, 0),
        live_(consumers, true),
        max_held_(std::move(max_held)) {}

  ~PartFanout() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  void Start() { thread_ = std::thread([this] { Produce(); }); }

  // The next part for `consumer`; false at the end; the read's error after the parts
  // read before it.
  Result<bool> Next(size_t consumer, RecordBatch* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return cursor_[consumer] < base_ + static_cast<int64_t>(parts_.size()) || done_; });
    if (cursor_[consumer] < base_ + static_cast<int64_t>(parts_.size())) {
      *out = parts_[static_cast<size_t>(cursor_[consumer] - base_)];
      ++cursor_[consumer];
      TrimLocked();
      return true;
    }
    if (!error_.ok()) return error_;
    return false;
  }

  // `consumer` reads no more: the window no longer waits for it.
  void Detach(size_t consumer) {
    std::lock_guard<std::mutex> lock(mu_);
    live_[consumer] = false;
    TrimLocked();
  }

 private:
  bool AnyLiveLocked() const { return std::find(live_.begin(), live_.end(), true) != live_.end(); }

  // Drops the parts every live consumer has taken; wakes the decode thread.
  void TrimLocked() {
    while (!parts_.empty()) {
      bool taken = true;
      for (size_t c = 0; c < cursor_.size() && taken; ++c) taken = !live_[c] || cursor_[c] > base_;
      if (!taken) break;
      parts_.pop_front();
      ++base_;
    }
    cv_.notify_all();
  }

  void Produce() {
    std::unique_ptr<BatchStream> parts;
    auto reader = delta::SnapshotReader::Open(snap_, options_);
    if (reader.ok()) {
      std::shared_ptr<delta::SnapshotReader> shared(std::move(reader).value());
      parts = FunctionStream([shared](RecordBatch* out) { return shared->Next(out); });
      if (cut_rows_ > 0) parts = SliceStream(std::move(parts), cut_rows_);
    } else {
      Finish(reader.status());
      return;
    }
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return parts_.size() < window_ || stop_ || !AnyLiveLocked(); });
        if (stop_ || !AnyLiveLocked()) {
          done_ = true;
          cv_.notify_all();
          return;
        }
      }
      RecordBatch part;
      auto more = parts->Next(&part);  // decoded outside the lock
      if (!more.ok() || !*more) {
        Finish(more.ok() ? Status::OK() : more.status());
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      parts_.push_back(std::move(part));
      const int64_t held = static_cast<int64_t>(parts_.size());
      int64_t seen = max_held_->load();
      while (held > seen && !max_held_->compare_exchange_weak(seen, held)) {
      }
      cv_.notify_all();
    }
  }

  void Finish(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(st);
    done_ = true;
    cv_.notify_all();
  }

  const delta::SnapshotPtr snap_;
  const delta::ScanOptions options_;
  const int64_t cut_rows_;
  const size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RecordBatch> parts_;  // parts base_, base_ + 1, ...
  int64_t base_ = 0;
  std::vector<int64_t> cursor_;  // per consumer: the next part it takes
  std::vector<bool> live_;
  bool done_ = false;
  bool stop_ = false;
  Status error_ = Status::OK();
  std::shared_ptr<std::atomic<int64_t>> max_held_;
  std::thread thread_;
};

namespace {

// A view's cursor in a shared read; letting go of it detaches the view.
class FanoutStream : public BatchStream {
 public:
  FanoutStream(std::shared_ptr<PartFanout> fanout, size_t consumer)
      : fanout_(std::move(fanout)), consumer_(consumer) {}
  ~FanoutStream() override { fanout_->Detach(consumer_); }
  Result<bool> Next(RecordBatch* out) override { return fanout_->Next(consumer_, out); }

 private:
  std::shared_ptr<PartFanout> fanout_;
  size_t consumer_;
};

bool SamePredicate(const parquet::ColumnPredicate& a, const parquet::ColumnPredicate& b) {
  return sql::EqualsIgnoreCase(a.column, b.column) && a.op == b.op && a.value == b.value;
}

bool Has(const std::vector<parquet::ColumnPredicate>& list, const parquet::ColumnPredicate& p) {
  return std::any_of(list.begin(), list.end(), [&](const parquet::ColumnPredicate& q) { return SamePredicate(p, q); });
}

}  // namespace

SharedPartScans::SharedPartScans() : max_parts_held_(std::make_shared<std::atomic<int64_t>>(0)) {}

void SharedPartScans::Begin(std::map<std::string, std::set<std::string>> expected) {
  std::lock_guard<std::mutex> lock(mu_);
  tables_.clear();
  for (auto& [key, views] : expected) {
    if (views.size() < 2) continue;
    auto t = std::make_shared<Table>();
    t->waiting = std::move(views);
    tables_.emplace(key, std::move(t));
  }
}

void SharedPartScans::End() {
  std::map<std::string, std::shared_ptr<Table>> released;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, t] : tables_) {
      if (!t->decided) DecideLocked(t.get());
    }
    released.swap(tables_);
  }
  // Reads still running belong to the views' streams; released here otherwise.
}

void SharedPartScans::Withdraw(const std::string& view) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, t] : tables_) {
    if (t->waiting.erase(view) > 0 && t->waiting.empty() && !t->decided) DecideLocked(t.get());
  }
}

Result<std::unique_ptr<BatchStream>> SharedPartScans::Open(const std::string& key, const std::string& view,
                                                           const delta::SnapshotPtr& snap,
                                                           const std::vector<std::string>& columns,
                                                           const std::vector<parquet::ColumnPredicate>& predicates,
                                                           int64_t cut_rows, bool exact_parts,
                                                           int64_t* sharing_views) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = tables_.find(key);
  if (it == tables_.end() || it->second->waiting.count(view) == 0) return std::unique_ptr<BatchStream>();
  std::shared_ptr<Table> t = it->second;
  t->waiting.erase(view);
  t->requests.push_back(Request{view, snap, columns, predicates, cut_rows, exact_parts});
  if (t->waiting.empty()) DecideLocked(t.get());
  decided_.wait(lock, [&] { return t->decided; });
  auto consumer = t->consumer.find(view);
  if (consumer == t->consumer.end()) return std::unique_ptr<BatchStream>();
  if (sharing_views != nullptr) *sharing_views = static_cast<int64_t>(t->consumer.size());
  return std::unique_ptr<BatchStream>(std::make_unique<FanoutStream>(t->fanout, consumer->second));
}

void SharedPartScans::DecideLocked(Table* t) {
  t->decided = true;
  decided_.notify_all();
  // The requests that can share one read: same table files at the same version, parts cut
  // alike. The largest such set shares; the others read alone.
  std::map<std::string, std::vector<const Request*>> alike;
  std::string best;
  for (const Request& r : t->requests) {
    std::string k = r.snap->table_path() + '\0' + std::to_string(r.snap->version()) + '\0' +
                    std::to_string(r.cut_rows);
    alike[k].push_back(&r);
    if (best.empty() || alike[k].size() > alike[best].size()) best = k;
  }
  if (best.empty() || alike[best].size() < 2) return;
  std::vector<const Request*> sharing = alike[best];
  // A row group is skipped only when every sharing view may skip it: by the predicates
  // they all have. A view that needs exactly its own parts leaves the set when those are
  // fewer than its own (then the others may have more in common).
  std::vector<parquet::ColumnPredicate> common;
  while (true) {
    common.clear();
    for (const auto& p : sharing[0]->predicates) {
      bool everyone = true;
      for (size_t i = 1; i < sharing.size() && everyone; ++i) everyone = Has(sharing[i]->predicates, p);
      if (everyone && !Has(common, p)) common.push_back(p);
    }
    std::vector<const Request*> kept;
    for (const Request* r : sharing) {
      bool exact = std::all_of(r->predicates.begin(), r->predicates.end(),
                               [&](const parquet::ColumnPredicate& p) { return Has(common, p); });
      if (!r->exact_parts || exact) kept.push_back(r);
    }
    if (kept.size() < 2) return;
    if (kept.size() == sharing.size()) break;
    sharing = std::move(kept);
  }
  delta::ScanOptions options;
  std::set<std::string> have;
  for (const Request* r : sharing) {
    for (const auto& c : r->columns)
      if (have.insert(sql::ToLower(c)).second) options.columns.push_back(c);
  }
  options.predicates = std::move(common);
  t->fanout = std::make_shared<PartFanout>(sharing[0]->snap, std::move(options), sharing[0]->cut_rows,
                                           sharing.size(), kWindowParts, max_parts_held_);
  for (size_t i = 0; i < sharing.size(); ++i) t->consumer[sharing[i]->view] = i;
  t->fanout->Start();
  ++shared_reads_;
  views_served_ += static_cast<int64_t>(sharing.size());
}

int64_t SharedPartScans::shared_reads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shared_reads_;
}

int64_t SharedPartScans::views_served() const {
  std::lock_guard<std::mutex> lock(mu_);
  return views_served_;
}

int64_t SharedPartScans::max_parts_held() const { return max_parts_held_->load(); }

}  // namespace lakepipe::runtime
