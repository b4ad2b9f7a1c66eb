// PublishLoop: publication beside a running pipeline (`lakepipe run`, continuous mode).
//
// Its own thread owns a TablePublisher (PostgreSQL's Publisher or the Kafka sink). It wakes when the pipeline's StatusBoard changes (a
// table committed) and at least every `poll_ms`, compares each published table's latest
// Delta version with what PostgreSQL holds, and publishes what is behind. PostgreSQL being
// down or slow never blocks the pipeline: failures are retried with exponential backoff
// (retry_min_ms doubling to retry_max_ms), the lake keeps advancing, and the loop catches
// up from lakepipe_publish when the server is back. A change PostgreSQL cannot follow
// (a column's type changed, a NULL or duplicate key) stops that table only, until its
// Delta table has a newer version.
//
// With `daily_minutes` (publish.postgres.at in pipeline.yaml) the loop publishes only at
// those local times: at each, every table behind is brought to its latest version (failures
// retried as above until it succeeds); between them tables stay "behind" and the lag grows.
//
// Reports: the StatusBoard's publications (state, versions and seconds behind, latency —
// /api/pipeline, /metrics, the dashboard) and the event log (publish_progress,
// publish_error, publish_recovered; docs/event-log.md).
//
// Call order: Start() once, then Stop() (also done by the destructor). Stop waits for the
// publication in progress. Thread-safe: Start/Stop from one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "publish/publisher.h"

namespace lakepipe::runtime {
class StatusBoard;
class EventLog;
}  // namespace lakepipe::runtime

namespace lakepipe::publish {

struct PublishLoopOptions {
  int poll_ms = 250;
  int retry_min_ms = 500;
  int retry_max_ms = 30000;
  std::vector<int> daily_minutes;  // publish at these local times only (minutes after
                                   // midnight, ascending); empty: whenever a table is behind
};

class PublishLoop {
 public:
  // `board` and `events` may be null; not owned; must outlive the loop.
  PublishLoop(PublisherOptions options, runtime::StatusBoard* board, runtime::EventLog* events,
              PublishLoopOptions loop = {}, Clock* clock = Clock::System());
  PublishLoop(std::unique_ptr<TablePublisher> publisher, runtime::StatusBoard* board, runtime::EventLog* events,
              PublishLoopOptions loop = {}, Clock* clock = Clock::System());
  ~PublishLoop();

  void Start();
  void Stop();

 private:
  void Run();

  std::unique_ptr<TablePublisher> publisher_;
  runtime::StatusBoard* board_;
  runtime::EventLog* events_;
  PublishLoopOptions loop_;
  Clock* clock_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
};

}  // namespace lakepipe::publish
