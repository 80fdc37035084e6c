// XPBuffer with random replacement.
//
// Why random: Yang et al. (FAST 2020) infer the 16 KB buffer by writing half-lines over a
// region and measuring write amplification (their data: OptaneStudy graphs/
// 09-infer_xpbuffer.csv). Past 16 KB it rises gradually, 1.36 at 20 KB, 1.61 at 24 KB,
// 1.82 at 32 KB, 2.04 at 64 KB; under LRU a cyclic pattern larger than the buffer would miss
// every time at once (2.0 from 16 KB + 256 B). Random replacement gives the gradual rise,
// and with it the gradual loss of write combining as concurrent writers are added.
#include "sim/memory/nvm_xpbuffer.h"

#include "runtime/core/seed.h"

namespace tessel::memory {

NvmXpBuffer::NvmXpBuffer(size_t lines, uint64_t seed) : capacity_(lines), rng_(seed) {
  slots_.reserve(lines);
  size_t n = 4;
  while (n < 2 * lines) n *= 2;
  index_.assign(n, Entry{0, kEmpty});
  mask_ = n - 1;
}

void NvmXpBuffer::erase(uint64_t line) {
  size_t h = hash(line);
  while (index_[h].line != line || index_[h].slot == kEmpty) h = (h + 1) & mask_;
  // Backward-shift deletion keeps every probe chain unbroken.
  for (size_t next = (h + 1) & mask_; index_[next].slot != kEmpty; next = (next + 1) & mask_) {
    const size_t home = hash(index_[next].line);
    if (((next - home) & mask_) >= ((next - h) & mask_)) {
      index_[h] = index_[next];
      h = next;
    }
  }
  index_[h].slot = kEmpty;
}

NvmXpBuffer::Line& NvmXpBuffer::insert(uint64_t line, Line& victim) {
  victim = Line{};
  uint32_t slot;
  if (slots_.size() < capacity_) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    slot = static_cast<uint32_t>(splitmix64(rng_) % capacity_);
    victim = slots_[slot];
    erase(victim.line);
  }
  slots_[slot] = Line{};
  slots_[slot].line = line;
  size_t h = hash(line);
  while (index_[h].slot != kEmpty) h = (h + 1) & mask_;
  index_[h] = Entry{line, slot};
  return slots_[slot];
}

}  // namespace tessel::memory
