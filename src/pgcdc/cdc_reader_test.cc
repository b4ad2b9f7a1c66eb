// CdcReader against a real PostgreSQL with wal_level = logical: snapshot consistent with
// the slot, the pgoutput decoding of every change kind and type, TOAST, replay of a range,
// confirmation, a server restart mid-stream, and each setup error with its fix.
#include "pgcdc/cdc_reader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pg_connection.h"
#include "testing/pg_test_server.h"
#include "testing/testing.h"

namespace lakepipe::pgcdc {
namespace {

using ::testing::HasSubstr;
using testing::PgTestServer;
using testing::TempDir;

// Rows as text: "col=value|col=value" for the named columns.
std::vector<std::string> RowsOf(const std::vector<RecordBatch>& batches, const std::vector<std::string>& cols) {
  std::vector<std::string> out;
  for (const auto& b : batches) {
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      std::string row;
      for (const auto& c : cols) {
        const Column* col = b.ColumnByName(c);
        row += (row.empty() ? "" : "|") + c + "=" + (col == nullptr ? "?" : col->GetValue(i).ToString());
      }
      out.push_back(row);
    }
  }
  return out;
}

class CdcReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pg = PgTestServer::Start({.logical_replication = true});
    ASSERT_TRUE(pg.ok()) << pg.status().ToString();
    pg_ = pg->release();
  }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(pg_, nullptr);
    db_ = "cdc" + std::to_string(++counter_);
    ASSERT_TRUE(pg_->CreateDatabase(db_).ok());
    Psql("CREATE SCHEMA shop; CREATE TABLE shop.customers (id int PRIMARY KEY, name text, balance numeric(10,2), "
         "tags text[], doc jsonb, seen timestamptz, uid uuid, score float8, born date, raw bytea); "
         "ALTER TABLE shop.customers REPLICA IDENTITY FULL");
  }
  void TearDown() override {
    // Slots pin the database; drop them so the next test's database is independent.
    (void)pg_->Psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '" + db_ +
                    "' AND NOT active", db_);
  }
  std::string Psql(const std::string& sql) {
    auto r = pg_->Psql(sql, db_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  CdcOptions Options() {
    auto o = ParseCdcOptions({{"dsn", pg_->Dsn(db_)}, {"tablename", "shop.customers"}, {"slot", "s_" + db_}});
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return *o;
  }
  std::unique_ptr<CdcReader> Open() {
    auto r = CdcReader::Open(Options(), FileSystem::Default());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  // Polls until the reader has a range past `after` (or gives up after ~10 s).
  Lsn PollUntil(CdcReader& r, Lsn after, int64_t max_rows = 1 << 30) {
    for (int i = 0; i < 100; ++i) {
      auto end = r.Poll(after, 100, max_rows);
      EXPECT_TRUE(end.ok()) << end.status().ToString();
      if (!end.ok()) return after;
      if (*end > after) return *end;
    }
    ADD_FAILURE() << "no change arrived after " << FormatLsn(after);
    return after;
  }

  static PgTestServer* pg_;
  static int counter_;
  std::string db_;
  TempDir dir_;
};
PgTestServer* CdcReaderTest::pg_ = nullptr;
int CdcReaderTest::counter_ = 0;

TEST_F(CdcReaderTest, SnapshotThenStreamEveryChangeKindAndType) {
  Psql("INSERT INTO shop.customers VALUES (1, 'ann', 10.50, '{a,\"b c\",NULL}', '{\"k\": 1}', "
       "'2024-01-02 03:04:05.123456+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1.5, '2020-02-29', '\\x0a0b'), "
       "(2, 'bob', NULL, '{}', NULL, NULL, NULL, 'NaN', NULL, NULL)");
  auto r = Open();
  ASSERT_NE(r, nullptr);
  std::vector<std::string> types;
  for (const auto& f : r->schema().fields()) types.push_back(f.name + " " + f.type.ToString());
  EXPECT_THAT(types, ::testing::ElementsAre("id int", "name string", "balance decimal(10,2)", "tags array<string>",
                                            "doc string", "seen timestamp", "uid string", "score double", "born date",
                                            "raw binary", "_change_type string", "_lsn bigint",
                                            "_commit_timestamp timestamp", "_xid bigint", "_rescued_data string"));
  std::string snap = dir_.path() + "/snapshot.copy";
  auto consistent = r->CreateSlot(&snap);
  ASSERT_TRUE(consistent.ok()) << consistent.status().ToString();
  // Changes after the slot exist: they are in the stream, not in the snapshot.
  std::string big(5000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919 + i / 13) % 26);
  Psql("INSERT INTO shop.customers (id, name, balance) VALUES (3, 'cy', 99999999.99)");
  Psql("BEGIN; UPDATE shop.customers SET name = 'ann2', doc = '{\"big\": \"" + big +
       "\"}' WHERE id = 1; DELETE FROM shop.customers WHERE id = 2; COMMIT");
  // An update leaving the TOASTed jsonb unchanged: the value comes from the before-image.
  Psql("UPDATE shop.customers SET name = 'ann3' WHERE id = 1");
  Psql("TRUNCATE shop.customers");

  auto snapshot = r->ReadSnapshot(snap);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(snapshot->next, -1);
  EXPECT_THAT(RowsOf(snapshot->batches, {"id", "name", "balance", "tags", "doc", "seen", "uid", "score", "born",
                                 "_change_type", "_lsn", "_rescued_data"}),
              ::testing::ElementsAre(
                  "id=1|name=ann|balance=10.50|tags=[a, b c, NULL]|doc={\"k\": 1}|seen=2024-01-02 "
                  "01:04:05.123456|uid=a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|score=1.5|born=2020-02-29|"
                  "_change_type=snapshot|_lsn=0|_rescued_data=NULL",
                  "id=2|name=bob|balance=NULL|tags=[]|doc=NULL|seen=NULL|uid=NULL|score=NaN|born=NULL|"
                  "_change_type=snapshot|_lsn=0|_rescued_data=NULL"));

  ASSERT_EQ(snapshot->batches.size(), 1u);
  EXPECT_EQ(snapshot->batches[0].ColumnByName("raw")->GetValue(0).string_value(), "\n\v");
  EXPECT_TRUE(snapshot->batches[0].ColumnByName("raw")->IsNull(1));

  // All four transactions, read as one range.
  Lsn end = *consistent;
  for (int i = 0; i < 50; ++i) {
    end = PollUntil(*r, *consistent);
    auto rows = r->Read(*consistent, end);
    ASSERT_TRUE(rows.ok());
    int64_t n = 0;
    for (const auto& b : *rows) n += b.num_rows();
    if (n >= 5) break;
  }
  auto rows = r->Read(*consistent, end);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  auto text = RowsOf(*rows, {"id", "name", "balance", "_change_type"});
  EXPECT_THAT(text, ::testing::ElementsAre("id=3|name=cy|balance=99999999.99|_change_type=insert",
                                           "id=1|name=ann2|balance=10.50|_change_type=update",
                                           "id=2|name=bob|balance=NULL|_change_type=delete",
                                           "id=1|name=ann3|balance=10.50|_change_type=update",
                                           "id=NULL|name=NULL|balance=NULL|_change_type=truncate"));
  // The unchanged TOASTed document is the previous value, not NULL.
  std::vector<std::string> docs;
  for (const auto& b : *rows)
    for (int64_t i = 0; i < b.num_rows(); ++i) docs.push_back(b.ColumnByName("doc")->GetValue(i).ToString());
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[1].size(), big.size() + 11) << docs[1].substr(0, 40);
  EXPECT_EQ(docs[3], docs[1]);
  // _lsn orders the changes; _xid and _commit_timestamp are set; one transaction shares them.
  std::vector<int64_t> lsn, xid;
  for (const auto& b : *rows)
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      lsn.push_back(b.ColumnByName("_lsn")->GetValue(i).int_value());
      xid.push_back(b.ColumnByName("_xid")->GetValue(i).int_value());
      EXPECT_FALSE(b.ColumnByName("_commit_timestamp")->IsNull(i));
    }
  EXPECT_TRUE(std::is_sorted(lsn.begin(), lsn.end()));
  EXPECT_GE(lsn[0], static_cast<int64_t>(*consistent));
  EXPECT_EQ(xid[1], xid[2]);
  EXPECT_NE(xid[0], xid[1]);
}

