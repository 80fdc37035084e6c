// An off-chip link with a fixed latency and a bandwidth, shared by the blocks that use it.
#pragma once

#include <systemc>

#include <cmath>
#include <cstdint>

#include "sim/core/sc_runtime.h"

namespace tessel::sim {

// A DMA-style link: one transfer occupies it for ceil(bytes / bytes_per_cycle) cycles after
// `latency_cycles` of access latency. Transfers are serialised (a request waits for the
// link to be free), which is what a single outstanding-request DMA engine does.
class OffchipLink {
 public:
  OffchipLink(const Clock& clock, double bytes_per_cycle, uint64_t latency_cycles)
      : clock_(clock), bytes_per_cycle_(bytes_per_cycle), latency_cycles_(latency_cycles) {}

  // Cycles one transfer of `bytes` takes once the link is free.
  uint64_t transfer_cycles(uint64_t bytes) const {
    return latency_cycles_ +
           static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle_ - 1e-9));
  }
  // Called from an SC_THREAD: waits for the link, then for the transfer.
  void transfer(uint64_t bytes) {
    mutex_.lock();
    sc_core::wait(clock_.cycles(transfer_cycles(bytes)));
    mutex_.unlock();
  }

 private:
  const Clock& clock_;
  double bytes_per_cycle_;
  uint64_t latency_cycles_;
  sc_core::sc_mutex mutex_;
};

}  // namespace tessel::sim
