#include "delta/torn_commit.h"

#include <string_view>

namespace lakepipe::delta {

Result<std::optional<TornCommit>> FindTornNewestCommit(FileSystem* fs, const std::string& table_path) {
  // Checked at every start for every table: the log's tail from `_last_checkpoint` when it
  // can, not a listing of its millions of commits.
  Result<LogListing> listing = Status::NotFound("");
  if (std::optional<LogListing> tail = ListLogFromHint(fs, table_path); tail && !tail->versions.empty()) {
    listing = std::move(*tail);
  } else {
    listing = ListLog(fs, table_path);
  }
  if (!listing.ok()) {
    if (listing.status().IsNotFound()) return std::optional<TornCommit>();
    return listing.status();
  }
  if (listing->versions.empty()) return std::optional<TornCommit>();
  const int64_t newest = listing->versions.back();
  for (const auto& c : listing->checkpoints) {
    if (c.version >= newest) return std::optional<TornCommit>();  // readers start from it
  }
  TornCommit torn;
  torn.version = newest;
  torn.path = JoinPath(LogDir(table_path), listing->commit_files.back().name);
  LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(torn.path));
  const std::string name = listing->commit_files.back().name;
  auto parsed = ParseActions(text, name);
  if (parsed.ok()) return std::optional<TornCommit>();
  torn.error = parsed.status().message();
  // Whole lines first: each must parse on its own; only what follows the last newline may
  // be broken.
  std::string_view rest = text;
  torn.cut_short = true;
  size_t nl;
  while ((nl = rest.find('\n')) != std::string_view::npos) {
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (line.find_first_not_of(" \r") == std::string_view::npos) continue;
    auto actions = ParseActions(line, name);
    if (!actions.ok()) {
      torn.cut_short = false;  // damaged in the middle, not cut short
      break;
    }
    for (auto& a : *actions) {
      if (auto* t = std::get_if<Txn>(&a)) torn.txns.push_back(std::move(*t));
    }
  }
  return std::optional<TornCommit>(std::move(torn));
}

Result<std::string> SetAsideTornCommit(FileSystem* fs, const std::string& table_path, const TornCommit& torn) {
  LP_ASSIGN_OR_RETURN(LogListing listing, ListLog(fs, table_path));
  if (listing.versions.empty() || listing.versions.back() != torn.version) {
    return Status::Conflict("Delta log of " + table_path + ": version " + std::to_string(torn.version) +
                            " is no longer the newest commit; it is not set aside");
  }
  // A hard link to a free name, then the log's name goes: the commit is never lost, and a
  // name already taken (an earlier torn commit of the same version) is never replaced.
  std::string target;
  for (int n = 1;; ++n) {
    target = torn.path + ".torn" + (n == 1 ? std::string() : "." + std::to_string(n));
    Status linked = fs->Link(torn.path, target);
    if (linked.ok()) break;
    if (!linked.IsAlreadyExists() || n >= 1000) return linked.WithContext("setting aside " + torn.path);
  }
  LP_RETURN_IF_ERROR(fs->RemoveFile(torn.path));
  LP_RETURN_IF_ERROR(fs->SyncDir(LogDir(table_path)));
  return target;
}

}  // namespace lakepipe::delta
