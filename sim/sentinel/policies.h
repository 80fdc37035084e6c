// Placement policies for DRAM + NVM: Sentinel (each idea a switch) and the baselines
// (all-DRAM, all-NVM, static first-touch, OS-style page-level hotness migration).
#pragma once

#include <cstdint>
#include <string>

#include "sim/sentinel/allocator.h"
#include "sim/sentinel/plan.h"
#include "sim/sentinel/tensor_profile.h"

namespace tessel::sentinel {

struct SentinelSwitches {
  bool group_allocation = true;  // allocator arenas per lifetime/hotness class
  bool short_pool = true;        // short-lived tensors in a reserved fast pool
  bool layer_migration = true;   // prefetch before use, demote after, by layer order
  bool bandwidth_bound = true;   // copies fit the DMA engine and are charged the NVM time they add
  int max_lookahead = 3;         // intervals a prefetch may be issued ahead of its use
};

// AutoNUMA / IAL-like page migration (docs/sentinel.md lists the Linux counterparts).
struct OsParams {
  int period = 1;         // intervals between scans (hinting-fault sampling rounds)
  int hot_threshold = 1;  // accesses within the last period that make a page hot
  int64_t max_promote_bytes = 64LL << 20;  // per scan (the promotion rate limit)
};

struct PolicyOptions {
  std::string policy = "sentinel";  // all_dram | all_nvm | first_touch | os_hotness | sentinel
  int64_t fast_bytes = 0;
  int64_t page_bytes = 4096;
  SentinelSwitches sentinel;
  OsParams os;
  LayoutOptions layout;  // page_bytes and group are set from the fields above
  // Planner estimates (the replay measures the real times).
  double dma_gbps = 10;
  double fast_gbps = 40, slow_read_gbps = 10, slow_write_gbps = 4;
  double flops_per_s = 1e12;
};

// A lower bound on a steady-state step's time (s) for any placement with `fast_bytes` of
// fast memory, compute at `flops_per_s` and NVM writes at no more than `nvm_write_bps`:
// the step's compute, and the NVM writes no placement avoids. Let p be the interval where
// live transient bytes peak (L) and D the bytes of persistent tensors whose last access in
// the step is a write (what the optimizer updates). Each such byte is written to NVM after
// that write or still occupies fast memory at the next step's peak, so at least
// L + D - fast_bytes bytes are written to NVM between the optimizer and the peak: during
// intervals 0..p and those after the last backward interval. Assumes each live transient
// has been written; ignores reads and the fast memory other persistent tensors take (the
// bound only gets weaker).
double step_lower_bound_s(const Profile& p, double flops_per_s, double nvm_write_bps,
                          int64_t fast_bytes);

// A plan for two consecutive steps of the profiled step. Infeasible (plan.feasible false,
// reason set) when Sentinel's fast memory is smaller than the largest tensor.
Plan make_plan(const Profile& p, const PolicyOptions& o);

}  // namespace tessel::sentinel
