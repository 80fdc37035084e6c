// The cycle-level MAC array against its reference GEMM and its analytical twin.
#include <gtest/gtest.h>

#include "runtime/core/runner.h"
#include "sim/mac_array/mac_array_analytical.h"

namespace tessel::mac_array {
namespace {

struct Case {
  const char* name;
  int rows, cols, m, n, k;
  double buffer_kib, read_gbps, write_gbps, latency_ns, clock_ghz;
};

std::string experiment_yaml(const Case& c, const char* model) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "seed: 7\n"
                "hw:\n  model: %s\n  clock_ghz: %g\n  rows: %d\n  cols: %d\n  buffer_kib: %g\n"
                "  offchip: {read_gbps: %g, write_gbps: %g, latency_ns: %g}\n"
                "  energy: {table: %s/configs/energy/45nm.yaml}\n"
                "workload: {kind: gemm, m: %d, n: %d, k: %d}\n",
                model, c.clock_ghz, c.rows, c.cols, c.buffer_kib, c.read_gbps, c.write_gbps,
                c.latency_ns, TESSEL_SOURCE_DIR, c.m, c.n, c.k);
  return buf;
}

class MacArrayCase : public ::testing::TestWithParam<Case> {};

// Each case is its own ctest process (SystemC elaborates once per process).
TEST_P(MacArrayCase, MatchesReferenceAndAnalyticalTwin) {
  const Case& c = GetParam();
  SimResult sim = run_experiment(Config::parse(experiment_yaml(c, "mac_array"), "exp.yaml"));
  SimResult twin =
      run_experiment(Config::parse(experiment_yaml(c, "mac_array_analytical"), "exp.yaml"));
  ASSERT_EQ(sim.checks.size(), 1u);
  EXPECT_TRUE(sim.checks[0].passed) << sim.checks[0].detail;
  EXPECT_EQ(sim.checks[0].max_error, 0);
  EXPECT_EQ(sim.cycles, twin.cycles);
  EXPECT_EQ(sim.counters, twin.counters);
  EXPECT_EQ(sim.counters.at("pe_array.mac_int8"), static_cast<uint64_t>(c.m) * c.n * c.k);
  EXPECT_NEAR(sim.total_energy_pj(), twin.total_energy_pj(), 1e-6 * twin.total_energy_pj());
  EXPECT_LE(sim.metrics.at("utilization"), 1.0);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MacArrayCase,
    ::testing::Values(Case{"square", 16, 16, 64, 64, 64, 64, 25.6, 25.6, 100, 1.0},
                      Case{"edge_tiles", 8, 4, 37, 23, 51, 4, 12.8, 6.4, 50, 1.0},
                      Case{"many_k_chunks", 8, 8, 16, 16, 300, 1, 25.6, 25.6, 0, 1.0},
                      Case{"compute_bound", 4, 4, 32, 32, 512, 64, 1000, 1000, 10, 2.0},
                      Case{"store_bound", 32, 32, 64, 64, 8, 64, 100, 1.0, 20, 1.0},
                      Case{"odd_clock", 16, 8, 40, 40, 40, 16, 19.2, 19.2, 75, 1.3}),
    [](const auto& info) { return std::string(info.param.name); });

// One tile, one chunk: the latency is load + compute + pipeline fill + store, in closed form.
TEST(MacArray, SingleTileLatencyIsClosedForm) {
  Case c{"single", 8, 8, 8, 8, 32, 64, 16, 8, 10, 1.0};
  SimResult sim = run_experiment(Config::parse(experiment_yaml(c, "mac_array"), "exp.yaml"));
  const uint64_t load = 10 + (8 * 32 + 32 * 8) / 16;  // latency + 512 B at 16 B/cycle
  const uint64_t compute = 32 + 3;                    // K steps + pipeline depth
  const uint64_t store = 10 + (8 * 8 * 4) / 8;        // latency + 256 B at 8 B/cycle
  EXPECT_EQ(sim.cycles, load + compute + store);
  EXPECT_TRUE(sim.checks_passed());
}

}  // namespace
}  // namespace tessel::mac_array
