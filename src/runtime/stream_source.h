// StreamSource: a message source of a streaming flow (Kafka topics, a PostgreSQL
// replication slot, ...), behind one interface so that the flow (streaming_flow.cc) runs
// every source through the same exactly-once protocol (DESIGN §6, docs/checkpoint.md):
//
//   1. PlanNext(previous)   -> the range of the next micro-batch (e.g. per-partition
//                              offsets [start, end)), as JSON. The flow writes it into the
//                              batch's plan (`{"kind": "stream", ...}`) durably BEFORE any
//                              data is read. It must not read data or move any position.
//   2. Read(range)          -> exactly the rows of that range, deterministically: reading
//                              the same range again (a replay after a crash, in another
//                              process) gives the same rows in the same order.
//   3. the flow commits the rows with txn(appId = flow id, version = batch id), then its
//      commit log and operator state;
//   4. Acknowledge(range)   -> only then may the source let go of the range upstream (a
//                              replication slot's flushed LSN). Kafka does nothing: its
//                              offsets live in the plans, consumer-group offsets are not
//                              the truth. A crash before Acknowledge replays nothing (the
//                              batch is committed) and acknowledges again on the next
//                              batch, so Acknowledge must accept ranges it saw before.
//
// The source's own position is never trusted across restarts: `previous` (the range of
// this source in the flow's latest plan, from the checkpoint) is where planning resumes.
//
// Call order: OpenStreamSource, then SetWakeup (continuous runs only), then any number of
// PlanNext / Read / Acknowledge / Backlog from the flow's thread, then destruction.
// Thread-safety: every method except the wake-up callback is called from one thread at a
// time (the thread running the flow). The wake-up callback may be invoked from any thread
// of the source (e.g. a background fetcher) and is thread-safe and cheap.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "sql/plan.h"
#include "types/batch.h"

namespace lakepipe::runtime {

// What the flow tells a source when opening it.
struct StreamSourceContext {
  std::string table;    // the streaming table's name (for messages)
  std::string flow_id;  // the flow's id, its Delta txn appId (e.g. part of a consumer group id)
  // A folder in the flow's checkpoint owned by this source (created on open; removed
  // with the checkpoint by a full refresh), for what the source must keep durably beyond
  // the plans (e.g. the name of a replication slot it created).
  std::string state_dir;
  // A problem the run survives and the event log must show (kind, message), e.g. data
  // lost to retention under failOnDataLoss = false. Called on the flow's thread.
  std::function<void(const std::string& kind, const std::string& message)> warn;
};

// How far behind the source is, after the last PlanNext (-1: unknown).
struct StreamBacklog {
  int64_t records = -1;
  int64_t bytes = -1;
  // Sources that replicate a database (read_postgres_cdc): how far behind the server
  // they are, in bytes of its log and seconds since the oldest unconfirmed commit.
  int64_t lag_bytes = -1;
  double lag_seconds = -1;
};

// The rows of one range, and when each group of them was produced (event-time micros,
// rows), for the end-to-end latency observed downstream.
struct StreamRead {
  std::vector<RecordBatch> batches;
  std::vector<std::pair<int64_t, int64_t>> produced_at;
  bool more = false;  // ReadPart: further parts of the range follow
};

class StreamSource {
 public:
  virtual ~StreamSource() = default;

  // The range of the next batch, continuing after `previous` (this source's range in
  // the flow's latest plan; nullptr for the flow's first batch). nullopt when there is
  // nothing new. Errors: data that can no longer be read (NotFound / DataLoss-like
  // InvalidArgument naming what is lost, unless the source is told to go on).
  virtual Result<std::optional<nlohmann::json>> PlanNext(const nlohmann::json* previous) = 0;

  // The rows of `range` (a range this source planned, possibly in an earlier process),
  // with exactly `columns` (the resolved node's schema), in a deterministic order.
  virtual Result<StreamRead> Read(const nlohmann::json& range, const Schema& columns) = 0;

  // The same rows in parts of bounded size, so that a flow whose query works row by row
  // writes a large range (a snapshot, a huge transaction) into one Delta commit in
  // bounded memory: part 0, then 1, 2 ... while the returned `more` is true, in one go.
  // The parts concatenated are exactly Read(range, columns). Default: one part.
  virtual Result<StreamRead> ReadPart(const nlohmann::json& range, const Schema& columns, int part) {
    if (part > 0) return Status::Internal("this source reads a range in one part");
    return Read(range, columns);
  }

  // After the batch holding `range` is committed (table, commit log, state).
  virtual Status Acknowledge(const nlohmann::json& range) { return Status::OK(); }

  virtual StreamBacklog Backlog() const { return {}; }

  // Continuous runs: `wake` is to be called when new data may be there to plan, so the
  // scheduler plans at once instead of polling. Sources that cannot tell leave it
  // unused (the scheduler's periodic backstop then finds their data).
  virtual void SetWakeup(std::function<void()> wake) {}
};

// Opens the runtime half of the message source `spec` (sql/stream_source.h is the SQL
// half); the options are parsed by the same function `validate` used.
Result<std::unique_ptr<StreamSource>> OpenStreamSource(const sql::StreamSourceSpec& spec,
                                                       const StreamSourceContext& context);

// A stable identity of `spec` within a flow (function and options, canonical text), by
// which plans name the source: the same SQL finds its ranges again after a restart.
std::string StreamSourceKey(const sql::StreamSourceSpec& spec);

}  // namespace lakepipe::runtime
