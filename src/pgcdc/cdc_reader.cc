#include "pgcdc/cdc_reader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "types/column.h"

namespace lakepipe::pgcdc {
namespace {

constexpr const char* kChangeType = "_change_type";

std::string QuoteId(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Plain(const CdcOptions& o) { return o.schema + "." + o.table; }

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Errors after which a reconnect may help: the server went away or is starting.
bool IsTransient(const Status& s) {
  const std::string& m = s.message();
  for (const char* needle : {"cannot connect", "57P01", "57P02", "57P03", "server closed the connection",
                             "the replication stream ended", "terminating connection", "no connection to the server",
                             "could not receive data", "could not send data", "connection to server",
                             "Connection refused", "the database system is"}) {
    if (m.find(needle) != std::string::npos) return true;
  }
  return false;
}

// Builds the rows of one transaction or snapshot chunk column by column.
class RowBuilder {
 public:
  explicit RowBuilder(const Schema& schema) {
    for (const auto& f : schema.fields()) columns.emplace_back(f.type);
  }
  std::vector<Column> columns;
};

RecordBatch ToBatch(const Schema& schema, std::vector<Column> columns) {
  return RecordBatch::FromColumns(schema, std::move(columns));
}

}  // namespace

Result<CdcOptions> ParseCdcOptions(const std::map<std::string, std::string>& options) {
  CdcOptions o;
  std::string table;
  for (const auto& [key, value] : options) {
    if (key == "dsn") o.dsn = value;
    else if (key == "tablename") table = value;
    else if (key == "slot") o.slot = value;
    else if (key == "publication") o.publication = value;
    else if (key == "snapshot") {
      std::string v = value;
      std::transform(v.begin(), v.end(), v.begin(), ::tolower);
      if (v != "true" && v != "false") return Status::InvalidArgument("read_postgres_cdc snapshot => must be true or false, not '" + value + "'");
      o.snapshot = v == "true";
    } else if (key == "maxrowspertrigger" || key == "spillrows") {
      char* end = nullptr;
      long long n = std::strtoll(value.c_str(), &end, 10);
      const char* name = key == "spillrows" ? "spillRows" : "maxRowsPerTrigger";
      if (value.empty() || *end != '\0' || n < 1)
        return Status::InvalidArgument("read_postgres_cdc " + std::string(name) + " => must be a number >= 1, not '" + value + "'");
      (key == "spillrows" ? o.spill_rows : o.max_rows_per_trigger) = n;
    } else {
      return Status::InvalidArgument("read_postgres_cdc has no option `" + key +
                                     "` (options: dsn, tableName, slot, publication, snapshot, maxRowsPerTrigger, "
                                     "spillRows)");
    }
  }
  if (o.dsn.empty()) return Status::InvalidArgument("read_postgres_cdc needs dsn => 'postgresql://user@host:5432/db'");
  if (table.empty()) return Status::InvalidArgument("read_postgres_cdc needs tableName => 'schema.table'");
  size_t dot = table.find('.');
  if (dot == std::string::npos) {
    o.table = table;
  } else {
    o.schema = table.substr(0, dot);
    o.table = table.substr(dot + 1);
  }
  if (o.schema.empty() || o.table.empty() || o.table.find('.') != std::string::npos)
    return Status::InvalidArgument("read_postgres_cdc tableName => 'schema.table', not '" + table + "'");
  for (const std::string* name : {&o.slot, &o.publication}) {
    if (name->size() > 63) return Status::InvalidArgument("read_postgres_cdc: `" + *name + "` is longer than 63 bytes");
  }
  for (char c : o.slot) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return Status::InvalidArgument("read_postgres_cdc slot => '" + o.slot +
                                     "': replication slot names use lower-case letters, digits and _ only");
  }
  return o;
}

std::string DefaultPublication(const CdcOptions& options) {
  std::string name = "lakepipe_" + options.schema + "_" + options.table;
  if (name.size() > 63) name.resize(63);
  return name;
}

std::string DefaultSlot(const std::string& flow_id) {
  std::string name = "lakepipe_";
  for (char c : flow_id)
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) name += c;
  if (name.size() > 63) name.resize(63);
  return name;
}

std::string CdcTable::Qualified() const { return QuoteId(schema) + "." + QuoteId(name); }

