#include "pgcdc/postgres_cdc_source.h"

#include <poll.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/kill_point.h"

namespace lakepipe::pgcdc {
namespace {

using Json = nlohmann::json;

// How long planning waits for a transaction when none is there yet. Short: the flow's
// thread plans the other sources and the next batches meanwhile (continuous mode plans
// again at once after a batch, and every backstop period when idle).
constexpr int kPollMillis = 200;

class PostgresCdcSource : public runtime::StreamSource {
 public:
  PostgresCdcSource(CdcOptions options, runtime::StreamSourceContext context)
      : options_(std::move(options)), context_(std::move(context)) {}
  ~PostgresCdcSource() override {
    stop_.store(true);
    if (watcher_.joinable()) watcher_.join();
  }

  // Continuous runs: a thread watches the replication socket (poll() only; libpq stays
  // on the flow's thread) and wakes the flow when the server sends something, once per
  // Poll of the flow, so a commit in PostgreSQL starts a batch without waiting for the
  // scheduler's backstop.
  void SetWakeup(std::function<void()> wake) override {
    if (watcher_.joinable() || !wake) return;
    watcher_ = std::thread([this, wake = std::move(wake)] {
      uint64_t woke_at = UINT64_MAX;
      while (!stop_.load()) {
        int fd = reader_->socket_fd();
        if (fd < 0 || reader_->polls() == woke_at) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) > 0 && (p.revents & POLLIN)) {
          woke_at = reader_->polls();
          wake();
        }
      }
    });
  }

  Status Open() {
    if (options_.slot.empty()) options_.slot = DefaultSlot(context_.flow_id);
    options_.spool_dir = JoinPath(context_.state_dir, "spool");
    LP_ASSIGN_OR_RETURN(reader_, CdcReader::Open(options_, FileSystem::Default()));
    reader_->SetWarn(context_.warn);
    return Status::OK();
  }

  Result<std::optional<Json>> PlanNext(const Json* previous) override {
    if (previous == nullptr) return PlanFirst();
    LP_RETURN_IF_ERROR(CheckSlotName(*previous));
    LP_ASSIGN_OR_RETURN(Lsn after, ParseLsn((*previous)["endLsn"].get<std::string>()));
    LP_ASSIGN_OR_RETURN(Lsn end, reader_->Poll(after, kPollMillis, options_.max_rows_per_trigger));
    last_end_ = end;
    if (end == after) return std::optional<Json>();
    return std::optional<Json>(Json{{"slot", options_.slot}, {"afterLsn", FormatLsn(after)}, {"endLsn", FormatLsn(end)}});
  }

  Result<runtime::StreamRead> Read(const Json& range, const Schema& columns) override {
    runtime::StreamRead out;
    for (int part = 0;; ++part) {
      LP_ASSIGN_OR_RETURN(runtime::StreamRead one, ReadPartOf(range, columns, part, INT64_MAX));
      for (auto& b : one.batches) out.batches.push_back(std::move(b));
      out.produced_at.insert(out.produced_at.end(), one.produced_at.begin(), one.produced_at.end());
      if (!one.more) return out;
    }
  }

  Result<runtime::StreamRead> ReadPart(const Json& range, const Schema& columns, int part) override {
    return ReadPartOf(range, columns, part, options_.spill_rows);
  }

  Status Acknowledge(const Json& range) override {
    LP_ASSIGN_OR_RETURN(Lsn end, ParseLsn(range["endLsn"].get<std::string>()));
    LP_KILL_POINT("pgcdc.before_confirm");
    LP_RETURN_IF_ERROR(reader_->Confirm(end));
    if (range.contains("snapshot")) {
      // The snapshot is in the table; its file is no longer needed for a replay.
      (void)FileSystem::Default()->RemoveFile(JoinPath(context_.state_dir, range["snapshot"].get<std::string>()));
    }
    return Status::OK();
  }

  runtime::StreamBacklog Backlog() const override {
    CdcLag lag = reader_->Lag();
    runtime::StreamBacklog b;
    b.bytes = lag.bytes;
    b.lag_bytes = lag.bytes;
    // Whole transactions already received past the planned range: plan again at once.
    b.records = reader_->buffered_rows(last_end_);
    b.lag_seconds = lag.seconds;
    return b;
  }

