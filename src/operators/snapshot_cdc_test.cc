// SnapshotDiff with ScdApply over an in-memory state and table: snapshots of customers
// (id; name, city; version `day`) taken through inserts, updates, deletes and keys that
// come back, as SCD type 1 and 2, against hand-written expected tables; the completeness
// rule (a version waits for a later one or the end of the backlog, its rows held across
// batches); late versions ignored and counted; duplicates within a snapshot.
#include "operators/snapshot_cdc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "operators/key_encoder.h"
#include "operators/scd.h"

namespace lakepipe::operators {
namespace {

using ::testing::HasSubstr;

// Both state interfaces in memory, with the store's pending/commit split.
class MemoryStates : public ScdKeyStates, public SnapshotStates {
 public:
  Result<std::optional<ScdKeyState>> Lookup(std::string_view key) override {
    auto p = pending_.find(std::string(key));
    if (p != pending_.end()) return std::optional<ScdKeyState>(p->second);
    auto c = keys_.find(std::string(key));
    if (c != keys_.end()) return std::optional<ScdKeyState>(c->second);
    return std::optional<ScdKeyState>();
  }
  void Put(std::string_view key, ScdKeyState state) override { pending_[std::string(key)] = std::move(state); }
  void Truncate(std::string sequence) override { truncate_ = std::move(sequence); }
  const std::optional<std::string>& truncate_sequence() const override { return truncate_; }
  Result<std::vector<std::pair<std::string, ScdKeyState>>> KeysAbove(const std::string&) override {
    return std::vector<std::pair<std::string, ScdKeyState>>();
  }

  Result<SnapshotProgress> LoadSnapshotProgress(const Schema&) override { return progress_; }
  Status ScanSnapshotKeys(const std::function<Status(std::string_view, std::string_view)>& fn) override {
    for (const auto& [k, v] : image_) LP_RETURN_IF_ERROR(fn(k, v));
    return Status::OK();
  }
  Status StageSnapshot(const SnapshotProgress& progress, const Schema&,
                       std::vector<std::pair<std::string, std::optional<std::string>>> image) override {
    staged_progress_ = progress;
    staged_image_ = std::move(image);
    return Status::OK();
  }

  void Commit() {
    for (auto& [k, s] : pending_) keys_[k] = s;
    pending_.clear();
    if (staged_progress_) progress_ = *staged_progress_;
    for (auto& [k, v] : staged_image_) {
      if (v) image_[k] = *v;
      else image_.erase(k);
    }
    staged_progress_.reset();
    staged_image_.clear();
  }
  size_t live_keys() const { return image_.size(); }

