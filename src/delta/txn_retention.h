// Expiry of transaction identifiers (`txn` actions) by the table property
// `delta.setTransactionRetentionDuration`, as Delta's reference implementation and
// delta-kernel apply it (PROTOCOL.md defines the action and its optional `lastUpdated`,
// milliseconds since the epoch; the property is theirs). docs/delta.md, "Transaction
// identifiers", is the user's view.
//
// The rule: on a table that sets the property, a txn whose `lastUpdated` is at or before
// now - duration has expired. An expired txn is treated as unknown: the application's
// version reads as absent (Spark's -1), exactly as if it had never committed, and
// checkpoints leave it out, so the txns of applications that stopped writing do not
// accumulate in every checkpoint forever. A txn without `lastUpdated` never expires; a
// table without the property (or with a value that is not an interval) expires none:
// keeping a txn can never break exactly-once, dropping one can.
//
// Who may set it: an application that needs its txn only for a short while after each
// commit (the event log: one appId per run, needed to recognise a retried flush seconds
// later). Never a table that a lakepipe flow writes (sql/table_properties.cc refuses it):
// a flow idle or stopped for longer than the duration would lose its progress.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "delta/log.h"

namespace lakepipe::delta {

inline constexpr const char* kSetTransactionRetentionKey = "delta.setTransactionRetentionDuration";

// The cut-off as of `now_millis`: txns updated at or before it have expired. nullopt when
// the table's `configuration` does not set a readable duration (nothing expires).
std::optional<int64_t> TxnExpiryCutoffMillis(const StringMap& configuration, int64_t now_millis);

// Whether `txn` has expired under `cutoff_millis` (from TxnExpiryCutoffMillis).
bool TxnExpired(const Txn& txn, std::optional<int64_t> cutoff_millis);

}  // namespace lakepipe::delta
