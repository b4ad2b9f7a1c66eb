// libFuzzer entry point for pipeline.yaml: any bytes must give settings or a Status that
// names the key, never a crash, a hang or an escaping exception (the YAML parser's own
// exceptions included). Library globs expand against an empty folder of this process.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "common/fs.h"
#include "sql/pipeline.h"

namespace {

// The pipeline folder of this process, removed at exit.
struct ScratchFolder {
  std::string path = "/tmp/lakepipe-pipeline-yaml-fuzz-" + std::to_string(getpid());
  ScratchFolder() { (void)lakepipe::FileSystem::Default()->CreateDirs(path); }
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  static const ScratchFolder folder;
  (void)sql::ParsePipelineSettings(std::string(reinterpret_cast<const char*>(data), size), folder.path,
                                   "pipeline.yaml", {}, FileSystem::Default());
  return 0;
}
