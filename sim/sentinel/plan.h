// A placement plan: per interval the accesses with their tier, the migrations (DMA between
// tiers) with the interval that issues them and the one that must wait for them, and the
// fast-memory holds the capacity checker verifies on the simulated timeline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::sentinel {

// 16 bytes (the flags share the size's word): a 1M-event plan holds ~4M of them, and
// writing them was most of the planning time.
struct PlanAccess {
  PlanAccess() : bytes(0), write(false), fast(false) {}
  PlanAccess(int64_t offset_, int64_t bytes_, bool write_, bool fast_)
      : offset(offset_), bytes(bytes_), write(write_), fast(fast_) {}
  int64_t offset = 0;  // virtual byte offset of the data (the allocator's layout)
  int64_t bytes : 62;
  bool write : 1;
  bool fast : 1;
};
static_assert(sizeof(PlanAccess) == 16, "PlanAccess is meant to be packed");

// Copies `bytes` at `offset` to the other tier. Enqueued on the DMA engine at the end of
// interval issue - 1 (the start of the run for issue 0); interval `deadline` starts only
// after it has completed (deadline >= intervals: nobody waits).
struct Migration {
  int64_t offset = 0, bytes = 0;
  bool to_fast = true;
  int issue = 0, deadline = 0;
};

// Fast memory held by `bytes` from the start of interval `start` (or, with
// start_migration >= 0, from when that promotion's DMA starts) to the end of interval
// `end` (or, with end_migration >= 0, until that demotion's DMA completes).
struct Hold {
  int64_t bytes = 0;
  int start = 0, end = 0;
  int start_migration = -1, end_migration = -1;
};

struct Plan {
  std::string policy;
  bool feasible = true;
  std::string reason;  // why not feasible
  int64_t fast_capacity = 0;
  int intervals = 0;       // two steps: the first warms up, the second is measured
  int step_intervals = 0;  // intervals of one step
  std::vector<std::vector<PlanAccess>> accesses;  // per interval
  std::vector<double> flops;                      // per interval
  std::vector<Migration> migrations;              // FIFO order of the DMA engine
  std::vector<Hold> holds;
};

// The most fast memory the plan holds in any interval, counting every hold over whole
// intervals (an upper bound of the timeline's occupancy).
int64_t plan_peak_occupancy(const Plan& plan);

}  // namespace tessel::sentinel
