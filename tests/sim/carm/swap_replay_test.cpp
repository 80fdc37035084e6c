// The sample store's trace replayed on the TLC NVMe SSD model (configs/hw/memory/
// tlc_nvme.yaml): an isolated 4 KiB swap read costs the sum of the configured steps, and a
// swap's reads spread over the dies overlap. Each test is its own process (SystemC).
#include <gtest/gtest.h>

#include "runtime/core/config.h"
#include "sim/carm/swap_replay.h"

namespace tessel::carm {
namespace {

memory::HierarchySpec ssd() {
  return memory::read_hierarchy(
      Config::load(std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/tlc_nvme.yaml"));
}

MemoryTrace reads(int n, uint64_t stride) {
  MemoryTrace t;
  t.object_index("carm_store");
  for (int i = 0; i < n; ++i) {
    MemoryRequest q;
    q.object = 0;
    q.address = uint64_t(i) * stride;
    q.bytes = 4096;
    q.batch = 0;
    q.time_ps = 0;
    t.requests.push_back(q);
  }
  return t;
}

TEST(CarmReplay, IsolatedSwapReadCostsTheConfiguredSteps) {
  Counters counters;
  std::map<std::string, double> metrics;
  const ReplayResult r = replay_store_trace(reads(1, 4096), ssd(), 64, counters, metrics);
  ASSERT_EQ(r.batch_latency_ps.size(), 1u);
  // Hand sum from tlc_nvme.yaml and pcie_gen3_x4.yaml: 1 µs submission + 10 µs firmware +
  // 60 µs tR + 4096 B over an 800 MB/s channel (5.12 µs) + 4096 B over PCIe 3.0 x4
  // (~1.04 µs at 3.94 GB/s) + 5 µs interrupt completion = 82.2 µs; the link's own latency
  // and packet overheads are the rest (allowed: +15 %).
  const double us = double(r.batch_latency_ps[0]) * 1e-6;
  EXPECT_GE(us, 82.0);
  EXPECT_LE(us, 82.2 * 1.15);
}

TEST(CarmReplay, ReadsOfOneSwapOverlapAcrossDies) {
  Counters counters;
  std::map<std::string, double> metrics;
  // 16 records 64 KiB apart: four pages apart, so on different dies of the 32.
  const ReplayResult one = replay_store_trace(reads(16, 65536), ssd(), 64, counters, metrics);
  const double us = double(one.batch_latency_ps[0]) * 1e-6;
  EXPECT_EQ(one.reads, 16u);
  EXPECT_LT(us, 4 * 82.2);  // far below 16 reads one after another (1,315 µs)
  EXPECT_GE(us, 82.0);
}

}  // namespace
}  // namespace tessel::carm
