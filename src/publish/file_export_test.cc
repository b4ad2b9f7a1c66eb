// FileExport: partition files written whole, rewritten only when their day changes,
// removed when the day leaves the table, and right again after a failure mid-way; the
// files read back by DuckDB equal the table.
#include "publish/file_export.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "delta/table.h"
#include "testing/testing.h"
#include "types/datetime.h"

namespace lakepipe::publish {
namespace {

Schema ViewsSchema() { return *Schema::ParseDDL("day DATE, network STRING, views BIGINT"); }

struct Row {
  const char* day;
  const char* network;
  int64_t views;
};

RecordBatch Rows(const std::vector<Row>& rows) {
  Column day(DataType::Date()), network(DataType::String()), views(DataType::Long());
  for (const Row& r : rows) {
    day.Append<int32_t>(*ParseDate(r.day));
    network.AppendString(r.network);
    views.Append<int64_t>(r.views);
  }
  std::vector<Column> cols;
  cols.push_back(std::move(day));
  cols.push_back(std::move(network));
  cols.push_back(std::move(views));
  return RecordBatch::FromColumns(ViewsSchema(), std::move(cols));
}

class FileExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    delta::CreateOptions c;
    c.schema = ViewsSchema();
    auto t = delta::DeltaTable::Create(dir_.Join("gold"), c);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(*t);
  }
  void Write(const std::vector<Row>& rows, delta::WriteMode mode = delta::WriteMode::kAppend) {
    delta::WriteOptions o;
    o.mode = mode;
    ASSERT_TRUE(table_->Write({Rows(rows)}, o).ok());
  }
  FileExportTarget Target(const std::string& format, const std::string& partition_by = "day") {
    return {"gold", dir_.Join("gold"), dir_.Join("out-" + format), format, partition_by};
  }
  // DuckDB's sum of views per (day, network) over the exported files, as "day|network|views" lines.
  std::string DuckSums(const std::string& reader) {
    std::string out;
    for (const auto& row : testing::DuckDBRows("SELECT CAST(day AS VARCHAR) AS d, network, CAST(sum(views) AS INT) AS v FROM " +
                                               reader + " GROUP BY ALL ORDER BY ALL")) {
      out += row["d"].get<std::string>() + "|" + row["network"].get<std::string>() + "|" +
             std::to_string(row["v"].get<int64_t>()) + "\n";
    }
    return out;
  }
  int64_t Inode(const std::string& path) {
    auto info = fs_->Stat(path);
    EXPECT_TRUE(info.ok()) << path;
    return info.ok() ? static_cast<int64_t>(info->inode) : -1;
  }

  FileSystem* fs_ = FileSystem::Default();
  testing::TempDir dir_;
  std::unique_ptr<delta::DeltaTable> table_;
};

TEST_F(FileExportTest, OneFilePerDayRewrittenOnlyWhenTheDayChanges) {
  Write({{"2026-01-01", "YouTube", 10}, {"2026-01-01", "TikTok", 5}, {"2026-01-02", "YouTube", 7}});
  FileExport exporter({Target("csv")});
  auto r = exporter.Publish("gold");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->technique, "export");
  EXPECT_EQ(r->files_written, 2);
  EXPECT_EQ(r->rows_loaded, 3);
  const std::string out = dir_.Join("out-csv");
  const std::string day1 = out + "/day=2026-01-01/part-00000.csv", day2 = out + "/day=2026-01-02/part-00000.csv";
  EXPECT_TRUE(fs_->Stat(out + "/day=2026-01-01/_SUCCESS").ok());
  EXPECT_EQ(*fs_->ReadFile(day2), "day,network,views\n2026-01-02,YouTube,7\n");
  EXPECT_EQ(DuckSums("read_csv('" + out + "/*/part-00000.csv')"), "2026-01-01|TikTok|5\n2026-01-01|YouTube|10\n2026-01-02|YouTube|7\n");

  // Nothing new: nothing written.
  r = exporter.Publish("gold");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->technique, "up to date");

  // Day 2 changes, day 1 does not: only day 2's file is replaced (a new inode by rename).
  int64_t day1_inode = Inode(day1), day2_inode = Inode(day2);
  Write({{"2026-01-02", "X", 3}});
  r = exporter.Publish("gold");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_written, 1);
  EXPECT_EQ(r->files_unchanged, 1);
  EXPECT_EQ(Inode(day1), day1_inode);
  EXPECT_NE(Inode(day2), day2_inode);
  auto lag = exporter.Lag("gold");
  ASSERT_TRUE(lag.ok());
  EXPECT_EQ(lag->published_version, 2);
  EXPECT_EQ(lag->lag_versions, 0);

  // Day 1 leaves the table (an overwrite, as a materialized view refresh does): its folder goes.
  Write({{"2026-01-02", "YouTube", 7}, {"2026-01-02", "X", 3}, {"2026-01-03", "LinkedIn", 1}},
        delta::WriteMode::kOverwrite);
  r = exporter.Publish("gold");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_removed, 1);
  EXPECT_EQ(r->files_written, 1);  // day 3; day 2 has the same bytes
  EXPECT_FALSE(fs_->Stat(out + "/day=2026-01-01").ok());
  EXPECT_EQ(DuckSums("read_csv('" + out + "/*/part-00000.csv')"), "2026-01-02|X|3\n2026-01-02|YouTube|7\n2026-01-03|LinkedIn|1\n");
  auto progress = nlohmann::json::parse(*fs_->ReadFile(out + "/_lakepipe_export.json"));
  EXPECT_EQ(progress["version"], 3);
}

