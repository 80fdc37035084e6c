// One of n deterministic slices of a sweep's points, for batch-job arrays without MPI.
#pragma once

#include <cstddef>
#include <string>

namespace tessel::sweep {

// Shard i of n holds the points whose index mod n is i (0-based, like SLURM_ARRAY_TASK_ID
// with --array=0-(n-1)). Dealing by index mod n rather than in blocks spreads a sweep whose
// slow points sit together (the last grid axis is the fastest-varying) over every shard.
struct Shard {
  size_t index = 0;
  size_t count = 1;  // 1: the whole sweep
  bool whole() const { return count == 1; }
  bool contains(size_t point) const { return point % count == index; }
  // Points of a sweep of `total` points that fall in this shard.
  size_t points_in(size_t total) const { return total / count + (index < total % count ? 1 : 0); }
  std::string describe() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// Parses "i/n" (0 <= i < n); throws tessel::Error with the usage exit code otherwise,
// naming the option and what it accepts.
Shard parse_shard(const std::string& text);

}  // namespace tessel::sweep
