// SharedPartScans: views expected to read one table version by parts get one shared read
// whose parts, in each view's columns, are in order exactly what the view would read alone
// (a row group only one view could skip is read for all); a view that stops early lets the
// others go on; the window of parts held stays bounded; a failed read reaches every view;
// views not expected, asking twice, or reading another version read alone.
#include "runtime/shared_part_scan.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "delta/changes.h"
#include "testing/testing.h"

namespace lakepipe::runtime {
namespace {

Schema TestSchema() { return *Schema::ParseDDL("id BIGINT, name STRING, amount DOUBLE, qty INT"); }

RecordBatch Rows(int64_t from, int64_t to) {
  Schema schema = TestSchema();
  std::vector<Column> cols;
  for (const auto& f : schema.fields()) cols.emplace_back(f.type);
  for (int64_t id = from; id < to; ++id) {
    cols[0].Append<int64_t>(id);
    if (id % 7 == 0) {
      cols[1].AppendNull();
    } else {
      cols[1].AppendString("n" + std::to_string(id % 13));
    }
    cols[2].Append<double>(static_cast<double>(id % 11) + 0.25);
    cols[3].Append<int32_t>(static_cast<int32_t>(id % 5));
  }
  return RecordBatch::FromColumns(schema, std::move(cols));
}

// Each row in `columns`, in order.
std::vector<std::string> Lines(const std::vector<RecordBatch>& batches, const std::vector<std::string>& columns) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      std::string line;
      for (const auto& c : columns) {
        int i = b.schema().FindField(c);
        line += i < 0 ? "?" : b.column(static_cast<size_t>(i)).GetValue(r).ToString();
        line += "|";
      }
      out.push_back(line);
    }
  }
  return out;
}

parquet::ColumnPredicate IdAtLeast(int64_t v) {
  return parquet::ColumnPredicate{"id", parquet::ColumnPredicate::Op::kGe, Value::Int(v, TypeId::kLong)};
}

struct Ask {
  std::string view;
  std::vector<std::string> columns;
  std::vector<parquet::ColumnPredicate> predicates;
  int64_t cut_rows = 0;
  delta::SnapshotPtr snap;     // unset: the test's latest
  int64_t stop_after = -1;     // parts taken before the view lets go of its stream
  int64_t delay_ms = 0;        // per part (a slow aggregate)
  bool exact_parts = false;
};

struct Got {
  bool shared = false;
  int64_t sharing_views = 0;
  std::vector<RecordBatch> parts;
  Status status = Status::OK();
};

class SharedPartScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    delta::CreateOptions create;
    create.schema = TestSchema();
    auto t = delta::DeltaTable::Create(dir_.Join("t"), create);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    table_ = std::move(t).value();
    // Two commits of two files each, in row groups of ~100 rows: ids ascend, so a
    // predicate on id skips whole files and row groups.
    Append(0, 400);
    Append(400, 900);
  }

  void Append(int64_t from, int64_t to) {
    delta::WriteOptions options;
    options.parquet.row_group_bytes = 1024;
    std::vector<RecordBatch> batches;
    for (int64_t i = from; i < to; i += 100) batches.push_back(Rows(i, std::min(to, i + 100)));
    auto r = table_->Write(batches, options);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  delta::SnapshotPtr Latest() { return *table_->Latest(); }

  // What `ask` reads alone: the snapshot read by parts with its own predicates.
  std::vector<RecordBatch> Alone(const Ask& ask) {
    delta::ScanOptions options;
    options.columns = ask.columns;
    options.predicates = ask.predicates;
    auto reader = delta::SnapshotReader::Open(ask.snap ? ask.snap : Latest(), options);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::shared_ptr<delta::SnapshotReader> shared(std::move(reader).value());
    std::unique_ptr<BatchStream> parts = FunctionStream([shared](RecordBatch* out) { return shared->Next(out); });
    if (ask.cut_rows > 0) parts = SliceStream(std::move(parts), ask.cut_rows);
    std::vector<RecordBatch> out;
    RecordBatch b;
    while (true) {
      auto more = parts->Next(&b);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) break;
      out.push_back(b);
    }
    return out;
  }

  // Runs every ask on a thread of its own against `scans` (Begin'd by the caller).
  std::vector<Got> Run(SharedPartScans& scans, const std::vector<Ask>& asks) {
    std::vector<Got> got(asks.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < asks.size(); ++i) {
      threads.emplace_back([&, i] {
        const Ask& a = asks[i];
        auto stream = scans.Open("t", a.view, a.snap ? a.snap : Latest(), a.columns, a.predicates, a.cut_rows,
                                 a.exact_parts, &got[i].sharing_views);
        scans.Withdraw(a.view);
        if (!stream.ok()) {
          got[i].status = stream.status();
          return;
        }
        got[i].shared = *stream != nullptr;
        if (*stream == nullptr) return;
        RecordBatch b;
        for (int64_t n = 0; a.stop_after < 0 || n < a.stop_after; ++n) {
          auto more = (*stream)->Next(&b);
          if (!more.ok()) {
            got[i].status = more.status();
            break;
          }
          if (!*more) break;
          got[i].parts.push_back(b);
          if (a.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(a.delay_ms));
        }
      });
    }
    for (auto& t : threads) t.join();
    return got;
  }

  testing::TempDir dir_;
  std::unique_ptr<delta::DeltaTable> table_;
};

TEST_F(SharedPartScanTest, EachViewGetsInOrderWhatItReadsAloneInItsColumns) {
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b", "c"}}});
  // Different columns (c reads one the others do not); b alone has a predicate that
  // skips the first commit's files when b reads alone.
  std::vector<Ask> asks = {{"a", {"id", "amount"}, {}, 0},
                           {"b", {"qty"}, {IdAtLeast(500)}, 0},
                           {"c", {"name", "id"}, {}, 0}};
  std::vector<Got> got = Run(scans, asks);
  scans.End();
  EXPECT_EQ(scans.shared_reads(), 1);
  EXPECT_EQ(scans.views_served(), 3);
  for (size_t i = 0; i < asks.size(); ++i) {
    ASSERT_TRUE(got[i].status.ok()) << got[i].status.ToString();
    EXPECT_TRUE(got[i].shared) << asks[i].view;
    EXPECT_EQ(got[i].sharing_views, 3);
    // Every part holds the union of the columns, decoded once.
    for (const auto& p : got[i].parts) {
      for (const char* c : {"id", "amount", "qty", "name"}) EXPECT_GE(p.schema().FindField(c), 0) << c;
    }
  }
  // a and c: exactly their reads alone, in order.
  EXPECT_EQ(Lines(got[0].parts, {"id", "amount"}), Lines(Alone(asks[0]), {"id", "amount"}));
  EXPECT_EQ(Lines(got[2].parts, {"name", "id"}), Lines(Alone(asks[2]), {"name", "id"}));
  // b: its row groups skipped alone are read for the others too; its own filter still
  // runs, so the rows it keeps are those it keeps alone, in the same order.
  Ask b_with_id = asks[1];
  b_with_id.columns = {"id", "qty"};
  std::vector<std::string> kept, alone;
  for (const auto& line : Lines(got[1].parts, {"id", "qty"}))
    if (std::stoll(line.substr(0, line.find('|'))) >= 500) kept.push_back(line);
  for (const auto& line : Lines(Alone(b_with_id), {"id", "qty"}))
    if (std::stoll(line.substr(0, line.find('|'))) >= 500) alone.push_back(line);
  EXPECT_EQ(kept, alone);
  EXPECT_FALSE(kept.empty());
  EXPECT_LT(Lines(Alone(b_with_id), {"id"}).size(), Lines(got[1].parts, {"id"}).size())
      << "the predicate of b alone skips nothing: the test does not test skipping";
  EXPECT_EQ(Lines(got[1].parts, {"id"}).size(), 900u);
}

