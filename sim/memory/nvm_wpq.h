// The iMC's write-pending queue in front of one NVM DIMM: 64 B entries that leave in order,
// one channel transfer each, when the DIMM takes them. A store is persistent (ADR) once it
// has an entry, so a full queue is what makes a writer wait for the media.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tessel::memory {

class NvmWpq {
 public:
  NvmWpq(size_t entries, double transfer_ns) : free_(entries, 0.0), transfer_ns_(transfer_ns) {}

  // A 64 B store offered at `t` enters the queue once the entry `entries` stores back has
  // left; returns that time.
  double enter(double t) const { return std::max(t, free_[head_]); }
  // The store entered at `entered` reaches the DIMM after the one before it was taken
  // (entries leave in order) and one channel transfer.
  double arrive(double entered) const { return std::max(entered, last_taken_) + transfer_ns_; }
  // The DIMM took the store at `taken`: its entry is free again.
  void taken(double taken) {
    last_taken_ = std::max(last_taken_, taken);
    free_[head_] = last_taken_;
    head_ = head_ + 1 == free_.size() ? 0 : head_ + 1;
  }

 private:
  std::vector<double> free_;  // ring: when each entry is free again, ns
  size_t head_ = 0;
  double last_taken_ = 0;
  double transfer_ns_;
};

}  // namespace tessel::memory
