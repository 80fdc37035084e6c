// SSD replay of Zoom's page reads against hand-computed NVMe timings (each case its own process:
// SystemC simulates once per process).
#include <gtest/gtest.h>

#include <cmath>

#include "sim/zoom/ssd_replay.h"

namespace tessel::zoom {
namespace {

// configs/hw/zoom/tlc_nvme.yaml's drive (sim/memory's tlc_nvme): tR 60 µs, 800 MB/s channels,
// 10 µs firmware, 1 µs submission, 5 µs interrupt completion.
memory::SsdParams drive() {
  memory::SsdParams p;
  p.logical_bytes = uint64_t{1} << 30;
  p.channels = 8;
  p.dies_per_channel = 4;
  p.planes_per_die = 2;
  p.page_bytes = 16384;
  p.pages_per_block = 256;
  p.sector_bytes = 4096;
  p.read_us = 60;
  p.program_us = 700;
  p.erase_us = 3500;
  p.channel_mbps = 800;
  p.firmware_us = 10;
  p.host_submit_us = 1;
  p.host_interrupt_us = 5;
  p.write_buffer_pages = 256;
  p.queue_depth = 1024;
  return p;
}

// One 4 KiB read on an idle drive: submission + firmware + array read + one sector over the
// channel + completion = 1 + 10 + 60 + 4096 B / 800 MB/s + 5 = 81.12 µs.
constexpr double kOneRead = 1 + 10 + 60 + 4096.0 / 800 + 5;

TEST(ZoomSsdReplay, QueueDepthOneCostsOneIdleReadPerPage) {
  // 3 queries of 1, 10 and 40 pages spread over the file.
  std::vector<std::vector<int64_t>> pages = {{5}, {}, {}};
  for (int i = 0; i < 10; ++i) pages[1].push_back(1 + 37 * i);
  for (int i = 0; i < 40; ++i) pages[2].push_back(3 + 37 * i);
  const SsdReplayResult r = replay_query_pages(pages, drive(), 64, 20000);
  EXPECT_FALSE(r.overlapped);
  EXPECT_NEAR(r.sequential_us[0], kOneRead, 1e-3);
  EXPECT_NEAR(r.parallel_us[0], kOneRead, 1e-3);
  EXPECT_NEAR(r.sequential_us[1], 10 * kOneRead, 1e-2);
  // 40 reads: each an idle read, except that a read of a flash page still held in its plane's
  // register skips the 60 µs array read (sim/memory/flash_array.h): a whole number of those.
  const double saved = (40 * kOneRead - r.sequential_us[2]) / 60;
  EXPECT_NEAR(saved, std::round(saved), 1e-4);
  EXPECT_GE(saved, -1e-4);
  EXPECT_LE(saved, 8);
  // In flight together, 40 reads over 32 dies cost a few array reads, not 40.
  EXPECT_LT(r.parallel_us[2], 40 * kOneRead / 8);
  EXPECT_GE(r.parallel_us[2], kOneRead);
}

TEST(ZoomSsdReplay, ATooShortGapIsReportedAsOverlap) {
  std::vector<std::vector<int64_t>> pages(2);
  for (int i = 0; i < 20; ++i) pages[0].push_back(i * 13), pages[1].push_back(i * 17 + 2);
  const SsdReplayResult r = replay_query_pages(pages, drive(), 64, 100);  // 20 reads > 100 µs
  EXPECT_TRUE(r.overlapped);
}

}  // namespace
}  // namespace tessel::zoom