Result<CdcTable> DescribeTable(PgConnection& conn, const std::string& schema, const std::string& table) {
  LP_ASSIGN_OR_RETURN(auto rel, conn.Query("SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON "
                                           "n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND "
                                           "c.relkind IN ('r', 'p')",
                                           {schema, table}));
  if (rel.empty()) {
    return Status::NotFound("read_postgres_cdc: PostgreSQL table " + schema + "." + table +
                            " does not exist (tableName => 'schema.table'; names are case-sensitive)");
  }
  CdcTable t;
  t.oid = static_cast<uint32_t>(std::stoul(*rel[0][0]));
  t.schema = schema;
  t.name = table;
  t.replica_identity = (*rel[0][1])[0];
  LP_ASSIGN_OR_RETURN(
      auto cols,
      conn.Query("SELECT a.attname, bt.oid, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, "
                 "CASE WHEN bt.typcategory = 'A' THEN bt.typelem ELSE 0 END, format_type(a.atttypid, a.atttypmod), "
                 "a.attstorage "
                 "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                 "JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
                 "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                 {std::to_string(t.oid)}));
  for (const auto& c : cols) {
    CdcColumn col;
    col.name = *c[0];
    col.pg.oid = static_cast<uint32_t>(std::stoul(*c[1]));
    col.pg.type_modifier = std::stoi(*c[2]);
    col.pg.element_oid = static_cast<uint32_t>(std::stoul(*c[3]));
    col.pg.pg_name = *c[4];
    col.type = MapPgType(col.pg);
    col.toastable = *c[5] == "x" || *c[5] == "e";
    if (col.name.size() > 0 && col.name[0] == '_' &&
        (col.name == kChangeType || col.name == "_lsn" || col.name == "_commit_timestamp" || col.name == "_xid" ||
         col.name == "_rescued_data")) {
      return Status::InvalidArgument("read_postgres_cdc: table " + schema + "." + table + " has a column named " +
                                     col.name + ", which the source adds itself; rename it in PostgreSQL");
    }
    t.columns.push_back(std::move(col));
  }
  return t;
}

Schema CdcSchema(const CdcTable& table) {
  std::vector<Field> fields;
  for (const auto& c : table.columns) fields.push_back({c.name, c.type, true});
  fields.push_back({kChangeType, DataType::String(), true});
  fields.push_back({"_lsn", DataType::Long(), true});
  fields.push_back({"_commit_timestamp", DataType::Timestamp(), true});
  fields.push_back({"_xid", DataType::Long(), true});
  fields.push_back({"_rescued_data", DataType::String(), true});
  return Schema(std::move(fields));
}

namespace {

// The setup checks shared by validate and run; `create_publication` (run) creates or
// extends the default publication instead of failing.
Status CheckSetup(PgConnection& conn, const CdcOptions& o, const CdcTable& table, bool create_publication) {
  LP_ASSIGN_OR_RETURN(auto wal, conn.Query("SHOW wal_level"));
  if (wal.empty() || !wal[0][0] || *wal[0][0] != "logical") {
    return Status::InvalidArgument(
        "read_postgres_cdc: PostgreSQL wal_level is '" + (wal.empty() || !wal[0][0] ? std::string("?") : *wal[0][0]) +
        "', logical replication needs wal_level = logical: run ALTER SYSTEM SET wal_level = logical (or set it in "
        "postgresql.conf) and restart PostgreSQL");
  }
  LP_ASSIGN_OR_RETURN(auto role, conn.Query("SELECT rolreplication OR rolsuper, current_user FROM pg_roles WHERE "
                                            "rolname = current_user"));
  if (role.empty() || !role[0][0] || *role[0][0] != "t") {
    std::string user = role.empty() || !role[0][1] ? "the connecting role" : *role[0][1];
    return Status::InvalidArgument("read_postgres_cdc: role " + user +
                                   " lacks the REPLICATION attribute, which logical replication needs: as a "
                                   "superuser run ALTER ROLE " +
                                   user + " REPLICATION");
  }
  std::string fq = Plain(o);
  if (table.replica_identity != 'f') {
    std::vector<std::string> toast;
    for (const auto& c : table.columns)
      if (c.toastable) toast.push_back(c.name);
    if (!toast.empty() || table.replica_identity == 'n') {
      std::string list;
      for (const auto& n : toast) list += (list.empty() ? "" : ", ") + n;
      std::string ident = table.replica_identity == 'd' ? "DEFAULT" : table.replica_identity == 'n' ? "NOTHING" : "USING INDEX";
      return Status::InvalidArgument(
          "read_postgres_cdc: table " + fq + " has REPLICA IDENTITY " + ident +
          (toast.empty() ? "" : " and columns PostgreSQL may store out of line (TOAST: " + list + ")") +
          "; an update that leaves such a value unchanged does not carry it, and lakepipe does not write NULL "
          "for it: run ALTER TABLE " + fq + " REPLICA IDENTITY FULL (updates and deletes then carry the whole "
          "previous row)");
    }
  }
  std::string pub = o.publication.empty() ? DefaultPublication(o) : o.publication;
  LP_ASSIGN_OR_RETURN(auto p, conn.Query("SELECT pubinsert, pubupdate, pubdelete, pubtruncate, EXISTS (SELECT 1 "
                                         "FROM pg_publication_tables pt WHERE pt.pubname = p.pubname AND "
                                         "pt.schemaname = $2 AND pt.tablename = $3) FROM pg_publication p WHERE "
                                         "p.pubname = $1",
                                         {pub, o.schema, o.table}));
  std::string qpub = QuoteId(pub);
  if (p.empty()) {
    if (!o.publication.empty()) {
      return Status::InvalidArgument("read_postgres_cdc: publication " + pub +
                                     " does not exist: run CREATE PUBLICATION " + qpub + " FOR TABLE " + fq +
                                     " (or leave out publication => and lakepipe creates " + DefaultPublication(o) + ")");
    }
    if (!create_publication) return Status::OK();
    return conn.Exec("CREATE PUBLICATION " + qpub + " FOR TABLE " + table.Qualified());
  }
  if (*p[0][4] != "t") {
    if (o.publication.empty() && create_publication) {
      return conn.Exec("ALTER PUBLICATION " + qpub + " ADD TABLE " + table.Qualified());
    }
    return Status::InvalidArgument("read_postgres_cdc: publication " + pub + " does not include table " + fq +
                                   ": run ALTER PUBLICATION " + qpub + " ADD TABLE " + fq);
  }
  std::string missing;
  const char* actions[] = {"insert", "update", "delete", "truncate"};
  for (int i = 0; i < 4; ++i)
    if (*p[0][i] != "t") missing += (missing.empty() ? "" : ", ") + std::string(actions[i]);
  if (!missing.empty()) {
    return Status::InvalidArgument("read_postgres_cdc: publication " + pub + " does not publish " + missing +
                                   " (those changes would be missed): run ALTER PUBLICATION " + qpub +
                                   " SET (publish = 'insert, update, delete, truncate')");
  }
  return Status::OK();
}

}  // namespace

Result<Schema> DescribeCdcSchema(const CdcOptions& options) {
  LP_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(options.dsn));
  LP_ASSIGN_OR_RETURN(CdcTable table, DescribeTable(*conn, options.schema, options.table));
  LP_RETURN_IF_ERROR(CheckSetup(*conn, options, table, /*create_publication=*/false));
  return CdcSchema(table);
}

Result<std::unique_ptr<CdcReader>> CdcReader::Open(const CdcOptions& options, FileSystem* fs) {
  std::unique_ptr<CdcReader> r(new CdcReader(options, fs));
  if (r->options_.slot.empty()) return Status::InvalidArgument("read_postgres_cdc: no replication slot name");
  r->publication_ = options.publication.empty() ? DefaultPublication(options) : options.publication;
  LP_ASSIGN_OR_RETURN(r->conn_, PgConnection::Connect(options.dsn));
  LP_ASSIGN_OR_RETURN(r->table_, DescribeTable(*r->conn_, options.schema, options.table));
  LP_RETURN_IF_ERROR(CheckSetup(*r->conn_, options, r->table_, /*create_publication=*/true));
  r->schema_ = CdcSchema(r->table_);
  if (!options.spool_dir.empty()) {
    // Spool files of an earlier process are scratch (the slot resends their changes).
    LP_RETURN_IF_ERROR(fs->RemoveAll(options.spool_dir));
    LP_RETURN_IF_ERROR(fs->CreateDirs(options.spool_dir));
  }
  return r;
}

CdcReader::~CdcReader() { DropStream(Status::OK()); }

Result<std::optional<CdcReader::SlotState>> CdcReader::FindSlot() {
  if (!conn_ || conn_->broken()) {
    LP_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(options_.dsn));
  }
  LP_ASSIGN_OR_RETURN(auto rows, conn_->Query("SELECT confirmed_flush_lsn, restart_lsn, wal_status, plugin, database "
                                              "= current_database() FROM pg_replication_slots WHERE slot_name = $1",
                                              {options_.slot}));
  if (rows.empty()) return std::optional<SlotState>();
  SlotState s;
  if (rows[0][0]) {
    LP_ASSIGN_OR_RETURN(s.confirmed_flush, ParseLsn(*rows[0][0]));
  }
  if (rows[0][1]) {
    LP_ASSIGN_OR_RETURN(s.restart, ParseLsn(*rows[0][1]));
  }
  s.wal_status = rows[0][2].value_or("");
  if (rows[0][3].value_or("") != "pgoutput" || rows[0][4].value_or("") != "t") {
    return Status::InvalidArgument("read_postgres_cdc: replication slot " + options_.slot +
                                   " exists but is not a pgoutput slot of this database; name another slot => '...'");
  }
  return std::optional<SlotState>(s);
}

