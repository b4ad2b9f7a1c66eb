// read_postgres_cdc as a message source of a streaming flow (runtime/stream_source.h):
// ranges are `{"slot", "afterLsn", "endLsn"}` (plus `"snapshot"` for the first batch)
// over a CdcReader; Acknowledge confirms `endLsn` to the slot, so the slot never passes
// what the flow has not committed (docs/postgres-cdc.md, "Exactly once").
// Thread-safety and call order: those of StreamSource.
#pragma once

#include <memory>

#include "common/status.h"
#include "pgcdc/cdc_reader.h"
#include "runtime/stream_source.h"

namespace lakepipe::pgcdc {

// `options` as ParseCdcOptions made them; the slot defaults to one derived from the flow.
Result<std::unique_ptr<runtime::StreamSource>> OpenPostgresCdcSource(const CdcOptions& options,
                                                                     const runtime::StreamSourceContext& context);

}  // namespace lakepipe::pgcdc
