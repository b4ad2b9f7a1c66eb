#include "publish/publisher.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/kill_point.h"
#include "delta/change_feed.h"
#include "delta/table.h"
#include "common/pg_connection.h"
#include "publish/pg_types.h"
#include "sql/pipeline.h"

namespace lakepipe::publish {
namespace {

// One target's published column: its PostgreSQL name and the Delta field it comes from.
struct Column {
  std::string pg_name;
  Field field;
};

// Rows of some data files as COPY text lines (in `columns` order), with each row's key
// (its key fields' text, tab-separated).
struct Rows {
  std::vector<std::string> lines;
  std::vector<std::string> keys;
};

std::string Joined(const std::vector<std::string>& names, const std::string& prefix = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += prefix + QuoteIdent(names[i]);
  }
  return out;
}

// Encodes the rows of `batch` (a column it lacks encodes as NULL); `version` names the
// table version in errors.
Status EncodeBatch(const RecordBatch& batch, const std::vector<Column>& columns,
                   const std::vector<size_t>& key_positions, bool null_keys, const std::string& table,
                   int64_t version, Rows* out) {
  {
    std::vector<int> source(columns.size(), -1);
    for (size_t c = 0; c < columns.size(); ++c) source[c] = batch.schema().FindField(columns[c].field.name);
    std::vector<std::string> fields(columns.size());
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      std::string line, key;
      for (size_t c = 0; c < columns.size(); ++c) {
        fields[c].clear();
        if (source[c] < 0) {
          fields[c] = "\\N";
        } else {
          const Field& f = batch.schema().field(static_cast<size_t>(source[c]));
          AppendCopyField(batch.column(static_cast<size_t>(source[c])).GetValue(r), f.type, &fields[c]);
        }
        if (c > 0) line += '\t';
        line += fields[c];
      }
      for (size_t k = 0; k < key_positions.size(); ++k) {
        const std::string& v = fields[key_positions[k]];
        if (v == "\\N" && !null_keys) {
          return Status::Conflict("key column `" + columns[key_positions[k]].field.name + "` is NULL in a row of " +
                                  table + " version " + std::to_string(version) +
                                  "; a primary key cannot hold NULL before PostgreSQL 15: filter such rows out in "
                                  "the SQL or publish with another key");
        }
        if (k > 0) key += '\t';
        key += v;
      }
      line += '\n';
      out->lines.push_back(std::move(line));
      out->keys.push_back(std::move(key));
    }
  }
  return Status::OK();
}

// Reads files `which` of `snapshot` (all when null) and encodes their rows. A column the
// file's snapshot lacks encodes as NULL.
Status EncodeFiles(const delta::SnapshotPtr& snapshot, const std::set<std::string>* which,
                   const std::vector<Column>& columns, const std::vector<size_t>& key_positions,
                   bool null_keys, const std::string& table, Rows* out) {
  LP_ASSIGN_OR_RETURN(delta::Scan scan, delta::Scan::Plan(snapshot, {}));
  for (size_t i = 0; i < scan.files().size(); ++i) {
    if (which != nullptr && which->count(scan.files()[i].add.path) == 0) continue;
    LP_ASSIGN_OR_RETURN(RecordBatch batch, scan.ReadFile(i));
    LP_RETURN_IF_ERROR(EncodeBatch(batch, columns, key_positions, null_keys, table, snapshot->version(), out));
  }
  return Status::OK();
}

Status DuplicateKey(const std::string& table, int64_t version, const std::string& key) {
  std::string shown = key;
  std::replace(shown.begin(), shown.end(), '\t', ',');
  return Status::Conflict("key (" + shown + ") appears in two rows of " + table + " version " +
                          std::to_string(version) + "; the publish key must be unique");
}

std::string Concat(const std::vector<std::string>& lines) {
  size_t n = 0;
  for (const auto& l : lines) n += l.size();
  std::string out;
  out.reserve(n);
  for (const auto& l : lines) out += l;
  return out;
}

