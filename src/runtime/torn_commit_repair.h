// Repair of a torn newest commit of a streaming table (docs/delta.md, "Torn commits"):
// the exactly-once protocol (checkpoint.h) lets a flow replay a batch whose Delta commit
// did not happen, so a commit of the flow's own that was cut short and never acknowledged
// can be set aside (delta/torn_commit.h) and its batch replayed with the same plan.
//
// It is set aside only when all of these hold; otherwise the table stays refused with the
// log's Corruption error and the reason it was not repaired:
//   - it is the newest commit, not covered by a checkpoint, and cut short (every whole line
//     parses; only the tail does not);
//   - a whole line holds the txn of this flow (appId = the flow id): this pipeline wrote
//     it, for batch N = the txn version;
//   - the flow's checkpoint holds batch N's plan (so the replay reads the same input);
//   - the checkpoint has no commit record for batch N or later: the batch was never
//     recorded, so its sources were never acknowledged (a flow acknowledges only after the
//     record, DESIGN §6 step 4).
//
// Thread-safety: call with the pipeline's storage lock held, before the flow reads the
// table (PipelineRunner::Impl::OpenFlow).
#pragma once

#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "runtime/checkpoint.h"

namespace lakepipe::runtime {

// Looks at the newest commit of the table `table` at `table_path`, written by the flow of
// `checkpoint`. Returns "" when there is nothing to repair, or the message of the repair
// (for a WARN event `torn_commit_set_aside`) after setting the commit aside; Corruption
// when the newest commit is torn and may not be set aside.
Result<std::string> RepairTornNewestCommit(FileSystem* fs, const std::string& table, const std::string& table_path,
                                           const FlowCheckpoint& checkpoint);

}  // namespace lakepipe::runtime
