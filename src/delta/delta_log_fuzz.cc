// libFuzzer entry point for what lakepipe reads of a Delta table's log: a commit file's
// actions (ParseActions, then replay with ApplyActions), the metaData schema string and
// every add's stats typed by it, `_last_checkpoint`, and a checkpoint Parquet file. Any
// bytes must give a Status, never a crash, a hang or an escaping exception. The first byte
// picks which of the three the rest is (docs/fuzzing.md); the replay test and `make fuzz`
// build it (cmake/LakepipeModule.cmake).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/fs.h"
#include "delta/log.h"
#include "delta/table_internal.h"
#include "types/schema.h"

namespace {

// A table folder of this process for the file-based inputs, removed at exit.
struct ScratchTable {
  std::string path = "/tmp/lakepipe-delta-log-fuzz-" + std::to_string(getpid());
  ScratchTable() { (void)lakepipe::FileSystem::Default()->CreateDirs(path + "/_delta_log"); }
  ~ScratchTable() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

const std::string& TableDir() {
  static const ScratchTable table;
  return table.path;
}

void FuzzCommit(std::string_view text) {
  using namespace lakepipe;
  auto actions = delta::ParseActions(text, "00000000000000000000.json");
  if (!actions.ok()) return;
  delta::TableState state;
  std::vector<delta::Action> copy = *actions;
  (void)delta::ApplyCommit(&state, 0, std::move(copy), 0);
  if (!state.has_metadata) return;
  auto schema = Schema::FromSparkJson(state.metadata.schema_string);
  if (!schema.ok()) return;
  for (const auto& [key, add] : state.files) {
    if (add.stats) (void)delta::ParseStatsJson(*add.stats, *schema, add.path);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  FileSystem* fs = FileSystem::Default();
  switch (data[0] % 3) {
    case 0:
      FuzzCommit(rest);
      break;
    case 1:
      if (fs->WriteFile(TableDir() + "/_delta_log/_last_checkpoint", std::string(rest)).ok())
        (void)delta::ReadLastCheckpoint(fs, TableDir());
      break;
    case 2: {
      const std::string name = "00000000000000000010.checkpoint.parquet";
      if (!fs->WriteFile(TableDir() + "/_delta_log/" + name, std::string(rest)).ok()) break;
      delta::CheckpointFiles checkpoint;
      checkpoint.version = 10;
      checkpoint.paths = {TableDir() + "/_delta_log/" + name};
      (void)delta::ReadCheckpoint(fs, TableDir(), checkpoint);
      break;
    }
  }
  return 0;
}