TEST_F(SharedPartScanTest, APredicateEveryViewHasSkipsRowGroupsForAll) {
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b"}}});
  std::vector<Ask> asks = {{"a", {"id"}, {IdAtLeast(650)}, 0}, {"b", {"amount"}, {IdAtLeast(650)}, 0}};
  std::vector<Got> got = Run(scans, asks);
  scans.End();
  ASSERT_TRUE(got[0].shared && got[1].shared);
  EXPECT_EQ(Lines(got[0].parts, {"id"}), Lines(Alone(asks[0]), {"id"}));
  EXPECT_EQ(Lines(got[1].parts, {"amount"}), Lines(Alone(asks[1]), {"amount"}));
  EXPECT_LT(Lines(got[0].parts, {"id"}).size(), 900u);
}

TEST_F(SharedPartScanTest, AViewThatNeedsExactlyItsOwnPartsSharesOnlyItsOwnSkipping) {
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b", "exact", "exact2"}}});
  // "exact" skips by id >= 500 and needs exactly its own parts: a and b have no such
  // predicate, so it reads alone; exact2 has the same predicate but does not need exact
  // parts: it shares with a and b.
  std::vector<Ask> asks = {{"a", {"id"}, {}, 0}, {"b", {"qty"}, {}, 0}, {"exact", {"id"}, {IdAtLeast(500)}, 0},
                           {"exact2", {"id"}, {IdAtLeast(500)}, 0}};
  asks[2].exact_parts = true;
  std::vector<Got> got = Run(scans, asks);
  EXPECT_TRUE(got[0].shared && got[1].shared && got[3].shared);
  EXPECT_FALSE(got[2].shared);
  EXPECT_EQ(got[0].sharing_views, 3);
  scans.End();
  // Among views that all have its predicate, it shares: the read skips what it skips.
  SharedPartScans again;
  again.Begin({{"t", {"exact", "other"}}});
  std::vector<Ask> same = {asks[2], {"other", {"amount"}, {IdAtLeast(500)}, 0}};
  got = Run(again, same);
  again.End();
  EXPECT_TRUE(got[0].shared && got[1].shared);
  EXPECT_EQ(Lines(got[0].parts, {"id"}), Lines(Alone(same[0]), {"id"}));
  EXPECT_EQ(got[0].parts.size(), Alone(same[0]).size());
}

TEST_F(SharedPartScanTest, CutPartsKeepTheOrderAndTheWindowStaysBounded) {
  SharedPartScans scans;
  scans.Begin({{"t", {"fast", "slow"}}});
  // Parts of at most 7 rows; one view takes its parts slowly: the decode thread
  // waits for it instead of holding the table.
  std::vector<Ask> asks = {{"fast", {"id"}, {}, 7}, {"slow", {"amount"}, {}, 7}};
  asks[1].delay_ms = 1;
  std::vector<Got> got = Run(scans, asks);
  scans.End();
  ASSERT_TRUE(got[0].shared && got[1].shared);
  EXPECT_EQ(got[0].parts.size(), Alone(asks[0]).size());
  EXPECT_GT(got[0].parts.size(), 128u);  // 900 rows in parts of at most 7
  for (const auto& p : got[0].parts) EXPECT_LE(p.num_rows(), 7);
  EXPECT_EQ(Lines(got[0].parts, {"id"}), Lines(Alone(asks[0]), {"id"}));
  EXPECT_EQ(Lines(got[1].parts, {"amount"}), Lines(Alone(asks[1]), {"amount"}));
  EXPECT_GE(scans.max_parts_held(), 1);
  EXPECT_LE(scans.max_parts_held(), static_cast<int64_t>(SharedPartScans::kWindowParts));
}

