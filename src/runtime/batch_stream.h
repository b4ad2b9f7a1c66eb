// BatchStream: the input of one micro-batch as a pull stream of bounded batches, so that a
// streaming flow runs its row-wise operators and writes batch by batch instead of
// materialising the whole micro-batch (docs/execution.md).
//
// What it owns: the stream interface and three wrappers over it, SliceStream (cuts batches
// to at most N rows, e.g. a Parquet row group of a million rows into 64k-row pieces),
// CoalesceStream (joins runs of small batches, e.g. one per small file) and
// PrefetchStream (runs the stream on a thread of its own, a few batches ahead, so that
// reading and decoding the next batch overlaps the operators and the writer working on
// this one: both cores busy in `run --once`).
//
// Call order: Next() until it returns false or an error, then destruction (which may come
// earlier: a PrefetchStream stops its thread and joins it; the batch being read finishes
// first). Thread-safety: one consumer thread at a time. A PrefetchStream calls the wrapped
// stream from its own thread only, so whatever the wrapped stream touches (a FileSystem,
// a DeltaTable handle, counters it fills) must not be used by anyone else until the
// stream ended (Next returned false or an error) or was destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/status.h"
#include "types/batch.h"

namespace lakepipe::runtime {

// Rows per batch of a flow that processes its micro-batches batch by batch (about 64k,
// as the CSV and JSON readers yield). Tests set a tiny number through the pipeline's
// configuration `lakepipe.batchRows` (docs/execution.md).
inline constexpr int64_t kDefaultBatchRows = 65536;

class BatchStream {
 public:
  virtual ~BatchStream() = default;
  // The next batch (with at least one row); false at the end.
  virtual Result<bool> Next(RecordBatch* out) = 0;
};

// A stream over a function with Next's contract.
std::unique_ptr<BatchStream> FunctionStream(std::function<Result<bool>(RecordBatch*)> next);

// Batches of `in` cut to at most `max_rows` rows each (max_rows > 0), in order.
std::unique_ptr<BatchStream> SliceStream(std::unique_ptr<BatchStream> in, int64_t max_rows);

// Consecutive small batches of `in` (each under max_rows / kCoalesceDivisor rows) joined
// into one of at most `max_rows` rows (max_rows > 0), in order; other batches pass
// through as they are. A read_files backlog of many small files yields a batch per file,
// and each part of a micro-batch costs a run of the query's plan, a hand-over between
// its threads and a write: 36,000 one-line files made 36,000 parts. Batches join only
// when their schemas are equal. An error of `in` comes out after the rows read before it.
inline constexpr int64_t kCoalesceDivisor = 16;
std::unique_ptr<BatchStream> CoalesceStream(std::unique_ptr<BatchStream> in, int64_t max_rows);

// `in` run on its own thread, at most `depth` batches (>= 1) ahead of the consumer.
// Errors come out in order, after the batches read before them.
std::unique_ptr<BatchStream> PrefetchStream(std::unique_ptr<BatchStream> in, size_t depth);

}  // namespace lakepipe::runtime
