#include "runtime/batch_stream.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

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

std::unique_ptr<BatchStream> PrefetchStream(std::unique_ptr<BatchStream> in, size_t depth) {
  return std::make_unique<Prefetcher>(std::move(in), depth);
}

}  // namespace lakepipe::runtime
