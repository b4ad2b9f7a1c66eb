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

}  // namespace lakepipe::state
