// Loads an orders CSV (the columns of `lakepipe generate orders`) into RecordBatches for the
// benchmarks: through lakepipe's CSV reader (src/formats/csv) when it is built, otherwise a
// bench-only RFC 4180 loader. Either way the table has the typed schema DuckDB builds in
// bench/duckdb_bench.mjs: Price DOUBLE and Quantity INT via try-cast (unparseable -> NULL),
// the other six columns STRING, empty fields NULL, missing trailing fields NULL.
// Benchmark support only; one thread.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "types/batch.h"
#include "types/schema.h"

namespace lakepipe::bench {

Schema OrdersSchema();

// Which loader LoadOrdersCsv uses ("lakepipe csv reader" or "bench loader").
const char* OrdersLoaderName();

Result<std::vector<RecordBatch>> LoadOrdersCsv(const std::string& path, int64_t batch_rows);

}  // namespace lakepipe::bench
