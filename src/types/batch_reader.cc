#include "types/batch_reader.h"

namespace lakepipe {

Result<RecordBatch> ReadAllBatches(BatchReader* reader, ReadStats* stats) {
  std::vector<RecordBatch> batches;
  ReadBatch b;
  for (;;) {
    LP_ASSIGN_OR_RETURN(bool more, reader->Next(&b));
    if (!more) break;
    batches.push_back(std::move(b.batch));
  }
  if (stats != nullptr) stats->Add(reader->total_stats());
  if (batches.size() == 1) return std::move(batches[0]);
  if (batches.empty()) return RecordBatch::Empty(reader->schema());
  return RecordBatch::Concat(reader->schema(), batches);
}

}  // namespace lakepipe