// The upserts and deletes that take a keyed table from version `from` to `to`, from the
// table's change data feed: per key, the last change wins (a removal — delete or
// update_preimage — leaves the key deleted unless a later insert or update_postimage
// brings it back); within a version removals come before additions. A key whose first
// change removes the row it had at `from` and whose last change puts the same row back is
// unchanged (counted, not sent); a key that did not exist at `from` and is gone at `to` is
// not sent either.
Status DiffFromChangeFeed(const delta::DeltaTable& table, int64_t from, int64_t to, const std::vector<Column>& columns,
                          const std::vector<size_t>& key_positions, bool null_keys, const std::string& name,
                          Rows* upserts, Rows* deletes, int64_t* unchanged) {
  delta::ChangeFeedOptions options;
  for (const auto& c : columns) options.columns.push_back(c.field.name);
  // Read a row group at a time: what is kept is the state per changed key below.
  LP_ASSIGN_OR_RETURN(std::unique_ptr<delta::ChangeReader> changes,
                      delta::ChangeReader::Open(table, from + 1, to, options));
  struct KeyState {
    bool existed = false;   // its first change removed a row present at `from`
    std::string original;   // that row
    bool live = false;      // a row of the key exists now
    std::string line;       // ... this one
  };
  std::unordered_map<std::string, KeyState> state;
  std::vector<std::string> order;
  int64_t current_version = -1;
  std::vector<std::pair<std::string, std::string>> pending_additions;  // of current_version
  auto flush = [&]() -> Status {
    for (auto& [key, line] : pending_additions) {
      auto [it, inserted] = state.try_emplace(key);
      if (inserted) order.push_back(key);
      // A second live row of a key (added without its old row removed): not unique.
      if (it->second.live) return DuplicateKey(name, current_version, key);
      it->second.live = true;
      it->second.line = std::move(line);
    }
    pending_additions.clear();
    return Status::OK();
  };
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, changes->Next(&b));
    if (!more) break;
    const ::lakepipe::Column* type = b.ColumnByName(delta::kChangeTypeColumn);
    const ::lakepipe::Column* version = b.ColumnByName(delta::kCommitVersionColumn);
    if (type == nullptr || version == nullptr) return Status::Internal("change feed batch without its columns");
    Rows encoded;
    LP_RETURN_IF_ERROR(EncodeBatch(b, columns, key_positions, null_keys, name, to, &encoded));
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      int64_t v = version->Get<int64_t>(r);
      if (v != current_version) {
        LP_RETURN_IF_ERROR(flush());
        current_version = v;
      }
      std::string_view t = type->GetString(r);
      std::string& key = encoded.keys[static_cast<size_t>(r)];
      if (t == delta::kChangeDelete || t == delta::kChangeUpdatePreimage) {
        auto [it, inserted] = state.try_emplace(key);
        if (inserted) {
          order.push_back(key);
          it->second.existed = true;
          it->second.original = encoded.lines[static_cast<size_t>(r)];
        }
        it->second.live = false;
      } else {
        pending_additions.emplace_back(std::move(key), std::move(encoded.lines[static_cast<size_t>(r)]));
      }
    }
  }
  LP_RETURN_IF_ERROR(flush());
  for (const std::string& key : order) {
    KeyState& k = state[key];
    if (k.live) {
      if (k.existed && k.line == k.original) {
        ++*unchanged;
        continue;
      }
      upserts->lines.push_back(std::move(k.line));
      upserts->keys.push_back(key);
    } else if (k.existed) {
      deletes->lines.push_back(key + "\n");
    }
  }
  return Status::OK();
}

}  // namespace

PublisherOptions OptionsFromSettings(const sql::PostgresPublish& settings,
                                     const std::function<std::string(const std::string&)>& table_path) {
  PublisherOptions o;
  o.dsn = settings.dsn;
  o.schema = settings.schema;
  o.reader_role = settings.reader_role;
  for (const auto& t : settings.tables) o.tables.push_back({t.table, table_path(t.table), t.target, t.key});
  return o;
}

Publisher::Publisher(PublisherOptions options, Clock* clock) : options_(std::move(options)), clock_(clock) {
  options_.schema = PgName(options_.schema);
  for (auto& t : options_.tables) t.target = PgName(t.target.empty() ? t.table : t.target);
}

Publisher::~Publisher() = default;

const PublishTarget* Publisher::Find(const std::string& table) const {
  for (const auto& t : options_.tables) {
    if (PgName(t.table) == PgName(table)) return &t;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> Publisher::Targets() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : options_.tables) out.emplace_back(t.table, options_.schema + "." + t.target);
  return out;
}

void Publisher::Disconnect() {
  conn_.reset();
  setup_done_ = false;
}

Status Publisher::Connect() {
  if (conn_ && !conn_->broken()) return Status::OK();
  Disconnect();
  LP_ASSIGN_OR_RETURN(conn_, PgConnection::Connect(options_.dsn, options_.connect_timeout_seconds));
  return Status::OK();
}

