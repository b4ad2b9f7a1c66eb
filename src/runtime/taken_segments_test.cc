#include "runtime/taken_segments.h"

#include <gtest/gtest.h>

#include <map>

#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

// The segment files one compaction writes, by name.
struct Written {
  std::map<std::string, std::string> files;
  std::function<Status(const std::string&, std::string_view)> Writer() {
    return [this](const std::string& name, std::string_view text) {
      files[name] = std::string(text);
      return Status::OK();
    };
  }
};

std::vector<std::pair<std::string, int64_t>> Parse(const std::string& text, int64_t expected) {
  std::vector<std::pair<std::string, int64_t>> out;
  Status st = ParseSegment(text, "taken/x.json", "/landing", expected,
                           [&out](std::string_view path, int64_t mtime) { out.emplace_back(std::string(path), mtime); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(TakenSegmentsTest, ASegmentFileRoundTripsAnyName) {
  TakenFiles taken;
  taken.Insert("a.csv", 10);
  taken.Insert("sub/\"quoted\" \\ name.csv", 20);
  taken.Insert("tab\there\nnewline.csv", 30);
  taken.Insert("caf\xc3\xa9.csv", 40);
  taken.Insert("z.csv", -5);
  std::string text = SerializeSegment("/landing", taken, 1, 5);
  auto files = Parse(text, 4);
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0], (std::pair<std::string, int64_t>{"sub/\"quoted\" \\ name.csv", 20}));
  EXPECT_EQ(files[1].first, "tab\there\nnewline.csv");
  EXPECT_EQ(files[2].first, "caf\xc3\xa9.csv");
  EXPECT_EQ(files[3], (std::pair<std::string, int64_t>{"z.csv", -5}));
  EXPECT_EQ(Parse(SerializeSegment("/landing", taken, 2, 2), 0).size(), 0u);
}

TEST(TakenSegmentsTest, AMalformedSegmentIsCorruptionNamingTheFile) {
  struct Case {
    std::string text;
    int64_t expected;
    const char* message;
  };
  const Case cases[] = {
      {"", 0, "not JSON"},
      {"{\"segment\":1,\"source\":\"/landing\",\"files\":[[\"a\",1]", 1, "not JSON"},
      {"[1]", 0, "not a JSON object"},
      {"{\"source\":\"/landing\",\"files\":[]}", 0, "segment: missing or not an integer"},
      {"{\"segment\":2,\"source\":\"/landing\",\"files\":[]}", 0, "segment format 2 is not one this lakepipe reads"},
      {"{\"segment\":1,\"files\":[]}", 0, "source: missing or not a string"},
      {"{\"segment\":1,\"source\":\"/other\",\"files\":[]}", 0, "it lists the files of /other, not of /landing"},
      {"{\"segment\":1,\"source\":\"/landing\"}", 0, "files: missing or not an array"},
      {"{\"segment\":1,\"source\":\"/landing\",\"files\":[[\"a\",1],[\"b\"]]}", 2, "files[1]: not [path, mtime]"},
      {"{\"segment\":1,\"source\":\"/landing\",\"files\":[[\"a\",1.5]]}", 1, "files[0]: not [path, mtime]"},
      {"{\"segment\":1,\"source\":\"/landing\",\"files\":[[3,1]]}", 1, "files[0]: not [path, mtime]"},
      {"{\"segment\":1,\"source\":\"/landing\",\"files\":[[\"a\",1]]}", 2, "it lists 1 files, the compact file says 2"},
  };
  for (const Case& c : cases) {
    Status st = ParseSegment(c.text, "/cp/taken/7-0.json", "/landing", c.expected, [](std::string_view, int64_t) {});
    ASSERT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find("/cp/taken/7-0.json"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.text << " -> " << st.ToString();
  }
}

// A compaction writes only what was taken since the last one; merges every kFanIn small
// segments of a level into one of the next.
TEST(TakenSegmentsTest, EachCompactionWritesItsIncrementAndMergesSmallSegments) {
  TakenFiles taken;
  TakenSegments segments;
  int file = 0;
  for (int64_t batch = 1; batch <= 16; ++batch) {
    for (int i = 0; i < 10; ++i, ++file) taken.Insert("f" + std::to_string(file) + ".csv", 1000 + file);
    Written written;
    int sequence = 0;
    auto next = segments.Compact(taken, "/landing", batch, &sequence, written.Writer());
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    int64_t files_written = 0;
    for (const auto& [name, text] : written.files) {
      EXPECT_EQ(name.rfind(std::to_string(batch) + "-", 0), 0u) << name;
      for (const auto& g : next->segments())
        if (g.ref.name == name) files_written += static_cast<int64_t>(Parse(text, g.ref.files).size());
    }
    // 10 new files; a merge at every 4th compaction (of 40), of 16 (160) at the 16th.
    int64_t expect = batch % 16 == 0 ? 160 : batch % 4 == 0 ? 40 : 10;
    EXPECT_EQ(files_written, expect) << "batch " << batch;
    segments = std::move(*next);
    EXPECT_EQ(segments.covered(), taken.size());
  }
  ASSERT_EQ(segments.segments().size(), 1u);
  EXPECT_EQ(segments.segments()[0].ref.level, 2);
  EXPECT_EQ(segments.segments()[0].ref.files, 160);
  EXPECT_EQ(segments.segments()[0].ref.newest_micros, 1000 + 159);
}

// A backlog taken between two compactions is split into full segments of kMaxFiles; small
// segments whose merge would exceed kMaxFiles are marked full instead of rewritten.
TEST(TakenSegmentsTest, SegmentsStayWithinTheirMaximum) {
  TakenFiles taken;
  int64_t big = TakenSegments::kMaxFiles;
  for (int64_t i = 0; i < big * 2 + 5; ++i) taken.Insert("b" + std::to_string(i), i);
  TakenSegments segments;
  Written written;
  int sequence = 0;
  auto next = segments.Compact(taken, "/l", 1, &sequence, written.Writer());
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->segments().size(), 3u);
  EXPECT_EQ(next->segments()[0].ref.level, TakenSegments::kFullLevel);
  EXPECT_EQ(next->segments()[0].ref.files, big);
  EXPECT_EQ(next->segments()[1].ref.level, TakenSegments::kFullLevel);
  EXPECT_EQ(next->segments()[2].ref.level, 0);
  EXPECT_EQ(next->segments()[2].ref.files, 5);
  segments = std::move(*next);
  // Three more level-0 segments of kMaxFiles/2 files: the four would hold more than
  // kMaxFiles together, so they are marked full, not merged.
  for (int64_t batch = 2; batch <= 4; ++batch) {
    for (int64_t i = 0; i < big / 2; ++i) taken.Insert("c" + std::to_string(batch) + "-" + std::to_string(i), batch);
    Written more;
    auto after = segments.Compact(taken, "/l", batch, &sequence, more.Writer());
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(more.files.size(), 1u) << "batch " << batch << ": only its own files";
    segments = std::move(*after);
  }
  ASSERT_EQ(segments.segments().size(), 6u);
  for (size_t i = 2; i < 6; ++i) EXPECT_EQ(segments.segments()[i].ref.level, TakenSegments::kFullLevel) << i;
}

// Forgetting: a segment whose files are all forgotten is dropped without a write; one
// left with less than half its files is rewritten; the others are kept as they are.
TEST(TakenSegmentsTest, ForgottenFilesDropOrShrinkTheirSegments) {
  TakenFiles taken;
  TakenSegments segments;
  int sequence = 0;
  auto compact = [&](int64_t batch) {
    Written written;
    auto next = segments.Compact(taken, "/l", batch, &sequence, written.Writer());
    EXPECT_TRUE(next.ok());
    segments = std::move(*next);
    return written.files.size();
  };
  for (int i = 0; i < 4; ++i) taken.Insert("old" + std::to_string(i), 100 + i);  // segment A: 100..103
  compact(1);
  for (int i = 0; i < 4; ++i) taken.Insert("mid" + std::to_string(i), 200 + i * 10);  // segment B: 200..230
  compact(2);
  for (int i = 0; i < 2; ++i) taken.Insert("new" + std::to_string(i), 300 + i);  // segment C
  compact(3);
  ASSERT_EQ(segments.segments().size(), 3u);
  std::string b_name = segments.segments()[1].ref.name;
  std::string c_name = segments.segments()[2].ref.name;
  // Horizon 215: all of A and two of B's four go.
  std::vector<std::string> forgotten;
  EXPECT_EQ(segments.Forget(&taken, 215, [&](std::string_view p) { forgotten.emplace_back(p); }), 6u);
  EXPECT_EQ(forgotten.size(), 6u);
  EXPECT_EQ(compact(4), 0u) << "B keeps half its files: no rewrite";
  ASSERT_EQ(segments.segments().size(), 2u);
  EXPECT_EQ(segments.segments()[0].ref.name, b_name);
  EXPECT_EQ(segments.segments()[0].ref.files, 4);  // as written
  EXPECT_EQ(segments.segments()[0].end, 2u);
  // Horizon 225: B is left with one of four: rewritten.
  EXPECT_EQ(segments.Forget(&taken, 225, nullptr), 1u);
  EXPECT_EQ(compact(5), 1u);
  ASSERT_EQ(segments.segments().size(), 2u);
  EXPECT_NE(segments.segments()[0].ref.name, b_name);
  EXPECT_EQ(segments.segments()[0].ref.files, 1);
  EXPECT_EQ(segments.segments()[1].ref.name, c_name);
}

// A few files behind the horizon stay in memory (forgetting rebuilds all of it) until they
// are an eighth of it; the compact file's forgottenBefore moves at once, so a restart
// does not load them.
TEST(TakenSegmentsTest, FewForgottenFilesLeaveMemoryOnlyOnceTheyAreAnEighth) {
  testing::TempDir dir;
  TakenFiles taken;
  for (int i = 0; i < 100; ++i) taken.Insert("f" + std::to_string(i), i);
  TakenSegments segments;
  int sequence = 0;
  std::map<std::string, std::string> files;
  auto compact = [&](int64_t batch) {
    auto next = segments.Compact(taken, "/l", batch, &sequence, [&](const std::string& name, std::string_view text) {
      files[name] = std::string(text);
      return FileSystem::Default()->WriteFile(dir.Join(name), text);
    });
    ASSERT_TRUE(next.ok());
    segments = std::move(*next);
  };
  compact(1);
  std::vector<std::string> forgotten;
  auto note = [&forgotten](std::string_view p) { forgotten.emplace_back(p); };
  EXPECT_EQ(segments.Forget(&taken, 5, note), 0u);  // 5 of 100
  EXPECT_EQ(taken.size(), 100u);
  EXPECT_TRUE(forgotten.empty());
  EXPECT_EQ(taken.forgotten_before_micros(), 5);
  compact(2);
  PlannedSource source;
  source.path = "/l";
  source.segments = segments.Refs();
  source.forgotten_before_micros = taken.forgotten_before_micros();
  TakenFiles loaded;
  TakenSegments reloaded;
  ASSERT_TRUE(reloaded.Load(FileSystem::Default(), dir.path(), source, &loaded).ok());
  EXPECT_EQ(loaded.size(), 95u);
  EXPECT_FALSE(loaded.Contains("f4"));
  EXPECT_TRUE(loaded.Contains("f5"));
  // 13 of 100: an eighth; they leave memory.
  EXPECT_EQ(segments.Forget(&taken, 13, note), 13u);
  EXPECT_EQ(taken.size(), 87u);
  EXPECT_EQ(forgotten.size(), 13u);
  EXPECT_EQ(segments.segments().back().end, 87u);
}

// Loading leaves out what the compact file had forgotten (older than forgottenBefore),
// and does not even read a segment whose newest file is older than that.
TEST(TakenSegmentsTest, LoadLeavesOutForgottenFiles) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  TakenFiles taken;
  for (int i = 0; i < 3; ++i) taken.Insert("a" + std::to_string(i), 10 + i);
  for (int i = 0; i < 3; ++i) taken.Insert("b" + std::to_string(i), 20 + i);
  PlannedSource source;
  source.kind = PlannedSource::Kind::kFiles;
  source.path = "/l";
  source.forgotten_before_micros = 21;
  source.segments = {{"1-0.json", 0, 3, 12}, {"2-0.json", 0, 3, 22}};
  // The first segment is not there: it is not read.
  ASSERT_TRUE(fs->WriteFile(dir.Join("2-0.json"), SerializeSegment("/l", taken, 3, 6)).ok());
  TakenFiles loaded;
  TakenSegments segments;
  ASSERT_TRUE(segments.Load(fs, dir.path(), source, &loaded).ok());
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_FALSE(loaded.Contains("b0"));
  EXPECT_TRUE(loaded.Contains("b1"));
  EXPECT_TRUE(loaded.Contains("b2"));
  EXPECT_EQ(loaded.newest_micros(), TakenFiles::kNoHorizon) << "the compact file's newest says it";
  ASSERT_EQ(segments.segments().size(), 2u);
  EXPECT_EQ(segments.segments()[0].end, 0u);
  EXPECT_EQ(segments.segments()[1].end, 2u);
  // Now without forgottenBefore the first one is needed: missing is Corruption naming it.
  source.forgotten_before_micros = INT64_MIN;
  TakenFiles again;
  TakenSegments none;
  Status st = none.Load(fs, dir.path(), source, &again);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(dir.Join("1-0.json")), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace lakepipe::runtime
