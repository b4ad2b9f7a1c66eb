#include "operators/deduplicate.h"

#include "operators/filter.h"
#include "operators/key_encoder.h"

namespace lakepipe::operators {

Status InMemorySeenKeySet::InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) {
  inserted->resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    bool added;
    table_.FindOrInsert(keys[i], &added);
    (*inserted)[i] = added ? 1 : 0;
  }
  return Status::OK();
}

Result<std::unique_ptr<Deduplicate>> Deduplicate::Make(const Schema& input, std::vector<int> key_columns,
                                                       std::shared_ptr<SeenKeySet> seen) {
  std::unique_ptr<Deduplicate> d(new Deduplicate());
  if (key_columns.empty()) {
    for (size_t i = 0; i < input.size(); ++i) key_columns.push_back(static_cast<int>(i));
  }
  for (int k : key_columns) {
    if (k < 0 || static_cast<size_t>(k) >= input.size()) {
      return Status::InvalidArgument("deduplication key column #" + std::to_string(k) + " is not in the input");
    }
    LP_RETURN_IF_ERROR(KeyEncoder::CheckKeyType(input.field(static_cast<size_t>(k)).type,
                                                "deduplication key `" + input.field(static_cast<size_t>(k)).name + "`"));
  }
  d->key_columns_ = std::move(key_columns);
  d->seen_ = seen ? std::move(seen) : std::make_shared<InMemorySeenKeySet>();
  return d;
}

Result<RecordBatch> Deduplicate::Push(const RecordBatch& batch) {
  std::vector<const Column*> cols;
  for (int k : key_columns_) cols.push_back(&batch.column(static_cast<size_t>(k)));
  KeyEncoder::EncodeAll(cols, batch.num_rows(), &arena_, &keys_);
  LP_RETURN_IF_ERROR(seen_->InsertIfAbsent(keys_, &inserted_));
  std::vector<int32_t> rows;
  for (size_t i = 0; i < inserted_.size(); ++i) {
    if (inserted_[i]) rows.push_back(static_cast<int32_t>(i));
  }
  if (static_cast<int64_t>(rows.size()) == batch.num_rows()) return batch;
  return TakeRows(batch, rows);
}

}  // namespace lakepipe::operators
