// The DPU interface: the behavioural implementation, and the run-time check of rtl.dpu.
//
// This program links the plan library only (not rtl_dpu.cpp), so it is a build without the
// co-simulated DPU whatever Verilator the machine has: the key must be refused by read_machine()
// at its file:line, and accepted once an implementation registers.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "sim/lstm_sharp/dpu.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"

namespace tessel::lstm_sharp {
namespace {

const char* kMachine =
    "model: lstm_sharp\nclock_ghz: 0.5\nmac_budget: 64\ntiles: 2\ndpu_width: %d\n"
    "reconfigurable: false\nweight_sram: {kib_per_tile: 4096, bank_bytes: 32}\n"
    "mfu: {lanes: 16, latency_cycles: 8}\noffchip: {read_gbps: 25.6, latency_ns: 100}\n"
    "rtl: {dpu: true}\n";  // line 10

Config machine(int width) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kMachine, width);
  return Config::parse(buf, "m.yaml");
}

// Stands in for the Verilated DPU: a sum no real DPU would give, so its use is visible.
class FakeDpu final : public DpuModel {
 public:
  int64_t accumulate(int64_t, const int16_t*, const int16_t*, int64_t) override { return -7; }
  int64_t latency(int64_t) const override { return 11; }
  int64_t ii() const override { return 2; }
};

TEST(Dpu, BehaviouralSumsAndTiming) {
  const int16_t w[3] = {1, 2, -3}, a[3] = {4, 5, 6};
  auto dpu = make_dpu(false);
  EXPECT_EQ(dpu->accumulate(10, w, a, 3), 10 + 4 + 10 - 18);
  // Adder tree ceil(log2 K) deep plus the accumulate stage.
  EXPECT_EQ(dpu->latency(8), 4);
  EXPECT_EQ(dpu->latency(3), 3);
  EXPECT_EQ(dpu->latency(1), 1);
  EXPECT_EQ(dpu->ii(), 1);
}

TEST(Dpu, RtlKeyNeedsARegisteredImplementation) {
  register_rtl_dpu(nullptr);
  ASSERT_FALSE(rtl_dpu_available());
  try {
    read_machine(machine(8));
    FAIL() << "rtl: {dpu: true} accepted with no co-simulated DPU linked";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("m.yaml:10:"), std::string::npos) << what;
    EXPECT_NE(what.find("rtl.dpu"), std::string::npos) << what;
    EXPECT_NE(what.find("no Verilator"), std::string::npos) << what;
  }
  EXPECT_THROW(make_dpu(true), SimError);

  register_rtl_dpu([]() -> std::unique_ptr<DpuModel> { return std::make_unique<FakeDpu>(); });
  EXPECT_TRUE(read_machine(machine(8)).rtl_dpu);
  const int16_t one = 1;
  EXPECT_EQ(make_dpu(true)->accumulate(0, &one, &one, 1), -7);
  // The width rule still holds: the Verilated DPU has K = 8 only.
  try {
    read_machine(machine(4));
    FAIL() << "rtl.dpu accepted at dpu_width 4";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("K = 8"), std::string::npos) << e.what();
  }
  register_rtl_dpu(nullptr);
}

}  // namespace
}  // namespace tessel::lstm_sharp
