#include "runtime/torn_commit_repair.h"

#include <optional>

#include "delta/torn_commit.h"

namespace lakepipe::runtime {

Result<std::string> RepairTornNewestCommit(FileSystem* fs, const std::string& table, const std::string& table_path,
                                           const FlowCheckpoint& checkpoint) {
  LP_ASSIGN_OR_RETURN(std::optional<delta::TornCommit> torn, delta::FindTornNewestCommit(fs, table_path));
  if (!torn) return std::string();
  auto refuse = [&](const std::string& why) {
    return Status::Corruption("Delta log of " + table_path + ": " + torn->error + "; it is not set aside and replayed: " +
                              why + " (docs/delta.md, \"Torn commits\"). Restore the file, or rebuild the table with " +
                              "`lakepipe run --full-refresh " + table + "`");
  };
  if (!torn->cut_short) return refuse("a line before its end is damaged too, so it was not merely cut short");
  std::optional<int64_t> batch;
  for (const auto& t : torn->txns) {
    if (t.app_id == checkpoint.flow_id()) batch = t.version;
  }
  if (!batch) {
    return refuse("no whole line of it holds this flow's txn (appId " + checkpoint.flow_id() +
                  "), so another writer may have written it");
  }
  LP_ASSIGN_OR_RETURN(std::optional<int64_t> planned, checkpoint.LatestPlanned());
  if (!planned || *planned < *batch || !checkpoint.ReadPlan(*batch).ok()) {
    return refuse("the checkpoint " + checkpoint.dir() + " has no plan of batch " + std::to_string(*batch) +
                  " to replay it with");
  }
  LP_ASSIGN_OR_RETURN(std::optional<int64_t> committed, checkpoint.LatestCommitted());
  if (committed && *committed >= *batch) {
    return refuse("the checkpoint records batch " + std::to_string(*committed) +
                  " as committed, so batch " + std::to_string(*batch) + " may have been acknowledged to its sources");
  }
  LP_ASSIGN_OR_RETURN(std::string moved, delta::SetAsideTornCommit(fs, table_path, *torn));
  return "the newest commit of `" + table + "` (version " + std::to_string(torn->version) + ", batch " +
         std::to_string(*batch) + " of this flow, never acknowledged) was cut short: " + torn->error +
         ". It was set aside as " + moved + " and the batch is replayed with its plan";
}

}  // namespace lakepipe::runtime
