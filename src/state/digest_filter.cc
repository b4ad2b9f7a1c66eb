#include "state/digest_filter.h"

#include <algorithm>

namespace lakepipe::state {

uint64_t DigestFilter::BlocksFor(int64_t digests) {
  const uint64_t n = static_cast<uint64_t>(std::max<int64_t>(digests, 0));
  return std::max<uint64_t>(1, (n * kBitsPerDigest + 511) / 512);
}

int64_t DigestFilter::BytesFor(int64_t digests) {
  return static_cast<int64_t>(BlocksFor(digests) * kWordsPerBlock * sizeof(uint64_t));
}

void DigestFilter::Reset(int64_t digests) {
  blocks_ = BlocksFor(digests);
  sized_for_ = digests;
  words_.assign(blocks_ * kWordsPerBlock, 0);
}

void DigestFilter::Clear() {
  std::vector<uint64_t>().swap(words_);
  blocks_ = 0;
  sized_for_ = 0;
}

void GrowingDigestFilter::Reset(int64_t intake, int64_t sized_for) {
  links_.clear();
  links_.emplace_back();
  links_.back().filter.Reset(sized_for);
  links_.back().intake = intake;
}

void GrowingDigestFilter::Clear() { std::vector<Link>().swap(links_); }

int64_t GrowingDigestFilter::NextIntake(int64_t more, bool dense) const {
  constexpr int64_t kLeast = 1 << 16;
  return std::max({dense ? added() / 4 : added(), more, kLeast});
}

int64_t GrowingDigestFilter::BytesToGrow(int64_t more, bool dense) const {
  if (!links_.empty() && links_.back().intake - links_.back().added >= more) return 0;
  int64_t intake = NextIntake(more, dense);
  return DigestFilter::BytesFor(dense ? intake : 2 * intake);
}

void GrowingDigestFilter::Grow(int64_t more, bool dense) {
  if (BytesToGrow(more, dense) == 0) return;
  int64_t intake = NextIntake(more, dense);
  links_.emplace_back();
  links_.back().filter.Reset(dense ? intake : 2 * intake);
  links_.back().intake = intake;
}

int64_t GrowingDigestFilter::added() const {
  int64_t n = 0;
  for (const Link& l : links_) n += l.added;
  return n;
}

int64_t GrowingDigestFilter::sized_for() const {
  int64_t n = 0;
  for (const Link& l : links_) n += l.filter.sized_for();
  return n;
}

int64_t GrowingDigestFilter::MemoryBytes() const {
  int64_t n = 0;
  for (const Link& l : links_) n += l.filter.MemoryBytes();
  return n;
}

}  // namespace lakepipe::state
