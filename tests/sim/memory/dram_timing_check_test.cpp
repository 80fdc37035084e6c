// The timing checker that `tessel validate` and workload.check_timing run: it passes a legal
// hand-written command sequence and names the first constraint a broken one violates.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/core/config.h"
#include "sim/memory/dram_timing_check.h"

namespace tessel::memory {
namespace {

DramParams ddr4() {
  Config c =
      Config::load(std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/ddr4_3200.yaml", "hw");
  return read_dram_params(c.child("dram"), c.child("controller"));
}

// ACT, RD, PRE, ACT on bank (0, 0, 0), each as early as the datasheet allows.
std::vector<DramCommand> legal(const DramTiming& t) {
  const int64_t act = 10, rd = act + t.rcd, pre = std::max(act + t.ras, rd + t.rtp);
  const int64_t act2 = std::max(pre + t.rp, act + t.rc);
  return {{DramCommand::kAct, act, 0, 0, 0, 7},
          {DramCommand::kRd, rd, 0, 0, 0, 7},
          {DramCommand::kPre, pre, 0, 0, 0, 7},
          {DramCommand::kAct, act2, 0, 0, 0, 9}};
}

TEST(DramTimingCheck, LegalSequencePasses) {
  const DramParams p = ddr4();
  const TimingCheckResult r = check_dram_timing(p, legal(p.t));
  EXPECT_EQ(r.commands, 4u);
  EXPECT_EQ(r.violations, 0u) << r.first;
}

TEST(DramTimingCheck, EachBrokenConstraintIsNamed) {
  const DramParams p = ddr4();
  ASSERT_GT(p.t.rcd, 1);
  auto log = legal(p.t);
  log[1].cycle -= 1;  // RD one cycle before tRCD
  TimingCheckResult r = check_dram_timing(p, log);
  EXPECT_EQ(r.violations, 1u);
  EXPECT_EQ(r.first, "cycle " + std::to_string(log[1].cycle) + " RD rank 0 bg 0 bank 0: tRCD");

  log = legal(p.t);
  log[1].row = 8;  // RD to a row that is not open
  r = check_dram_timing(p, log);
  EXPECT_NE(r.first.find("RD to a row that is not open"), std::string::npos) << r.first;

  log = legal(p.t);
  log[3].cycle = log[2].cycle + p.t.rp - 1;  // ACT before tRP (and tRC) after the PRE
  r = check_dram_timing(p, log);
  EXPECT_GE(r.violations, 1u);
  EXPECT_NE(r.first.find(": tRP"), std::string::npos) << r.first;

  log = legal(p.t);
  log.erase(log.begin() + 2);  // no PRE: the second ACT finds the bank open
  r = check_dram_timing(p, log);
  EXPECT_NE(r.first.find("ACT to an open bank"), std::string::npos) << r.first;
}

TEST(DramTimingCheck, FourActivateWindow) {
  const DramParams p = ddr4();
  // Five activations to banks of different groups, tRRD_S apart: the fifth needs tFAW.
  std::vector<DramCommand> log;
  for (int i = 0; i < 5; ++i)
    log.push_back({DramCommand::kAct, 10 + i * p.t.rrd_s, 0, i % 4, i / 4, 1});
  const TimingCheckResult r = check_dram_timing(p, log);
  if (4 * p.t.rrd_s >= p.t.faw) {
    EXPECT_EQ(r.violations, 0u) << r.first;
  } else {
    EXPECT_EQ(r.violations, 1u);
    EXPECT_NE(r.first.find("tFAW"), std::string::npos) << r.first;
  }
}

}  // namespace
}  // namespace tessel::memory