// Relation messages with a column added and a column dropped mid-stream: the source's
// schema stays what it was resolved as; an added column's values go to _rescued_data,
// a dropped column reads NULL, and nothing stops or is lost.
TEST_F(CdcReaderTest, ColumnAddedAndDroppedMidStream) {
  Psql("INSERT INTO shop.customers (id, name, score) VALUES (1, 'ann', 1.5)");
  auto r = Open();
  ASSERT_NE(r, nullptr);
  std::string snap = dir_.path() + "/snapshot.copy";
  auto consistent = r->CreateSlot(&snap);
  ASSERT_TRUE(consistent.ok()) << consistent.status().ToString();
  Psql("ALTER TABLE shop.customers ADD COLUMN loyalty text");
  Psql("INSERT INTO shop.customers (id, name, score, loyalty) VALUES (2, 'bob', 2.5, 'gold')");
  Psql("UPDATE shop.customers SET loyalty = 'silver', name = 'ann2' WHERE id = 1");
  Psql("ALTER TABLE shop.customers DROP COLUMN score");
  Psql("INSERT INTO shop.customers (id, name, loyalty) VALUES (3, 'cy', NULL)");
  Lsn end = *consistent;
  std::vector<std::string> text;
  for (int i = 0; i < 50 && text.size() < 3; ++i) {
    end = PollUntil(*r, end);
    auto rows = r->Read(*consistent, end);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    text = RowsOf(*rows, {"id", "name", "score", "_change_type", "_rescued_data"});
  }
  EXPECT_THAT(text, ::testing::ElementsAre(
                        "id=2|name=bob|score=2.5|_change_type=insert|_rescued_data={\"loyalty\":\"gold\"}",
                        "id=1|name=ann2|score=1.5|_change_type=update|_rescued_data={\"loyalty\":\"silver\"}",
                        "id=3|name=cy|score=NULL|_change_type=insert|_rescued_data=NULL"));
}

