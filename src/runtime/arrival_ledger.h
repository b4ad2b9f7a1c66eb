// ArrivalLedger: when the source lines held by each table version arrived (the landing
// file's modification time or the message's production time, and how many lines), so
// that a table downstream can tell how long its lines took from landing to it (the
// dashboard's end-to-end latency). Kept in memory only: after a restart, the lines
// committed before it are simply not observed.
//
// Owns the record of the latest versions of each table (older ones are forgotten) and,
// per reader, the versions it last read. Thread-safe: continuous runs update tables on
// several workers.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace lakepipe::runtime {

// (arrival time in micros, lines), in no particular order unless stated.
using Arrivals = std::vector<std::pair<int64_t, int64_t>>;

class ArrivalLedger {
 public:
  // How many versions of a table are kept.
  static constexpr size_t kVersionsKept = 2000;

  // Records what `table` (any case) version `version` holds. Returns them merged: one
  // entry per arrival time, in time order.
  Arrivals Record(const std::string& table, int64_t version, Arrivals arrivals);
  // What `table`'s versions (after_version, up_to_version] hold.
  Arrivals Between(const std::string& table, int64_t after_version, int64_t up_to_version) const;
  // What reader `reader` reads for the first time when it reads each table of
  // `versions_read` (table -> version) at that version: the versions after the one it
  // read last time. A table it never read before gives nothing (where it started is
  // unknown). The versions are remembered as read.
  Arrivals NewFor(const std::string& reader, const std::map<std::string, int64_t>& versions_read);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<int64_t, Arrivals>> versions_;        // table (lower case) -> version -> arrivals
  std::map<std::string, std::map<std::string, int64_t>> last_read_;    // reader (lower case) -> table -> version
};

}  // namespace lakepipe::runtime
