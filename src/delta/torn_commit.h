// Torn commits: the newest `_delta_log/%020d.json` of a table cut short, so that it does
// not parse (a lost tail after a machine crash on a disk that acknowledged an fsync it had
// not done, or a copy interrupted). Readers refuse such a log (Corruption naming the file).
// This module finds one and, when the caller has proved it may (runtime/torn_commit_repair.h:
// the commit is its own and was never acknowledged), sets it aside so that the version can
// be committed again. docs/delta.md, "Torn commits", is the rule.
//
// Only the newest commit can be set aside: an older version that does not parse has later
// versions built on it, and removing it would change what they mean. A commit that a
// checkpoint covers is not torn for readers (they start from the checkpoint) and is left
// alone.
//
// Stateless functions; safe from several threads, but the caller must be the table's only
// writer while it sets a commit aside (a pipeline holds its storage lock).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/status.h"
#include "delta/log.h"

namespace lakepipe::delta {

struct TornCommit {
  int64_t version = -1;
  std::string path;   // the commit file
  std::string error;  // why it does not parse (the reader's message)
  // Every whole line (ended by a newline) parses and only the text after the last one
  // does not: a file cut short, not one damaged in the middle.
  bool cut_short = false;
  std::vector<Txn> txns;  // the txn actions on its whole lines
};

// The newest commit file of the table at `table_path` when it does not parse and no
// checkpoint covers it; nullopt when the newest commit parses, is covered, or there is no
// log.
Result<std::optional<TornCommit>> FindTornNewestCommit(FileSystem* fs, const std::string& table_path);

// Renames `torn`'s file out of the log's names to `%020d.json.torn` (`.torn.2`, ... when
// taken), durably (the folder is fsynced), so readers see the version before it as the
// newest and the version can be committed again. Conflict when it is no longer
// the newest commit. Returns the new path.
Result<std::string> SetAsideTornCommit(FileSystem* fs, const std::string& table_path, const TornCommit& torn);

}  // namespace lakepipe::delta