TEST_F(CdcReaderTest, RangeReplaysAfterRestartAndConfirmationMovesTheSlot) {
  auto r = Open();
  ASSERT_NE(r, nullptr);
  auto start = r->CreateSlot(nullptr);
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  for (int i = 0; i < 5; ++i) Psql("INSERT INTO shop.customers (id, name) VALUES (" + std::to_string(i) + ", 'n')");
  // Poll returns as soon as something arrived and nothing more is waiting, so the five
  // transactions are received first; then the cap alone decides where the range ends.
  for (int i = 0; i < 100 && r->buffered_rows(*start) < 5; ++i) (void)r->Poll(*start, 100, 1 << 30);
  ASSERT_EQ(r->buffered_rows(*start), 5);
  Lsn end = PollUntil(*r, *start, /*max_rows=*/2);
  auto first = r->Read(*start, end);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto first_rows = RowsOf(*first, {"id", "_lsn"});
  EXPECT_EQ(first_rows.size(), 2u) << "max_rows splits between transactions";

  // Another process (the reader after a crash) reads the same range: the same rows.
  r.reset();
  auto again = Open();
  ASSERT_NE(again, nullptr);
  auto replay = again->Read(*start, end);
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(RowsOf(*replay, {"id", "_lsn"}), first_rows);

  // Nothing moves the slot but Confirm.
  auto slot = again->FindSlot();
  ASSERT_TRUE(slot.ok() && *slot);
  EXPECT_EQ((*slot)->confirmed_flush, *start);
  ASSERT_TRUE(again->Confirm(end).ok());
  for (int i = 0; i < 50; ++i) {
    slot = again->FindSlot();
    if ((*slot)->confirmed_flush == end) break;
    (void)again->Poll(end, 100, 1 << 30);  // keepalive round trips carry the status
  }
  EXPECT_EQ(FormatLsn((*slot)->confirmed_flush), FormatLsn(end));
  // The rest continues after `end`.
  Lsn rest = PollUntil(*again, end);
  auto tail = again->Read(end, rest);
  ASSERT_TRUE(tail.ok());
  auto tail_rows = RowsOf(*tail, {"id"});
  ASSERT_FALSE(tail_rows.empty());
  EXPECT_EQ(tail_rows[0], "id=2");
}

