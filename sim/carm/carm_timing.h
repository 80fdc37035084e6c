// Charging Carousel Memory's swaps the latency of a storage model: from a run's measured
// step times and the per-swap read latencies a replay of its read trace gave, the training
// time the run would have had on that device, synchronous and asynchronous.
#pragma once

#include <cstdint>
#include <vector>

#include "models/continual/learner.h"

namespace tessel::carm {

struct StorageCharge {
  double train_s = 0;  // training time with the device's swap latencies
  double swap_latency_mean_us = 0, swap_latency_max_us = 0;
  double late_fraction = 0;  // async: swaps not complete when the next step ended
  uint64_t swaps = 0;
};

// `latency_ps[b]`: completion time of swap batch b (its last read done minus its first
// issued), -1 when unknown. Sync: the training thread waits for each swap, so the run's
// own swap waits are replaced by the device's latencies:
//   train_s = run.train_seconds - run.swap_wait_seconds + Σ_b latency_b.
// Async: the training thread never waits for the device (only its bookkeeping, already in
// train_seconds, counts); a swap is late when its latency exceeds the compute time of the
// step after it (its samples then arrive a step or more later than they would in sync).
StorageCharge charge_sync(const continual::ContinualResult& run,
                          const std::vector<int64_t>& latency_ps);
StorageCharge charge_async(const continual::ContinualResult& run,
                           const std::vector<int64_t>& latency_ps);

}  // namespace tessel::carm