Status CdcReader::CheckSlotUsable(Lsn needed_from) {
  LP_ASSIGN_OR_RETURN(auto slot, FindSlot());
  std::string fix = "; the changes after " + FormatLsn(needed_from) +
                    " can no longer be read: rebuild the table from a new snapshot with `lakepipe run ... "
                    "--full-refresh <table>`";
  if (!slot) {
    return Status::NotFound("read_postgres_cdc: replication slot " + options_.slot + " of " + Plain(options_) +
                            " no longer exists (dropped by hand?)" + fix);
  }
  if (slot->wal_status == "lost" || (slot->restart == 0 && slot->confirmed_flush == 0)) {
    return Status::InvalidArgument("read_postgres_cdc: replication slot " + options_.slot +
                                   " was invalidated: PostgreSQL removed WAL it still needed because it exceeded "
                                   "max_slot_wal_keep_size (raise it, or -1 for no limit)" + fix);
  }
  return Status::OK();
}

Status CdcReader::DropSlotIfExists() {
  DropStream(Status::OK());
  LP_ASSIGN_OR_RETURN(auto slot, FindSlot());
  if (!slot) return Status::OK();
  LP_ASSIGN_OR_RETURN(auto stream, ReplicationStream::Connect(options_.dsn));
  return stream->DropSlot(options_.slot);
}

Result<Lsn> CdcReader::CreateSlot(const std::string* snapshot_path) {
  DropStream(Status::OK());
  LP_ASSIGN_OR_RETURN(auto stream, ReplicationStream::Connect(options_.dsn));
  auto created = stream->CreateSlot(options_.slot, snapshot_path != nullptr);
  if (!created.ok()) {
    if (created.status().message().find("42710") != std::string::npos) {
      return Status::AlreadyExists("read_postgres_cdc: replication slot " + options_.slot +
                                   " already exists and its snapshot is gone: drop it (SELECT "
                                   "pg_drop_replication_slot('" + options_.slot +
                                   "')), name another slot => '...', or use snapshot => false to stream from it");
    }
    return created.status();
  }
  if (snapshot_path != nullptr) {
    // Copy under the exported snapshot on a plain connection while the slot's connection
    // stays idle (its next command would end the snapshot).
    LP_ASSIGN_OR_RETURN(auto copy, PgConnection::Connect(options_.dsn));
    LP_RETURN_IF_ERROR(copy->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '" +
                                  created->snapshot_name + "'; SET LOCAL DateStyle = ISO; SET LOCAL bytea_output = hex"));
    std::string cols;
    for (const auto& c : table_.columns) cols += (cols.empty() ? "" : ", ") + QuoteId(c.name);
    std::string sql = "COPY (SELECT " + cols + " FROM " + table_.Qualified() + ") TO STDOUT";
    PGconn* pc = copy->native();
    PGresult* res = PQexec(pc, sql.c_str());
    bool copying = res != nullptr && PQresultStatus(res) == PGRES_COPY_OUT;
    Status st = copying ? Status::OK() : copy->Error(sql);
    if (res) PQclear(res);
    LP_RETURN_IF_ERROR(st);
    LP_ASSIGN_OR_RETURN(auto file, fs_->NewWritableFile(*snapshot_path, CreateMode::kTruncate));
    std::string chunk;
    for (;;) {
      char* buf = nullptr;
      int n = PQgetCopyData(pc, &buf, 0);
      if (n > 0) {
        chunk.append(buf, static_cast<size_t>(n));
        PQfreemem(buf);
        if (chunk.size() >= (1u << 20)) {
          LP_RETURN_IF_ERROR(file->Append(chunk));
          chunk.clear();
        }
        continue;
      }
      if (n == -2) return copy->Error("COPY of " + Plain(options_));
      break;
    }
    while (PGresult* r = PQgetResult(pc)) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && st.ok()) st = copy->Error("COPY of " + Plain(options_));
      PQclear(r);
    }
    LP_RETURN_IF_ERROR(st);
    LP_RETURN_IF_ERROR(file->Append(chunk));
    LP_RETURN_IF_ERROR(file->Sync());
    LP_RETURN_IF_ERROR(file->Close());
    LP_RETURN_IF_ERROR(copy->Exec("COMMIT"));
  }
  confirmed_ = created->consistent_point;
  return created->consistent_point;
}