Status Publisher::Setup() {
  if (setup_done_) return Status::OK();
  const std::string schema = QuoteIdent(options_.schema);
  LP_RETURN_IF_ERROR(conn_->Exec("CREATE SCHEMA IF NOT EXISTS " + schema));
  LP_RETURN_IF_ERROR(conn_->Exec(
      "CREATE TABLE IF NOT EXISTS " + schema +
      ".lakepipe_publish (target_table text PRIMARY KEY, source_table text NOT NULL, delta_version bigint NOT NULL, "
      "delta_table_id text, delta_commit_time timestamptz, published_at timestamptz NOT NULL DEFAULT now(), technique text)"));
  if (!options_.reader_role.empty()) {
    const std::string role = PgName(options_.reader_role);
    // Two publishers may race to create the role: the loser's duplicate_object is fine.
    LP_RETURN_IF_ERROR(conn_->Exec("DO $lp$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " +
                                   QuoteLiteral(role) + ") THEN CREATE ROLE " + QuoteIdent(role) +
                                   " LOGIN; END IF; EXCEPTION WHEN duplicate_object THEN NULL; END $lp$"));
    LP_RETURN_IF_ERROR(conn_->Exec("GRANT USAGE ON SCHEMA " + schema + " TO " + QuoteIdent(role)));
    for (const auto& t : options_.tables) {
      std::string qualified = schema + "." + QuoteIdent(t.target);
      LP_ASSIGN_OR_RETURN(auto exists, conn_->Query("SELECT to_regclass($1)", {qualified}));
      if (!exists.empty() && exists[0][0].has_value()) {
        LP_RETURN_IF_ERROR(conn_->Exec("GRANT SELECT ON " + qualified + " TO " + QuoteIdent(role)));
      }
    }
  }
  setup_done_ = true;
  return Status::OK();
}

Result<PublishResult> Publisher::Publish(const std::string& table, bool rebuild) {
  const PublishTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.postgres.tables");
  int64_t start = clock_->NowMicros();
  Status st = Connect();
  if (st.ok()) st = Setup();
  if (!st.ok()) {
    Disconnect();
    return st;
  }
  Result<PublishResult> r = PublishInTransaction(*t, rebuild);
  if (!r.ok()) {
    if (conn_->broken()) {
      Disconnect();
    } else {
      (void)conn_->Exec("ROLLBACK");
    }
    return Status(r.status().code(), t->table + " -> " + options_.schema + "." + t->target + ": " + r.status().message());
  }
  r->duration_ms = (clock_->NowMicros() - start) / 1000;
  return r;
}

