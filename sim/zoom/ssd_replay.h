// Replays each Zoom query's full-view page reads through sim/memory's NVMe SSD model: the
// simulated device time of a query, independent of the host's disk.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/memory/ftl.h"

namespace tessel::zoom {

struct SsdReplayResult {
  // Per query: last completion minus first issue (µs), as the host sees it (submission,
  // firmware, flash array, channel, completion).
  std::vector<double> parallel_us;    // all of a query's reads in flight, up to queue_depth
  std::vector<double> sequential_us;  // one read at a time (queue depth 1)
  bool overlapped = false;            // a query was still reading when the next one started
};

// Query j's reads are issued at j * gap_us, each a 4 KiB read at byte page * 4096 of the
// device (the full-view file from address 0). Two SSDs with the same parameters, one behind a
// player with `queue_depth` outstanding reads and one with 1, are simulated together. The
// SSD's prefill is raised to cover the file (unwritten sectors would read for free). Runs one
// SystemC simulation: once per process.
SsdReplayResult replay_query_pages(const std::vector<std::vector<int64_t>>& pages,
                                   memory::SsdParams params, int64_t queue_depth, double gap_us);

}  // namespace tessel::zoom
