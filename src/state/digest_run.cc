#include "state/digest_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace lakepipe::state {
namespace {

constexpr size_t kWriteBufferDigests = 4096;
constexpr size_t kReadBufferDigests = 4096;

Status WriteAll(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write " + path);
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Reads exactly `bytes` at `offset`.
Status ReadAt(int fd, void* data, size_t bytes, int64_t offset, const std::string& path) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    ssize_t n = ::pread(fd, p, bytes, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read " + path);
    }
    if (n == 0) return Status::Corruption("spilled key run " + path + " is shorter than written");
    p += n;
    bytes -= static_cast<size_t>(n);
    offset += n;
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<DigestRun>> DigestRun::Create(const std::string& path, int64_t count) {
  std::unique_ptr<DigestRun> run(new DigestRun());
  run->path_ = path;
  run->fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (run->fd_ < 0) return Status::FromErrno(errno, "create " + path);
  run->filter_.Reset(count);
  run->fences_.reserve((static_cast<size_t>(count) + kDigestsPerBlock - 1) / kDigestsPerBlock);
  return run;
}

Status DigestRun::Append(const Digest128& d, std::vector<Digest128>* buffer) {
  if (count_ % static_cast<int64_t>(kDigestsPerBlock) == 0) fences_.push_back(d);
  filter_.Add(d);
  ++count_;
  buffer->push_back(d);
  if (buffer->size() == kWriteBufferDigests) return Flush(buffer);
  return Status::OK();
}

Status DigestRun::Flush(std::vector<Digest128>* buffer) {
  // No fsync: a run is never read by another process; a crash discards the batch and Open
  // deletes the file.
  LP_RETURN_IF_ERROR(WriteAll(fd_, buffer->data(), buffer->size() * sizeof(Digest128), path_));
  buffer->clear();
  return Status::OK();
}

Result<std::unique_ptr<DigestRun>> DigestRun::Write(const std::string& path, const DigestTable& table,
                                                    const std::vector<uint32_t>& sorted_slots) {
  LP_ASSIGN_OR_RETURN(auto run, Create(path, static_cast<int64_t>(sorted_slots.size())));
  std::vector<Digest128> buffer;
  buffer.reserve(kWriteBufferDigests);
  for (uint32_t slot : sorted_slots) LP_RETURN_IF_ERROR(run->Append(table.digest(slot), &buffer));
  LP_RETURN_IF_ERROR(run->Flush(&buffer));
  return run;
}

Result<std::unique_ptr<DigestRun>> DigestRun::Merge(const std::string& path,
                                                    const std::vector<const DigestRun*>& inputs) {
  int64_t total = 0;
  int level = 0;
  for (const DigestRun* in : inputs) {
    total += in->size();
    level = std::max(level, in->level() + 1);
  }
  LP_ASSIGN_OR_RETURN(auto run, Create(path, total));
  run->level_ = level;
  std::vector<std::unique_ptr<DigestRunReader>> readers;
  std::vector<Digest128> heads(inputs.size());
  std::vector<bool> live(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    readers.push_back(std::make_unique<DigestRunReader>(*inputs[i]));
    LP_ASSIGN_OR_RETURN(bool more, readers[i]->Next(&heads[i]));
    live[i] = more;
  }
  std::vector<Digest128> buffer;
  buffer.reserve(kWriteBufferDigests);
  Digest128 last{};
  // Few inputs (SeenKeyStore merges four at a time): the smallest head by a linear scan.
  while (true) {
    size_t best = inputs.size();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (live[i] && (best == inputs.size() || DigestTable::KeyLess(heads[i], heads[best]))) best = i;
    }
    if (best == inputs.size()) break;
    if (run->count_ > 0 && !DigestTable::KeyLess(last, heads[best])) {
      return Status::Internal("merging spilled key runs into " + path + ": a key twice or out of order");
    }
    last = heads[best];
    LP_RETURN_IF_ERROR(run->Append(heads[best], &buffer));
    LP_ASSIGN_OR_RETURN(bool more, readers[best]->Next(&heads[best]));
    live[best] = more;
  }
  LP_RETURN_IF_ERROR(run->Flush(&buffer));
  if (run->count_ != total) return Status::Internal("merging spilled key runs into " + path + ": digests lost");
  return run;
}

DigestRun::~DigestRun() {
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> DigestRun::Contains(const Digest128& d) const {
  if (count_ == 0) return false;
  // The last block whose first digest is at or below d.
  auto it = std::upper_bound(fences_.begin(), fences_.end(), d, DigestTable::KeyLess);
  if (it == fences_.begin()) return false;
  size_t block = static_cast<size_t>(it - fences_.begin()) - 1;
  int64_t first = static_cast<int64_t>(block * kDigestsPerBlock);
  size_t n = static_cast<size_t>(std::min<int64_t>(kDigestsPerBlock, count_ - first));
  Digest128 buf[kDigestsPerBlock];
  LP_RETURN_IF_ERROR(ReadAt(fd_, buf, n * sizeof(Digest128), first * static_cast<int64_t>(sizeof(Digest128)), path_));
  auto pos = std::lower_bound(buf, buf + n, d, DigestTable::KeyLess);
  return pos != buf + n && *pos == d;
}

int64_t DigestRun::BlockStartFor(const Digest128& d) const {
  // The last block whose first digest is below d holds the first digest at or above it
  // (or ends just before it, when that digest opens the next block).
  auto it = std::lower_bound(fences_.begin(), fences_.end(), d, DigestTable::KeyLess);
  if (it == fences_.begin()) return 0;
  return static_cast<int64_t>(it - fences_.begin() - 1) * static_cast<int64_t>(kDigestsPerBlock);
}

int64_t DigestRun::MemoryBytes() const {
  return filter_.MemoryBytes() + static_cast<int64_t>(fences_.capacity() * sizeof(Digest128));
}

void DigestRun::Remove() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

Result<bool> DigestRunReader::Next(Digest128* d) {
  if (at_ == buffer_.size()) {
    if (read_ == run_.count_) return false;
    size_t n = static_cast<size_t>(std::min<int64_t>(kReadBufferDigests, run_.count_ - read_));
    buffer_.resize(n);
    LP_RETURN_IF_ERROR(ReadAt(run_.fd_, buffer_.data(), n * sizeof(Digest128),
                              read_ * static_cast<int64_t>(sizeof(Digest128)), run_.path_));
    read_ += static_cast<int64_t>(n);
    at_ = 0;
  }
  *d = buffer_[at_++];
  return true;
}

}  // namespace lakepipe::state
