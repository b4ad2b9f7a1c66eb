// Unit tests of the Delta log layer: action JSON round trips, path encoding, listing
// and replay on hand-written logs (expected states derived from PROTOCOL.md's rules).
#include "delta/log.h"

#include <gtest/gtest.h>

#include "delta/log_cleanup.h"
#include "delta/table.h"
#include "delta/test_util.h"
#include "testing/testing.h"

namespace lakepipe::delta {
namespace {

TEST(DeltaActions, ParsesEveryActionKind) {
  std::string text =
      R"({"commitInfo":{"timestamp":1540415658000,"operation":"WRITE","operationParameters":{"mode":"Append"}}})"
      "\n"
      R"({"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["appendOnly"]}})"
      "\n"
      R"({"metaData":{"id":"abc","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":["p"],"configuration":{"delta.appendOnly":"true"},"createdTime":7}})"
      "\n"
      R"({"add":{"path":"p=1/a%20b.parquet","partitionValues":{"p":"1","q":null},"size":10,"modificationTime":5,"dataChange":true,"stats":"{\"numRecords\":3}","tags":{"k":"v"}}})"
      "\n"
      R"({"remove":{"path":"x.parquet","deletionTimestamp":9,"dataChange":false,"deletionVector":{"storageType":"u","pathOrInlineDv":"ab^-aqEH.-t@S}K{vb[*k^","offset":4,"sizeInBytes":40,"cardinality":6}}})"
      "\n"
      R"({"txn":{"appId":"flow-1","version":42,"lastUpdated":100}})"
      "\n"
      R"({"cdc":{"path":"_change_data/c.parquet","partitionValues":{},"size":1,"dataChange":false}})"
      "\n\n";
  auto actions = ParseActions(text, "00000000000000000000.json");
  ASSERT_TRUE(actions.ok()) << actions.status().ToString();
  ASSERT_EQ(actions->size(), 7u);
  const auto& ci = std::get<CommitInfo>((*actions)[0]);
  EXPECT_EQ(ci.operation, "WRITE");
  EXPECT_EQ(ci.timestamp, 1540415658000);
  const auto& p = std::get<Protocol>((*actions)[1]);
  EXPECT_EQ(p.min_reader_version, 3);
  ASSERT_TRUE(p.reader_features.has_value());
  EXPECT_EQ((*p.reader_features)[0], "timestampNtz");
  const auto& m = std::get<Metadata>((*actions)[2]);
  EXPECT_EQ(m.id, "abc");
  EXPECT_EQ(m.partition_columns, std::vector<std::string>{"p"});
  EXPECT_EQ(m.configuration.at("delta.appendOnly"), "true");
  EXPECT_EQ(m.created_time, 7);
  const auto& a = std::get<AddFile>((*actions)[3]);
  EXPECT_EQ(a.path, "p=1/a%20b.parquet");
  EXPECT_EQ(a.partition_values.at("p"), std::optional<std::string>("1"));
  EXPECT_EQ(a.partition_values.at("q"), std::nullopt);
  EXPECT_EQ(a.stats, std::optional<std::string>("{\"numRecords\":3}"));
  const auto& r = std::get<RemoveFile>((*actions)[4]);
  EXPECT_FALSE(r.data_change);
  ASSERT_TRUE(r.deletion_vector.has_value());
  EXPECT_EQ(r.deletion_vector->UniqueId(), "uab^-aqEH.-t@S}K{vb[*k^@4");
  const auto& t = std::get<Txn>((*actions)[5]);
  EXPECT_EQ(t.app_id, "flow-1");
  EXPECT_EQ(t.version, 42);
  EXPECT_EQ(std::get<OtherAction>((*actions)[6]).kind, "cdc");

  // Serialising and parsing again gives the same actions.
  std::string again = SerializeActions(*actions);
  auto reparsed = ParseActions(again, "again");
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
  ASSERT_EQ(reparsed->size(), 7u);
  EXPECT_EQ(SerializeActions(*reparsed), again);
  EXPECT_EQ(std::get<AddFile>((*reparsed)[3]).partition_values.at("q"), std::nullopt);
  EXPECT_EQ(std::get<RemoveFile>((*reparsed)[4]).deletion_vector->offset, 4);
}

TEST(DeltaActions, MalformedLinesNameFileLineAndField) {
  auto bad_json = ParseActions("{\"add\":{}}\n{oops", "00000000000000000003.json");
  ASSERT_FALSE(bad_json.ok());
  EXPECT_EQ(bad_json.status().code(), StatusCode::kCorruption);
  // The first line fails first: add without a path.
  EXPECT_NE(bad_json.status().message().find("00000000000000000003.json line 1"), std::string::npos)
      << bad_json.status().message();
  EXPECT_NE(bad_json.status().message().find("'path'"), std::string::npos);

  auto line2 = ParseActions("{\"txn\":{\"appId\":\"a\",\"version\":1}}\n{oops", "v.json");
  ASSERT_FALSE(line2.ok());
  EXPECT_NE(line2.status().message().find("v.json line 2"), std::string::npos);

  auto wrong_type = ParseActions(R"({"add":{"path":"a","size":"big","partitionValues":{}}})", "w.json");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("'size'"), std::string::npos);
}

