#include "runtime/arrival_ledger.h"

#include <algorithm>

#include "sql/lexer.h"

namespace lakepipe::runtime {

Arrivals ArrivalLedger::Record(const std::string& table, int64_t version, Arrivals arrivals) {
  // Lines from one file share its arrival time: merge them.
  std::sort(arrivals.begin(), arrivals.end());
  Arrivals merged;
  for (const auto& [t, n] : arrivals) {
    if (!merged.empty() && merged.back().first == t) merged.back().second += n;
    else merged.emplace_back(t, n);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto& versions = versions_[sql::ToLower(table)];
  versions[version] = merged;
  while (versions.size() > kVersionsKept) versions.erase(versions.begin());
  return merged;
}

Arrivals ArrivalLedger::Between(const std::string& table, int64_t after_version, int64_t up_to_version) const {
  Arrivals out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = versions_.find(sql::ToLower(table));
  if (it == versions_.end()) return out;
  for (auto v = it->second.upper_bound(after_version); v != it->second.end() && v->first <= up_to_version; ++v) {
    out.insert(out.end(), v->second.begin(), v->second.end());
  }
  return out;
}

Arrivals ArrivalLedger::NewFor(const std::string& reader, const std::map<std::string, int64_t>& versions_read) {
  std::map<std::string, std::pair<int64_t, int64_t>> ranges;  // table -> (after, up to)
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& last = last_read_[sql::ToLower(reader)];
    for (const auto& [t, v] : versions_read) {
      auto it = last.find(t);
      if (it != last.end()) ranges[t] = {it->second, v};
      last[t] = v;
    }
  }
  Arrivals out;
  for (const auto& [t, range] : ranges) {
    Arrivals up = Between(t, range.first, range.second);
    out.insert(out.end(), up.begin(), up.end());
  }
  return out;
}

}  // namespace lakepipe::runtime