TEST_F(SharedPartScanTest, AViewThatStopsLetsTheOthersFinish) {
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "quits", "c"}}});
  std::vector<Ask> asks = {{"a", {"id"}, {}, 5}, {"quits", {"id"}, {}, 5}, {"c", {"qty"}, {}, 5}};
  asks[1].stop_after = 3;  // e.g. its aggregate failed on the third part
  std::vector<Got> got = Run(scans, asks);
  scans.End();
  EXPECT_EQ(got[1].parts.size(), 3u);
  EXPECT_EQ(Lines(got[0].parts, {"id"}), Lines(Alone(asks[0]), {"id"}));
  EXPECT_EQ(Lines(got[2].parts, {"qty"}), Lines(Alone(asks[2]), {"qty"}));
  EXPECT_LE(scans.max_parts_held(), static_cast<int64_t>(SharedPartScans::kWindowParts));
}

TEST_F(SharedPartScanTest, AFailedReadReachesEveryViewAfterThePartsBeforeIt) {
  // The last file goes missing: the parts of the files before it come out, then the
  // error, for both views.
  delta::SnapshotPtr snap = Latest();
  auto scan = delta::Scan::Plan(snap, {});
  ASSERT_TRUE(scan.ok());
  ASSERT_GE(scan->files().size(), 2u);
  const std::string lost = scan->files().back().full_path;
  ASSERT_TRUE(FileSystem::Default()->RemoveFile(lost).ok());
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b"}}});
  std::vector<Got> got = Run(scans, {{"a", {"id"}, {}, 0}, {"b", {"qty"}, {}, 0}});
  scans.End();
  for (const Got& g : got) {
    EXPECT_TRUE(g.shared);
    EXPECT_FALSE(g.status.ok());
    EXPECT_NE(g.status.ToString().find(lost.substr(lost.rfind('/') + 1)), std::string::npos) << g.status.ToString();
    EXPECT_GE(Lines(g.parts, {"id"}).size(), 1u);
    EXPECT_LT(Lines(g.parts, {"id"}).size(), 900u);
  }
}

TEST_F(SharedPartScanTest, ViewsThatCannotShareReadAlone) {
  delta::SnapshotPtr first = *table_->AtVersion(1);
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b", "old"}}, {"u", {"only"}}});
  // "old" reads another version: a and b share, "old" reads alone; "x" was not expected.
  std::vector<Ask> asks = {{"a", {"id"}, {}, 0}, {"b", {"id"}, {}, 0}, {"old", {"id"}, {}, 0}, {"x", {"id"}, {}, 0}};
  asks[2].snap = first;
  std::vector<Got> got = Run(scans, asks);
  EXPECT_TRUE(got[0].shared);
  EXPECT_TRUE(got[1].shared);
  EXPECT_FALSE(got[2].shared);
  EXPECT_FALSE(got[3].shared);
  // A table expected for one view only is never shared; asking twice reads alone.
  auto only = scans.Open("u", "only", Latest(), {"id"}, {}, 0);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(*only, nullptr);
  auto again = scans.Open("t", "a", Latest(), {"id"}, {}, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, nullptr);
  scans.End();
  EXPECT_EQ(scans.shared_reads(), 1);
}

TEST_F(SharedPartScanTest, AWithdrawnViewIsNotWaitedFor) {
  SharedPartScans scans;
  scans.Begin({{"t", {"a", "b", "gone"}}});
  // "gone" ends its update without reading (e.g. it was up to date).
  std::thread withdraw([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    scans.Withdraw("gone");
  });
  std::vector<Got> got = Run(scans, {{"a", {"id"}, {}, 0}, {"b", {"qty"}, {}, 0}});
  withdraw.join();
  scans.End();
  EXPECT_TRUE(got[0].shared && got[1].shared);
  EXPECT_EQ(got[0].sharing_views, 2);
  EXPECT_EQ(Lines(got[0].parts, {"id"}).size(), 900u);
}

}  // namespace
}  // namespace lakepipe::runtime