TEST(DeltaPaths, DecodeEncodeAndResolve) {
  EXPECT_EQ(*PercentDecode("special%20p@%23h"), "special p@#h");
  EXPECT_FALSE(PercentDecode("bad%2").ok());
  EXPECT_FALSE(PercentDecode("bad%zz").ok());
  // Spark's add.path for a partition folder whose Hive-escaped name holds "%21".
  EXPECT_EQ(EncodeLogPath("_2=bar+%2521/part-0.parquet"), "_2=bar+%252521/part-0.parquet");
  EXPECT_EQ(EncodeLogPath("a b#c"), "a%20b%23c");
  EXPECT_EQ(*ResolveDataPath("/t", "x%20y/z.parquet"), "/t/x y/z.parquet");
  EXPECT_EQ(*ResolveDataPath("/t", "file:/abs/p%20q"), "/abs/p q");
  EXPECT_EQ(*ResolveDataPath("/t", "file:///abs/p"), "/abs/p");
  auto s3 = ResolveDataPath("/t", "s3://bucket/x");
  ASSERT_FALSE(s3.ok());
  EXPECT_EQ(s3.status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(*FileKey("file:/a/b%20c", std::nullopt), *FileKey("/a/b c", std::nullopt));
  EXPECT_EQ(*FileKey("file:///a/b", std::nullopt), "/a/b");
}

TEST(DeltaPaths, PartitionValueSerialisation) {
  EXPECT_EQ(SerializePartitionValue(Value::Date(18878)), "2021-09-08");
  EXPECT_EQ(SerializePartitionValue(Value::Int(-5, TypeId::kInt)), "-5");
  EXPECT_EQ(SerializePartitionValue(Value::Bool(true)), "true");
  EXPECT_EQ(SerializePartitionValue(Value::Double(1.0)), "1.0");
  EXPECT_EQ(SerializePartitionValue(Value()), std::nullopt);
  // 2021-09-08 11:11:11 UTC
  int64_t ts = (18878LL * 86400 + 11 * 3600 + 11 * 60 + 11) * 1000000LL;
  EXPECT_EQ(SerializePartitionValue(Value::Timestamp(ts)), "2021-09-08T11:11:11.000000Z");
  // Both forms the protocol allows parse back to the same instant.
  EXPECT_EQ(ParsePartitionValue(std::string("2021-09-08 11:11:11"), DataType::Timestamp())->int_value(), ts);
  EXPECT_EQ(ParsePartitionValue(std::string("2021-09-08T11:11:11.000000Z"), DataType::Timestamp())->int_value(), ts);
  EXPECT_TRUE(ParsePartitionValue(std::nullopt, DataType::Int())->is_null());
  EXPECT_TRUE(ParsePartitionValue(std::string(""), DataType::String())->is_null());
  EXPECT_EQ(ParsePartitionValue(std::string("1"), DataType::Decimal(1, 0))->decimal_value(), 1);
  EXPECT_FALSE(ParsePartitionValue(std::string("x1"), DataType::Int()).ok());
  EXPECT_EQ(EscapePartitionPathComponent("bar+%21"), "bar+%2521");
  EXPECT_EQ(EscapePartitionPathComponent("a:b/c=d"), "a%3Ab%2Fc%3Dd");
}

// Writes a log by hand and checks replay against the protocol's reconciliation rules.
class ReplayTest : public ::testing::Test {
 protected:
  void Commit(int64_t v, const std::string& lines) {
    ASSERT_TRUE(fs_->CreateDirs(LogDir(dir_.path())).ok());
    ASSERT_TRUE(fs_->WriteFile(JoinPath(LogDir(dir_.path()), CommitFileName(v)), lines).ok());
  }
  static std::string Add(const std::string& path) {
    return R"({"add":{"path":")" + path + R"(","partitionValues":{},"size":1,"modificationTime":1,"dataChange":true}})" "\n";
  }
  static std::string Remove(const std::string& path) {
    return R"({"remove":{"path":")" + path + R"(","deletionTimestamp":5,"dataChange":true}})" "\n";
  }
  static std::string Header() {
    return R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})" "\n"
           R"({"metaData":{"id":"t","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"a\",\"type\":\"integer\",\"nullable\":true,\"metadata\":{}}]}","partitionColumns":[],"configuration":{}}})" "\n";
  }
  testing::TempDir dir_;
  FileSystem* fs_ = FileSystem::Default();
};