Result<CdcReader::SnapshotPart> CdcReader::ReadSnapshot(const std::string& path, int64_t begin, int64_t max_rows) {
  LP_ASSIGN_OR_RETURN(auto file, fs_->NewRandomAccessFile(path));
  const size_t ncols = table_.columns.size();
  SnapshotPart out;
  RowBuilder rows(schema_);
  int64_t nrows = 0, part_rows = 0;
  auto flush = [&] {
    if (nrows == 0) return;
    out.batches.push_back(ToBatch(schema_, std::move(rows.columns)));
    rows = RowBuilder(schema_);
    nrows = 0;
  };
  // pending[used..] is what is read and not parsed yet; the consumed front is dropped only
  // when the next chunk is read (dropping it per row would move the buffer once per row).
  // base is the file offset of pending[0].
  std::string pending;
  size_t used = 0;
  int64_t base = begin;
  const int64_t size = file->Size();
  constexpr int64_t kChunk = 4 << 20;
  for (int64_t off = begin; off < size || used < pending.size();) {
    if (part_rows >= max_rows || static_cast<int64_t>(used) + base - begin >= options_.spill_bytes) {
      flush();
      out.next = base + static_cast<int64_t>(used);
      return out;
    }
    size_t nl = pending.find('\n', used);
    if (nl == std::string::npos) {
      if (off >= size) return Status::Corruption(path + ": snapshot ends inside a row");
      pending.erase(0, used);
      base += static_cast<int64_t>(used);
      used = 0;
      int64_t n = std::min(kChunk, size - off);
      size_t at = pending.size();
      pending.resize(at + static_cast<size_t>(n));
      LP_RETURN_IF_ERROR(file->ReadAt(off, n, pending.data() + at));
      off += n;
      continue;
    }
    std::string_view line(pending.data() + used, nl - used);
    nlohmann::json rescued;
    size_t start = 0;
    for (size_t c = 0; c < ncols; ++c) {
      size_t tab = line.find('\t', start);
      if ((tab == std::string_view::npos) != (c + 1 == ncols)) {
        return Status::Corruption(path + ": the row at byte " + std::to_string(base + static_cast<int64_t>(used)) +
                                  " has not " + std::to_string(ncols) + " fields");
      }
      std::string_view field = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
      start = tab + 1;
      if (field == "\\N") {
        rows.columns[c].AppendNull();
        continue;
      }
      // Fast paths for the common types (no escapes): no copy, no Value in between.
      if (field.find('\\') == std::string_view::npos) {
        TypeId id = table_.columns[c].type.id();
        if (id == TypeId::kString) {
          rows.columns[c].AppendString(field);
          continue;
        }
        if (id == TypeId::kLong || id == TypeId::kInt) {
          int64_t v = 0;
          auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
          if (ec == std::errc() && end == field.data() + field.size() &&
              (id == TypeId::kLong || (v >= INT32_MIN && v <= INT32_MAX))) {
            if (id == TypeId::kLong) rows.columns[c].Append<int64_t>(v);
            else rows.columns[c].Append<int32_t>(static_cast<int32_t>(v));
            continue;
          }
        }
      }
      std::string text = UnescapeCopyField(field);
      auto v = ParsePgText(text, table_.columns[c].type);
      if (v.ok()) {
        LP_RETURN_IF_ERROR(rows.columns[c].AppendValue(*v));
      } else {
        rows.columns[c].AppendNull();
        rescued[table_.columns[c].name] = text;
      }
    }
    rows.columns[ncols].AppendString("snapshot");
    rows.columns[ncols + 1].Append<int64_t>(0);
    rows.columns[ncols + 2].AppendNull();
    rows.columns[ncols + 3].AppendNull();
    if (rescued.is_null()) rows.columns[ncols + 4].AppendNull();
    else rows.columns[ncols + 4].AppendString(rescued.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    ++nrows;
    ++part_rows;
    used = nl + 1;
    if (nrows >= 65536) flush();
  }
  flush();
  out.next = -1;
  return out;
}

void CdcReader::Discard(Txn& t) {
  if (!t.spool_path.empty()) (void)fs_->RemoveFile(t.spool_path);
  t.spool_path.clear();
}

void CdcReader::DropStream(const Status& why) {
  socket_fd_.store(-1);
  stream_.reset();
  for (auto& t : buffer_) Discard(t);
  buffer_.clear();
  spool_file_.reset();
  if (open_) Discard(*open_);
  open_.reset();
  relations_ = std::make_shared<RelationMap>();
  cursor_ = ReadCursor();
  if (!why.ok() && warn_) warn_("postgres_cdc_reconnect", "read_postgres_cdc " + Plain(options_) + ": " + why.message());
}

Status CdcReader::EnsureStream(Lsn after) {
  if (stream_ && !stream_->broken() && after >= buffer_low_) return Status::OK();
  DropStream(stream_ && stream_->broken() ? Status::IOError("the replication connection was lost; reconnecting")
                                          : Status::OK());
  LP_RETURN_IF_ERROR(CheckSlotUsable(after));
  LP_ASSIGN_OR_RETURN(auto stream, ReplicationStream::Connect(options_.dsn));
  LP_RETURN_IF_ERROR(stream->Start(options_.slot, after, publication_));
  if (confirmed_ > 0) LP_RETURN_IF_ERROR(stream->SendStatus(confirmed_));
  stream_ = std::move(stream);
  socket_fd_.store(PQsocket(stream_->connection().native()));
  catch_up_since_ = std::chrono::steady_clock::now();
  last_ping_ = {};
  LP_ASSIGN_OR_RETURN(Lsn written, WalWrittenSoFar());
  catch_up_to_ = written > after ? written : 0;
  buffer_low_ = position_ = after;
  return Status::OK();
}

Result<Lsn> CdcReader::WalWrittenSoFar() {
  if (!conn_ || conn_->broken()) {
    LP_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(options_.dsn));
  }
  // The insert position, not the flushed one: under synchronous_commit = off a commit
  // returns before its WAL is flushed, and it still was committed before we started.
  LP_ASSIGN_OR_RETURN(auto rows, conn_->Query("SELECT pg_current_wal_insert_lsn()::text, (SELECT setting FROM "
                                              "pg_settings WHERE name = 'wal_segment_size'), (SELECT setting FROM "
                                              "pg_settings WHERE name = 'wal_block_size')"));
  if (rows.empty() || !rows[0][0] || !rows[0][1] || !rows[0][2])
    return Status::IOError("read_postgres_cdc: PostgreSQL did not report its WAL insert position");
  LP_ASSIGN_OR_RETURN(Lsn lsn, ParseLsn(*rows[0][0]));
  return EndOfRecordsBefore(lsn, std::stoull(*rows[0][1]), std::stoull(*rows[0][2]));
}

