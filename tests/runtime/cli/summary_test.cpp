// The summary `tessel run` prints: simulated time and energy for a simulation, the host, the
// metrics and the artifacts for an algorithm run (which has neither cycles nor energy).
#include "runtime/cli/summary.h"

#include <gtest/gtest.h>

namespace tessel::cli {
namespace {

TEST(Summary, SimulationShowsLatencyAndEnergyBreakdown) {
  SimResult r;
  r.model = "mac_array";
  r.cycles = 1234567;
  r.clock_ghz = 1;
  r.seconds = 1234567e-9;
  r.energy_pj = {{"mac", 3000.0}, {"sram", 1000.0}};
  const std::string s = format_summary("e.yaml", 7, r);
  EXPECT_NE(s.find("latency      1,234,567 cycles @ 1 GHz = 1.235 ms\n"), std::string::npos) << s;
  EXPECT_NE(s.find("energy       4.000 nJ  (mac 75.0%, sram 25.0%)\n"), std::string::npos) << s;
  EXPECT_NE(s.find("check        none (timing-only run)\n"), std::string::npos) << s;
}

TEST(Summary, AlgorithmRunShowsHostMetricsAndArtifactsButNoLatency) {
  SimResult r;
  r.model = "train.transformer";
  r.labels = {{"host_cpu", "AMD EPYC"}, {"host_cores", "2"}};
  r.metrics = {{"val_loss", 1.6612}, {"steps", 300}};
  r.artifacts = {{"eval", "eval.jsonl"}};
  const std::string s = format_summary("t.yaml", 1, r);
  EXPECT_EQ(s.find("latency"), std::string::npos) << s;
  EXPECT_EQ(s.find("energy"), std::string::npos) << s;
  EXPECT_NE(s.find("host_cpu     AMD EPYC\n"), std::string::npos) << s;
  EXPECT_NE(s.find("metrics      steps 300, val_loss 1.661\n"), std::string::npos) << s;
  EXPECT_NE(s.find("artifact     eval: eval.jsonl\n"), std::string::npos) << s;
}

}  // namespace
}  // namespace tessel::cli
