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
  EXPECT_EQ((*plans)[0].batch_id, 0);
  EXPECT_EQ((*plans)[1].text, "{\"batchId\":1}\n");

  ASSERT_TRUE(FlowCheckpoint::Reset(fs, dir.Join("cp")).ok());
  auto fresh = FlowCheckpoint::Open(fs, dir.Join("cp"), "silver");
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->flow_id(), cp->flow_id());
  EXPECT_FALSE(fresh->LatestPlanned()->has_value());
}

size_t Files(FileSystem* fs, const std::string& dir) {
  auto entries = fs->ListDir(dir);
  return entries.ok() ? entries->size() : 0;
}

TEST(FlowCheckpointTest, RetainKeepsTheNewestBatchesAndACompactOfTheRest) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto cp = FlowCheckpoint::Open(fs, dir.Join("cp"), "bronze");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->min_batches_to_retain(), 100);  // Spark's minBatchesToRetain
  cp->set_min_batches_to_retain(4);
  int compactions = 0;
  for (int64_t b = 0; b <= 13; ++b) {
    ASSERT_TRUE(cp->WritePlan(b, "{\"batchId\":" + std::to_string(b) + ",\"sources\":[]}").ok());
    ASSERT_TRUE(cp->WriteCommit(b, b + 1).ok());
    ASSERT_TRUE(cp->Retain(b, [&] {
                    ++compactions;
                    return FlowCheckpoint::Compaction{"{\"upTo\":" + std::to_string(b) + "}", {}, nullptr};
                  }).ok());
    // Never more than the newest batches since the last compaction plus the retained ones.
    EXPECT_LE(Files(fs, dir.Join("cp/offsets")), 4u + 4u + 1u) << "after batch " << b;
  }
  EXPECT_EQ(compactions, 3);  // at batches 4, 8 and 12
  // Batches 9..13 are kept (12 - 4 + 1 = 9), with the compact of 12; 0..8 are gone.
  for (int64_t b = 0; b <= 13; ++b) {
    EXPECT_EQ(fs->Exists(dir.Join("cp/offsets/" + std::to_string(b))), b >= 9) << b;
    EXPECT_EQ(fs->Exists(dir.Join("cp/commits/" + std::to_string(b))), b >= 9) << b;
  }
  EXPECT_TRUE(fs->Exists(dir.Join("cp/offsets/12.compact")));
  EXPECT_FALSE(fs->Exists(dir.Join("cp/offsets/8.compact")));
  EXPECT_FALSE(fs->Exists(dir.Join("cp/offsets/4.compact")));

  // A restart: the newest ids are unchanged, and the history is the compact of 12 then 13.
  auto again = FlowCheckpoint::Open(fs, dir.Join("cp"), "bronze");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(**again->LatestPlanned(), 13);
  EXPECT_EQ(**again->LatestCommitted(), 13);
  auto plans = again->ReadAllPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].batch_id, 12);
  EXPECT_EQ((*plans)[0].text, "{\"upTo\":12}\n");
  EXPECT_NE((*plans)[0].file.find("12.compact"), std::string::npos);
  EXPECT_EQ((*plans)[1].batch_id, 13);
}

TEST(FlowCheckpointTest, CleanupInterruptedBeforeDeletingIsFinishedNextTime) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto cp = FlowCheckpoint::Open(fs, dir.Join("cp"), "bronze");
  ASSERT_TRUE(cp.ok());
  cp->set_min_batches_to_retain(3);
  for (int64_t b = 0; b <= 3; ++b) {
    ASSERT_TRUE(cp->WritePlan(b, "{\"sources\":[]}").ok());
    ASSERT_TRUE(cp->WriteCommit(b, b).ok());
  }
  // As if the process died after writing the compact of batch 3 and before deleting:
  // the history is read from the compact, the older plans are ignored.
  ASSERT_TRUE(fs->PutIfAbsent(dir.Join("cp/offsets/3.compact"), "{\"c\":3}\n").ok());
  auto plans = cp->ReadAllPlans();
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 1u);
  EXPECT_EQ((*plans)[0].text, "{\"c\":3}\n");
  EXPECT_TRUE(fs->Exists(dir.Join("cp/offsets/0")));
  // The replayed Retain of batch 3 finds its compact written and finishes the deletions.
  bool built = false;
  ASSERT_TRUE(cp->Retain(3, [&] {
                  built = true;
                  return FlowCheckpoint::Compaction{"{\"c\":3}", {}, nullptr};
                }).ok());
  EXPECT_FALSE(built) << "the compact file written before the crash is kept, not rebuilt";
  EXPECT_FALSE(fs->Exists(dir.Join("cp/offsets/0")));
  EXPECT_TRUE(fs->Exists(dir.Join("cp/offsets/1")));
  EXPECT_EQ(*fs->ReadFile(dir.Join("cp/offsets/3.compact")), "{\"c\":3}\n");
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
