// An off-chip stream with many requests in flight: bandwidth is serialised, latency overlaps.
#pragma once

#include <systemc>

#include <cmath>
#include <cstdint>

#include "sim/core/sc_runtime.h"

namespace tessel::nxm {

// The unit's DMA engines keep enough requests outstanding to cover the memory latency
// (HBM controllers accept dozens), so consecutive transfers occupy the link only for
// their bytes / bandwidth, and each one's data lands `latency` cycles after its last
// byte was requested. (sim/core/offchip_link.h models one outstanding request instead,
// which would charge the full latency to every chunk.) One process uses each link.
class StreamLink {
 public:
  StreamLink(const sim::Clock& clock, double bytes_per_cycle, uint64_t latency_cycles)
      : clock_(clock), bytes_per_cycle_(bytes_per_cycle), latency_cycles_(latency_cycles) {}

  uint64_t occupancy_cycles(uint64_t bytes) const {
    return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) / bytes_per_cycle_ - 1e-9));
  }
  uint64_t latency_cycles() const { return latency_cycles_; }
  // Called from an SC_THREAD: occupies the link for the transfer; returns the cycle at
  // which its data has arrived.
  uint64_t transfer(uint64_t bytes) {
    sc_core::wait(clock_.cycles(occupancy_cycles(bytes)));
    return clock_.now_cycles() + latency_cycles_;
  }

 private:
  const sim::Clock& clock_;
  double bytes_per_cycle_;
  uint64_t latency_cycles_;
};

}  // namespace tessel::nxm