Lsn EndOfRecordsBefore(Lsn insert, uint64_t segment_size, uint64_t block_size) {
  // At a page start the insert position points past the page header, while the last
  // record (and the walsender's position after it) ends at the page boundary.
  constexpr uint64_t kShortHeader = 24, kLongHeader = 40;  // XLogPageHeaderData, XLogLongPageHeaderData
  if (segment_size > 0 && insert % segment_size == kLongHeader) return insert - kLongHeader;
  if (block_size > 0 && insert % block_size == kShortHeader && insert % segment_size >= block_size)
    return insert - kShortHeader;
  return insert;
}

void CdcReader::Trim(Lsn after) {
  while (!buffer_.empty() && buffer_.front().end_lsn <= after) {
    Discard(buffer_.front());
    buffer_.pop_front();
  }
  buffer_low_ = std::max(buffer_low_, after);
  position_ = std::max(position_, after);
}

void CdcReader::StartTxn(const PgOutputMessage& begin) {
  Txn t;
  t.commit_micros = begin.timestamp_micros;
  t.xid = begin.xid;
  for (const auto& f : schema_.fields()) t.columns.emplace_back(f.type);
  t.relations = relations_;
  open_ = std::move(t);
}

Result<bool> CdcReader::AppendChange(char change, const PgOutputMessage& m, Lsn lsn, const RelationMap& relations,
                                     int64_t commit_micros, uint32_t xid, std::vector<Column>& columns) const {
  const size_t ncols = table_.columns.size();
  std::vector<const TupleValue*> cells(ncols, nullptr);
  nlohmann::json rescued;
  if (change == 'T') {
    if (std::find(m.truncated.begin(), m.truncated.end(), table_.oid) == m.truncated.end()) return false;
  } else {
    auto rel = relations.find(m.relation_oid);
    if (rel == relations.end()) {
      return Status::Corruption("read_postgres_cdc: a change of relation " + std::to_string(m.relation_oid) +
                                " at " + FormatLsn(lsn) + " without its Relation message");
    }
    if (rel->second.empty()) return false;  // another table of a shared publication
    const Tuple& tuple = change == 'D' ? m.old_tuple : m.new_tuple;
    const auto& mapping = rel->second;
    for (size_t i = 0; i < tuple.size() && i < mapping.size(); ++i) {
      const TupleValue* v = &tuple[i];
      if (v->kind == TupleValue::kUnchangedToast) {
        if (m.old_kind == 'O' && i < m.old_tuple.size() && m.old_tuple[i].kind == TupleValue::kText) {
          v = &m.old_tuple[i];
        } else {
          return Status::InvalidArgument("read_postgres_cdc: the update of " + Plain(options_) + " at " +
                                         FormatLsn(lsn) + " left column " + mapping[i].first +
                                         " unchanged out of line (TOAST) and carries no before-image to take it "
                                         "from: run ALTER TABLE " + Plain(options_) +
                                         " REPLICA IDENTITY FULL, then rebuild with --full-refresh <table>");
        }
      }
      if (v->kind == TupleValue::kBinary) {
        return Status::NotSupported("read_postgres_cdc: binary tuple values (the publication's binary option)");
      }
      int col = mapping[i].second;
      if (col < 0) {
        if (v->kind == TupleValue::kText) rescued[mapping[i].first] = v->data;
        continue;
      }
      cells[static_cast<size_t>(col)] = v;
    }
  }
  for (size_t c = 0; c < ncols; ++c) {
    const TupleValue* v = cells[c];
    if (v == nullptr || v->kind == TupleValue::kNull) {
      columns[c].AppendNull();
      continue;
    }
    auto parsed = ParsePgText(v->data, table_.columns[c].type);
    if (parsed.ok()) {
      LP_RETURN_IF_ERROR(columns[c].AppendValue(*parsed));
    } else {
      columns[c].AppendNull();
      rescued[table_.columns[c].name] = v->data;
    }
  }
  const char* kind = change == 'I' ? "insert" : change == 'U' ? "update" : change == 'D' ? "delete" : "truncate";
  columns[ncols].AppendString(kind);
  columns[ncols + 1].Append<int64_t>(static_cast<int64_t>(lsn));
  columns[ncols + 2].Append<int64_t>(commit_micros);
  columns[ncols + 3].Append<int64_t>(static_cast<int64_t>(xid));
  if (rescued.is_null()) columns[ncols + 4].AppendNull();
  else columns[ncols + 4].AppendString(rescued.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return true;
}

std::vector<std::pair<std::string, int>> CdcReader::MappingOf(const PgOutputMessage& m) const {
  std::vector<std::pair<std::string, int>> mapping;
  if (m.nspname != table_.schema || m.relname != table_.name) return mapping;
  for (const auto& c : m.columns) {
    int idx = -1;
    for (size_t i = 0; i < table_.columns.size(); ++i)
      if (table_.columns[i].name == c.name) idx = static_cast<int>(i);
    mapping.emplace_back(c.name, idx);
  }
  if (mapping.empty()) mapping.emplace_back("", -1);  // a table without columns still is ours
  return mapping;
}

namespace {

// A spooled message: u32 payload length, u64 WAL start (the change's _lsn), payload.
constexpr size_t kFrameHeader = 12;

void AppendFrame(std::string& out, const XLogData& data) {
  uint32_t len = static_cast<uint32_t>(data.payload.size());
  uint64_t lsn = data.wal_start;
  out.append(reinterpret_cast<const char*>(&len), sizeof(len));
  out.append(reinterpret_cast<const char*>(&lsn), sizeof(lsn));
  out.append(data.payload);
}

}  // namespace

Status CdcReader::Spill(Txn& t) {
  if (t.spool_path.empty()) {
    if (t.rows <= options_.spill_rows && static_cast<int64_t>(t.raw.size()) <= options_.spill_bytes) return Status::OK();
    // Too large to hold: from now on its messages go to disk, and its rows are decoded
    // again from there when read.
    t.spool_path = JoinPath(options_.spool_dir, "txn-" + std::to_string(t.xid) + "-" + std::to_string(spilled_) + ".pgoutput");
    LP_ASSIGN_OR_RETURN(spool_file_, fs_->NewWritableFile(t.spool_path, CreateMode::kTruncate));
    std::vector<Column>().swap(t.columns);
    ++spilled_;
    if (warn_) {
      warn_("postgres_cdc_spill", "read_postgres_cdc " + Plain(options_) + ": transaction " + std::to_string(t.xid) +
                                      " has more than " + std::to_string(options_.spill_rows) +
                                      " changes (spillRows) or 64 MiB; it is spooled to " + t.spool_path +
                                      " and still committed whole");
    }
  }
  if (t.raw.size() >= (1u << 20)) {
    LP_RETURN_IF_ERROR(spool_file_->Append(t.raw));
    t.raw.clear();
  }
  return Status::OK();
}

Status CdcReader::ReadSpooled(const Txn& t, int64_t* offset, int64_t max_rows, std::vector<Column>* columns) {
  LP_ASSIGN_OR_RETURN(auto file, fs_->NewRandomAccessFile(t.spool_path));
  const int64_t size = file->Size();
  std::string buf;
  int64_t base = *offset;  // file offset of buf[0]
  size_t at = 0;
  auto need = [&](size_t n) -> Status {
    if (buf.size() - at >= n) return Status::OK();
    buf.erase(0, at);
    base += static_cast<int64_t>(at);
    at = 0;
    int64_t want = std::min<int64_t>(size - base - static_cast<int64_t>(buf.size()),
                                     std::max<int64_t>(4 << 20, static_cast<int64_t>(n)));
    if (static_cast<int64_t>(buf.size()) + want < static_cast<int64_t>(n))
      return Status::Corruption(t.spool_path + ": ends inside a message");
    size_t old = buf.size();
    buf.resize(old + static_cast<size_t>(want));
    return file->ReadAt(base + static_cast<int64_t>(old), want, buf.data() + old);
  };
  int64_t rows = 0;
  while (base + static_cast<int64_t>(at) < size && rows < max_rows) {
    LP_RETURN_IF_ERROR(need(kFrameHeader));
    uint32_t len;
    uint64_t lsn;
    std::memcpy(&len, buf.data() + at, sizeof(len));
    std::memcpy(&lsn, buf.data() + at + sizeof(len), sizeof(lsn));
    LP_RETURN_IF_ERROR(need(kFrameHeader + len));
    std::string_view payload(buf.data() + at + kFrameHeader, len);
    at += kFrameHeader + len;
    LP_ASSIGN_OR_RETURN(PgOutputMessage m, DecodePgOutput(payload));
    if (m.kind == PgOutputMessage::kRelation) {
      auto copy = std::make_shared<RelationMap>(*cursor_relations_);
      (*copy)[m.relation_oid] = MappingOf(m);
      cursor_relations_ = std::move(copy);
      continue;
    }
    LP_ASSIGN_OR_RETURN(bool ours, AppendChange(static_cast<char>(m.kind), m, lsn, *cursor_relations_,
                                                t.commit_micros, t.xid, *columns));
    if (ours) ++rows;
  }
  *offset = base + static_cast<int64_t>(at) < size ? base + static_cast<int64_t>(at) : -1;
  return Status::OK();
}

Status CdcReader::HandleMessage(const XLogData& data) {
  LP_ASSIGN_OR_RETURN(PgOutputMessage m, DecodePgOutput(data.payload));
  const bool spooling = !options_.spool_dir.empty();
  switch (m.kind) {
    case PgOutputMessage::kBegin:
      StartTxn(m);
      return Status::OK();
    case PgOutputMessage::kCommit: {
      if (!open_) return Status::Corruption("read_postgres_cdc: Commit without Begin at " + FormatLsn(m.end_lsn));
      Txn t = std::move(*open_);
      open_.reset();
      t.end_lsn = m.end_lsn;
      if (!t.spool_path.empty()) {
        Status st = spool_file_->Append(t.raw);
        if (st.ok()) st = spool_file_->Close();
        spool_file_.reset();
        if (!st.ok()) {
          Discard(t);
          return st;
        }
      }
      std::string().swap(t.raw);
      // The stream restarts at a transaction end: anything at or before it is consumed.
      if (t.end_lsn <= buffer_low_) {
        Discard(t);
        return Status::OK();
      }
      position_ = t.end_lsn;
      if (t.rows == 0) std::vector<Column>().swap(t.columns);
      buffer_.push_back(std::move(t));
      return Status::OK();
    }
    case PgOutputMessage::kRelation: {
      auto mapping = MappingOf(m);
      if (warn_) {
        for (const auto& [name, idx] : mapping) {
          if (idx < 0 && !name.empty()) {
            warn_("postgres_cdc_schema", "read_postgres_cdc " + Plain(options_) + ": column " + name +
                                             " is not in the source's schema; its values go to _rescued_data "
                                             "until a full refresh picks it up");
          }
        }
      }
      auto copy = std::make_shared<RelationMap>(*relations_);
      (*copy)[m.relation_oid] = std::move(mapping);
      relations_ = std::move(copy);
      // Inside a transaction it changes how its later changes decode: the spool keeps it.
      if (open_ && spooling) {
        AppendFrame(open_->raw, data);
        return Spill(*open_);
      }
      return Status::OK();
    }
    case PgOutputMessage::kInsert:
    case PgOutputMessage::kUpdate:
    case PgOutputMessage::kDelete:
    case PgOutputMessage::kTruncate: {
      if (!open_) return Status::Corruption("read_postgres_cdc: a change outside a transaction at " + FormatLsn(data.wal_start));
      Txn& t = *open_;
      bool ours = false;
      if (t.spool_path.empty()) {
        LP_ASSIGN_OR_RETURN(ours, AppendChange(static_cast<char>(m.kind), m, data.wal_start, *relations_,
                                               t.commit_micros, t.xid, t.columns));
      } else if (m.kind == PgOutputMessage::kTruncate) {
        ours = std::find(m.truncated.begin(), m.truncated.end(), table_.oid) != m.truncated.end();
      } else {
        auto rel = relations_->find(m.relation_oid);
        if (rel == relations_->end()) {
          return Status::Corruption("read_postgres_cdc: a change of relation " + std::to_string(m.relation_oid) +
                                    " at " + FormatLsn(data.wal_start) + " without its Relation message");
        }
        ours = !rel->second.empty();
      }
      if (!ours) return Status::OK();
      ++t.rows;
      if (!spooling) return Status::OK();
      AppendFrame(t.raw, data);
      return Spill(t);
    }
    case PgOutputMessage::kStreamStart:
    case PgOutputMessage::kStreamStop:
    case PgOutputMessage::kStreamCommit:
    case PgOutputMessage::kStreamAbort:
      return Status::NotSupported("read_postgres_cdc: the server streams an in-progress transaction, which lakepipe "
                                  "does not ask for");
    default:
      return Status::OK();  // Type, Origin, Message: nothing to do
  }
}

bool CdcReader::CaughtUp() {
  if (catch_up_to_ == 0) return true;
  // A fresh stream first decodes the WAL written before it started; a large transaction
  // (or much WAL of other tables) takes the walsender a while before anything is sent.
  // Until the walsender has passed that point, "nothing came" does not mean "nothing is
  // there": a run --once would stop short of it. The server's position comes in band: a
  // keepalive carries the WAL the walsender has decoded (and a commit its end), and the
  // stream is ordered, so every transaction before that position has been received
  // before it. A keepalive is asked for (reply requested) while waiting.
  if (stream_->wal_end() >= catch_up_to_ || position_ >= catch_up_to_) {
    catch_up_to_ = 0;
    return true;
  }
  auto now = std::chrono::steady_clock::now();
  if (now - catch_up_since_ > kCatchUpLimit) {
    if (warn_) {
      warn_("postgres_cdc_catch_up", "read_postgres_cdc " + Plain(options_) + ": the walsender has not reached " +
                                         FormatLsn(catch_up_to_) + " (the WAL written before the stream started) in " +
                                         std::to_string(kCatchUpLimit.count()) + " minutes; it stands at " +
                                         FormatLsn(stream_->wal_end()) + "; planning goes on with what arrived");
    }
    catch_up_to_ = 0;
    return true;
  }
  if (now - last_ping_ >= std::chrono::seconds(1)) {
    Status st = stream_->SendStatus(0, /*reply_requested=*/true);
    if (!st.ok()) return true;  // the caller's next Receive reports the broken connection
    last_ping_ = now;
  }
  return false;
}

Status CdcReader::ReceiveSome(int timeout_ms, int64_t max_rows) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t complete_before = buffer_.size();
  int64_t rows = 0;
  for (;;) {
    int wait = 0;
    if (open_) {
      wait = 100;  // a transaction is being sent: wait for the rest of it (Receive(0) reads nothing new)
    } else if (buffer_.size() == complete_before) {
      wait = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
    }
    LP_ASSIGN_OR_RETURN(auto data, stream_->Receive(wait));
    wal_end_ = std::max(wal_end_, stream_->wal_end());
    if (!data) {
      // Nothing waiting: done if something arrived or the time is up; a transaction in
      // the middle keeps us reading until its commit (the server is sending it: a large
      // one would otherwise never be planned by a run --once).
      if (open_) continue;
      if (buffer_.size() > complete_before) return Status::OK();
      if (std::chrono::steady_clock::now() >= deadline) {
        if (CaughtUp()) return Status::OK();
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
      }
      continue;
    }
    LP_RETURN_IF_ERROR(HandleMessage(*data));
    reconnects_ = 0;
    if (buffer_.size() > complete_before) {
      rows = 0;
      for (size_t i = complete_before; i < buffer_.size(); ++i) rows += buffer_[i].rows;
      if (rows >= max_rows && !open_) return Status::OK();
    }
  }
}

