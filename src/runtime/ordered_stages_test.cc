#include "runtime/ordered_stages.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace lakepipe::runtime {
namespace {

struct Item {
  int n = 0;
  std::string trace;  // the stages that saw it, in order
};

using Step = std::function<Status(Item&)>;

// A source of `count` items numbered from 0.
std::function<Result<bool>(Item*)> Numbers(int count) {
  auto next = std::make_shared<int>(0);
  return [next, count](Item* item) -> Result<bool> {
    if (*next >= count) return false;
    item->n = (*next)++;
    return true;
  };
}

TEST(OrderedStagesTest, EveryStageSeesEveryItemInOrderOnOneThreadEach) {
  for (bool threaded : {false, true}) {
    std::vector<int> seen_a, seen_b;
    std::vector<std::thread::id> threads_a, threads_b;
    std::vector<std::string> traces;
    Step a = [&](Item& item) {
      seen_a.push_back(item.n);
      threads_a.push_back(std::this_thread::get_id());
      item.trace += "a";
      return Status::OK();
    };
    Step b = [&](Item& item) {
      seen_b.push_back(item.n);
      threads_b.push_back(std::this_thread::get_id());
      item.trace += "b";
      traces.push_back(item.trace);
      return Status::OK();
    };
    ASSERT_TRUE(RunOrderedStages<Item>(Numbers(500), {a, b}, 2, threaded).ok());
    ASSERT_EQ(seen_a.size(), 500u);
    ASSERT_EQ(seen_b.size(), 500u);
    for (int i = 0; i < 500; ++i) {
      EXPECT_EQ(seen_a[static_cast<size_t>(i)], i);
      EXPECT_EQ(seen_b[static_cast<size_t>(i)], i);
      EXPECT_EQ(traces[static_cast<size_t>(i)], "ab");
    }
    for (const auto& t : threads_a) EXPECT_EQ(t, threads_a[0]);
    // The last stage runs on the caller; the others on threads of their own when threaded.
    for (const auto& t : threads_b) EXPECT_EQ(t, std::this_thread::get_id());
    EXPECT_EQ(threads_a[0] == std::this_thread::get_id(), !threaded);
  }
}

TEST(OrderedStagesTest, AStageErrorStopsTheRunAndComesBack) {
  for (bool threaded : {false, true}) {
    std::atomic<int> written{0};
    Step check = [](Item& item) {
      if (item.n == 37) return Status::InvalidArgument("item 37 fails");
      return Status::OK();
    };
    Step write = [&](Item& item) {
      EXPECT_LT(item.n, 37);
      ++written;
      return Status::OK();
    };
    Status st = RunOrderedStages<Item>(Numbers(100000), {check, write}, 2, threaded);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.ToString().find("item 37 fails"), std::string::npos) << st.ToString();
    // Sequential, every item before 37 is written; threaded, the error also drops the
    // items already queued for the writer (the run failed: nothing of it is kept).
    if (threaded) EXPECT_LE(written.load(), 37);
    else EXPECT_EQ(written.load(), 37);
  }
}

TEST(OrderedStagesTest, ASourceErrorComesBackAfterTheItemsBeforeIt) {
  for (bool threaded : {false, true}) {
    int count = 0;
    auto source = [&count](Item* item) -> Result<bool> {
      if (count == 5) return Status::IOError("read failed");
      item->n = count++;
      return true;
    };
    std::vector<int> written;
    Step write = [&](Item& item) {
      written.push_back(item.n);
      return Status::OK();
    };
    Status st = RunOrderedStages<Item>(source, {write}, 1, threaded);
    EXPECT_NE(st.ToString().find("read failed"), std::string::npos) << st.ToString();
    // Threaded, the failure may stop the run before every earlier item is written; never
    // is an item written out of order or twice.
    for (size_t i = 0; i < written.size(); ++i) EXPECT_EQ(written[i], static_cast<int>(i));
    if (!threaded) EXPECT_EQ(written.size(), 5u);
  }
}

TEST(OrderedStagesTest, ALastStageErrorStopsTheSourceEarly) {
  std::atomic<int> produced{0};
  auto source = [&produced](Item* item) -> Result<bool> {
    item->n = produced++;
    return true;  // endless: only the error ends the run
  };
  Step write = [](Item& item) {
    return item.n == 10 ? Status::IOError("disk full") : Status::OK();
  };
  Status st = RunOrderedStages<Item>(source, {write}, 2, true);
  EXPECT_NE(st.ToString().find("disk full"), std::string::npos) << st.ToString();
  // Bounded queue: the source ran at most a queue's depth and one item ahead.
  EXPECT_LE(produced.load(), 14);
}

}  // namespace
}  // namespace lakepipe::runtime
