#include "delta/txn_retention.h"

#include "common/interval_text.h"

namespace lakepipe::delta {

std::optional<int64_t> TxnExpiryCutoffMillis(const StringMap& configuration, int64_t now_millis) {
  auto it = configuration.find(kSetTransactionRetentionKey);
  if (it == configuration.end()) return std::nullopt;
  auto micros = ParseIntervalMicros(it->second);
  if (!micros.ok() || *micros < 0) return std::nullopt;
  return now_millis - *micros / 1000;
}

bool TxnExpired(const Txn& txn, std::optional<int64_t> cutoff_millis) {
  return cutoff_millis && txn.last_updated && *txn.last_updated <= *cutoff_millis;
}

}  // namespace lakepipe::delta