Result<Lsn> CdcReader::Poll(Lsn after, int timeout_ms, int64_t max_rows) {
  Status st = EnsureStream(after);
  if (st.ok()) {
    Trim(after);
    st = ReceiveSome(timeout_ms, max_rows);
  }
  if (!st.ok()) {
    if (!IsTransient(st)) return st;
    DropStream(st);
    int backoff = std::min(5000, 100 << std::min(reconnects_++, 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(backoff, std::max(timeout_ms, 10))));
  }
  polls_.fetch_add(1);
  Lsn end = after;
  int64_t rows = 0;
  for (const auto& t : buffer_) {
    if (t.end_lsn <= after) continue;
    if (rows > 0 && rows + t.rows > max_rows) break;
    end = t.end_lsn;
    rows += t.rows;
  }
  return end;
}

Status CdcReader::ReceiveUpTo(Lsn after, Lsn end) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  for (;;) {
    Status st = EnsureStream(after);
    if (st.ok()) {
      Trim(after);
      while (st.ok() && position_ < end) st = ReceiveSome(1000, INT64_MAX);
    }
    if (st.ok()) return st;
    if (!IsTransient(st) || std::chrono::steady_clock::now() > give_up) {
      return Status(st.code(), "read_postgres_cdc: reading " + Plain(options_) + " changes (" + FormatLsn(after) +
                                   ", " + FormatLsn(end) + "]: " + st.message());
    }
    DropStream(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(reconnects_++, 6))));
  }
}

