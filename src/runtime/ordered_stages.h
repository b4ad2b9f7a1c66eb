// RunOrderedStages: a stream of work items taken through a fixed sequence of stages, each
// stage on a thread of its own, joined by bounded queues, so that stage 2 of item k runs
// while stage 1 works on item k+1 (a streaming table's micro-batch run by parts: the query
// up to its DISTINCT, the rest of the query with the expectations, the writers; see
// docs/execution.md, "Both cores").
//
// What it owns: the threads and the queues of one run; the items themselves move from
// stage to stage. Every stage sees the items in the order the source produced them, and
// a stage's calls are made from one thread only, one item at a time: a stage may keep
// state across items (a seen-key set, an open writer) without locks. What two stages
// share must be safe to use from two threads.
//
// Call order: one blocking call. The last stage runs on the calling thread, the source
// and the other stages on threads started and joined inside the call. The first error
// (in stage order: the source's before a later stage's) stops the run: the other stages
// stop at their next item (an item already in a stage finishes first) and the call
// returns that error. At most `depth` items wait between two stages.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lakepipe::runtime {

// A bounded first-in first-out queue between two threads. Push blocks while full, Pop
// while empty; Close ends it after the items in it, Cancel at once (both wake waiters).
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t depth) : depth_(depth < 1 ? 1 : depth) {}

  // False when cancelled (the item is dropped).
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [this] { return cancelled_ || items_.size() < depth_; });
    if (cancelled_) return false;
    items_.push_back(std::move(item));
    ready_.notify_one();
    return true;
  }
  // False at the end (closed and drained) or when cancelled.
  bool Pop(T* out) {
    std::unique_lock<std::mutex> lock(mu_);
    ready_.wait(lock, [this] { return cancelled_ || closed_ || !items_.empty(); });
    if (cancelled_ || items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    space_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    ready_.notify_all();
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    items_.clear();
    ready_.notify_all();
    space_.notify_all();
  }

 private:
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<T> items_;
  bool closed_ = false, cancelled_ = false;
};

// `source` fills the next item (false at the end); each of `stages` (at least one) works on
// every item in turn. With `threaded` false, everything runs on the calling thread, item
// after item (the same calls in the same order per stage: the sequential form).
template <typename Item>
Status RunOrderedStages(const std::function<Result<bool>(Item*)>& source,
                        const std::vector<std::function<Status(Item&)>>& stages, size_t depth, bool threaded) {
  if (stages.empty()) return Status::Internal("RunOrderedStages: no stage");
  if (!threaded) {
    while (true) {
      Item item;
      LP_ASSIGN_OR_RETURN(bool more, source(&item));
      if (!more) return Status::OK();
      for (const auto& stage : stages) LP_RETURN_IF_ERROR(stage(item));
    }
  }
  const size_t n = stages.size();
  std::vector<std::unique_ptr<BoundedQueue<Item>>> queues;  // queues[i] feeds stages[i]
  for (size_t i = 0; i < n; ++i) queues.push_back(std::make_unique<BoundedQueue<Item>>(depth));
  std::vector<Status> errors(n + 1, Status::OK());  // [0] the source's, [i + 1] stages[i]'s
  auto cancel_all = [&queues] {
    for (auto& q : queues) q->Cancel();
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    while (true) {
      Item item;
      Result<bool> more = source(&item);
      if (!more.ok()) {
        errors[0] = more.status();
        cancel_all();
        break;
      }
      if (!*more || !queues[0]->Push(std::move(item))) break;
    }
    queues[0]->Close();
  });
  auto run_stage = [&](size_t i) {
    Item item;
    while (queues[i]->Pop(&item)) {
      Status st = stages[i](item);
      if (!st.ok()) {
        errors[i + 1] = std::move(st);
        cancel_all();
        break;
      }
      if (i + 1 < n && !queues[i + 1]->Push(std::move(item))) break;
    }
    if (i + 1 < n) queues[i + 1]->Close();
  };
  for (size_t i = 0; i + 1 < n; ++i) threads.emplace_back(run_stage, i);
  run_stage(n - 1);
  for (auto& t : threads) t.join();
  for (auto& st : errors) {
    if (!st.ok()) return st;
  }
  return Status::OK();
}

}  // namespace lakepipe::runtime
