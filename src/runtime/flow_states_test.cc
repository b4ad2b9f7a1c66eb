// FlowStates' part of the commit protocol, over states that record their calls: each
// state commits a batch once (a state that already has it, as after a crash between two
// states' commits, is passed), in the order the states were opened, sizes reported by
// name; a failed commit stops the rest; AbandonAll reaches every state.
#include "runtime/flow_states.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

class RecordingState : public state::BatchState {
 public:
  RecordingState(std::optional<int64_t> committed, int64_t keys) : committed_(committed), keys_(keys) {}
  std::optional<int64_t> committed_batch() const override { return committed_; }
  Status Commit(int64_t batch_id) override {
    if (fail_next_commit) return Status::IOError("disk gone");
    commits.push_back(batch_id);
    committed_ = batch_id;
    return Status::OK();
  }
  Status Abandon() override {
    ++abandons;
    return Status::OK();
  }
  state::StateSize Size() const override { return {keys_, keys_ * 10, 0}; }

  std::vector<int64_t> commits;
  int abandons = 0;
  bool fail_next_commit = false;

 private:
  std::optional<int64_t> committed_;
  int64_t keys_;
};

TEST(FlowStatesTest, EachStateCommitsABatchOnceInOpeningOrderAndAllAreAbandoned) {
  testing::TempDir dir;
  auto cp = FlowCheckpoint::Open(FileSystem::Default(), dir.Join("cp"), "t");
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  FlowStates states(FileSystem::Default(), &*cp, "t");
  auto fresh = std::make_shared<RecordingState>(std::nullopt, 2);
  auto ahead = std::make_shared<RecordingState>(3, 5);  // committed batch 3 before a crash
  states.Add("distinct-0", fresh);
  states.Add("scd", ahead);

  TableReport report;
  ASSERT_TRUE(states.CommitAll(3, &report).ok());
  EXPECT_EQ(fresh->commits, std::vector<int64_t>({3}));
  EXPECT_TRUE(ahead->commits.empty()) << "a state that has the batch must not apply it again";
  ASSERT_EQ(report.operators.size(), 2u);
  EXPECT_EQ(report.operators[0].name, "distinct-0");
  EXPECT_EQ(report.operators[1].name, "scd");
  EXPECT_EQ(report.operators[1].keys, 5);
  EXPECT_EQ(report.state_keys, 7);
  EXPECT_EQ(report.state_bytes, 70);

  ASSERT_TRUE(states.AbandonAll().ok());
  EXPECT_EQ(fresh->abandons, 1);
  EXPECT_EQ(ahead->abandons, 1);

  // A failed commit is the batch's error, and the states after it keep their batch.
  fresh->fail_next_commit = true;
  Status st = states.CommitAll(4, &report);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("disk gone"), std::string::npos) << st.message();
  EXPECT_TRUE(ahead->commits.empty());
  fresh->fail_next_commit = false;
  ASSERT_TRUE(states.CommitAll(4, &report).ok());
  EXPECT_EQ(fresh->commits, std::vector<int64_t>({3, 4}));
  EXPECT_EQ(ahead->commits, std::vector<int64_t>({4}));
  // The report is the latest batch's, not a sum over batches.
  EXPECT_EQ(report.operators.size(), 2u);
  EXPECT_EQ(report.state_keys, 7);
}

}  // namespace
}  // namespace lakepipe::runtime