Result<std::vector<RecordBatch>> CdcReader::Read(Lsn after, Lsn end) {
  bool more = false;
  return ReadPart(after, end, 0, INT64_MAX, &more);
}

Result<std::vector<RecordBatch>> CdcReader::ReadPart(Lsn after, Lsn end, int part, int64_t max_rows, bool* more) {
  *more = false;
  if (part == 0) {
    LP_RETURN_IF_ERROR(ReceiveUpTo(after, end));
    Lsn last = after;
    for (const auto& t : buffer_) {
      if (t.end_lsn > end) break;
      if (t.end_lsn > after) last = t.end_lsn;
    }
    if (last != end) {
      return Status::Corruption("read_postgres_cdc: the planned range of " + Plain(options_) + " ends at " +
                                FormatLsn(end) + ", which is not the end of a transaction (the last one before it "
                                "ends at " + FormatLsn(last) + ")");
    }
    cursor_ = ReadCursor();
    cursor_.done = after;
  } else if (part != cursor_.next_part) {
    return Status::Internal("read_postgres_cdc: part " + std::to_string(part) + " of a range read out of order");
  }
  cursor_.next_part = part + 1;
  auto handed_out = [this](const Txn& t) {
    cursor_.done = t.end_lsn;
    cursor_.offset = 0;
    if (unconfirmed_.empty() || unconfirmed_.back().first < t.end_lsn) unconfirmed_.emplace_back(t.end_lsn, t.commit_micros);
  };
  std::vector<RecordBatch> out;
  // Transactions held in memory are mostly small (one order, a few rows): their rows are
  // gathered into one batch rather than one batch per transaction, which would make every
  // operator and writer downstream pay its per-batch cost per transaction.
  std::vector<Column> gathered;
  auto flush_gathered = [&] {
    if (gathered.empty() || gathered[0].size() == 0) return;
    out.push_back(ToBatch(schema_, std::move(gathered)));
    gathered.clear();
  };
  int64_t rows = 0;
  for (const auto& t : buffer_) {
    if (t.end_lsn <= cursor_.done) continue;
    if (t.end_lsn > end) break;
    if (rows > 0 && (rows >= max_rows || (t.spool_path.empty() && rows + t.rows > max_rows))) {
      *more = true;
      flush_gathered();
      return out;
    }
    if (t.spool_path.empty()) {
      if (t.rows > 0) {
        // The buffer keeps its own rows until trimmed: a replay reads them again.
        if (gathered.empty()) {
          for (const auto& f : schema_.fields()) gathered.emplace_back(f.type);
        }
        for (size_t c = 0; c < gathered.size(); ++c) gathered[c].AppendRange(t.columns[c], 0, t.rows);
      }
      rows += t.rows;
      handed_out(t);
      continue;
    }
    flush_gathered();
    if (cursor_.offset == 0) cursor_relations_ = t.relations;
    std::vector<Column> columns;
    for (const auto& f : schema_.fields()) columns.emplace_back(f.type);
    LP_RETURN_IF_ERROR(ReadSpooled(t, &cursor_.offset, max_rows - rows, &columns));
    int64_t n = columns.empty() ? 0 : columns[0].size();
    if (n > 0) out.push_back(ToBatch(schema_, std::move(columns)));
    rows += n;
    if (cursor_.offset >= 0) {  // the rest of this transaction is the next part's
      *more = true;
      return out;
    }
    handed_out(t);
  }
  flush_gathered();
  return out;
}

