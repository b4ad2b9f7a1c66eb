// libFuzzer entry point for pipeline.yaml: any bytes must give settings or a Status that
// names the key, never a crash, a hang or an escaping exception (the YAML parser's own
// exceptions included). Library globs expand against an empty folder of this process.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/fs.h"
#include "sql/pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lakepipe;
  static const std::string folder = [] {
    std::string d = "/tmp/lakepipe-pipeline-yaml-fuzz-" + std::to_string(getpid());
    (void)FileSystem::Default()->CreateDirs(d);
    return d;
  }();
  (void)sql::ParsePipelineSettings(std::string(reinterpret_cast<const char*>(data), size), folder,
                                   "pipeline.yaml", {}, FileSystem::Default());
  return 0;
}
