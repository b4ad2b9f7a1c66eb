// The pgoutput decoder on hand-built messages (the real server's are in
// cdc_reader_test.cc): every kind, protocol 2 stream messages, and truncated input that
// must be Corruption rather than a crash.
#include "pgcdc/pgoutput.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

#include "pgcdc/pg_type_map.h"

namespace lakepipe::pgcdc {
namespace {

struct Bytes {
  std::string s;
  Bytes& c(char v) { s.push_back(v); return *this; }
  Bytes& i16(uint16_t v) { return n(v, 2); }
  Bytes& i32(uint32_t v) { return n(v, 4); }
  Bytes& i64(uint64_t v) { return n(v, 8); }
  Bytes& str(const std::string& v) { s += v; s.push_back('\0'); return *this; }
  Bytes& n(uint64_t v, int k) {
    for (int i = k - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
};

TEST(PgOutputTest, RelationAndUpdateWithOldTuple) {
  Bytes rel;
  rel.c('R').i32(16384).str("shop").str("customers").c('f').i16(2);
  rel.c(1).str("id").i32(23).i32(0xffffffff).c(0).str("doc").i32(3802).i32(0xffffffff);
  auto r = DecodePgOutput(rel.s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->relname, "customers");
  EXPECT_EQ(r->replica_identity, 'f');
  ASSERT_EQ(r->columns.size(), 2u);
  EXPECT_TRUE(r->columns[0].is_key);
  EXPECT_EQ(r->columns[1].type_oid, 3802u);
  EXPECT_EQ(r->columns[1].type_modifier, -1);

  Bytes up;
  up.c('U').i32(16384).c('O').i16(2).c('t').i32(1).c('7').c('t').i32(2).c('{').c('}');
  up.c('N').i16(2).c('t').i32(1).c('8').c('u');
  auto u = DecodePgOutput(up.s);
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->old_kind, 'O');
  EXPECT_EQ(u->old_tuple[1].data, "{}");
  EXPECT_EQ(u->new_tuple[0].data, "8");
  EXPECT_EQ(u->new_tuple[1].kind, TupleValue::kUnchangedToast);
  // Every prefix of the message is refused cleanly.
  for (size_t n = 0; n < up.s.size(); ++n) EXPECT_FALSE(DecodePgOutput(up.s.substr(0, n)).ok()) << n;
}

TEST(PgOutputTest, BeginCommitTruncateAndStreamMessages) {
  Bytes b;
  b.c('B').i64(0x16B374D848).i64(1'000'000).i32(77);
  auto m = DecodePgOutput(b.s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->final_lsn, 0x16B374D848u);
  EXPECT_EQ(m->xid, 77u);
  EXPECT_EQ(m->timestamp_micros, kPgEpochOffsetMicros + 1'000'000);
  // 'infinity' (INT64_MAX) saturates instead of overflowing (make fuzz found it).
  Bytes inf;
  inf.c('B').i64(1).i64(std::numeric_limits<int64_t>::max()).i32(1);
  auto far = DecodePgOutput(inf.s);
  ASSERT_TRUE(far.ok());
  EXPECT_EQ(far->timestamp_micros, std::numeric_limits<int64_t>::max());
  Bytes c;
  c.c('C').c(0).i64(10).i64(20).i64(0);
  m = DecodePgOutput(c.s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->end_lsn, 20u);
  Bytes t;
  t.c('T').i32(2).c(3).i32(5).i32(6);
  m = DecodePgOutput(t.s);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->cascade && m->restart_identity);
  EXPECT_THAT(m->truncated, ::testing::ElementsAre(5u, 6u));
  // Protocol 2: inside a stream, changes carry the xid first.
  Bytes ins;
  ins.c('I').i32(99).i32(16384).c('N').i16(1).c('n');
  m = DecodePgOutput(ins.s, /*in_stream=*/true);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->xid, 99u);
  EXPECT_EQ(m->relation_oid, 16384u);
  Bytes sc;
  sc.c('c').i32(99).c(0).i64(1).i64(2).i64(3);
  m = DecodePgOutput(sc.s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, PgOutputMessage::kStreamCommit);
  EXPECT_FALSE(DecodePgOutput("Z").ok());
  EXPECT_FALSE(DecodePgOutput("").ok());
}

TEST(PgOutputTest, CopyEnvelopeAndStatus) {
  Bytes w;
  w.c('w').i64(5).i64(9).i64(0).c('B');
  auto m = DecodeCopyMessage(w.s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->data.wal_start, 5u);
  EXPECT_EQ(m->data.payload, "B");
  Bytes k;
  k.c('k').i64(42).i64(0).c(1);
  m = DecodeCopyMessage(k.s);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, CopyMessage::kKeepalive);
  EXPECT_TRUE(m->keepalive.reply_requested);
  std::string st = EncodeStandbyStatus(1, 2, 3, kPgEpochOffsetMicros, false);
  ASSERT_EQ(st.size(), 34u);
  EXPECT_EQ(st[0], 'r');
  EXPECT_EQ(st[16], 2);
  EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
  EXPECT_EQ(*ParseLsn("16/B374D848"), 0x16B374D848u);
  EXPECT_FALSE(ParseLsn("16B374D848").ok());
}

TEST(PgTypeMapTest, TypesAndTextValues) {
  EXPECT_EQ(MapPgType({1700, ((12 << 16) | 3) + 4, 0, ""}).ToString(), "decimal(12,3)");
  EXPECT_EQ(MapPgType({1700, -1, 0, ""}).ToString(), "string");
  EXPECT_EQ(MapPgType({1184, -1, 0, ""}).ToString(), "timestamp");
  EXPECT_EQ(MapPgType({1114, -1, 0, ""}).ToString(), "timestamp_ntz");
  EXPECT_EQ(MapPgType({3802, -1, 0, ""}).ToString(), "string");
  EXPECT_EQ(MapPgType({1007, -1, 23, ""}).ToString(), "array<int>");
  EXPECT_EQ(ParsePgText("{1,NULL,3}", DataType::Array(DataType::Int()))->ToString(), "[1, NULL, 3]");
  EXPECT_EQ(ParsePgText("{\"a,b\",\"q\\\"\"}", DataType::Array(DataType::String()))->ToString(), "[a,b, q\"]");
  EXPECT_FALSE(ParsePgText("{{1},{2}}", DataType::Array(DataType::Int())).ok());
  EXPECT_FALSE(ParsePgText("NaN", DataType::Decimal(10, 2)).ok());
  EXPECT_FALSE(ParsePgText("infinity", DataType::Timestamp()).ok());
  EXPECT_EQ(ParsePgText("2024-01-02 03:04:05+02", DataType::Timestamp())->ToString(), "2024-01-02 01:04:05");
  EXPECT_EQ(ParsePgText("t", DataType::Boolean())->ToString(), "true");
  EXPECT_EQ(UnescapeCopyField("a\\tb\\\\c\\n"), "a\tb\\c\n");
}

}  // namespace
}  // namespace lakepipe::pgcdc
