#include "runtime/checkpoint.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

TEST(FlowCheckpointTest, PlansAreWrittenOnceAndSurviveReopen) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto cp = FlowCheckpoint::Open(fs, dir.Join("cp"), "silver");
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_FALSE(cp->LatestPlanned()->has_value());
  ASSERT_TRUE(cp->WritePlan(0, R"({"batchId":0})").ok());
  ASSERT_TRUE(cp->WritePlan(1, R"({"batchId":1})").ok());
  // A plan is fixed once written: the same batch id cannot be planned again.
  EXPECT_TRUE(cp->WritePlan(1, R"({"batchId":1,"other":true})").IsAlreadyExists());
  ASSERT_TRUE(cp->WriteCommit(0, 5).ok());
  ASSERT_TRUE(cp->WriteCommit(0, 5).ok());  // a replay records the same fact again

  auto again = FlowCheckpoint::Open(fs, dir.Join("cp"), "silver");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->flow_id(), cp->flow_id());
  EXPECT_EQ(**again->LatestPlanned(), 1);
  EXPECT_EQ(**again->LatestCommitted(), 0);
  EXPECT_EQ(*again->ReadPlan(1), "{\"batchId\":1}\n");
  auto plans = again->ReadAllPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].first, 0);

  ASSERT_TRUE(FlowCheckpoint::Reset(fs, dir.Join("cp")).ok());
  auto fresh = FlowCheckpoint::Open(fs, dir.Join("cp"), "silver");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->flow_id(), cp->flow_id());
  EXPECT_FALSE(fresh->LatestPlanned()->has_value());
}

TEST(FlowCheckpointTest, CorruptMetadataIsReported) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("cp")).ok());
  ASSERT_TRUE(fs->WriteFile(dir.Join("cp/metadata"), "not json").ok());
  auto cp = FlowCheckpoint::Open(fs, dir.Join("cp"), "t");
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.status().code(), StatusCode::kCorruption);
  EXPECT_NE(cp.status().message().find("metadata"), std::string::npos);
}

}  // namespace
}  // namespace lakepipe::runtime
