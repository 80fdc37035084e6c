// The cycle-level N:M unit against models/sparse (bit-exact int8) and its analytical twin.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "runtime/core/runner.h"
#include "runtime/core/seed.h"
#include "tests/sim/nm_unit/nm_unit_operand_files.h"
#include "tests/sim/nm_unit/nm_unit_yaml.h"
#include "tests/support/tool.h"

namespace tessel::nm_unit {
namespace {

using testing::Gemm;
using testing::Machine;

SimResult run(const Machine& h, const Gemm& g, const char* model) {
  return run_experiment(Config::parse(experiment_yaml(h, g, model), "exp.yaml"));
}

void expect_checked(const SimResult& r) {
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_TRUE(r.checks[0].passed) << r.checks[0].detail;
}

// Each TEST below runs one SystemC simulation: one ctest process each.
TEST(NmUnitSim, Int8TwoOfFourIsBitExactAndMatchesClosedForm) {
  SimResult r = run(Machine{}, Gemm{32, 32, 64, "2:4", true, ""}, "nm_unit");
  expect_checked(r);
  EXPECT_EQ(r.checks[0].max_error, 0);
  EXPECT_EQ(r.cycles, 227u);  // derived by hand in nm_unit_twin_test.cpp
}

TEST(NmUnitSim, Int8OneOfFourIsBitExact) {
  expect_checked(run(Machine{}, Gemm{70, 45, 96, "1:4", true, ""}, "nm_unit"));
}

TEST(NmUnitSim, Int8TwoOfEightIsBitExact) {
  expect_checked(run(Machine{}, Gemm{33, 70, 200, "2:8", true, ""}, "nm_unit"));
}

TEST(NmUnitSim, Int8FourOfEightWithManyKChunksIsBitExact) {
  Machine h;
  h.weight_kib = 4;  // forces several K chunks per tile
  h.act_kib = 4;
  expect_checked(run(h, Gemm{40, 40, 800, "4:8", true, ""}, "nm_unit"));
}

TEST(NmUnitSim, DenseModeOfTheSameArrayIsBitExact) {
  Machine h;
  h.mode = "dense";
  SimResult r = run(h, Gemm{50, 37, 96, "2:4", true, ""}, "nm_unit");
  expect_checked(r);
  EXPECT_EQ(r.counters.count("act_mux.mux2_int8"), 0u);
}

TEST(NmUnitSim, DenseWeightsAreBitExact) {
  expect_checked(run(Machine{}, Gemm{20, 33, 40, "dense", true, ""}, "nm_unit"));
}

TEST(NmUnitSim, Fp16ModeMatchesReference) {
  Machine h;
  h.dtype = "fp16";
  SimResult r = run(h, Gemm{48, 40, 256, "2:4", true, ""}, "nm_unit");
  expect_checked(r);
  EXPECT_GT(r.counters.at("act_mux.mux2_fp16"), 0u);
  EXPECT_GT(r.counters.at("pe_array.mac_fp16"), 0u);
}

TEST(NmUnitSim, MaskFromFileIsBitExact) {
  Gemm g{16,
         40,
         32,
         "2:4",
         true,
         std::string("  mask: ") + TESSEL_SOURCE_DIR +
             "/configs/workloads/nm_unit/masks/example_2of4.txt\n"};
  expect_checked(run(Machine{}, g, "nm_unit"));
}

// Real operands (weights: / activations: .npy files). The quantised operands themselves are
// compared with an independent quantisation in nm_unit_weights_test.cpp; here the unit computes
// with them, the check is exact, and the scales it reports are the independent ones.
struct RealOperands {
  tessel::testing::TempDir dir;
  sparse::MatrixF w, x;
  std::string keys(bool with_acts = true) const {
    return "  weights: " + (dir / "w.npy") + "\n" +
           (with_acts ? "  activations: " + (dir / "x.npy") + "\n" : std::string());
  }
  RealOperands(int64_t m, int64_t n, int64_t k, const sparse::Pattern& p, uint64_t seed) {
    w = testing::layer_weights(m, k, p, seed);
    x = sparse::random_float(k, n, seed + 1) * 4.0f;
    testing::write_matrix(dir / "w.npy", w);
    testing::write_matrix(dir / "x.npy", x);
  }
};

TEST(NmUnitSim, Int8RealWeightsAndActivationsAreBitExact) {
  RealOperands ops(40, 36, 64, sparse::Pattern{2, 4}, 21);
  Gemm g{40, 36, 64, "2:4", true, ops.keys()};
  SimResult r = run(Machine{}, g, "nm_unit");
  expect_checked(r);
  EXPECT_EQ(r.checks[0].max_error, 0);
  std::vector<float> scales;
  testing::ref_quantize_rows(ops.w, &scales);
  float xs = 0;
  testing::ref_quantize_tensor(ops.x, &xs);
  EXPECT_EQ(r.metrics.at("weight_scale_min"), *std::min_element(scales.begin(), scales.end()));
  EXPECT_EQ(r.metrics.at("weight_scale_max"), *std::max_element(scales.begin(), scales.end()));
  EXPECT_EQ(r.metrics.at("activation_scale"), xs);
  EXPECT_EQ(r.labels.at("weights"), ops.dir / "w.npy");
  // Same cycles and counters as the twin on the same files.
  SimResult tw = run(Machine{}, g, "nm_unit_analytical");
  EXPECT_EQ(r.cycles, tw.cycles);
  EXPECT_EQ(r.counters, tw.counters);
}

TEST(NmUnitSim, Int8RealWeightsOnAMaskAreBitExact) {
  // 4:8 mask with one kept position per group left zero in the weights (padded by the
  // compressed format), several K chunks; activations seeded.
  const sparse::Pattern p{4, 8};
  RealOperands ops(24, 30, 160, p, 31);
  const sparse::Mask mask = sparse::nonzero_mask(ops.w);
  sparse::save_mask(ops.dir / "mask.txt", mask, p);
  for (int64_t r = 0; r < ops.w.rows(); ++r)
    for (int64_t c = 0; c < ops.w.cols(); ++c)
      if (mask(r, c) && c % 8 == 7) ops.w(r, c) = 0;
  testing::write_matrix(ops.dir / "w.npy", ops.w);
  Machine h;
  h.weight_kib = 4;
  h.act_kib = 4;
  Gemm g{24, 30, 160, "4:8", true, "  mask: " + (ops.dir / "mask.txt") + "\n" + ops.keys(false)};
  SimResult r = run(h, g, "nm_unit");
  expect_checked(r);
  EXPECT_EQ(r.metrics.count("activation_scale"), 0u);
}

TEST(NmUnitSim, DenseModeWithRealWeightsIsBitExact) {
  RealOperands ops(33, 20, 48, sparse::Pattern{2, 4}, 41);
  Machine h;
  h.mode = "dense";
  expect_checked(run(h, Gemm{33, 20, 48, "2:4", true, ops.keys()}, "nm_unit"));
}

TEST(NmUnitSim, Fp16RealWeightsMatchWithinTolerance) {
  RealOperands ops(48, 40, 256, sparse::Pattern{2, 4}, 51);
  Machine h;
  h.dtype = "fp16";
  SimResult r = run(h, Gemm{48, 40, 256, "2:4", true, ops.keys()}, "nm_unit");
  expect_checked(r);
  // Tolerance 1e-6 * K * max(1, max|w| * max|x|): row 0 holds 127, activations reach 4.
  EXPECT_GT(r.checks[0].tolerance, 1e-6 * 256 * 127 * 3.9);
  EXPECT_EQ(r.metrics.count("weight_scale_min"), 0u);
}

// Through the tool: a bad weights file is exit 3 (shape) or 4 (unreadable), says where,
// and writes nothing.
TEST(NmUnitSim, ToolRejectsBadWeightsWithoutWritingAnything) {
  RealOperands ops(16, 8, 64, sparse::Pattern{2, 4}, 61);
  Gemm g{16, 8, 32, "2:4", true, "  weights: w.npy\n"};
  tessel::testing::write_text(ops.dir.path() / "exp.yaml",
                              experiment_yaml(Machine{}, g, "nm_unit"));
  const std::string tool = std::string(TESSEL_BINARY_DIR) + "/tessel_fault_tool";
  auto r = tessel::testing::run_tool(tool, "run exp.yaml --out out", ops.dir.path().string());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("exp.yaml:23:12: workload.weights: w.npy has shape [16, 64], the workload's "
                       "m x k is [16, 32]"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(ops.dir.path() / "out"));
  g.extra = "  weights: none.npy\n";
  tessel::testing::write_text(ops.dir.path() / "exp.yaml",
                              experiment_yaml(Machine{}, g, "nm_unit"));
  r = tessel::testing::run_tool(tool, "run exp.yaml --out out", ops.dir.path().string());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("exp.yaml:23:12: workload.weights: none.npy: cannot open file"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(ops.dir.path() / "out"));
  // A good one writes the run and the per-row scales.
  g.k = 64;
  g.extra = "  weights: w.npy\n";
  tessel::testing::write_text(ops.dir.path() / "exp.yaml",
                              experiment_yaml(Machine{}, g, "nm_unit"));
  r = tessel::testing::run_tool(tool, "run exp.yaml --out out", ops.dir.path().string());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  NpyArray scales = read_npy((ops.dir.path() / "out" / "weight_scales.npy").string());
  std::vector<float> expect;
  testing::ref_quantize_rows(ops.w, &expect);
  EXPECT_EQ(scales.data, expect);
}

// 2:4 on lanes 8 / window 16: 4 groups of M = 4, 16 K positions per cycle. 64 x 48 x 128 on
// 32 x 32 PEs: 2 x 2 tiles of 128 / 16 = 8 cycles, at least 32 cycles. At a limit of 31 the
// run is refused at k; at 32 it runs and takes at least 32 cycles.
TEST(NmUnitSim, CycleLimitRefusesBelowTheLowerBoundAndTheBoundHolds) {
  const Gemm g{64, 48, 128, "2:4", false, ""};
  ::setenv("TESSEL_MAX_SIM_CYCLES", "31", 1);
  std::string msg;
  try {
    prepare_experiment(Config::parse(experiment_yaml(Machine{}, g, "nm_unit"), "exp.yaml"));
  } catch (const ConfigError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("workload.k: a 64 x 48 x 128 GEMM on 32 x 32 PEs needs at least 32 cycles, "
                     "more than the 31 limit"),
            std::string::npos)
      << msg;
  ::setenv("TESSEL_MAX_SIM_CYCLES", "32", 1);
  const SimResult r = run(Machine{}, g, "nm_unit");
  ::unsetenv("TESSEL_MAX_SIM_CYCLES");
  EXPECT_GE(r.cycles, 32u);
}

// Counters -> energy: the sparse run pays for muxes, decoders and index bytes, and the
// total is the sum of count x table energy (checked against the table by hand).
TEST(NmUnitSim, EnergyChargesMuxesDecodersAndMetadata) {
  SimResult r = run(Machine{}, Gemm{32, 32, 64, "2:4", false, ""}, "nm_unit");
  const double mux = 32.0 * 32 * 32 * 7 * 0.008, decode = 32.0 * 32 * 0.015;
  EXPECT_NEAR(r.energy_pj.at("act_mux"), mux, 1e-9 * mux);
  EXPECT_NEAR(r.energy_pj.at("decoders"), decode, 1e-9 * decode);
  // Weight buffer (256 KiB -> 1 MB figure, 12.5 pJ/B): written 1024 + 256 B, read 1024 B
  // of values by the array and 256 B of indices by the decoders.
  EXPECT_NEAR(r.energy_pj.at("weight_buffer"), (1280.0 + 1280.0) * 12.5, 1e-6);
  EXPECT_NEAR(r.energy_pj.at("pe_array"), 32.0 * 32 * 32 * 0.3, 1e-6);
}

// Analytical twin vs SystemC on seeded random machines and shapes (issue: within 5%).
class NmUnitTwinAgreement : public ::testing::TestWithParam<int> {};

TEST_P(NmUnitTwinAgreement, TwinWithinFivePercentAndSameCounters) {
  uint64_t s = derive_seed(2026, static_cast<uint64_t>(GetParam()));
  auto pick = [&](uint64_t n) { return static_cast<int64_t>(splitmix64(s) % n); };
  Machine h;
  h.rows = static_cast<int>(4 << pick(4));
  h.cols = static_cast<int>(4 << pick(4));
  h.lanes = static_cast<int>(4 << pick(2));
  h.window = h.lanes * static_cast<int>(1 << pick(3));
  h.mux_fanin = 8;
  h.slots = static_cast<int>(2 + pick(3));
  h.weight_kib = 2.0 * (1 << pick(6));
  h.act_kib = 2.0 * (1 << pick(6));
  h.out_kib = 64;
  h.read_gbps = 25.0 * (1 + pick(20));
  h.write_gbps = 25.0 * (1 + pick(20));
  h.latency_ns = static_cast<double>(pick(150));
  h.clock_ghz = 0.5 + 0.25 * static_cast<double>(pick(7));
  h.dtype = pick(4) == 0 ? "fp16" : "int8";
  // M = 8 patterns need an 8-activation window.
  h.patterns = h.window >= 8 ? "[\"1:4\", \"2:4\", \"2:8\", \"4:8\"]" : "[\"1:4\", \"2:4\"]";
  const char* patterns[] = {"dense", "1:4", "2:4", "2:8", "4:8"};
  Gemm g;
  g.pattern = patterns[pick(5)];
  if (h.window < 8 && (g.pattern == "2:8" || g.pattern == "4:8")) g.pattern = "2:4";
  g.m = 1 + pick(150);
  g.n = 1 + pick(120);
  g.k = 8 * (1 + pick(60));
  g.functional = true;
  // Each of the 16 drawn machines holds its drawn shape (the loaders tile K to fit the
  // buffers), so a ConfigError here is a failure, not a reason to skip.
  SimResult sim = run(h, g, "nm_unit");
  SimResult tw = run(h, g, "nm_unit_analytical");
  expect_checked(sim);
  const double dev = std::fabs(static_cast<double>(sim.cycles) - static_cast<double>(tw.cycles)) /
                     static_cast<double>(sim.cycles);
  std::printf("nm_unit twin deviation: %.6f (sim %llu cycles, twin %llu; %s m=%ld n=%ld k=%ld)\n",
              dev, static_cast<unsigned long long>(sim.cycles),
              static_cast<unsigned long long>(tw.cycles), g.pattern.c_str(), g.m, g.n, g.k);
  EXPECT_LE(dev, 0.05);
  EXPECT_EQ(sim.counters, tw.counters);
  // Both price the same machine: the area proxy is the same to the bit.
  for (const char* m : {"area_mm2", "area_macs_mm2", "area_sram_mm2", "area_nm_logic_mm2"})
    EXPECT_EQ(sim.metrics.at(m), tw.metrics.at(m)) << m;
}

INSTANTIATE_TEST_SUITE_P(Random, NmUnitTwinAgreement, ::testing::Range(0, 16));

}  // namespace
}  // namespace tessel::nm_unit
