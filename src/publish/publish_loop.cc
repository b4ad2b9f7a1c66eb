#include "publish/publish_loop.h"

#include <nlohmann/json.hpp>

#include "runtime/event_log.h"
#include "runtime/status_board.h"
#include "sql/pipeline.h"

namespace lakepipe::publish {
namespace {

// What a status change worth telling the board is (lag_seconds alone ticks every second).
bool SameReport(const runtime::PublicationStatus& a, const runtime::PublicationStatus& b) {
  return a.state == b.state && a.published_version == b.published_version && a.latest_version == b.latest_version &&
         a.publications == b.publications && a.failures == b.failures && a.last_error == b.last_error;
}

}  // namespace

PublishLoop::PublishLoop(PublisherOptions options, runtime::StatusBoard* board, runtime::EventLog* events,
                         PublishLoopOptions loop, Clock* clock)
    : publisher_(std::make_unique<Publisher>(std::move(options), clock)),
      board_(board),
      events_(events),
      loop_(loop),
      clock_(clock) {}

PublishLoop::PublishLoop(std::unique_ptr<TablePublisher> publisher, runtime::StatusBoard* board,
                         runtime::EventLog* events, PublishLoopOptions loop, Clock* clock)
    : publisher_(std::move(publisher)), board_(board), events_(events), loop_(loop), clock_(clock) {}

PublishLoop::~PublishLoop() { Stop(); }

void PublishLoop::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void PublishLoop::Stop() {
  stop_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PublishLoop::Run() {
  struct Entry {
    runtime::PublicationStatus status;
    runtime::PublicationStatus reported;  // last sent to the board
    int64_t reported_ms = 0;
    int64_t next_try_ms = 0;
    int64_t backoff_ms = 0;
    int64_t stopped_at_version = -2;  // "stopped" until the Delta table moves past this
    bool due = true;                  // with publication times: one came since the last success
    std::string error_logged;         // the last error written to the event log
  };
  const auto targets = publisher_->Targets();
  std::vector<Entry> entries(targets.size());
  for (size_t i = 0; i < targets.size(); ++i) {
    entries[i].status.table = targets[i].first;
    entries[i].status.target = targets[i].second;
    entries[i].status.state = "waiting for table";
  }
  const bool scheduled = !loop_.daily_minutes.empty();
  int64_t next_time_us = 0;
  if (scheduled) {
    for (Entry& e : entries) e.due = false;
    next_time_us = sql::NextDailyMicros(loop_.daily_minutes, clock_->NowMicros());
  }
  int64_t seen_generation = -1;
  int64_t last_flush_ms = 0;
  bool unflushed = false;
  auto add_event = [&](const std::string& table, const std::string& type, const std::string& level,
                       const std::string& message, const nlohmann::json& details) {
    if (events_ == nullptr) return;
    runtime::Event e;
    e.table = table;
    e.event_type = type;
    e.level = level;
    e.message = message;
    e.details_json = details.dump();
    events_->Add(std::move(e));
    unflushed = true;
  };

  while (!stop_) {
    if (scheduled && clock_->NowMicros() >= next_time_us) {
      // A publication time: every table behind now is published (and retried until it is).
      for (Entry& e : entries) e.due = true;
      next_time_us = sql::NextDailyMicros(loop_.daily_minutes, clock_->NowMicros() + 60 * 1000000LL);
    }
    for (size_t i = 0; i < entries.size() && !stop_; ++i) {
      Entry& e = entries[i];
      const std::string& table = targets[i].first;
      runtime::PublicationStatus& st = e.status;
      int64_t now_ms = clock_->NowMicros() / 1000;
      auto latest_or = publisher_->LatestVersion(table);
      int64_t latest = latest_or.ok() ? *latest_or : -1;
      st.latest_version = latest;
      bool attempt = latest >= 0 && (latest != st.published_version || st.state == "retrying") &&
                     !(st.state == "stopped" && latest == e.stopped_at_version) && now_ms >= e.next_try_ms && e.due;
      if (latest < 0) st.state = "waiting for table";
      if (attempt) {
        auto r = publisher_->Publish(table);
        now_ms = clock_->NowMicros() / 1000;
        if (r.ok()) {
          bool was_failing = !st.last_error.empty();
          st.published_version = r->to_version;
          st.last_error.clear();
          e.backoff_ms = 0;
          e.next_try_ms = 0;
          e.stopped_at_version = -2;
          if (scheduled) e.due = false;
          if (r->technique != "up to date" && r->technique != "not created") {
            ++st.publications;
            st.rows_upserted += r->rows_upserted;
            st.rows_deleted += r->rows_deleted;
            st.rows_loaded += r->rows_loaded + r->messages_sent;
            st.last_publish_unix_ms = now_ms;
            st.latency_seconds.Observe(std::max<int64_t>(0, now_ms - r->to_version_millis) / 1000.0);
            nlohmann::json d = {{"target", st.target},           {"from_version", r->from_version},
                                {"to_version", r->to_version},   {"technique", r->technique},
                                {"reason", r->reason},           {"rows_upserted", r->rows_upserted},
                                {"rows_deleted", r->rows_deleted}, {"rows_loaded", r->rows_loaded},
                                {"rows_unchanged", r->rows_unchanged}, {"columns_added", r->columns_added},
                                {"duration_ms", r->duration_ms}};
            if (r->technique == "kafka") {
              d["messages_sent"] = r->messages_sent;
              d["messages_already_in_topic"] = r->messages_already_in_topic;
              d["from_change_feed"] = r->from_change_feed;
            }
            add_event(table, "publish_progress", "INFO",
                      "published version " + std::to_string(r->to_version) + " to " + st.target + " (" +
                          r->technique + ")",
                      d);
          }
          if (was_failing) {
            add_event(table, "publish_recovered", "INFO", "publication to " + st.target + " works again",
                      {{"target", st.target}, {"published_version", st.published_version}});
            e.error_logged.clear();
          }
        } else {
          ++st.failures;
          st.last_error = r.status().message();
          bool incompatible = r.status().code() == StatusCode::kConflict;
          if (incompatible) {
            st.state = "stopped";
            e.stopped_at_version = latest;
          } else {
            st.state = "retrying";
            e.backoff_ms = e.backoff_ms == 0 ? loop_.retry_min_ms : std::min<int64_t>(e.backoff_ms * 2, loop_.retry_max_ms);
            e.next_try_ms = now_ms + e.backoff_ms;
          }
          if (st.last_error != e.error_logged) {
            add_event(table, "publish_error", incompatible ? "ERROR" : "WARN", st.last_error,
                      {{"target", st.target},
                       {"published_version", st.published_version},
                       {"latest_version", latest},
                       {"action", incompatible ? "stopped until the table changes" : "retrying with backoff"},
                       {"retry_in_ms", incompatible ? 0 : e.backoff_ms}});
            e.error_logged = st.last_error;
          }
        }
      }
      if (latest >= 0 && st.last_error.empty()) st.state = latest > st.published_version ? "behind" : "up to date";
      st.lag_versions = latest >= 0 ? std::max<int64_t>(0, latest - st.published_version) : 0;
      st.lag_seconds = 0;
      if (st.lag_versions > 0) {
        auto lag = publisher_->Lag(table, st.published_version);
        if (lag.ok()) st.lag_seconds = lag->lag_seconds;
      }
      if (board_ != nullptr && (!SameReport(st, e.reported) || (st.lag_versions > 0 && now_ms - e.reported_ms >= 1000))) {
        board_->SetPublication(st);
        e.reported = st;
        e.reported_ms = now_ms;
      }
    }
    int64_t now_ms = clock_->NowMicros() / 1000;
    if (unflushed && events_ != nullptr && (now_ms - last_flush_ms >= 1000 || stop_)) {
      // A failed flush keeps its events for the next one (EventLog's contract).
      if (events_->Flush().ok()) unflushed = false;
      last_flush_ms = now_ms;
    }
    if (stop_) break;
    if (board_ != nullptr) {
      // A table committing changes the board: wake at once rather than at the next poll.
      seen_generation = board_->WaitForChange(seen_generation, loop_.poll_ms);
    } else {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(loop_.poll_ms), [this] { return stop_.load(); });
    }
  }
  if (unflushed && events_ != nullptr) (void)events_->Flush();
}

}  // namespace lakepipe::publish