TEST_F(ReplayTest, AddRemoveTxnAndLatestMetadataWin) {
  Commit(0, Header() + Add("a") + Add("b") + R"({"txn":{"appId":"x","version":1}})" "\n");
  Commit(1, Remove("a") + Add("c") + R"({"txn":{"appId":"x","version":2}})" "\n");
  Commit(2, Add("a") + Remove("b") +
                R"({"metaData":{"id":"t2","schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":[],"configuration":{"k":"v"}}})" "\n"
                R"({"txn":{"appId":"y","version":7}})" "\n");
  auto s2 = ReplayLog(fs_, dir_.path());
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(s2->version, 2);
  std::vector<std::string> paths;
  for (const auto& [k, f] : s2->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(s2->tombstones.size(), 1u);  // "a" was re-added; only "b" stays removed
  EXPECT_TRUE(s2->tombstones.count("b"));
  EXPECT_EQ(s2->metadata.id, "t2");
  EXPECT_EQ(s2->txns.at("x").version, 2);
  EXPECT_EQ(s2->txns.at("y").version, 7);

  ReplayOptions at1;
  at1.version = 1;
  auto s1 = ReplayLog(fs_, dir_.path(), at1);
  ASSERT_TRUE(s1.ok());
  paths.clear();
  for (const auto& [k, f] : s1->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(s1->metadata.id, "t");

  ReplayOptions at9;
  at9.version = 9;
  EXPECT_EQ(ReplayLog(fs_, dir_.path(), at9).status().code(), StatusCode::kNotFound);
}

TEST_F(ReplayTest, MissingVersionIsCorruption) {
  Commit(0, Header() + Add("a"));
  Commit(2, Add("b"));
  auto s = ReplayLog(fs_, dir_.path());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(s.status().message().find("version 1 is missing"), std::string::npos);
}

TEST_F(ReplayTest, NoLogIsNotFound) {
  auto s = ReplayLog(fs_, dir_.path());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
}

TEST_F(ReplayTest, ListingFindsCompleteCheckpointsOnly) {
  Commit(0, Header());
  std::string log = LogDir(dir_.path());
  ASSERT_TRUE(fs_->WriteFile(JoinPath(log, "00000000000000000000.checkpoint.0000000001.0000000002.parquet"), "x").ok());
  ASSERT_TRUE(fs_->WriteFile(JoinPath(log, "00000000000000000000.checkpoint.parquet.crc"), "x").ok());
  auto l = ListLog(fs_, dir_.path());
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->checkpoints.empty());  // part 2 of 2 is missing
  ASSERT_TRUE(fs_->WriteFile(JoinPath(log, "00000000000000000000.checkpoint.0000000002.0000000002.parquet"), "x").ok());
  l = ListLog(fs_, dir_.path());
  ASSERT_EQ(l->checkpoints.size(), 1u);
  EXPECT_EQ(l->checkpoints[0].paths.size(), 2u);
}

TEST(LastCheckpoint, RoundTripAndCorruption) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(LogDir(dir.path())).ok());
  EXPECT_FALSE(ReadLastCheckpoint(fs, dir.path()).has_value());
  LastCheckpoint lc;
  lc.version = 20;
  lc.size = 7;
  lc.num_of_add_files = 5;
  std::string text = SerializeLastCheckpoint(lc);
  EXPECT_EQ(text.find("parts"), std::string::npos);
  ASSERT_TRUE(fs->WriteFile(JoinPath(LogDir(dir.path()), "_last_checkpoint"), text).ok());
  auto back = ReadLastCheckpoint(fs, dir.path());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->version, 20);
  EXPECT_EQ(back->num_of_add_files, 5);
  ASSERT_TRUE(fs->WriteFile(JoinPath(LogDir(dir.path()), "_last_checkpoint"), "{\"vers").ok());
  EXPECT_FALSE(ReadLastCheckpoint(fs, dir.path()).has_value());
}


