#include "publish/kafka_sink.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/kill_point.h"
#include "delta/change_feed.h"
#include "delta/table.h"
#include "formats/json/json_writer.h"
#include "kafka/producer.h"
#include "kafka/topic_reader.h"
#include "sql/pipeline.h"

namespace lakepipe::publish {

namespace {

constexpr const char* kHeaderTable = "lakepipe.table";
constexpr const char* kHeaderTableId = "lakepipe.table_id";
constexpr const char* kHeaderVersion = "lakepipe.version";
constexpr const char* kHeaderSeq = "lakepipe.seq";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The key's bytes: text and binary as they are, anything else as its JSON text (42,
// 3.5, true, "2024-01-02"), so that equal values give equal keys (and partitions).
std::optional<std::string> KeyOf(const Column& c, int64_t row) {
  if (c.IsNull(row)) return std::nullopt;
  if (c.type().id() == TypeId::kString || c.type().id() == TypeId::kBinary) return std::string(c.GetString(row));
  std::string out;
  json::AppendJsonValue(c, row, json::JsonWriteOptions{}, &out);
  // Dates, timestamps and non-finite floats are JSON strings (no escapes): the key is the
  // text inside.
  if (out.size() >= 2 && out.front() == '"' && out.back() == '"') return out.substr(1, out.size() - 2);
  return out;
}

}  // namespace

struct KafkaSink::Progress {
  bool exists = false;
  std::string table_id;
  std::string topic;
  int64_t version = -1;                // last version whose messages are all acknowledged
  std::map<int32_t, int64_t> offsets;  // each partition's end offset right after
  int64_t updated_ms = 0;
};

KafkaSinkOptions KafkaSinkOptionsFromSettings(const sql::KafkaPublish& settings, const std::string& storage,
                                              const std::function<std::string(const std::string&)>& table_path) {
  KafkaSinkOptions o;
  o.bootstrap_servers = settings.bootstrap_servers;
  o.properties = settings.properties;
  o.progress_dir = JoinPath(JoinPath(storage, "_publish"), "kafka");
  for (const auto& t : settings.tables) o.tables.push_back({t.table, table_path(t.table), t.topic, t.key});
  return o;
}

KafkaSink::KafkaSink(KafkaSinkOptions options, Clock* clock) : options_(std::move(options)), clock_(clock) {}
KafkaSink::~KafkaSink() = default;

const KafkaSinkTarget* KafkaSink::Find(const std::string& table) const {
  for (const auto& t : options_.tables) {
    if (t.table == table) return &t;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> KafkaSink::Targets() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& t : options_.tables) out.emplace_back(t.table, "kafka topic " + t.topic);
  return out;
}

Result<delta::DeltaTable*> KafkaSink::Table(const KafkaSinkTarget& t) { return tables_.Get(t.table, t.table_path); }

Result<kafka::Producer*> KafkaSink::ProducerHandle() {
  if (!producer_) {
    std::map<std::string, std::string> props = options_.properties;
    props["enable.idempotence"] = "true";
    props["acks"] = "all";
    if (!props.count("client.id")) props["client.id"] = "lakepipe-kafka-sink";
    if (!props.count("linger.ms")) props["linger.ms"] = "5";
    LP_ASSIGN_OR_RETURN(producer_, kafka::Producer::Open(options_.bootstrap_servers, props));
  }
  return producer_.get();
}

Result<KafkaSink::Progress> KafkaSink::ReadProgress(const KafkaSinkTarget& t) {
  Progress p;
  std::string path = JoinPath(options_.progress_dir, t.table + ".json");
  FileSystem* fs = FileSystem::Default();
  if (!fs->Exists(path)) return p;
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  auto j = nlohmann::json::parse(text, nullptr, false);
  auto bad = [&](const std::string& what) { return Status::Corruption(path + ": " + what); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (j.value("format", 0) != 1) return bad("unknown format (expected \"format\": 1)");
  if (!j.contains("table_id") || !j["table_id"].is_string() || !j.contains("topic") || !j["topic"].is_string() ||
      !j.contains("version") || !j["version"].is_number_integer() || !j.contains("offsets") || !j["offsets"].is_object()) {
    return bad("needs table_id, topic, version and offsets");
  }
  p.exists = true;
  p.table_id = j["table_id"].get<std::string>();
  p.topic = j["topic"].get<std::string>();
  p.version = j["version"].get<int64_t>();
  p.updated_ms = j.value("updated_ms", int64_t{0});
  for (const auto& [k, v] : j["offsets"].items()) {
    if (!v.is_number_integer()) return bad("offset of partition " + k + " is not an integer");
    try {
      p.offsets[static_cast<int32_t>(std::stol(k))] = v.get<int64_t>();
    } catch (...) {
      return bad("`" + k + "` is not a partition number");
    }
  }
  return p;
}

Status KafkaSink::WriteProgress(const KafkaSinkTarget& t, const Progress& p) {
  nlohmann::json offsets = nlohmann::json::object();
  for (const auto& [part, off] : p.offsets) offsets[std::to_string(part)] = off;
  nlohmann::json j = {{"format", 1},          {"table", t.table}, {"table_id", p.table_id}, {"topic", p.topic},
                      {"version", p.version}, {"offsets", offsets}, {"updated_ms", p.updated_ms}};
  FileSystem* fs = FileSystem::Default();
  LP_RETURN_IF_ERROR(fs->CreateDirs(options_.progress_dir));
  return fs->WriteFileAtomic(JoinPath(options_.progress_dir, t.table + ".json"), j.dump(2) + "\n");
}

Result<PublishResult> KafkaSink::Publish(const std::string& table, bool rebuild) {
  const KafkaSinkTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.kafka.tables");
  if (rebuild) {
    return Status::InvalidArgument("--rebuild does not apply to Kafka topic " + t->topic +
                                   ": messages cannot be taken back (delete " +
                                   JoinPath(options_.progress_dir, t->table + ".json") +
                                   " to send the table's whole history again)");
  }
  auto started = std::chrono::steady_clock::now();
  // One sender per table at a time (`run` and `lakepipe publish` may both try): the lock
  // is held until this publication returns, and released by the kernel if it dies.
  LP_RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(options_.progress_dir));
  std::string lock_path = JoinPath(options_.progress_dir, t->table + ".lock");
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return Status::IOError("cannot open " + lock_path + ": " + std::strerror(errno));
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock_fd};
  while (::flock(lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) return Status::IOError("cannot lock " + lock_path + ": " + std::strerror(errno));
  }
  PublishResult r;
  r.table = t->table;
  r.target = "kafka topic " + t->topic;
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * dt, Table(*t));
  if (dt == nullptr) {
    r.technique = "not created";
    return r;
  }
  LP_ASSIGN_OR_RETURN(delta::SnapshotPtr latest, dt->Latest());
  const int64_t L = latest->version();
  const std::string table_id = latest->metadata().id;
  LP_ASSIGN_OR_RETURN(Progress progress, ReadProgress(*t));
  if (!progress.exists || progress.table_id != table_id || progress.topic != t->topic) {
    // Start: every message from now on lands past these offsets.
    r.reason = !progress.exists                   ? "first publication"
               : progress.table_id != table_id    ? "the Delta table was recreated (new table id): its history is sent"
                                                  : "the topic changed from " + progress.topic;
    LP_ASSIGN_OR_RETURN(auto ends, kafka::TopicEndOffsets(options_.bootstrap_servers, options_.properties, t->topic));
    progress = Progress{};
    progress.exists = true;
    progress.table_id = table_id;
    progress.topic = t->topic;
    progress.version = -1;
    progress.offsets = ends;
    progress.updated_ms = NowMs();
    LP_RETURN_IF_ERROR(WriteProgress(*t, progress));
    LP_KILL_POINT("kafka_sink_progress_started");
  }
  r.from_version = progress.version;
  r.to_version = std::max(L, progress.version);
  r.to_version_millis = latest->timestamp_millis();
  if (progress.version >= L) {
    r.technique = "up to date";
    return r;
  }
  r.technique = "kafka";
  r.from_change_feed = delta::HasChangeDataFeed(*latest);

  // What an interrupted run already wrote for versions after the recorded one. Not needed
  // when this object wrote the progress file last and nothing failed since: then the tail
  // holds none of this table's messages (and other producers' may be many).
  std::set<std::pair<int64_t, int64_t>> present;
  int64_t max_present = -1;
  auto wrote = clean_.find(t->table);
  bool clean = wrote != clean_.end() && wrote->second == std::make_pair(progress.version, progress.updated_ms);
  clean_.erase(t->table);
  if (!clean) LP_RETURN_IF_ERROR(kafka::ReadTopic(
      options_.bootstrap_servers, options_.properties, t->topic, progress.offsets,
      [&](const kafka::TopicMessage& m) -> Status {
        std::string_view tbl, id, ver, seq;
        for (const auto& [k, v] : m.headers) {
          if (k == kHeaderTable) tbl = v;
          else if (k == kHeaderTableId) id = v;
          else if (k == kHeaderVersion) ver = v;
          else if (k == kHeaderSeq) seq = v;
        }
        if (tbl != t->table || id != table_id || ver.empty() || seq.empty()) return Status::OK();
        int64_t v = 0, s = 0;
        try {
          v = std::stoll(std::string(ver));
          s = std::stoll(std::string(seq));
        } catch (...) {
          return Status::Corruption("topic " + t->topic + " partition " + std::to_string(m.partition) + " offset " +
                                    std::to_string(m.offset) + ": header lakepipe.version/seq is not a number");
        }
        if (v > progress.version) {
          present.insert({v, s});
          max_present = std::max(max_present, v);
        }
        return Status::OK();
      }));
  if (max_present > L) {
    return Status::Conflict("topic " + t->topic + " holds messages of " + t->table + " version " +
                            std::to_string(max_present) + " but the table's latest version is " + std::to_string(L) +
                            "; the sink's progress file " + JoinPath(options_.progress_dir, t->table + ".json") +
                            " does not belong to this table's history");
  }

  // The versions are read a row group at a time (a streaming table's version is as large
  // as its micro-batch), so the sink holds one row group however far behind it is.
  auto open_changes = [&](const delta::ChangeFeedOptions& options) -> Result<std::unique_ptr<delta::ChangeReader>> {
    auto reader = delta::ChangeReader::Open(*dt, progress.version + 1, L, options);
    if (reader.ok()) return reader;
    // A rewrite without a recorded feed, or history that is gone: nothing a topic of new
    // rows can follow; the table stops here until it changes (publish_error event).
    return Status::Conflict("Kafka sink of " + t->table + " to topic " + t->topic + ", versions " +
                            std::to_string(progress.version + 1) + ".." + std::to_string(L) + ": " +
                            reader.status().message());
  };
  LP_ASSIGN_OR_RETURN(std::unique_ptr<delta::ChangeReader> changes, open_changes({}));
  if (!r.from_change_feed && changes->may_hold_non_inserts()) {
    // Without a feed only appends can be sent as they are. An overwrite is read as deletes
    // and inserts, which a topic of new rows cannot express: refused before anything is
    // sent, by a first pass over the change types alone.
    delta::ChangeFeedOptions types_only;
    types_only.columns = {delta::kChangeTypeColumn, delta::kCommitVersionColumn};
    LP_ASSIGN_OR_RETURN(std::unique_ptr<delta::ChangeReader> types, open_changes(types_only));
    RecordBatch b;
    while (true) {
      LP_ASSIGN_OR_RETURN(bool more, types->Next(&b));
      if (!more) break;
      const Column* type_col = b.ColumnByName(delta::kChangeTypeColumn);
      const Column* version_col = b.ColumnByName(delta::kCommitVersionColumn);
      for (int64_t row = 0; type_col != nullptr && row < b.num_rows(); ++row) {
        if (type_col->GetString(row) == delta::kChangeInsert) continue;
        return Status::Conflict("Kafka sink of " + t->table + " to topic " + t->topic + ": version " +
                                std::to_string(version_col->Get<int64_t>(row)) +
                                " removes rows (an overwrite), which a topic of new rows cannot express; set "
                                "TBLPROPERTIES (delta.enableChangeDataFeed = true) on the table to send its change "
                                "rows with _change_type, or publish it to PostgreSQL");
      }
    }
  }
  LP_ASSIGN_OR_RETURN(kafka::Producer * producer, ProducerHandle());
  const std::string topic = t->topic;
  std::string value;
  int64_t seq = 0;
  int64_t seq_version = -1;
  int64_t since_kill_point = 0;
  // Reused per message: the table headers stay, version and seq are rewritten in place.
  std::vector<std::pair<std::string, std::string>> headers = {
      {kHeaderTable, t->table}, {kHeaderTableId, table_id}, {kHeaderVersion, ""}, {kHeaderSeq, ""}};
  std::vector<std::string> quoted_names;
  RecordBatch b;
  while (true) {
    LP_ASSIGN_OR_RETURN(bool more, changes->Next(&b));
    if (!more) break;
    const Column* version_col = b.ColumnByName(delta::kCommitVersionColumn);
    if (version_col == nullptr) return Status::Internal("change rows without _commit_version");
    const Column* key_col = t->key.empty() ? nullptr : b.ColumnByName(t->key);
    if (!t->key.empty() && key_col == nullptr) {
      return Status::Conflict("key column `" + t->key + "` is not a column of " + t->table + " (version " +
                              std::to_string(L) + ")");
    }
    // A table without a change data feed sends its rows as they are (checked above: inserts).
    size_t value_columns = b.num_columns();
    if (!r.from_change_feed) value_columns -= 3;
    quoted_names.clear();
    for (size_t c = 0; c < value_columns; ++c) quoted_names.push_back(nlohmann::json(b.schema().field(c).name).dump() + ':');
    for (int64_t row = 0; row < b.num_rows(); ++row) {
      int64_t v = version_col->Get<int64_t>(row);
      if (v != seq_version) {
        seq_version = v;
        seq = 0;
      }
      int64_t s = seq++;
      if (present.count({v, s})) {
        ++r.messages_already_in_topic;
        continue;
      }
      value.clear();
      value += '{';
      bool first = true;
      for (size_t c = 0; c < value_columns; ++c) {
        const Column& col = b.column(c);
        if (col.IsNull(row)) continue;  // to_json leaves NULL fields out
        if (!first) value += ',';
        first = false;
        value += quoted_names[c];
        json::AppendJsonValue(col, row, json::JsonWriteOptions{}, &value);
      }
      value += '}';
      std::optional<std::string> key = key_col != nullptr ? KeyOf(*key_col, row) : std::nullopt;
      std::optional<std::string_view> key_view;
      if (key) key_view = *key;
      headers[2].second = std::to_string(v);
      headers[3].second = std::to_string(s);
      Status sent = producer->Send(topic, -1, key_view, value, 0, headers);
      if (!sent.ok()) {
        producer_.reset();  // a failed delivery poisons the handle's error state
        return sent;
      }
      ++r.messages_sent;
      if (++since_kill_point == 1000) {
        since_kill_point = 0;
        LP_KILL_POINT("kafka_sink_produced");
      }
    }
  }
  LP_KILL_POINT("kafka_sink_produced");
  Status flushed = producer->Flush();
  if (!flushed.ok()) {
    producer_.reset();
    return flushed;
  }
  LP_KILL_POINT("kafka_sink_flushed");
  LP_ASSIGN_OR_RETURN(auto ends, kafka::TopicEndOffsets(options_.bootstrap_servers, options_.properties, t->topic));
  progress.version = L;
  progress.offsets = ends;
  progress.updated_ms = NowMs();
  LP_RETURN_IF_ERROR(WriteProgress(*t, progress));
  LP_KILL_POINT("kafka_sink_progress_written");
  clean_[t->table] = {progress.version, progress.updated_ms};
  r.rows_loaded = 0;
  r.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  return r;
}

Result<int64_t> KafkaSink::LatestVersion(const std::string& table) {
  const KafkaSinkTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.kafka.tables");
  return tables_.LatestVersion(t->table, t->table_path);
}

Result<PublishLag> KafkaSink::Lag(const std::string& table, int64_t published_version) {
  const KafkaSinkTarget* t = Find(table);
  if (t == nullptr) return Status::NotFound("`" + table + "` is not in publish.kafka.tables");
  PublishLag lag;
  lag.table = t->table;
  lag.target = "kafka topic " + t->topic;
  if (published_version < -1) {
    LP_ASSIGN_OR_RETURN(Progress p, ReadProgress(*t));
    published_version = p.exists ? p.version : -1;
  }
  LP_ASSIGN_OR_RETURN(delta::DeltaTable * dt, Table(*t));
  LP_RETURN_IF_ERROR(FillLag(dt, published_version, *clock_, &lag));
  return lag;
}

}  // namespace lakepipe::publish