int64_t CdcReader::buffered_rows(Lsn after) const {
  int64_t n = 0;
  for (const auto& t : buffer_)
    if (t.end_lsn > after) n += t.rows;
  return n;
}

std::vector<std::pair<int64_t, int64_t>> CdcReader::CommitTimes(Lsn after, Lsn end) const {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& t : buffer_)
    if (t.end_lsn > after && t.end_lsn <= end && t.rows > 0) out.emplace_back(t.commit_micros, t.rows);
  return out;
}

Status CdcReader::Confirm(Lsn lsn) {
  if (lsn <= confirmed_) return Status::OK();
  confirmed_ = lsn;
  while (!unconfirmed_.empty() && unconfirmed_.front().first <= lsn) unconfirmed_.pop_front();
  if (stream_ && !stream_->broken()) {
    Status st = stream_->SendStatus(lsn);
    // A dead connection is reconnected later, which reports the position again.
    if (!st.ok()) DropStream(st);
  }
  return Status::OK();
}

CdcLag CdcReader::Lag() const {
  CdcLag lag;
  lag.bytes = wal_end_ > confirmed_ ? static_cast<int64_t>(wal_end_ - confirmed_) : 0;
  int64_t oldest = 0;
  if (!unconfirmed_.empty()) oldest = unconfirmed_.front().second;
  else
    for (const auto& t : buffer_)
      if (t.end_lsn > confirmed_) {
        oldest = t.commit_micros;
        break;
      }
  if (oldest > 0) lag.seconds = std::max<double>(0, static_cast<double>(NowMicros() - oldest) / 1e6);
  return lag;
}

}  // namespace lakepipe::pgcdc