// Counts the listings of folders; everything else goes to the real file system.
class ListingCounter : public FaultInjectingFileSystem {
 public:
  ListingCounter() : FaultInjectingFileSystem(FileSystem::Default()) {}
  Result<std::vector<FileInfo>> ListDir(const std::string& dir) override {
    ++listings;
    return FaultInjectingFileSystem::ListDir(dir);
  }
  Result<std::vector<FileInfo>> ListNames(const std::string& dir) override {
    ++listings;
    return FaultInjectingFileSystem::ListNames(dir);
  }
  int listings = 0;
};

// A streaming table commits ~10 times a second and keeps 30 days of log: ~26 million
// entries, which a listing per batch or per checkpoint could not afford. Opening, reading
// the latest version, committing, checkpointing and log cleanup go by `_last_checkpoint`
// and names instead.
TEST(LogTail, CommitsReadsCheckpointsAndCleanupDoNotListTheLog) {
  testing::TempDir dir;
  const std::string path = dir.Join("t");
  ListingCounter fs;
  CreateOptions create;
  create.schema = test::IdSchema();
  create.configuration = {{"delta.checkpointInterval", "5"}, {"delta.logRetentionDuration", "interval 1 day"}};
  auto table = DeltaTable::Create(path, create, &fs);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  for (int i = 1; i <= 7; ++i) ASSERT_TRUE((*table)->Write({test::Ids(i * 10, i * 10 + 10)}, {}).ok());
  fs.listings = 0;
  for (int i = 8; i <= 12; ++i) ASSERT_TRUE((*table)->Write({test::Ids(i * 10, i * 10 + 10)}, {}).ok());
  EXPECT_TRUE(DeltaTable::Exists(path, &fs));
  auto reopened = DeltaTable::Open(path, &fs);
  ASSERT_TRUE(reopened.ok());
  auto latest = (*reopened)->Latest();
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->version(), 12);
  EXPECT_EQ((*(*reopened)->LatestVersion()), 12);
  auto at = (*reopened)->AtVersion(11);
  ASSERT_TRUE(at.ok());
  // The newest entries of the history (an SLA check asks for one per table).
  auto recent = (*reopened)->History(2);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(fs.listings, 0);
  auto all = (*reopened)->History();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(recent->size(), 2u);
  ASSERT_EQ(all->size(), 13u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ((*recent)[k].version, 12 - static_cast<int64_t>(k));
    EXPECT_EQ((*recent)[k].version, (*all)[k].version);
    EXPECT_EQ((*recent)[k].timestamp_millis, (*all)[k].timestamp_millis);
    EXPECT_EQ((*recent)[k].operation, (*all)[k].operation);
  }

  // The same state as a replay of every commit from version 0.
  auto full = ReplayLog(FileSystem::Default(), path, {.version = -1, .ignore_checkpoints = true});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*latest)->state().files.size(), full->files.size());
  EXPECT_EQ((*latest)->state().version, full->version);
}