Result<PublishResult> Publisher::PublishInTransaction(const PublishTarget& t, bool rebuild) {
  PublishResult result;
  result.table = t.table;
  result.target = t.target;
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * delta_table, Table(t));
  if (delta_table == nullptr) {
    result.technique = "not created";
    return result;
  }
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr latest, delta_table->Latest());
  const int64_t version = latest->version();
  result.to_version = version;
  result.to_version_millis = latest->timestamp_millis();

  // The published columns: the Delta table's, in its order, under their lower-case names.
  std::vector<Column> columns;
  std::vector<std::string> names;
  for (const auto& f : latest->schema().fields()) {
    columns.push_back({PgName(f.name), f});
    names.push_back(PgName(f.name));
  }
  std::vector<size_t> key_positions;
  std::vector<std::string> key_names;
  for (const auto& k : t.key) {
    auto it = std::find(names.begin(), names.end(), PgName(k));
    if (it == names.end()) {
      return Status::Conflict("key column `" + k + "` is not a column of " + t.table + " version " +
                              std::to_string(version));
    }
    key_positions.push_back(static_cast<size_t>(it - names.begin()));
    key_names.push_back(PgName(k));
  }

  // A Gold GROUP BY has a NULL group when the column has NULLs: from PostgreSQL 15 the key
  // is UNIQUE NULLS NOT DISTINCT (NULL is one key value, as in GROUP BY); before, a
  // PRIMARY KEY, and a NULL key stops the table with an error.
  const bool null_keys = conn_->server_version() >= 150000;
  const std::string key_suffix = null_keys ? "_key" : "_pkey";
  const std::string schema = QuoteIdent(options_.schema);
  const std::string qualified = schema + "." + QuoteIdent(t.target);
  const std::string progress = schema + ".lakepipe_publish";
  LP_RETURN_IF_ERROR(conn_->Exec("BEGIN"));
  LP_RETURN_IF_ERROR(conn_->Query("INSERT INTO " + progress +
                                      " (target_table, source_table, delta_version) VALUES ($1, $2, -1) "
                                      "ON CONFLICT (target_table) DO NOTHING",
                                  {t.target, t.table})
                         .status());
  // The row lock serialises publishers of this table until COMMIT.
  LP_ASSIGN_OR_RETURN(auto rows, conn_->Query("SELECT delta_version, delta_table_id FROM " + progress +
                                                  " WHERE target_table = $1 FOR UPDATE",
                                              {t.target}));
  int64_t published = rows.empty() || !rows[0][0] ? -1 : std::stoll(*rows[0][0]);
  // A Delta table recreated under the same path (a new metaData.id) restarts its versions.
  bool same_table = !rows.empty() && rows[0][1].value_or("") == latest->metadata().id;
  result.from_version = published;
  LP_ASSIGN_OR_RETURN(auto exists_rows, conn_->Query("SELECT to_regclass($1)", {qualified}));
  bool exists = !exists_rows.empty() && exists_rows[0][0].has_value();
  if (!rebuild && exists && same_table && published == version) {
    LP_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
    result.technique = "up to date";
    return result;
  }

  // Keyed and already published: the difference between the two versions.
  bool replace = true;
  Rows upserts, deletes;
  if (rebuild) {
    result.reason = "rebuild";
  } else if (t.key.empty()) {
    result.reason = "no key";
  } else if (!exists || published < 0) {
    result.reason = "first publication";
  } else if (!same_table || published > version) {
    result.reason = "the Delta table was recreated (a new table id)";
  } else {
    replace = false;
  }
  if (!replace) {
    // Schema: new Delta columns are added; a changed or removed column stops this table.
    LP_ASSIGN_OR_RETURN(auto pg_columns,
                        conn_->Query("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                                     "attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                                     {qualified}));
    std::unordered_map<std::string, std::string> pg_types;
    for (const auto& row : pg_columns) pg_types[row[0].value_or("")] = row[1].value_or("");
    for (const auto& c : columns) {
      LP_ASSIGN_OR_RETURN(std::string type, PostgresType(c.field.type));
      auto it = pg_types.find(c.pg_name);
      if (it == pg_types.end()) {
        LP_RETURN_IF_ERROR(conn_->Exec("ALTER TABLE " + qualified + " ADD COLUMN " + QuoteIdent(c.pg_name) + " " + type));
        result.columns_added.push_back(c.pg_name);
      } else if (it->second != type) {
        return Status::Conflict("column `" + c.field.name + "` is now " + c.field.type.ToString() + " (" + type +
                                ") in the Delta table but " + it->second +
                                " in PostgreSQL; publication of this table stops (`lakepipe publish PIPELINE "
                                "--rebuild --table " + t.table + "` recreates it)");
      }
      if (it != pg_types.end()) pg_types.erase(it);
    }
    if (!pg_types.empty()) {
      return Status::Conflict("column `" + pg_types.begin()->first +
                              "` is no longer in the Delta table; publication of this table stops (`lakepipe "
                              "publish PIPELINE --rebuild --table " + t.table + "` recreates it)");
    }
    // With the change data feed, the changes of the versions in between are read as they
    // were recorded (only the changed rows, not whole rewritten files). Without it, or when
    // a version's change files are gone, the files removed and added between the versions
    // are compared; rows in both are unchanged.
    Status read;
    bool from_feed = false;
    if (delta::HasChangeDataFeed(*latest)) {
      Status feed = DiffFromChangeFeed(*delta_table, published, version, columns, key_positions, null_keys, t.table,
                                       &upserts, &deletes, &result.rows_unchanged);
      if (feed.code() == StatusCode::kConflict) return feed;
      from_feed = feed.ok();
      if (!from_feed) {
        upserts = Rows{};
        deletes = Rows{};
        result.rows_unchanged = 0;
        result.reason = "change data feed not readable (" + feed.message() + "): file difference";
      }
    }
    result.from_change_feed = from_feed;
    Rows removed_rows, added_rows;
    if (!from_feed) {
      Result<delta::SnapshotPtr> old = delta_table->AtVersion(published);
      if (old.ok()) {
        std::set<std::string> before, after, removed, added;
        for (const auto& f : (*old)->files()) before.insert(f.add.path);
        for (const auto& f : latest->files()) after.insert(f.add.path);
        std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::inserter(removed, removed.end()));
        std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::inserter(added, added.end()));
        read = EncodeFiles(*old, &removed, columns, key_positions, null_keys, t.table, &removed_rows);
        if (read.ok()) read = EncodeFiles(latest, &added, columns, key_positions, null_keys, t.table, &added_rows);
      } else {
        read = old.status();
      }
    }
    if (read.code() == StatusCode::kConflict) return read;
    if (from_feed) {
      // upserts / deletes came from the change data feed
    } else if (!read.ok()) {
      // VACUUM or log cleanup removed what the old version needs: reload from the latest.
      replace = true;
      result.reason = "version " + std::to_string(published) + " cannot be read any more (" + read.message() + ")";
    } else {
      std::unordered_map<std::string, int64_t> removed_count;
      for (const auto& l : removed_rows.lines) ++removed_count[l];
      std::unordered_set<std::string> upsert_keys;
      for (size_t i = 0; i < added_rows.lines.size(); ++i) {
        auto it = removed_count.find(added_rows.lines[i]);
        if (it != removed_count.end() && it->second > 0) {
          --it->second;
          ++result.rows_unchanged;
          continue;
        }
        if (!upsert_keys.insert(added_rows.keys[i]).second) return DuplicateKey(t.table, version, added_rows.keys[i]);
        upserts.lines.push_back(std::move(added_rows.lines[i]));
      }
      std::unordered_set<std::string> deleted;
      for (size_t i = 0; i < removed_rows.lines.size(); ++i) {
        auto it = removed_count.find(removed_rows.lines[i]);
        if (it == removed_count.end() || it->second <= 0) continue;
        --it->second;
        const std::string& key = removed_rows.keys[i];
        if (upsert_keys.count(key) == 0 && deleted.insert(key).second) deletes.lines.push_back(key + "\n");
      }
    }
  }

  if (replace) {
    Rows all;
    LP_RETURN_IF_ERROR(EncodeFiles(latest, nullptr, columns, key_positions, null_keys, t.table, &all));
    if (!t.key.empty()) {
      std::unordered_set<std::string> seen;
      for (const auto& k : all.keys) {
        if (!seen.insert(k).second) return DuplicateKey(t.table, version, k);
      }
    }
    // Loaded beside the old table, then swapped: readers keep reading the old rows during
    // the load and wait only for the DROP + RENAME, which commit with the progress row.
    const std::string fresh_name = t.target + "__lakepipe_new";
    const std::string fresh = schema + "." + QuoteIdent(fresh_name);
    std::string ddl = "CREATE TABLE " + fresh + " (";
    for (size_t i = 0; i < columns.size(); ++i) {
      LP_ASSIGN_OR_RETURN(std::string type, PostgresType(columns[i].field.type));
      ddl += (i > 0 ? ", " : "") + QuoteIdent(columns[i].pg_name) + " " + type;
    }
    if (!key_names.empty()) {
      ddl += ", CONSTRAINT " + QuoteIdent(fresh_name + key_suffix) +
             (null_keys ? " UNIQUE NULLS NOT DISTINCT (" : " PRIMARY KEY (") + Joined(key_names) + ")";
    }
    ddl += ")";
    LP_RETURN_IF_ERROR(conn_->Exec("DROP TABLE IF EXISTS " + fresh));
    LP_RETURN_IF_ERROR(conn_->Exec(ddl));
    LP_RETURN_IF_ERROR(conn_->CopyIn("COPY " + fresh + " (" + Joined(names) + ") FROM STDIN", Concat(all.lines)));
    LP_KILL_POINT("publish_replace_loaded");
    LP_RETURN_IF_ERROR(conn_->Exec("DROP TABLE IF EXISTS " + qualified));
    LP_RETURN_IF_ERROR(conn_->Exec("ALTER TABLE " + fresh + " RENAME TO " + QuoteIdent(t.target)));
    if (!key_names.empty()) {
      LP_RETURN_IF_ERROR(conn_->Exec("ALTER TABLE " + qualified + " RENAME CONSTRAINT " +
                                     QuoteIdent(fresh_name + key_suffix) + " TO " + QuoteIdent(t.target + key_suffix)));
    }
    if (!options_.reader_role.empty()) {
      LP_RETURN_IF_ERROR(conn_->Exec("GRANT SELECT ON " + qualified + " TO " + QuoteIdent(PgName(options_.reader_role))));
    }
    result.technique = "replace";
    result.rows_loaded = static_cast<int64_t>(all.lines.size());
  } else {
    if (!deletes.lines.empty()) {
      LP_RETURN_IF_ERROR(conn_->Exec("CREATE TEMP TABLE lakepipe_deletes ON COMMIT DROP AS SELECT " + Joined(key_names) +
                                     " FROM " + qualified + " WITH NO DATA"));
      LP_RETURN_IF_ERROR(conn_->CopyIn("COPY lakepipe_deletes (" + Joined(key_names) + ") FROM STDIN", Concat(deletes.lines)));
      std::string on;
      for (size_t k = 0; k < key_names.size(); ++k) {
        on += (k > 0 ? " AND " : "") + std::string("t.") + QuoteIdent(key_names[k]) + " IS NOT DISTINCT FROM d." +
              QuoteIdent(key_names[k]);
      }
      LP_RETURN_IF_ERROR(conn_->Exec("DELETE FROM " + qualified + " t USING lakepipe_deletes d WHERE " + on));
    }
    if (!upserts.lines.empty()) {
      LP_RETURN_IF_ERROR(conn_->Exec("CREATE TEMP TABLE lakepipe_upserts ON COMMIT DROP AS SELECT " + Joined(names) +
                                     " FROM " + qualified + " WITH NO DATA"));
      LP_RETURN_IF_ERROR(conn_->CopyIn("COPY lakepipe_upserts (" + Joined(names) + ") FROM STDIN", Concat(upserts.lines)));
      std::string set;
      for (const auto& n : names) {
        if (std::find(key_names.begin(), key_names.end(), n) != key_names.end()) continue;
        set += (set.empty() ? "" : ", ") + QuoteIdent(n) + " = EXCLUDED." + QuoteIdent(n);
      }
      LP_RETURN_IF_ERROR(conn_->Exec("INSERT INTO " + qualified + " (" + Joined(names) + ") SELECT " + Joined(names) +
                                     " FROM lakepipe_upserts ON CONFLICT (" + Joined(key_names) + ") DO " +
                                     (set.empty() ? std::string("NOTHING") : "UPDATE SET " + set)));
    }
    result.technique = "upsert";
    result.rows_upserted = static_cast<int64_t>(upserts.lines.size());
    result.rows_deleted = static_cast<int64_t>(deletes.lines.size());
  }
  LP_RETURN_IF_ERROR(conn_->Query("UPDATE " + progress +
                                      " SET delta_version = $2, delta_commit_time = to_timestamp($3::float8 / 1000), "
                                      "published_at = now(), technique = $4, source_table = $5, delta_table_id = $6 WHERE target_table = $1",
                                  {t.target, std::to_string(version), std::to_string(latest->timestamp_millis()),
                                   result.technique, t.table, latest->metadata().id})
                         .status());
  LP_KILL_POINT("publish_before_commit");
  LP_RETURN_IF_ERROR(conn_->Exec("COMMIT"));
  LP_KILL_POINT("publish_after_commit");
  return result;
}

Result<delta::DeltaTable*> Publisher::Table(const PublishTarget& t) { return tables_.Get(t.table, t.table_path); }

Result<int64_t> Publisher::LatestVersion(const std::string& table) {
  const PublishTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.postgres.tables");
  return tables_.LatestVersion(t->table, t->table_path);
}

Result<PublishLag> Publisher::Lag(const std::string& table, int64_t published_version) {
  const PublishTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.postgres.tables");
  PublishLag lag;
  lag.table = t->table;
  lag.target = t->target;
  if (published_version < -1) {
    LP_RETURN_IF_ERROR(Connect());
    LP_RETURN_IF_ERROR(Setup());
    LP_ASSIGN_OR_RETURN(auto rows, conn_->Query("SELECT delta_version FROM " + QuoteIdent(options_.schema) +
                                                    ".lakepipe_publish WHERE target_table = $1",
                                                {t->target}));
    published_version = rows.empty() || !rows[0][0] ? -1 : std::stoll(*rows[0][0]);
  }
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * delta_table, Table(*t));
  LP_RETURN_IF_ERROR(FillLag(delta_table, published_version, *clock_, &lag));
  return lag;
}

}  // namespace lakepipe::publish