 private:
  std::map<std::string, ScdKeyState> keys_, pending_;
  std::optional<std::string> truncate_;
  SnapshotProgress progress_;
  std::optional<SnapshotProgress> staged_progress_;
  std::vector<std::pair<std::string, std::optional<std::string>>> staged_image_;
  std::map<std::string, std::string> image_;
};

struct Customer {
  int64_t id;
  const char* name;  // nullptr: NULL
  const char* city;
};

const Schema& SourceSchema() {
  static const Schema s = *Schema::ParseDDL("id BIGINT, name STRING, city STRING, day INT");
  return s;
}

RecordBatch Snapshot(int32_t day, const std::vector<Customer>& rows) {
  std::vector<Column> cols;
  for (const Field& f : SourceSchema().fields()) cols.emplace_back(f.type);
  for (const Customer& c : rows) {
    cols[0].Append<int64_t>(c.id);
    if (c.name) cols[1].AppendString(c.name);
    else cols[1].AppendNull();
    cols[2].AppendString(c.city);
    cols[3].Append<int32_t>(day);
  }
  return RecordBatch::FromColumns(SourceSchema(), std::move(cols));
}

// One flow over the memory states: each Batch is one micro-batch, applied to `table`.
class SnapshotFlow {
 public:
  SnapshotFlow(int scd_type, std::vector<std::string> tracked) {
    SnapshotSpec s;
    s.table = "dim";
    s.keys = {"id"};
    s.columns = {"id", "name", "city"};
    s.version_parts = {*expr::Bind(*expr::Expr::Column("day"), SourceSchema())};
    s.version_sql = "day";
    s.source_schema = SourceSchema();
    diff_ = std::make_unique<SnapshotDiff>(std::move(s));

    const Schema events = SnapshotDiff::EventSchema(SourceSchema());
    ScdSpec a;
    a.table = "dim";
    a.keys = {"id"};
    a.sequence_parts = {*expr::Bind(*expr::Expr::Column("day"), events)};
    a.sequence_sql = "day";
    a.delete_when = *expr::Bind(*expr::Expr::Column(SnapshotDiff::kDeleteColumn), events);
    a.source_schema = events;
    a.columns = {"id", "name", "city"};
    a.target_schema = *Schema::ParseDDL(scd_type == 2 ? "id BIGINT, name STRING, city STRING, __START_AT INT, __END_AT INT"
                                                      : "id BIGINT, name STRING, city STRING");
    a.scd_type = scd_type;
    a.tracked = std::move(tracked);
    a.sequence_type = DataType::Int();
    apply_ = std::make_unique<ScdApply>(a);
    table_ = RecordBatch::Empty(a.target_schema);
  }

  Result<SnapshotChanges> Batch(const std::vector<RecordBatch>& rows, bool end_of_backlog) {
    LP_ASSIGN_OR_RETURN(SnapshotChanges snap, diff_->Plan(rows, end_of_backlog, &states_));
    LP_ASSIGN_OR_RETURN(ScdChanges changes, apply_->Plan({snap.events}, &states_));
    // The table: rows of keys the batch does not touch, then the replacement rows.
    std::set<std::string> touched;
    std::string k;
    for (int64_t r = 0; r < changes.keys.num_rows(); ++r) {
      KeyEncoder::Encode({&changes.keys.column(0)}, r, &k);
      touched.insert(k);
    }
    std::vector<int32_t> kept;
    for (int64_t r = 0; r < table_.num_rows(); ++r) {
      KeyEncoder::Encode({table_.ColumnByName("id")}, r, &k);
      if (!touched.count(k)) kept.push_back(static_cast<int32_t>(r));
    }
    std::vector<ColumnPtr> cols;
    for (size_t c = 0; c < table_.num_columns(); ++c) cols.push_back(MakeColumn(table_.column(c).Take(kept)));
    RecordBatch rest(table_.schema(), std::move(cols), static_cast<int64_t>(kept.size()));
    LP_ASSIGN_OR_RETURN(RecordBatch replacement, changes.Replacement(rest, {"id"}));
    table_ = RecordBatch::Concat(table_.schema(), {rest, replacement});
    states_.Commit();
    return snap;
  }