// What the hint cannot vouch for goes back to the listing: a stale hint (older checkpoint),
// a hint naming a checkpoint that is gone, and a gap after the hint (a damaged log, which
// must still be reported as such).
TEST(LogTail, AStaleOrWrongHintFallsBackToTheListing) {
  testing::TempDir dir;
  const std::string path = dir.Join("t");
  CreateOptions create;
  create.schema = test::IdSchema();
  create.configuration = {{"delta.checkpointInterval", "5"}};
  auto table = DeltaTable::Create(path, create);
  ASSERT_TRUE(table.ok());
  for (int i = 1; i <= 12; ++i) ASSERT_TRUE((*table)->Write({test::Ids(i * 10, i * 10 + 10)}, {}).ok());
  FileSystem* fs = FileSystem::Default();
  const std::string hint_path = JoinPath(LogDir(path), "_last_checkpoint");
  auto rows_at_latest = [&]() -> int64_t {
    auto state = ReplayLog(fs, path);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? static_cast<int64_t>(state->files.size()) * 100 + state->version : -1;
  };
  const int64_t expected = 12 * 100 + 12;
  // Stale: names checkpoint 5 while 10 exists.
  LastCheckpoint stale;
  stale.version = 5;
  stale.size = 1;
  ASSERT_TRUE(fs->WriteFileAtomic(hint_path, SerializeLastCheckpoint(stale)).ok());
  EXPECT_EQ(rows_at_latest(), expected);
  ASSERT_TRUE(ListLogFromHint(fs, path).has_value());
  EXPECT_EQ(ListLogFromHint(fs, path)->checkpoints.front().version, 5);
  // Names a checkpoint that is not there.
  stale.version = 11;
  ASSERT_TRUE(fs->WriteFileAtomic(hint_path, SerializeLastCheckpoint(stale)).ok());
  EXPECT_FALSE(ListLogFromHint(fs, path).has_value());
  EXPECT_EQ(rows_at_latest(), expected);
  // A gap after the hinted checkpoint: Corruption, as a listing finds.
  stale.version = 10;
  ASSERT_TRUE(fs->WriteFileAtomic(hint_path, SerializeLastCheckpoint(stale)).ok());
  ASSERT_TRUE(fs->RemoveFile(JoinPath(LogDir(path), CommitFileName(11))).ok());
  EXPECT_FALSE(ListLogFromHint(fs, path).has_value());
  auto damaged = ReplayLog(fs, path);
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption) << damaged.status().ToString();
}
}  // namespace
}  // namespace lakepipe::delta

namespace lakepipe::delta {
namespace {

TEST(DeltaActions, ACommitWithoutActionsIsCorruption) {
  for (const char* text : {"", "\n", " \n\r\n"}) {
    auto r = ParseActions(text, "00000000000000000007.json");
    ASSERT_FALSE(r.ok()) << "'" << text << "'";
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
    EXPECT_NE(r.status().message().find("00000000000000000007.json"), std::string::npos);
    EXPECT_NE(r.status().message().find("emptied or truncated"), std::string::npos) << r.status().ToString();
  }
}

// Bad input never crashes the log parser: every truncation and many byte mutations of a
// valid commit give either actions or a Corruption naming the file.
TEST(DeltaActions, TruncatedAndMutatedCommitsFailCleanly) {
  std::string good =
      R"({"commitInfo":{"timestamp":1,"operation":"WRITE"}})" "\n"
      R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})" "\n"
      R"({"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{}","partitionColumns":["p"],"configuration":{}}})" "\n"
      R"({"add":{"path":"p=1/f.parquet","partitionValues":{"p":"1"},"size":10,"modificationTime":5,"dataChange":true,"stats":"{}","deletionVector":{"storageType":"u","pathOrInlineDv":"x","sizeInBytes":1,"cardinality":1}}})" "\n"
      R"({"txn":{"appId":"a","version":3}})" "\n";
  for (size_t n = 0; n <= good.size(); ++n) {
    auto r = ParseActions(std::string_view(good).substr(0, n), "c.json");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
      EXPECT_NE(r.status().message().find("c.json"), std::string::npos);
    }
  }
  uint32_t seed = 12345;
  const char replacements[] = {'"', '{', '}', '[', ']', ':', ',', '0', 'x', '\n', '\\', ' '};
  for (int i = 0; i < 3000; ++i) {
    std::string m = good;
    for (int k = 0; k < 3; ++k) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 8) % m.size();
      m[at] = replacements[(seed >> 20) % sizeof(replacements)];
    }
    auto r = ParseActions(m, "m.json");
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
    }
  }
}

}  // namespace
}  // namespace lakepipe::delta
