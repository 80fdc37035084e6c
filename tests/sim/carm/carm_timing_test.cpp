// Storage charges of Carousel Memory's swaps against hand-computed sums.
#include <gtest/gtest.h>

#include "sim/carm/carm_timing.h"

namespace tessel::carm {
namespace {

continual::ContinualResult run_with_steps() {
  continual::ContinualResult r;
  r.train_seconds = 1.0;
  r.swap_wait_seconds = 0.2;
  // Four steps of 1 ms; swaps 0, 1, 2 issued after steps 0, 1, 3.
  r.step_compute_s = {1e-3, 1e-3, 1e-3, 1e-3};
  r.step_swap_batch = {0, 1, -1, 2};
  return r;
}

TEST(CarmTiming, SyncReplacesTheRunsWaitsByTheDeviceLatencies) {
  // 100 + 300 + 2000 µs of device latency: 1.0 - 0.2 + 0.0024 s.
  const StorageCharge c = charge_sync(run_with_steps(), {100000000, 300000000, 2000000000});
  EXPECT_NEAR(c.train_s, 0.8024, 1e-12);
  EXPECT_EQ(c.swaps, 3u);
  EXPECT_NEAR(c.swap_latency_mean_us, 800.0, 1e-9);
  EXPECT_NEAR(c.swap_latency_max_us, 2000.0, 1e-9);
}

TEST(CarmTiming, AsyncNeverWaitsAndCountsLateSwaps) {
  // Swap 0 (100 µs) fits in step 1 (1 ms); swap 1 (1.5 ms) does not fit in step 2; swap 2
  // follows the last step, so nothing hides it: 2 of 3 late.
  const StorageCharge c = charge_async(run_with_steps(), {100000000, 1500000000, 50000000});
  EXPECT_DOUBLE_EQ(c.train_s, 1.0);
  EXPECT_NEAR(c.late_fraction, 2.0 / 3.0, 1e-12);
}

TEST(CarmTiming, UnknownLatenciesAreSkipped) {
  const StorageCharge c = charge_sync(run_with_steps(), {-1, 400000000, -1});
  EXPECT_EQ(c.swaps, 1u);
  EXPECT_NEAR(c.train_s, 0.8004, 1e-12);
}

}  // namespace
}  // namespace tessel::carm