 private:
  Result<runtime::StreamRead> ReadPartOf(const Json& range, const Schema& columns, int part, int64_t max_rows) {
    LP_RETURN_IF_ERROR(CheckSlotName(range));
    std::vector<RecordBatch> batches;
    runtime::StreamRead out;
    if (range.contains("snapshot")) {
      if (part == 0) snapshot_next_ = 0;
      if (snapshot_next_ < 0) return Status::Internal("read_postgres_cdc: a snapshot part past its end");
      LP_ASSIGN_OR_RETURN(CdcReader::SnapshotPart p,
                          reader_->ReadSnapshot(JoinPath(context_.state_dir, range["snapshot"].get<std::string>()),
                                                snapshot_next_, max_rows));
      batches = std::move(p.batches);
      snapshot_next_ = p.next;
      out.more = p.next >= 0;
    } else {
      LP_ASSIGN_OR_RETURN(Lsn after, ParseLsn(range["afterLsn"].get<std::string>()));
      LP_ASSIGN_OR_RETURN(Lsn end, ParseLsn(range["endLsn"].get<std::string>()));
      if (end > after) {
        LP_ASSIGN_OR_RETURN(batches, reader_->ReadPart(after, end, part, max_rows, &out.more));
        if (part == 0) out.produced_at = reader_->CommitTimes(after, end);
      }
    }
    // The resolved columns, by name: a column the table gained since is in
    // _rescued_data; one it lost reads as NULL.
    for (const auto& b : batches) {
      std::vector<ColumnPtr> cols;
      for (const auto& f : columns.fields()) {
        int i = b.schema().FindField(f.name);
        if (i >= 0 && b.column(static_cast<size_t>(i)).type() == f.type) {
          cols.push_back(b.column_ptr(static_cast<size_t>(i)));  // shared, not copied
        } else {
          cols.push_back(std::make_shared<Column>(Column::Nulls(f.type, b.num_rows())));
        }
      }
      out.batches.emplace_back(columns, std::move(cols), b.num_rows());
    }
    return out;
  }

  // The flow's first range: the snapshot (or the slot's start), with the slot created now.
  Result<std::optional<Json>> PlanFirst() {
    FileSystem* fs = FileSystem::Default();
    // A marker names the slot this flow creates, so that a crash between creating it
    // and writing the first plan leaves a slot we may drop and create again.
    std::string marker = JoinPath(context_.state_dir, "slot");
    bool ours = fs->Exists(marker) || options_.slot == DefaultSlot(context_.flow_id);
    LP_ASSIGN_OR_RETURN(auto slot, reader_->FindSlot());
    Lsn start = 0;
    if (slot && !ours) {
      if (options_.snapshot) {
        return Status::AlreadyExists("read_postgres_cdc: replication slot " + options_.slot +
                                     " already exists and its snapshot is gone: drop it (SELECT "
                                     "pg_drop_replication_slot('" + options_.slot +
                                     "')), name another slot => '...', or stream from it with snapshot => false");
      }
      start = slot->confirmed_flush;  // a slot the user prepared: continue where it stands
    } else {
      if (slot) LP_RETURN_IF_ERROR(reader_->DropSlotIfExists());
      LP_RETURN_IF_ERROR(fs->WriteFileAtomic(marker, options_.slot + "\n"));
      if (options_.snapshot) {
        std::string path = JoinPath(context_.state_dir, "snapshot.copy");
        LP_ASSIGN_OR_RETURN(start, reader_->CreateSlot(&path));
        LP_KILL_POINT("pgcdc.after_snapshot_copy");
        return std::optional<Json>(Json{{"slot", options_.slot},
                                        {"snapshot", "snapshot.copy"},
                                        {"afterLsn", FormatLsn(0)},
                                        {"endLsn", FormatLsn(start)}});
      }
      LP_ASSIGN_OR_RETURN(start, reader_->CreateSlot(nullptr));
    }
    return std::optional<Json>(Json{{"slot", options_.slot}, {"afterLsn", FormatLsn(start)}, {"endLsn", FormatLsn(start)}});
  }

  // The flow's position lives in one slot: another one (the option changed) does not
  // hold the same changes.
  Status CheckSlotName(const Json& range) const {
    if (range.contains("slot") && range["slot"].get<std::string>() != options_.slot) {
      return Status::InvalidArgument("read_postgres_cdc: the flow reads replication slot " +
                                     range["slot"].get<std::string>() + " but slot => now says " + options_.slot +
                                     "; put the old name back, or start over with --full-refresh <table>");
    }
    return Status::OK();
  }

  CdcOptions options_;
  runtime::StreamSourceContext context_;
  std::unique_ptr<CdcReader> reader_;
  std::atomic<bool> stop_{false};
  std::thread watcher_;
  Lsn last_end_ = 0;  // end of the last planned range (backlog)
  int64_t snapshot_next_ = 0;  // where the next part of a snapshot read by parts starts
};

}  // namespace

Result<std::unique_ptr<runtime::StreamSource>> OpenPostgresCdcSource(const CdcOptions& options,
                                                                     const runtime::StreamSourceContext& context) {
  auto source = std::make_unique<PostgresCdcSource>(options, context);
  LP_RETURN_IF_ERROR(source->Open());
  return std::unique_ptr<runtime::StreamSource>(std::move(source));
}

}  // namespace lakepipe::pgcdc
