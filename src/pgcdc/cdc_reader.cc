#include "pgcdc/cdc_reader.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
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
    } else if (key == "maxrowspertrigger") {
      char* end = nullptr;
      long long n = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1)
        return Status::InvalidArgument("read_postgres_cdc maxRowsPerTrigger => must be a number >= 1, not '" + value + "'");
      o.max_rows_per_trigger = n;
    } else {
      return Status::InvalidArgument("read_postgres_cdc has no option `" + key +
                                     "` (options: dsn, tableName, slot, publication, snapshot, maxRowsPerTrigger)");
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
  return r;
}

CdcReader::~CdcReader() = default;

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

Result<std::vector<RecordBatch>> CdcReader::ReadSnapshot(const std::string& path) {
  LP_ASSIGN_OR_RETURN(auto file, fs_->NewRandomAccessFile(path));
  const size_t ncols = table_.columns.size();
  std::vector<RecordBatch> out;
  RowBuilder rows(schema_);
  int64_t nrows = 0;
  auto flush = [&] {
    if (nrows == 0) return;
    out.push_back(ToBatch(schema_, std::move(rows.columns)));
    rows = RowBuilder(schema_);
    nrows = 0;
  };
  // pending[used..] is what is read and not parsed yet; the consumed front is dropped only
  // when the next chunk is read (dropping it per row would move the buffer once per row).
  std::string pending;
  size_t used = 0;
  const int64_t size = file->Size();
  constexpr int64_t kChunk = 4 << 20;
  int64_t line_no = 0;
  for (int64_t off = 0; off < size || used < pending.size();) {
    size_t nl = pending.find('\n', used);
    if (nl == std::string::npos) {
      if (off >= size) return Status::Corruption(path + ": snapshot ends inside a row");
      pending.erase(0, used);
      used = 0;
      int64_t n = std::min(kChunk, size - off);
      size_t at = pending.size();
      pending.resize(at + static_cast<size_t>(n));
      LP_RETURN_IF_ERROR(file->ReadAt(off, n, pending.data() + at));
      off += n;
      continue;
    }
    std::string_view line(pending.data() + used, nl - used);
    ++line_no;
    nlohmann::json rescued;
    size_t start = 0;
    for (size_t c = 0; c < ncols; ++c) {
      size_t tab = line.find('\t', start);
      if ((tab == std::string_view::npos) != (c + 1 == ncols)) {
        return Status::Corruption(path + ":" + std::to_string(line_no) + ": not " + std::to_string(ncols) + " fields");
      }
      std::string_view field = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
      start = tab + 1;
      if (field == "\\N") {
        rows.columns[c].AppendNull();
        continue;
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
    used = nl + 1;
    if (nrows >= 65536) flush();
  }
  flush();
  return out;
}

void CdcReader::DropStream(const Status& why) {
  socket_fd_.store(-1);
  stream_.reset();
  buffer_.clear();
  open_.reset();
  relations_.clear();
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
  buffer_low_ = position_ = after;
  return Status::OK();
}

void CdcReader::Trim(Lsn after) {
  while (!buffer_.empty() && buffer_.front().end_lsn <= after) buffer_.pop_front();
  buffer_low_ = std::max(buffer_low_, after);
  position_ = std::max(position_, after);
}

void CdcReader::StartTxn(const PgOutputMessage& begin) {
  Txn t;
  t.commit_micros = begin.timestamp_micros;
  t.xid = begin.xid;
  for (const auto& f : schema_.fields()) t.columns.emplace_back(f.type);
  open_ = std::move(t);
}

Status CdcReader::AppendChange(char change, const PgOutputMessage& m, Lsn lsn) {
  auto rel = relations_.find(m.relation_oid);
  if (rel == relations_.end()) {
    return Status::Corruption("read_postgres_cdc: a change of relation " + std::to_string(m.relation_oid) +
                              " at " + FormatLsn(lsn) + " without its Relation message");
  }
  if (rel->second.empty()) return Status::OK();  // another table of a shared publication
  const size_t ncols = table_.columns.size();
  const Tuple& tuple = change == 'D' ? m.old_tuple : m.new_tuple;
  std::vector<const TupleValue*> cells(ncols, nullptr);
  nlohmann::json rescued;
  const auto& mapping = rel->second;
  for (size_t i = 0; i < tuple.size() && i < mapping.size(); ++i) {
    const TupleValue* v = &tuple[i];
    if (v->kind == TupleValue::kUnchangedToast) {
      if (m.old_kind == 'O' && i < m.old_tuple.size() && m.old_tuple[i].kind == TupleValue::kText) {
        v = &m.old_tuple[i];
      } else {
        return Status::InvalidArgument("read_postgres_cdc: the update of " + Plain(options_) + " at " + FormatLsn(lsn) +
                                       " left column " + mapping[i].first +
                                       " unchanged out of line (TOAST) and carries no before-image to take it from: "
                                       "run ALTER TABLE " + Plain(options_) +
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
  Txn& t = *open_;
  for (size_t c = 0; c < ncols; ++c) {
    const TupleValue* v = cells[c];
    if (v == nullptr || v->kind == TupleValue::kNull) {
      t.columns[c].AppendNull();
      continue;
    }
    auto parsed = ParsePgText(v->data, table_.columns[c].type);
    if (parsed.ok()) {
      LP_RETURN_IF_ERROR(t.columns[c].AppendValue(*parsed));
    } else {
      t.columns[c].AppendNull();
      rescued[table_.columns[c].name] = v->data;
    }
  }
  const char* kind = change == 'I' ? "insert" : change == 'U' ? "update" : change == 'D' ? "delete" : "truncate";
  t.columns[ncols].AppendString(kind);
  t.columns[ncols + 1].Append<int64_t>(static_cast<int64_t>(lsn));
  t.columns[ncols + 2].Append<int64_t>(t.commit_micros);
  t.columns[ncols + 3].Append<int64_t>(static_cast<int64_t>(t.xid));
  if (rescued.is_null()) t.columns[ncols + 4].AppendNull();
  else t.columns[ncols + 4].AppendString(rescued.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  ++t.rows;
  return Status::OK();
}

Status CdcReader::HandleMessage(const XLogData& data) {
  LP_ASSIGN_OR_RETURN(PgOutputMessage m, DecodePgOutput(data.payload));
  switch (m.kind) {
    case PgOutputMessage::kBegin:
      StartTxn(m);
      return Status::OK();
    case PgOutputMessage::kCommit: {
      if (!open_) return Status::Corruption("read_postgres_cdc: Commit without Begin at " + FormatLsn(m.end_lsn));
      Txn t = std::move(*open_);
      open_.reset();
      t.end_lsn = m.end_lsn;
      // The stream restarts at a transaction end: anything at or before it is consumed.
      if (t.end_lsn <= buffer_low_) return Status::OK();
      position_ = t.end_lsn;
      if (t.rows > 0) buffer_.push_back(std::move(t));
      else buffer_.push_back(Txn{t.end_lsn, t.commit_micros, t.xid, 0, {}});
      return Status::OK();
    }
    case PgOutputMessage::kRelation: {
      std::vector<std::pair<std::string, int>> mapping;
      if (m.nspname == table_.schema && m.relname == table_.name) {
        for (const auto& c : m.columns) {
          int idx = -1;
          for (size_t i = 0; i < table_.columns.size(); ++i)
            if (table_.columns[i].name == c.name) idx = static_cast<int>(i);
          if (idx < 0 && warn_) {
            warn_("postgres_cdc_schema", "read_postgres_cdc " + Plain(options_) + ": column " + c.name +
                                             " is not in the source's schema; its values go to _rescued_data "
                                             "until a full refresh picks it up");
          }
          mapping.emplace_back(c.name, idx);
        }
        if (mapping.empty()) mapping.emplace_back("", -1);  // a table without columns still is ours
      }
      relations_[m.relation_oid] = std::move(mapping);
      return Status::OK();
    }
    case PgOutputMessage::kInsert:
    case PgOutputMessage::kUpdate:
    case PgOutputMessage::kDelete:
      if (!open_) return Status::Corruption("read_postgres_cdc: a change outside a transaction at " + FormatLsn(data.wal_start));
      return AppendChange(static_cast<char>(m.kind), m, data.wal_start);
    case PgOutputMessage::kTruncate: {
      if (!open_) return Status::Corruption("read_postgres_cdc: a truncate outside a transaction");
      for (uint32_t oid : m.truncated) {
        if (oid != table_.oid) continue;
        PgOutputMessage row;
        row.relation_oid = oid;
        relations_.emplace(oid, std::vector<std::pair<std::string, int>>{{"", -1}});
        LP_RETURN_IF_ERROR(AppendChange('T', row, data.wal_start));
      }
      return Status::OK();
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

Status CdcReader::ReceiveSome(int timeout_ms, int64_t max_rows) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t complete_before = buffer_.size();
  int64_t rows = 0;
  for (;;) {
    int wait = 0;
    if (buffer_.size() == complete_before) {
      wait = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count()));
    }
    LP_ASSIGN_OR_RETURN(auto data, stream_->Receive(wait));
    wal_end_ = std::max(wal_end_, stream_->wal_end());
    if (!data) {
      // Nothing waiting: done if something arrived or the time is up; a transaction in
      // the middle keeps us reading until its commit (bounded by the deadline).
      if (buffer_.size() > complete_before || std::chrono::steady_clock::now() >= deadline) return Status::OK();
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

Result<std::vector<RecordBatch>> CdcReader::Read(Lsn after, Lsn end) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  for (;;) {
    Status st = EnsureStream(after);
    if (st.ok()) {
      Trim(after);
      while (st.ok() && position_ < end) st = ReceiveSome(1000, INT64_MAX);
    }
    if (st.ok()) break;
    if (!IsTransient(st) || std::chrono::steady_clock::now() > give_up) {
      return Status(st.code(), "read_postgres_cdc: reading " + Plain(options_) + " changes (" + FormatLsn(after) +
                                   ", " + FormatLsn(end) + "]: " + st.message());
    }
    DropStream(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(reconnects_++, 6))));
  }
  std::vector<RecordBatch> out;
  Lsn last = after;
  for (auto& t : buffer_) {
    if (t.end_lsn <= after) continue;
    if (t.end_lsn > end) break;
    last = t.end_lsn;
    unconfirmed_.emplace_back(t.end_lsn, t.commit_micros);
    if (t.rows == 0) continue;
    std::vector<Column> copy = t.columns;  // the buffer keeps its own until trimmed
    out.push_back(ToBatch(schema_, std::move(copy)));
  }
  if (last != end) {
    return Status::Corruption("read_postgres_cdc: the planned range of " + Plain(options_) + " ends at " +
                              FormatLsn(end) + ", which is not the end of a transaction (the last one before it "
                              "ends at " + FormatLsn(last) + ")");
  }
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
