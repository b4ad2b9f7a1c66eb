#include "runtime/batch_stream.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace lakepipe::runtime {
namespace {

class Function final : public BatchStream {
 public:
  explicit Function(std::function<Result<bool>(RecordBatch*)> next) : next_(std::move(next)) {}
  Result<bool> Next(RecordBatch* out) override { return next_(out); }

 private:
  std::function<Result<bool>(RecordBatch*)> next_;
};

class Slicer final : public BatchStream {
 public:
  Slicer(std::unique_ptr<BatchStream> in, int64_t max_rows) : in_(std::move(in)), max_rows_(max_rows) {}
  Result<bool> Next(RecordBatch* out) override {
    while (offset_ >= current_.num_rows()) {
      LP_ASSIGN_OR_RETURN(bool more, in_->Next(&current_));
      if (!more) return false;
      offset_ = 0;
      if (current_.num_rows() <= max_rows_) {
        // Small enough: handed over as it is (no copy).
        *out = std::move(current_);
        current_ = RecordBatch();
        return true;
      }
    }
    int64_t n = std::min(max_rows_, current_.num_rows() - offset_);
    *out = current_.Slice(offset_, n);
    offset_ += n;
    if (offset_ >= current_.num_rows()) current_ = RecordBatch();  // free the big batch early
    return true;
  }

 private:
  std::unique_ptr<BatchStream> in_;
  int64_t max_rows_;
  RecordBatch current_;
  int64_t offset_ = 0;
};

class Coalescer final : public BatchStream {
 public:
  Coalescer(std::unique_ptr<BatchStream> in, int64_t max_rows)
      : in_(std::move(in)), max_rows_(max_rows), small_below_(std::max<int64_t>(1, max_rows / kCoalesceDivisor)) {}
  Result<bool> Next(RecordBatch* out) override {
    if (!error_.ok()) {
      Status st = std::move(error_);
      error_ = Status::OK();
      ended_ = true;
      return st;
    }
    // The first batch of a part, then (when it is small) the small batches after it,
    // appended to `joined` as they come: each is freed at once, so a part never holds more
    // than its rows (a reader's small batch may carry room reserved for a whole batch).
    RecordBatch first;
    std::vector<Column> joined;
    int64_t rows = 0;
    while (!ended_) {
      if (!held_) {
        Result<bool> more = in_->Next(&next_);
        if (!more.ok()) {
          if (rows == 0) {
            ended_ = true;
            return more.status();
          }
          error_ = more.status();  // after the rows gathered so far
          break;
        }
        if (!*more) {
          ended_ = true;
          break;
        }
        held_ = true;
      }
      // (A batch without columns counts its rows alone: there is nothing to append.)
      const bool small = next_.num_columns() > 0 && next_.num_rows() < small_below_;
      if (rows == 0) {
        first = std::move(next_);
        held_ = false;
        rows = first.num_rows();
        if (!small) break;  // a batch of its own size passes as it is
        continue;
      }
      if (!small || rows + next_.num_rows() > max_rows_ || !(next_.schema() == first.schema())) break;
      if (joined.empty()) {
        for (size_t c = 0; c < first.num_columns(); ++c) {
          joined.emplace_back(first.schema().field(c).type);
          joined.back().AppendRange(first.column(c), 0, first.num_rows());
        }
      }
      for (size_t c = 0; c < joined.size(); ++c) joined[c].AppendRange(next_.column(c), 0, next_.num_rows());
      rows += next_.num_rows();
      next_ = RecordBatch();
      held_ = false;
    }
    if (rows == 0) return false;
    *out = joined.empty() ? std::move(first) : RecordBatch::FromColumns(first.schema(), std::move(joined));
    return true;
  }

 private:
  std::unique_ptr<BatchStream> in_;
  const int64_t max_rows_;
  const int64_t small_below_;  // a batch with fewer rows joins its neighbours
  RecordBatch next_;           // read from `in_`, not handed out yet (when held_)
  bool held_ = false;
  bool ended_ = false;
  Status error_ = Status::OK();  // to report at the next call
};

class Prefetcher final : public BatchStream {
 public:
  Prefetcher(std::unique_ptr<BatchStream> in, size_t depth) : in_(std::move(in)), depth_(depth < 1 ? 1 : depth) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Prefetcher() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    space_.notify_all();
    thread_.join();
  }

  Result<bool> Next(RecordBatch* out) override {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return !queue_.empty() || finished_; });
    if (queue_.empty()) {
      // The end, or the error that ended the stream (reported once).
      Status st = std::move(end_status_);
      end_status_ = Status::OK();
      if (!st.ok()) return st;
      return false;
    }
    *out = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    space_.notify_one();
    return true;
  }

 private:
  void Run() {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        space_.wait(lock, [this] { return stop_ || queue_.size() < depth_; });
        if (stop_) break;
      }
      RecordBatch b;
      Result<bool> more = in_->Next(&b);
      std::lock_guard<std::mutex> lock(mu_);
      if (!more.ok() || !*more) {
        if (!more.ok()) end_status_ = more.status();
        break;
      }
      queue_.push_back(std::move(b));
      ready_.notify_one();
    }
    std::lock_guard<std::mutex> lock(mu_);
    finished_ = true;
    ready_.notify_all();
  }

  std::unique_ptr<BatchStream> in_;
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable ready_;  // a batch or the end is there
  std::condition_variable space_;  // the queue has room, or stop
  std::deque<RecordBatch> queue_;
  Status end_status_ = Status::OK();
  bool finished_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace

std::unique_ptr<BatchStream> FunctionStream(std::function<Result<bool>(RecordBatch*)> next) {
  return std::make_unique<Function>(std::move(next));
}

std::unique_ptr<BatchStream> SliceStream(std::unique_ptr<BatchStream> in, int64_t max_rows) {
  return std::make_unique<Slicer>(std::move(in), max_rows < 1 ? 1 : max_rows);
}

std::unique_ptr<BatchStream> CoalesceStream(std::unique_ptr<BatchStream> in, int64_t max_rows) {
  return std::make_unique<Coalescer>(std::move(in), max_rows < 1 ? 1 : max_rows);
}

std::unique_ptr<BatchStream> PrefetchStream(std::unique_ptr<BatchStream> in, size_t depth) {
  return std::make_unique<Prefetcher>(std::move(in), depth);
}

}  // namespace lakepipe::runtime