// A transaction far larger than the spill threshold is spooled to a file while it is
// received and read back in parts; the parts together are exactly its changes, in WAL
// order, and equal a whole read of the same range; the file goes once the range is trimmed.
TEST_F(CdcReaderTest, LargeTransactionSpillsToDiskAndReadsByParts) {
  CdcOptions options = Options();
  options.spill_rows = 5000;
  options.spool_dir = dir_.Join("spool");
  auto opened = CdcReader::Open(options, FileSystem::Default());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto r = std::move(*opened);
  std::vector<std::string> warnings;
  r->SetWarn([&](const std::string& kind, const std::string&) { warnings.push_back(kind); });
  auto start = r->CreateSlot(nullptr);
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  Psql("BEGIN; INSERT INTO shop.customers (id, name, score) SELECT g, 'n' || g, g FROM generate_series(1, 300000) g; "
       "UPDATE shop.customers SET name = 'u' WHERE id % 1000 = 0; DELETE FROM shop.customers WHERE id % 997 = 0; "
       "COMMIT");
  Psql("INSERT INTO shop.customers (id, name) VALUES (0, 'small')");
  const int64_t changes = 300000 + 300 + 300000 / 997 + 1;
  for (int i = 0; i < 600 && r->buffered_rows(*start) < changes; ++i) (void)r->Poll(*start, 100, 1 << 30);
  ASSERT_EQ(r->buffered_rows(*start), changes);
  Lsn end = PollUntil(*r, *start);
  EXPECT_EQ(r->spilled_transactions(), 1);
  EXPECT_THAT(warnings, ::testing::Contains("postgres_cdc_spill"));
  auto spooled = FileSystem::Default()->ListDir(options.spool_dir);
  ASSERT_TRUE(spooled.ok());
  ASSERT_EQ(spooled->size(), 1u);
  EXPECT_THAT(spooled->front().name, ::testing::StartsWith("txn-"));

  std::vector<RecordBatch> parts_rows;
  int parts = 0;
  for (bool more = true; more; ++parts) {
    auto part = r->ReadPart(*start, end, parts, 40000, &more);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    int64_t n = 0;
    for (auto& b : *part) {
      n += b.num_rows();
      parts_rows.push_back(std::move(b));
    }
    EXPECT_LE(n, 40000) << "part " << parts;
  }
  EXPECT_GE(parts, 8);
  auto whole = r->Read(*start, end);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  auto rows = RowsOf(parts_rows, {"id", "name", "_change_type", "_lsn", "_xid"});
  EXPECT_EQ(rows, RowsOf(*whole, {"id", "name", "_change_type", "_lsn", "_xid"}));
  ASSERT_EQ(static_cast<int64_t>(rows.size()), changes);

  // Applying the changes in order gives the table PostgreSQL has.
  std::map<int64_t, std::string> table;
  int64_t last_lsn = 0;
  for (const auto& b : parts_rows) {
    const Column* id = b.ColumnByName("id");
    const Column* name = b.ColumnByName("name");
    const Column* kind = b.ColumnByName("_change_type");
    const Column* lsn = b.ColumnByName("_lsn");
    for (int64_t i = 0; i < b.num_rows(); ++i) {
      int64_t l = lsn->GetValue(i).int_value();
      EXPECT_GT(l, last_lsn);
      last_lsn = l;
      std::string k(kind->GetString(i));
      int64_t key = id->GetValue(i).int_value();
      if (k == "delete") table.erase(key);
      else table[key] = std::string(name->GetString(i));
    }
  }
  std::string ours;
  int64_t id_sum = 0;
  int64_t named_u = 0;
  for (const auto& [k, v] : table) {
    id_sum += k;
    named_u += v == "u";
  }
  ours = std::to_string(table.size()) + "|" + std::to_string(id_sum) + "|" + std::to_string(named_u) + "\n";
  EXPECT_EQ(ours, Psql("SELECT count(*) || '|' || sum(id) || '|' || count(*) FILTER (WHERE name = 'u') FROM "
                       "shop.customers"));

  // Once the range is confirmed and the stream moves past it, the spool file is gone.
  ASSERT_TRUE(r->Confirm(end).ok());
  (void)r->Poll(end, 100, 1 << 30);
  spooled = FileSystem::Default()->ListDir(options.spool_dir);
  ASSERT_TRUE(spooled.ok());
  EXPECT_TRUE(spooled->empty());
}

