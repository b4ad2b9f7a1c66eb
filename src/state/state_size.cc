#include "state/state_size.h"

#include "common/fs.h"

namespace lakepipe::state {

Result<int64_t> FolderBytes(const std::string& dir) {
  LP_ASSIGN_OR_RETURN(auto entries, FileSystem::Default()->ListDir(dir));
  int64_t bytes = 0;
  for (const auto& e : entries) {
    if (!e.is_dir) bytes += e.size;
  }
  return bytes;
}

}  // namespace lakepipe::state
