// Storage-model charges for synchronous and asynchronous swapping.
#include "sim/carm/carm_timing.h"

#include <algorithm>

namespace tessel::carm {
namespace {

StorageCharge latencies(const std::vector<int64_t>& latency_ps) {
  StorageCharge c;
  double sum = 0;
  for (int64_t l : latency_ps) {
    if (l < 0) continue;
    ++c.swaps;
    sum += double(l) * 1e-6;
    c.swap_latency_max_us = std::max(c.swap_latency_max_us, double(l) * 1e-6);
  }
  c.swap_latency_mean_us = c.swaps ? sum / double(c.swaps) : 0;
  return c;
}

}  // namespace

StorageCharge charge_sync(const continual::ContinualResult& run,
                          const std::vector<int64_t>& latency_ps) {
  StorageCharge c = latencies(latency_ps);
  c.train_s =
      run.train_seconds - run.swap_wait_seconds + c.swap_latency_mean_us * 1e-6 * double(c.swaps);
  return c;
}

StorageCharge charge_async(const continual::ContinualResult& run,
                           const std::vector<int64_t>& latency_ps) {
  StorageCharge c = latencies(latency_ps);
  c.train_s = run.train_seconds;
  uint64_t late = 0, counted = 0;
  for (size_t i = 0; i < run.step_swap_batch.size(); ++i) {
    const int64_t b = run.step_swap_batch[i];
    if (b < 0 || size_t(b) >= latency_ps.size() || latency_ps[size_t(b)] < 0) continue;
    ++counted;
    const double next = i + 1 < run.step_compute_s.size() ? run.step_compute_s[i + 1] : 0;
    late += double(latency_ps[size_t(b)]) * 1e-12 > next;
  }
  c.late_fraction = counted ? double(late) / double(counted) : 0;
  return c;
}

}  // namespace tessel::carm
