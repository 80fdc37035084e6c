// Replays Carousel Memory's store traffic (streamed-sample writes, swap reads in batches)
// on a sim/memory device model and returns each swap batch's latency.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/counters.h"
#include "runtime/core/memory_trace.h"
#include "sim/memory/memory_system.h"

namespace tessel::carm {

struct ReplayResult {
  std::vector<int64_t> batch_latency_ps;  // by batch id; -1 for ids never seen
  double read_latency_mean_ns = 0;
  uint64_t reads = 0, writes = 0;
  double end_s = 0;  // simulated time of the last completion
};

// One SystemC simulation (call once per process). `max_outstanding` caps requests in
// flight (the host's queue); batches come from MemoryRequest::batch.
ReplayResult replay_store_trace(const MemoryTrace& trace, const memory::HierarchySpec& spec,
                                int64_t max_outstanding, Counters& counters,
                                std::map<std::string, double>& metrics);

}  // namespace tessel::carm
