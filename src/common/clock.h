// Clock: the source of "now" for commits, triggers and the event log, replaceable in tests.
// SystemClock is thread-safe; ManualClock is thread-safe and only moves when told.
#pragma once
#include <atomic>
#include <cstdint>

namespace lakepipe {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() const = 0;  // wall clock, microseconds since the Unix epoch
  int64_t NowMillis() const { return NowMicros() / 1000; }
  static Clock* System();
};

class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t start_micros) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  void Advance(int64_t micros) { now_ += micros; }
  void Set(int64_t micros) { now_ = micros; }

 private:
  std::atomic<int64_t> now_;
};

// Monotonic time for measuring durations, nanoseconds.
int64_t MonotonicNanos();

}  // namespace lakepipe
