// DeferredCheckpoints: the tasks a commit's deferral hands it run on its thread, in the
// order given, all of them by Stop; a failed one is a WARN event. (The continuous runs of
// continuous_test.cc and the crash tests write their checkpoints through it.)
#include "runtime/deferred_checkpoints.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "delta/table.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

TEST(DeferredCheckpoints, RunsTheTasksOffTheCommittingThreadInOrderTheNewestPerTableAllByStop) {
  DeferredCheckpoints checkpoints(nullptr);
  checkpoints.Start();
  delta::CheckpointSink sink = checkpoints.Sink();
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<int> on_caller{0};
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> started{false}, release{false};
  auto give = [&](const std::string& table, int64_t v) {
    sink(table, v, [&, table, v]() -> Status {
      if (std::this_thread::get_id() == caller) ++on_caller;
      // The first task holds the thread: the others queue behind it, and the sink's
      // caller is not held.
      if (table == "/a" && v == 10) {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(table + "@" + std::to_string(v));
      return Status::OK();
    });
  };
  give("/a", 10);
  // What follows is queued behind /a@10 once the thread holds it.
  while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  give("/b", 10);
  give("/a", 20);
  give("/b", 20);
  give("/a", 30);
  EXPECT_EQ(checkpoints.written(), 0);
  release = true;
  checkpoints.Stop();
  // /b@20 took /b@10's place in the queue and /a@30 took /a@20's.
  EXPECT_EQ(order, (std::vector<std::string>{"/a@10", "/b@20", "/a@30"}));
  EXPECT_EQ(on_caller.load(), 0);
  EXPECT_EQ(checkpoints.written(), 3);
  EXPECT_EQ(checkpoints.superseded(), 2);
  // After Stop a task runs at once, on the caller's thread.
  give("/c", 10);
  EXPECT_EQ(on_caller.load(), 1);
  EXPECT_EQ(checkpoints.written(), 4);
}

TEST(DeferredCheckpoints, AFailedCheckpointIsAWarnEventAndNotCounted) {
  testing::TempDir dir;
  EventLog log(FileSystem::Default(), dir.path(), "p", Clock::System());
  DeferredCheckpoints checkpoints(&log);
  checkpoints.Start();
  checkpoints.Sink()(dir.Join("orders"), 20, [] { return Status::IOError("disk full"); });
  checkpoints.Stop();
  EXPECT_EQ(checkpoints.written(), 0);
  ASSERT_EQ(log.pending(), 1u);
  ASSERT_TRUE(log.Flush().ok());
  auto table = delta::DeltaTable::Open(EventLog::TablePath(dir.path()));
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  auto scan = delta::Scan::Plan(*(*table)->Latest(), {});
  ASSERT_TRUE(scan.ok());
  auto all = scan->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->num_rows(), 1);
  auto text = [&](const char* field) {
    return all->column(static_cast<size_t>(all->schema().FindField(field))).GetValue(0).ToString();
  };
  EXPECT_EQ(text("event_type"), "checkpoint_failed");
  EXPECT_EQ(text("level"), "WARN");
  EXPECT_NE(text("message").find("after version 20 was not written ("), std::string::npos) << text("message");
  EXPECT_NE(text("message").find("disk full"), std::string::npos) << text("message");
}

}  // namespace
}  // namespace lakepipe::runtime