// What was committed before a stream started is there at the first Poll, however long the
// walsender takes to get to it: here it first decodes a large transaction of a table the
// publication leaves out (spilled to disk by a tiny logical_decoding_work_mem), which sends
// nothing for seconds, and the server commits asynchronously (the test server runs with
// synchronous_commit = off), so the last commit may not even be flushed when Poll starts.
// One Poll with no time to wait must still return it: "nothing arrived" is not "nothing
// is there" until the walsender reports (in band, after everything before it) that it
// has passed the WAL written before the stream started.
TEST_F(CdcReaderTest, FirstPollHasEverythingCommittedBeforeTheStreamStarted) {
  Psql("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
  Psql("SELECT pg_reload_conf()");
  Psql("CREATE TABLE shop.noise (id bigint, pad text)");
  for (int round = 0; round < 2; ++round) {
    auto r = Open();
    ASSERT_NE(r, nullptr);
    Lsn start = 0;
    if (round == 0) {
      auto created = r->CreateSlot(nullptr);
      ASSERT_TRUE(created.ok()) << created.status().ToString();
      start = *created;
    } else {
      auto slot = r->FindSlot();
      ASSERT_TRUE(slot.ok() && *slot);
      start = (*slot)->confirmed_flush;
    }
    Psql("INSERT INTO shop.noise SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 250000) g");
    Psql("INSERT INTO shop.customers (id, name) VALUES (" + std::to_string(round) + ", 'after the noise')");
    auto t0 = std::chrono::steady_clock::now();
    auto end = r->Poll(start, /*timeout_ms=*/0, 1 << 30);
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    std::cout << "round " << round << ": the first Poll took "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
              << " ms\n";
    ASSERT_GT(*end, start) << "the first Poll stopped short of a commit made before it";
    auto rows = r->Read(start, *end);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    EXPECT_THAT(RowsOf(*rows, {"id", "name", "_change_type"}),
                ::testing::ElementsAre("id=" + std::to_string(round) + "|name=after the noise|_change_type=insert"));
    ASSERT_TRUE(r->Confirm(*end).ok());
    // Confirmed positions reach the server with the next status message.
    for (int i = 0; i < 100; ++i) {
      auto slot = r->FindSlot();
      ASSERT_TRUE(slot.ok() && *slot);
      if ((*slot)->confirmed_flush >= *end) break;
      (void)r->Poll(*end, 50, 1 << 30);
    }
  }
  Psql("ALTER SYSTEM RESET logical_decoding_work_mem");
  Psql("SELECT pg_reload_conf()");
}

// A writer commits a row at a time while the slot is created and its snapshot copied:
// every row is in the snapshot or in the stream, never in both and never in neither, and
// the snapshot holds exactly the rows committed before the stream's first (one writer: the
// ids are in commit order).
TEST_F(CdcReaderTest, ConcurrentWriterDuringSlotCreationLosesAndDoublesNothing) {
  auto r = Open();
  ASSERT_NE(r, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::string error;
  std::thread writer([&] {
    auto conn = PgConnection::Connect(pg_->Dsn(db_));
    if (!conn.ok()) {
      error = conn.status().ToString();
      return;
    }
    for (int id = 1; !stop.load() || committed.load() < 400; ++id) {
      Status st = (*conn)->Exec("INSERT INTO shop.customers (id, name) VALUES (" + std::to_string(id) + ", 'w')");
      if (!st.ok()) {
        error = st.ToString();
        return;
      }
      committed.store(id);
    }
  });
  while (committed.load() < 100 && error.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::string snap = dir_.path() + "/snapshot.copy";
  auto consistent = r->CreateSlot(&snap);
  int during = committed.load();
  stop.store(true);
  writer.join();
  ASSERT_EQ(error, "");
  ASSERT_TRUE(consistent.ok()) << consistent.status().ToString();
  const int total = committed.load();
  ASSERT_GT(total, during) << "the writer went on after the slot existed";

  auto snapshot = r->ReadSnapshot(snap);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  std::vector<int64_t> snapshot_ids, stream_ids;
  for (const auto& b : snapshot->batches)
    for (int64_t i = 0; i < b.num_rows(); ++i) snapshot_ids.push_back(b.ColumnByName("id")->GetValue(i).int_value());
  Lsn end = *consistent;
  for (int i = 0; i < 100 && static_cast<int>(snapshot_ids.size() + stream_ids.size()) < total; ++i) {
    end = PollUntil(*r, end);
    auto rows = r->Read(*consistent, end);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    stream_ids.clear();
    for (const auto& b : *rows)
      for (int64_t k = 0; k < b.num_rows(); ++k) stream_ids.push_back(b.ColumnByName("id")->GetValue(k).int_value());
  }
  std::sort(snapshot_ids.begin(), snapshot_ids.end());
  ASSERT_FALSE(snapshot_ids.empty());
  // The snapshot: 1..k with no gap; the stream: k+1..total in commit order.
  EXPECT_EQ(snapshot_ids.front(), 1);
  EXPECT_EQ(snapshot_ids.back(), static_cast<int64_t>(snapshot_ids.size()));
  EXPECT_EQ(std::adjacent_find(snapshot_ids.begin(), snapshot_ids.end()), snapshot_ids.end());
  ASSERT_EQ(static_cast<int>(snapshot_ids.size() + stream_ids.size()), total)
      << snapshot_ids.size() << " in the snapshot, " << stream_ids.size() << " streamed";
  for (size_t i = 0; i < stream_ids.size(); ++i) {
    ASSERT_EQ(stream_ids[i], static_cast<int64_t>(snapshot_ids.size() + 1 + i)) << "streamed change " << i;
  }
  EXPECT_GE(static_cast<int>(snapshot_ids.size()), 100);
}

TEST(CdcLsnTest, InsertPositionAtAPageStartIsTheEndOfTheRecordBefore) {
  constexpr uint64_t seg = 16u << 20, blk = 8192;
  EXPECT_EQ(EndOfRecordsBefore(0x5000028, seg, blk), 0x5000000u);        // a segment's first page: long header
  EXPECT_EQ(EndOfRecordsBefore(0x5002018, seg, blk), 0x5002000u);        // another page: short header
  EXPECT_EQ(EndOfRecordsBefore(0x5000018, seg, blk), 0x5000018u);        // inside a segment's first page
  EXPECT_EQ(EndOfRecordsBefore(0x5002028, seg, blk), 0x5002028u);        // a record end inside a page
  EXPECT_EQ(EndOfRecordsBefore(0x1000000000028, seg, blk), 0x1000000000000u);
}

TEST_F(CdcReaderTest, ServerRestartMidStreamReconnects) {
  auto r = Open();
  ASSERT_NE(r, nullptr);
  auto start = r->CreateSlot(nullptr);
  ASSERT_TRUE(start.ok());
  std::vector<std::string> warnings;
  r->SetWarn([&](const std::string& kind, const std::string& m) { warnings.push_back(kind + ": " + m); });
  Psql("INSERT INTO shop.customers (id) VALUES (1)");
  Lsn a = PollUntil(*r, *start);
  // A server shutting down waits for its walsenders' clients to answer: keep polling
  // meanwhile, as a running pipeline does.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    EXPECT_TRUE(pg_->Stop().ok());
    stopped = true;
  });
  while (!stopped) (void)r->Poll(a, 50, 1 << 30);
  stopper.join();
  // While the server is down, polling waits (and says so) rather than failing.
  auto down = r->Poll(a, 100, 1 << 30);
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(*down, a);
  ASSERT_TRUE(pg_->Restart().ok());
  Psql("INSERT INTO shop.customers (id) VALUES (2)");
  Lsn b = a;
  for (int i = 0; i < 100 && b == a; ++i) {
    auto e = r->Poll(a, 100, 1 << 30);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    b = *e;
  }
  ASSERT_GT(b, a);
  auto rows = r->Read(*start, b);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_THAT(RowsOf(*rows, {"id"}), ::testing::ElementsAre("id=1", "id=2"));
  EXPECT_FALSE(warnings.empty()) << "the reconnect is reported";
}

TEST_F(CdcReaderTest, SetupErrorsNameTheSettingAndTheFix) {
  // The publication lacks the table.
  Psql("CREATE TABLE shop.other (id int); CREATE PUBLICATION p_other FOR TABLE shop.other");
  auto o = Options();
  o.publication = "p_other";
  auto r = CdcReader::Open(o, FileSystem::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("publication p_other does not include table shop.customers"));
  EXPECT_THAT(r.status().message(), HasSubstr("ALTER PUBLICATION \"p_other\" ADD TABLE shop.customers"));
  o.publication = "nope";
  r = CdcReader::Open(o, FileSystem::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("CREATE PUBLICATION \"nope\" FOR TABLE shop.customers"));

  // The role lacks REPLICATION.
  Psql("CREATE ROLE plain LOGIN; GRANT USAGE ON SCHEMA shop TO plain; GRANT SELECT ON shop.customers TO plain");
  o = Options();
  o.dsn += " user=plain";
  r = CdcReader::Open(o, FileSystem::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("role plain lacks the REPLICATION attribute"));
  EXPECT_THAT(r.status().message(), HasSubstr("ALTER ROLE plain REPLICATION"));

  // TOASTable columns without REPLICA IDENTITY FULL.
  Psql("ALTER TABLE shop.customers REPLICA IDENTITY DEFAULT");
  r = CdcReader::Open(Options(), FileSystem::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("ALTER TABLE shop.customers REPLICA IDENTITY FULL"));
  Psql("ALTER TABLE shop.customers REPLICA IDENTITY FULL");

  // The slot the flow used is gone.
  auto ok = Open();
  ASSERT_NE(ok, nullptr);
  auto start = ok->CreateSlot(nullptr);
  ASSERT_TRUE(start.ok());
  ASSERT_TRUE(ok->DropSlotIfExists().ok());
  auto poll = ok->Poll(*start, 100, 100);
  ASSERT_FALSE(poll.ok());
  EXPECT_THAT(poll.status().message(), HasSubstr("replication slot s_" + db_ + " of shop.customers no longer exists"));
  EXPECT_THAT(poll.status().message(), HasSubstr("--full-refresh"));

  // A missing table.
  o = Options();
  o.table = "nobody";
  r = CdcReader::Open(o, FileSystem::Default());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("PostgreSQL table shop.nobody does not exist"));
}