TEST_F(FileExportTest, AFailureMidWayLeavesWholeFilesAndTheNextPublicationCompletes) {
  Write({{"2026-01-01", "YouTube", 10}, {"2026-01-02", "YouTube", 7}, {"2026-01-03", "TikTok", 2}});
  // Each failing point of the writes in turn: files are whole, and a retry gets it right.
  for (int fail_at = 1;; ++fail_at) {
    SCOPED_TRACE(fail_at);
    const std::string out = dir_.Join("out-fail-" + std::to_string(fail_at));
    FaultInjectingFileSystem faulty(FileSystem::Default());
    faulty.FailAt(fail_at, FaultInjectingFileSystem::Fault::kIOError);
    FileExportTarget target{"gold", dir_.Join("gold"), out, "csv", "day"};
    FileExport broken({target}, &faulty);
    auto r = broken.Publish("gold");
    const bool fired = faulty.fired();
    if (fired) {
      EXPECT_FALSE(r.ok());
    }
    // Whatever is there is a whole file of the table's rows.
    if (auto entries = fs_->ListDir(out); entries.ok()) {
      for (const auto& e : *entries) {
        if (!e.is_dir) continue;
        auto text = fs_->ReadFile(out + "/" + e.name + "/part-00000.csv");
        if (text.ok()) {
          EXPECT_EQ(text->rfind("day,network,views\n", 0), 0u) << *text;
        }
      }
    }
    FileExport exporter({target});
    r = exporter.Publish("gold");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::map<std::string, std::string> expected = {{"2026-01-01", "2026-01-01,YouTube,10\n"},
                                                         {"2026-01-02", "2026-01-02,YouTube,7\n"},
                                                         {"2026-01-03", "2026-01-03,TikTok,2\n"}};
    for (const auto& [day, line] : expected) {
      auto text = fs_->ReadFile(out + "/day=" + day + "/part-00000.csv");
      ASSERT_TRUE(text.ok()) << day;
      EXPECT_EQ(*text, "day,network,views\n" + line);
      EXPECT_TRUE(fs_->Stat(out + "/day=" + day + "/_SUCCESS").ok()) << day;
    }
    EXPECT_EQ(exporter.Lag("gold")->lag_versions, 0);
    if (!fired) break;  // every write of a publication has failed once
    ASSERT_LT(fail_at, 200);
  }
}

TEST_F(FileExportTest, JsonParquetAndOneFileFormsReadBackEqual) {
  Write({{"2026-01-01", "YouTube", 10}, {"2026-01-01", "TikTok", 5}, {"2026-01-02", "YouTube", 7}});
  for (const FileExportTarget& t : {Target("json"), Target("parquet")}) {
    FileExport one({t});
    auto r = one.Publish("gold");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->files_written, 2);
    // A second publication of the same version with rebuild: the same bytes again (so an
    // unchanged day is recognised as unchanged).
    auto again = one.Publish("gold", /*rebuild=*/true);
    ASSERT_TRUE(again.ok());
    FileExport fresh({t});
    ASSERT_TRUE(fs_->RemoveFile(t.path + "/_lakepipe_export.json").ok());
    auto same = fresh.Publish("gold");
    ASSERT_TRUE(same.ok());
    EXPECT_EQ(same->files_unchanged, 2) << t.format;
  }
  const std::string expected = "2026-01-01|TikTok|5\n2026-01-01|YouTube|10\n2026-01-02|YouTube|7\n";
  EXPECT_EQ(DuckSums("read_json('" + dir_.Join("out-json") + "/*/part-00000.json')"), expected);
  EXPECT_EQ(DuckSums("read_parquet('" + dir_.Join("out-parquet") + "/*/part-00000.parquet')"), expected);
  FileExport one_file({{"gold", dir_.Join("gold"), dir_.Join("out-one"), "csv", ""}});
  auto r = one_file.Publish("gold");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->files_written, 1);
  EXPECT_TRUE(fs_->Stat(dir_.Join("out-one/_SUCCESS")).ok());
  EXPECT_EQ(DuckSums("read_csv('" + dir_.Join("out-one/part-00000.csv") + "')"), expected);
}

}  // namespace
}  // namespace lakepipe::publish
