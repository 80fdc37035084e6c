// Checks a simulated timeline of fast-memory holds against the tier's capacity.
#pragma once

#include <cstdint>
#include <vector>

namespace tessel::sentinel {

// One hold as it happened: fast memory taken at start_ps and given back at end_ps.
struct TimedHold {
  int64_t start_ps = 0, end_ps = 0;
  int64_t bytes = 0;
};

struct CapacityReport {
  bool ok = true;
  int64_t peak_bytes = 0;
  int64_t violation_ps = -1;  // first instant above capacity
  int64_t violation_bytes = 0;
};

// Sweeps the holds in time order; at equal times releases come before acquisitions
// (a DMA engine frees a frame before the next copy takes it). A hold with end < start is
// reported as a violation at its start.
CapacityReport check_capacity(const std::vector<TimedHold>& holds, int64_t capacity);

}  // namespace tessel::sentinel
