// Deduplicate (and DISTINCT): passes on only the rows whose key — chosen columns, or all
// columns — has not been seen before, within a batch and across batches (first
// occurrence wins, in stream order).
//
// The seen-set is behind the SeenKeySet interface so the streaming runtime can back it
// with RocksDB (and expire old keys by watermark) later; InMemorySeenKeySet is the
// in-process one. Keys are KeyEncoder bytes (stable: safe to persist).
//
// Call order: Make, then Push per batch in stream order. Not thread-safe.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "operators/key_table.h"
#include "types/batch.h"

namespace lakepipe::operators {

class SeenKeySet {
 public:
  virtual ~SeenKeySet() = default;
  // For each key: inserts it and sets (*inserted)[i] = 1 when it was absent, else 0. Keys
  // repeated inside `keys` count as seen after their first occurrence.
  virtual Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) = 0;
  virtual int64_t size() const = 0;
  virtual int64_t MemoryBytes() const = 0;
};

class InMemorySeenKeySet : public SeenKeySet {
 public:
  Status InsertIfAbsent(const std::vector<std::string_view>& keys, std::vector<uint8_t>* inserted) override;
  int64_t size() const override { return table_.size(); }
  int64_t MemoryBytes() const override { return table_.MemoryBytes(); }

 private:
  KeyTable table_;
};

class Deduplicate {
 public:
  // `key_columns`: indexes into `input`; empty = all columns (DISTINCT).
  static Result<std::unique_ptr<Deduplicate>> Make(const Schema& input, std::vector<int> key_columns,
                                                   std::shared_ptr<SeenKeySet> seen = nullptr);
  // The rows of `batch` whose key is new (shares the batch when all are new).
  Result<RecordBatch> Push(const RecordBatch& batch);
  const SeenKeySet& seen() const { return *seen_; }

 private:
  Deduplicate() = default;
  std::vector<int> key_columns_;
  std::shared_ptr<SeenKeySet> seen_;
  std::string arena_;
  std::vector<std::string_view> keys_;
  std::vector<uint8_t> inserted_;
};

}  // namespace lakepipe::operators