  // "id|name|city[|start|end]" lines, sorted.
  std::vector<std::string> Rows() const {
    std::vector<std::string> out;
    for (int64_t r = 0; r < table_.num_rows(); ++r) {
      std::string line;
      for (size_t c = 0; c < table_.num_columns(); ++c) {
        Value v = table_.column(c).GetValue(r);
        line += (c ? "|" : "") + (v.is_null() ? std::string("NULL") : v.ToString());
      }
      out.push_back(line);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  MemoryStates& states() { return states_; }

 private:
  std::unique_ptr<SnapshotDiff> diff_;
  std::unique_ptr<ScdApply> apply_;
  MemoryStates states_;
  RecordBatch table_;
};

// Four snapshots: 2 changes name and 3 goes (day 2); 3 comes back changed (day 3); 1 goes
// and 4 moves city (day 4).
const std::vector<std::pair<int32_t, std::vector<Customer>>> kDays = {
    {1, {{1, "ana", "rio"}, {2, "bia", "sp"}, {3, "caio", "bh"}}},
    {2, {{1, "ana", "rio"}, {2, "bea", "sp"}, {4, "davi", "poa"}}},
    {3, {{1, "ana", "rio"}, {2, "bea", "sp"}, {3, "caio", "rec"}, {4, "davi", "poa"}}},
    {4, {{2, "bea", "sp"}, {3, "caio", "rec"}, {4, "davi", "cwb"}}},
};

TEST(SnapshotDiffTest, Scd1TableIsTheLatestSnapshotAfterEachVersion) {
  SnapshotFlow flow(1, {});
  const std::vector<std::vector<std::string>> want = {
      {"1|ana|rio", "2|bia|sp", "3|caio|bh"},
      {"1|ana|rio", "2|bea|sp", "4|davi|poa"},
      {"1|ana|rio", "2|bea|sp", "3|caio|rec", "4|davi|poa"},
      {"2|bea|sp", "3|caio|rec", "4|davi|cwb"},
  };
  const int64_t inserted[] = {3, 1, 1, 0}, updated[] = {0, 1, 0, 1}, deleted[] = {0, 1, 0, 1}, same[] = {0, 1, 3, 2};
  for (size_t d = 0; d < kDays.size(); ++d) {
    auto r = flow.Batch({Snapshot(kDays[d].first, kDays[d].second)}, /*end_of_backlog=*/true);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->snapshots, 1);
    EXPECT_EQ(r->inserted, inserted[d]) << "day " << kDays[d].first;
    EXPECT_EQ(r->updated, updated[d]) << "day " << kDays[d].first;
    EXPECT_EQ(r->deleted, deleted[d]) << "day " << kDays[d].first;
    EXPECT_EQ(r->unchanged, same[d]) << "day " << kDays[d].first;
    EXPECT_EQ(flow.Rows(), want[d]) << "day " << kDays[d].first;
  }
  EXPECT_EQ(flow.states().live_keys(), 3u);
}

TEST(SnapshotDiffTest, Scd2HistoryClosesVersionsAtTheSnapshotThatChangesOrLacksTheKey) {
  // name tracked, city not: 4's move on day 4 updates its open version in place.
  SnapshotFlow flow(2, {"name"});
  // All four snapshots in one micro-batch: processed in version order, as if one by one.
  std::vector<RecordBatch> all;
  for (auto it = kDays.rbegin(); it != kDays.rend(); ++it) all.push_back(Snapshot(it->first, it->second));
  auto r = flow.Batch(all, /*end_of_backlog=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->snapshots, 4);
  EXPECT_EQ(r->processed, "1, 2, 3, 4");
  EXPECT_EQ(flow.Rows(), (std::vector<std::string>{
                             "1|ana|rio|1|4",
                             "2|bea|sp|2|NULL",
                             "2|bia|sp|1|2",
                             "3|caio|bh|1|2",     // gone on day 2 ...
                             "3|caio|rec|3|NULL",  // ... back on day 3: a new version
                             "4|davi|cwb|2|NULL",
                         }));
  // The same snapshots one batch each give the same history.
  SnapshotFlow one_by_one(2, {"name"});
  for (const auto& [day, rows] : kDays) {
    auto b = one_by_one.Batch({Snapshot(day, rows)}, true);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
  }
  EXPECT_EQ(one_by_one.Rows(), flow.Rows());
}

TEST(SnapshotDiffTest, AVersionWaitsForALaterOneOrTheEndOfTheBacklog) {
  SnapshotFlow flow(2, {"name", "city"});
  // Day 1 in two parts, in two micro-batches: held, nothing applied.
  auto a = flow.Batch({Snapshot(1, {{1, "ana", "rio"}, {2, "bia", "sp"}})}, false);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->snapshots, 0);
  EXPECT_EQ(a->held_rows, 2);
  EXPECT_EQ(a->held_version, "1");
  EXPECT_TRUE(flow.Rows().empty());
  auto b = flow.Batch({Snapshot(1, {{3, "caio", "bh"}})}, false);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->held_rows, 3);
  EXPECT_TRUE(flow.Rows().empty());
  // Day 2 arrives: day 1 is complete (all three keys), day 2 is held in turn.
  auto c = flow.Batch({Snapshot(2, {{1, "ana", "rio"}})}, false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->snapshots, 1);
  EXPECT_EQ(c->inserted, 3);
  EXPECT_EQ(c->held_version, "2");
  EXPECT_EQ(flow.Rows(), (std::vector<std::string>{"1|ana|rio|1|NULL", "2|bia|sp|1|NULL", "3|caio|bh|1|NULL"}));
  // A batch with nothing new changes nothing; the end of the backlog completes day 2.
  auto d = flow.Batch({}, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->snapshots, 0);
  auto e = flow.Batch({}, true);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->snapshots, 1);
  EXPECT_EQ(e->deleted, 2);
  EXPECT_EQ(e->held_rows, 0);
  EXPECT_EQ(flow.Rows(), (std::vector<std::string>{"1|ana|rio|1|NULL", "2|bia|sp|1|2", "3|caio|bh|1|2"}));
}

TEST(SnapshotDiffTest, LateVersionsAreIgnoredAndCountedDuplicatesCountedConflictsRefused) {
  SnapshotFlow flow(1, {});
  ASSERT_TRUE(flow.Batch({Snapshot(1, {{1, "ana", "rio"}}), Snapshot(2, {{1, "ana", "sp"}})}, true).ok());
  const auto before = flow.Rows();
  EXPECT_EQ(before, (std::vector<std::string>{"1|ana|sp"}));
  // Rows of day 1 and day 2 again (a late part, a redelivered extract): never applied.
  auto late = flow.Batch({Snapshot(1, {{5, "eva", "rio"}}), Snapshot(2, {{6, "ivo", "sp"}, {1, "ana", "bh"}})}, true);
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->late_rows, 3);
  EXPECT_EQ(late->late_versions, "1, 2");
  EXPECT_EQ(late->snapshots, 0);
  EXPECT_EQ(late->events.num_rows(), 0);
  EXPECT_EQ(flow.Rows(), before);
  // A later day with one late row beside it: the late row is counted, the day applied.
  auto mixed = flow.Batch({Snapshot(3, {{1, "ana", "poa"}, {1, "ana", "poa"}}), Snapshot(2, {{7, "x", "y"}})}, true);
  ASSERT_TRUE(mixed.ok()) << mixed.status().ToString();
  EXPECT_EQ(mixed->late_rows, 1);
  EXPECT_EQ(mixed->duplicates, 1);  // the identical repeat of key 1 in day 3
  EXPECT_EQ(flow.Rows(), (std::vector<std::string>{"1|ana|poa"}));
  // One key twice with different values in a snapshot, or a NULL version: errors naming the key.
  auto conflict = flow.Batch({Snapshot(4, {{1, "ana", "rio"}, {1, "ana", "bh"}})}, true);
  ASSERT_FALSE(conflict.ok());
  EXPECT_THAT(conflict.status().message(), HasSubstr("key (id = 1) twice with different values"));
  RecordBatch null_day = Snapshot(5, {{9, "z", "z"}});
  Column day(DataType::Int());
  day.AppendNull();
  null_day = RecordBatch(SourceSchema(), {null_day.column_ptr(0), null_day.column_ptr(1), null_day.column_ptr(2),
                                          MakeColumn(std::move(day))}, 1);
  auto null_version = flow.Batch({null_day}, true);
  ASSERT_FALSE(null_version.ok());
  EXPECT_THAT(null_version.status().message(), HasSubstr("key (id = 9)"));
  EXPECT_THAT(null_version.status().message(), HasSubstr("NULL"));
}

}  // namespace
}  // namespace lakepipe::operators
