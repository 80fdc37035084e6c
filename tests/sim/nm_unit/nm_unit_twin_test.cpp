// N:M unit without SystemC: throughput rules, tiling choice, closed-form latency and config errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <utility>

#include "runtime/core/runner.h"
#include "sim/nm_unit/nm_unit_analytical.h"
#include "tests/sim/nm_unit/nm_unit_yaml.h"

namespace tessel::nm_unit {
namespace {

using testing::config_error;
using testing::Gemm;
using testing::Machine;
using testing::twin;

TEST(NmUnitTwin, PerCycleThroughputFollowsLanesAndWindow) {
  // lanes 8, window 16: dense 8 K/cycle; 2:4 and 4:8 reach M/N = 2; 1:4 and 2:8 want 4
  // but the 16-activation window caps them at 2.
  Machine h;
  const struct {
    const char* pattern;
    double ideal, bound;
  } cases[] = {{"dense", 1, 1}, {"2:4", 2, 2}, {"4:8", 2, 2}, {"1:4", 4, 2}, {"2:8", 4, 2}};
  for (const auto& c : cases) {
    Gemm g{256, 256, 512, c.pattern, false, ""};
    SimResult r = twin(h, g);
    EXPECT_EQ(r.metrics.at("ideal_speedup"), c.ideal) << c.pattern;
    EXPECT_EQ(r.metrics.at("array_speedup_bound"), c.bound) << c.pattern;
  }
  h.window = 32;
  EXPECT_EQ(twin(h, Gemm{256, 256, 512, "1:4", false, ""}).metrics.at("array_speedup_bound"), 4);
}

// One tile, one step, by hand: load 1024 B values + 256 B indices + 2048 B activations =
// 3328 B at 410 B/cycle = 9 cycles, +100 latency, +1 decode, compute 64/16 = 4 + 3 drain,
// store 4096 B = 10 cycles, +100 latency: 9 + 100 + 1 + 7 + 10 + 100 = 227.
TEST(NmUnitTwin, SingleStepLatencyIsClosedForm) {
  SimResult r = twin(Machine{}, Gemm{32, 32, 64, "2:4", false, ""});
  EXPECT_EQ(r.cycles, 227u);
  EXPECT_EQ(r.counters.at("offchip.dram_read_byte"), 3328u);
  EXPECT_EQ(r.counters.at("offchip.dram_write_byte"), 4096u);
  EXPECT_EQ(r.counters.at("pe_array.mac_int8"), 32u * 32 * 32);
  EXPECT_EQ(r.counters.at("act_mux.mux2_int8"), 32u * 32 * 32 * 7);  // fan-in 8: 7 muxes
  EXPECT_EQ(r.counters.at("decoders.nm_index_decode"), 32u * 32);
  // Dense mode of the same array: no metadata, 8 K/cycle, 4096 B of weights.
  SimResult d = twin(Machine{}, Gemm{32, 32, 64, "dense", false, ""});
  // load (2048 + 2048) / 410 -> 10, +100, compute 8 + 3, store 10, +100.
  EXPECT_EQ(d.cycles, 10u + 100 + 11 + 10 + 100);
  EXPECT_EQ(d.counters.count("act_mux.mux2_int8"), 0u);
  EXPECT_EQ(d.counters.count("decoders.nm_index_decode"), 0u);
}

TEST(NmUnitTwin, DramTrafficOfTheChosenLoopOrder) {
  // K fits one chunk, so the outer operand stays on chip: weights-outer moves
  // W + row_blocks * X, activations-outer X + token_tiles * W; the model picks the smaller.
  Machine h;
  Gemm g{96, 320, 256, "2:4", false, ""};  // 3 row blocks, 10 token tiles
  SimResult r = twin(h, g);
  const double w = 96.0 * (128 + 32), x = 256.0 * 320;  // 2:4: 128 values + 32 B indices per row
  const double expect = std::min(w + 3 * x, x + 10 * w);
  EXPECT_EQ(r.counters.at("offchip.dram_read_byte"), static_cast<uint64_t>(expect));
  EXPECT_EQ(r.metrics.at("weights_outer"), w + 3 * x <= x + 10 * w ? 1 : 0);
}

// Area proxy by hand for a 2x2 array of 4-lane PEs (16 MAC lanes, 4-input lane muxes),
// 8 + 8 + 1 KiB of buffers, at the 45 nm table's node (areas from 40 nm scale by
// (45/40)² = 1.265625). Aladdin 40 nm: 32-bit multiplier 5137.736 um², adder 179.443,
// shifter 519.755, bitwise unit 50.37 for 32 bits; SRAM 0.346 um² per cell / 0.7.
//   int8 MACs: 16 x (5137.736/16 + 179.443) = 8008.82 um² x 1.265625 = 0.0101362 mm²
//   fp16 MACs: 16 x (5137.736/4 + 179.443 + 2 x 519.755) = 40054.2 um² -> 0.0506936 mm²
//   SRAM: 17 x 8192 bits x 0.346 / 0.7 = 68836.2 um² = 0.0688362 mm² (45 nm cell)
//   N:M logic: 16 lanes x 3 two-input muxes x 8 bits + 2 rows x 4 lanes x 4 decoder
//   outputs = 416 gate bits (fp16: 768 + 32 = 800) x 50.37/32 um² x 1.265625
TEST(NmUnitTwin, AreaProxyByHand) {
  Machine h;
  h.rows = 2, h.cols = 2, h.lanes = 4, h.window = 8, h.mux_fanin = 4;
  h.weight_kib = 8, h.act_kib = 8, h.out_kib = 1;
  h.patterns = "[\"2:4\"]";
  const Gemm g{4, 4, 16, "2:4", false, ""};
  const double gate_mm2 = 50.37 / 32 * 1.265625 * 1e-6;
  SimResult r = twin(h, g);
  EXPECT_NEAR(r.metrics.at("area_macs_mm2"), 0.0101362, 1e-7);
  EXPECT_NEAR(r.metrics.at("area_sram_mm2"), 0.0688362, 1e-7);
  EXPECT_NEAR(r.metrics.at("area_nm_logic_mm2"), 416 * gate_mm2, 1e-8);
  EXPECT_NEAR(r.metrics.at("area_mm2"), 0.0101362 + 0.0688362 + 416 * gate_mm2, 2e-7);
  // Dense mode bypasses the muxes but the same array is built: same area.
  h.mode = "dense";
  EXPECT_EQ(twin(h, g).metrics.at("area_mm2"), r.metrics.at("area_mm2"));
  h.mode = "sparse";
  h.dtype = "fp16";
  SimResult f = twin(h, g);
  EXPECT_NEAR(f.metrics.at("area_macs_mm2"), 0.0506936, 1e-7);
  EXPECT_NEAR(f.metrics.at("area_nm_logic_mm2"), 800 * gate_mm2, 1e-8);
}

TEST(NmUnitTwin, RejectsWhatTheHardwareCannotRun) {
  Machine h;
  EXPECT_NE(config_error(h, Gemm{32, 32, 64, "1:8", false, ""})
                .find("workload.pattern: pattern 1:8 is not supported by the unit (hw.patterns: "
                      "1:4, 2:4, 2:8, 4:8)"),
            std::string::npos)
      << config_error(h, Gemm{32, 32, 64, "1:8", false, ""});
  EXPECT_NE(config_error(h, Gemm{32, 32, 66, "2:4", false, ""})
                .find("workload.k: 66 is not a multiple of M=4"),
            std::string::npos);
  Machine narrow;
  narrow.mux_fanin = 4;
  EXPECT_NE(config_error(narrow, Gemm{})
                .find("pattern 2:8 needs a 8-input activation mux, mux_fanin is 4"),
            std::string::npos)
      << config_error(narrow, Gemm{});
  Machine tiny;
  tiny.weight_kib = 0.25;
  EXPECT_NE(config_error(tiny, Gemm{}).find("hw.buffers: too small"), std::string::npos)
      << config_error(tiny, Gemm{});
  EXPECT_THROW(twin(h, Gemm{32, 32, 64, "2:4", false, "  mask: /nonexistent.txt\n"}), IoError);
}

// m = n = 2^20 on 32 x 32 PEs: 2^30 tiles of schedule, more than 1 GiB whatever a Step is.
TEST(NmUnitTwin, HugeGemmFailsAtConfigurationNamingTheKey) {
  ::setenv("TESSEL_MEMORY_LIMIT_GB", "1", 1);
  const std::string msg = config_error(Machine{}, Gemm{1048576, 1048576, 8, "2:4", false, ""});
  ::unsetenv("TESSEL_MEMORY_LIMIT_GB");
  EXPECT_NE(msg.find("workload.m: 1073741824 x 1 tiles x K chunks of schedule need"),
            std::string::npos)
      << msg;
}

// The unit was called `nxm` (and its twin `nxm_analytical`) before N:M got one spelling; an
// old config fails at its model key (line 3 of experiment_yaml) with the new name.
TEST(NmUnitTwin, OldModelNamesFailNamingTheNewOne) {
  for (const auto& [old_name, new_name] :
       {std::pair<const char*, const char*>{"nxm", "nm_unit"},
        std::pair<const char*, const char*>{"nxm_analytical", "nm_unit_analytical"}}) {
    try {
      run_experiment(
          Config::parse(testing::experiment_yaml(Machine{}, Gemm{}, old_name), "old.yaml"));
      FAIL() << old_name << " accepted";
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("old.yaml:3:"), std::string::npos) << msg;
      EXPECT_NE(msg.find("hw.model"), std::string::npos) << msg;
      EXPECT_NE(msg.find(std::string("renamed to '") + new_name + "'"), std::string::npos) << msg;
    }
  }
}

TEST(NmUnitTwin, MaskFileShapeMustMatchTheWeights) {
  Gemm g{16,
         40,
         64,
         "2:4",
         false,
         std::string("  mask: ") + TESSEL_SOURCE_DIR +
             "/configs/workloads/nm_unit/masks/example_2of4.txt\n"};
  EXPECT_NE(config_error(Machine{}, g).find("is 16x32, the weights are m x k = 16x64"),
            std::string::npos)
      << config_error(Machine{}, g);
}

}  // namespace
}  // namespace tessel::nm_unit
