#include "testing/example_copy.h"

#include "common/fs.h"
#include "testing/testing.h"

namespace lakepipe::testing {

Status CopyOrdersExample(const std::string& folder, const std::string& pipeline_yaml_extra) {
  FileSystem* fs = FileSystem::Default();
  LP_RETURN_IF_ERROR(fs->CreateDirs(folder));
  for (const std::string f : {"bronze.sql", "silver.sql", "gold.sql", "dashboard.yaml", "pipeline.yaml"}) {
    LP_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(SourceDir() + "/examples/orders/" + f));
    if (f == "pipeline.yaml") text += pipeline_yaml_extra;
    LP_RETURN_IF_ERROR(fs->WriteFile(JoinPath(folder, f), text));
  }
  return Status::OK();
}

}  // namespace lakepipe::testing