TEST_F(CdcReaderTest, InvalidatedSlotSaysMaxSlotWalKeepSize) {
  auto r = Open();
  ASSERT_NE(r, nullptr);
  auto start = r->CreateSlot(nullptr);
  ASSERT_TRUE(start.ok());
  Psql("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
  Psql("SELECT pg_reload_conf()");
  // Produce WAL well past the limit, then a checkpoint removes the segments the slot needs.
  for (int i = 0; i < 4; ++i) {
    Psql("INSERT INTO shop.customers (id, name) SELECT g + " + std::to_string(i * 100000) +
         ", repeat('x', 100) FROM generate_series(1, 20000) g; SELECT pg_switch_wal()");
  }
  Psql("CHECKPOINT");
  Psql("CHECKPOINT");
  auto poll = r->Poll(*start, 100, 100);
  Psql("ALTER SYSTEM RESET max_slot_wal_keep_size");
  Psql("SELECT pg_reload_conf()");
  ASSERT_FALSE(poll.ok()) << "wal_status: " << Psql("SELECT wal_status FROM pg_replication_slots");
  EXPECT_THAT(poll.status().message(), HasSubstr("was invalidated"));
  EXPECT_THAT(poll.status().message(), HasSubstr("max_slot_wal_keep_size"));
}

TEST(CdcWalLevelTest, ReplicaWalLevelIsRefusedWithTheSetting) {
  auto pg = PgTestServer::Start();  // wal_level = replica
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_TRUE((*pg)->Psql("CREATE TABLE t (id int)").ok());
  auto o = ParseCdcOptions({{"dsn", (*pg)->Dsn()}, {"tablename", "t"}, {"slot", "s"}});
  ASSERT_TRUE(o.ok());
  auto schema = DescribeCdcSchema(*o);
  ASSERT_FALSE(schema.ok());
  EXPECT_THAT(schema.status().message(), HasSubstr("wal_level is 'replica'"));
  EXPECT_THAT(schema.status().message(), HasSubstr("ALTER SYSTEM SET wal_level = logical"));
}

TEST(CdcOptionsTest, OptionsAreChecked) {
  EXPECT_THAT(ParseCdcOptions({{"tablename", "a.b"}}).status().message(), HasSubstr("needs dsn"));
  EXPECT_THAT(ParseCdcOptions({{"dsn", "x"}}).status().message(), HasSubstr("needs tableName"));
  EXPECT_THAT(ParseCdcOptions({{"dsn", "x"}, {"tablename", "a.b"}, {"slots", "y"}}).status().message(),
              HasSubstr("no option `slots`"));
  EXPECT_THAT(ParseCdcOptions({{"dsn", "x"}, {"tablename", "a.b"}, {"slot", "Bad-Name"}}).status().message(),
              HasSubstr("lower-case letters"));
  auto o = ParseCdcOptions({{"dsn", "x"}, {"tablename", "customers"}, {"snapshot", "FALSE"}});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->schema, "public");
  EXPECT_FALSE(o->snapshot);
  EXPECT_EQ(DefaultSlot("0a1b-2c"), "lakepipe_0a1b2c");
}

}  // namespace
}  // namespace lakepipe::pgcdc
