// A Parquet file as a BatchReader (types/batch_reader.h), for callers that read every
// format through the one interface (formats/options, `lakepipe table write`). Kept apart
// from parquet.h so that the many users of parquet.h do not include the interface.
//
// One batch per row group, so memory follows the writer's row group size. Parquet has no
// rescue column: schema() and data_schema() are the file's schema, and the stats count
// rows only. The reader is used by one thread at a time.
#pragma once

#include <memory>
#include <string>

#include "common/fs.h"
#include "common/status.h"
#include "types/batch_reader.h"

namespace lakepipe::parquet {

Result<std::unique_ptr<BatchReader>> OpenBatchReader(FileSystem* fs, const std::string& path);

}  // namespace lakepipe::parquet
