// FlowStates' part of the commit protocol, over states that record their calls: each
// state commits a batch once (a state that already has it, as after a crash between two
// states' commits, is passed), in the order the states were opened, sizes reported by
// name; a failed commit stops the rest; AbandonAll reaches every state; a state behind the
// commit log is refused as it is added.
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
  ASSERT_TRUE(states.Add("distinct-0", fresh).ok());
  ASSERT_TRUE(states.Add("scd", ahead).ok());

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

  // A state behind the commit log (restored from an older copy) is refused as it is added,
  // whichever operator it belongs to, and is not driven.
  ASSERT_TRUE(cp->WritePlan(4, "{}").ok());
  ASSERT_TRUE(cp->WriteCommit(4, 7).ok());
  auto older = std::make_shared<RecordingState>(2, 1);
  Status refused = states.Add("join-0", older);
  EXPECT_EQ(refused.code(), StatusCode::kCorruption) << refused.message();
  EXPECT_NE(refused.message().find("state missing for batches 3..4 of `t`"), std::string::npos) << refused.message();
  ASSERT_TRUE(states.CommitAll(5, &report).ok());
  EXPECT_TRUE(older->commits.empty());
  EXPECT_EQ(report.operators.size(), 2u);
}

}  // namespace
}  // namespace lakepipe::runtime
