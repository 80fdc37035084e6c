// LSTM-Sharp: bit-exact against models/lstm, cycle counts against the analytical twin.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/core/runner.h"
#include "runtime/sweep/sweep_plan.h"
#include "sim/core/sc_runtime.h"
#include "sim/lstm_sharp/buffers.h"
#include "sim/lstm_sharp/gpu_reference.h"
#include "sim/lstm_sharp/lstm_sharp.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"
#include "sim/lstm_sharp/workload_plan.h"
#include "tests/sim/in_child.h"

namespace tessel::lstm_sharp {
namespace {

struct Design {
  int tiles = 4, dpus = 8, width = 16;
  bool reconfigurable = false;
  std::string schedule = "sharp";
  int input = 24, hidden = 32, layers = 1, seq = 6;
  bool bidirectional = false, functional = true;
  double sram_kib = 4096;
  double macro_kib = 0;  // 0: min(32, sram_kib)
  int banks = 0;         // 0: the default (as many as the lanes need, capped by the macros)
  int mfu_lanes = 8, mfu_latency = 6, runahead = 1;
  int reconfig = -1;                 // reconfig_cycles; -1: the default
  double act_kib = 0, psum_kib = 0;  // buffer capacities; 0: derived from the workload
  int batch = 1;                     // workload.batch
  bool rtl = false;                  // rtl: {dpu: true} (the Verilated DPU, K = 8)
  bool gpu = false;                  // gpu_reference: the shipped H100 anchors
};

Config experiment(const Design& s, const char* model) {
  // The widths the datapath can be set to: those that keep a multiple of 4 DPUs per tile.
  const int budget = s.tiles * s.dpus * s.width;
  std::string options;
  for (int k : {4, 8, 16, 32, 64, 128})
    if (budget % (s.tiles * k) == 0 && (budget / (s.tiles * k)) % 4 == 0)
      options += (options.empty() ? "" : ", ") + std::to_string(k);
  const std::string banks = s.banks > 0 ? ", banks: " + std::to_string(s.banks) : "";
  std::string extra;
  if (s.reconfig >= 0) extra += "  reconfig_cycles: " + std::to_string(s.reconfig) + "\n";
  if (s.rtl) extra += "  rtl: {dpu: true}\n";
  if (s.gpu)
    extra += std::string("  gpu_reference: ") + TESSEL_SOURCE_DIR +
             "/configs/baselines/gpu_h100_cudnn_lstm.yaml\n";
  char kib[64];
  if (s.act_kib > 0) {
    std::snprintf(kib, sizeof kib, "  act_buffer_kib: %g\n", s.act_kib);
    extra += kib;
  }
  if (s.psum_kib > 0) {
    std::snprintf(kib, sizeof kib, "  psum_buffer_kib: %g\n", s.psum_kib);
    extra += kib;
  }
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "seed: 5\n"
      "hw:\n  model: %s\n  clock_ghz: 0.5\n  mac_budget: %d\n  tiles: %d\n  dpu_width: %d\n"
      "  reconfigurable: %s\n  dpu_width_options: [%s]\n  schedule: %s\n"
      "  runahead_steps: %d\n%s"
      "  weight_sram: {kib_per_tile: %g, bank_bytes: 32, macro_kib: %g%s}\n"
      "  mfu: {lanes: %d, latency_cycles: %d}\n  offchip: {read_gbps: 25.6, latency_ns: 100}\n"
      "  energy: {table: %s/configs/energy/45nm.yaml}\n"
      "workload: {kind: lstm, input_size: %d, hidden_size: %d, layers: %d, seq_len: %d, "
      "batch: %d, bidirectional: %s, functional: %s}\n",
      model, budget, s.tiles, s.width, s.reconfigurable ? "true" : "false", options.c_str(),
      s.schedule.c_str(), s.runahead, extra.c_str(), s.sram_kib,
      s.macro_kib > 0 ? s.macro_kib : std::min(32.0, s.sram_kib), banks.c_str(), s.mfu_lanes,
      s.mfu_latency, TESSEL_SOURCE_DIR, s.input, s.hidden, s.layers, s.seq, s.batch,
      s.bidirectional ? "true" : "false", s.functional ? "true" : "false");
  return Config::parse(buf, "test.yaml");
}

// SystemC simulates once per process: run the cycle-level model in a forked child (the
// parent never starts SystemC) and bring back its cycle count and check outcome.
struct Outcome {
  uint64_t cycles = 0;
  int checks_passed = -1;  // -1: no check ran
};

Outcome run_cycle_level(const Design& s) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Outcome o;
    try {
      SimResult r = run_experiment(experiment(s, "lstm_sharp"));
      o.cycles = r.cycles;
      o.checks_passed = r.checks.empty() ? -1 : (r.checks_passed() ? 1 : 0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ssize_t n = ::write(fds[1], &o, sizeof o);
    ::_exit(n == sizeof o ? 0 : 1);
  }
  ::close(fds[1]);  // only the child writes: its crash reads as end of file
  Outcome o;
  EXPECT_EQ(::read(fds[0], &o, sizeof o), static_cast<ssize_t>(sizeof o));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return o;
}

SimResult twin_result(const Design& s) {
  Design t = s;
  t.functional = false;
  return run_experiment(experiment(t, "lstm_sharp_analytical"));
}

uint64_t twin_cycles(const Design& s) {
  return twin_result(s).cycles;
}

// The cycle-level model's whole result (cycles, metrics, counters), run in a child.
SimResult cycle_level_result(const Design& s) {
  const Config e = experiment(s, "lstm_sharp");
  const std::string json =
      testing::in_child_bytes([&] { return run_experiment(e).to_json().dump(); });
  EXPECT_FALSE(json.empty());
  return json.empty() ? SimResult{} : SimResult::from_json(nlohmann::json::parse(json));
}

class Functional : public ::testing::TestWithParam<Design> {};

TEST_P(Functional, OutputsAreBitExactAgainstTheReference) {
  Outcome o = run_cycle_level(GetParam());
  EXPECT_EQ(o.checks_passed, 1);
  EXPECT_GT(o.cycles, 0u);
}

Design with(std::string schedule, int layers, bool bidir, bool reconf, double sram_kib) {
  Design s;
  s.schedule = schedule;
  s.layers = layers;
  s.bidirectional = bidir;
  s.reconfigurable = reconf;
  s.sram_kib = sram_kib;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, Functional,
    ::testing::Values(with("sequential", 1, false, false, 4096),
                      with("inter_gate", 2, false, false, 4096),
                      with("unfolded", 2, true, false, 4096), with("sharp", 3, true, true, 4096),
                      // 2 KiB per tile holds only part of the weights: the rest stream.
                      with("sharp", 2, false, true, 2)),
    [](const auto& info) {
      const Design& s = info.param;
      return s.schedule + "_l" + std::to_string(s.layers) + (s.bidirectional ? "_bi" : "") +
             (s.reconfigurable ? "_reconf" : "") + (s.sram_kib < 64 ? "_streamed" : "");
    });

// Barrier schedules repeat one barrier-to-barrier step, which the twin computes exactly.
TEST(Twin, BarrierSchedulesAreExact) {
  for (std::string schedule : {"sequential", "inter_gate"}) {
    for (int hidden : {16, 40, 100}) {
      Design s;
      s.schedule = schedule;
      s.hidden = hidden;
      s.input = hidden + 8;
      s.functional = false;
      s.mfu_lanes = 2;  // a slow MFU that backs up behind the DPUs
      EXPECT_EQ(run_cycle_level(s).cycles, twin_cycles(s)) << schedule << " hidden " << hidden;
    }
  }
}

// One block per tile, one step: load-free pipeline in closed form.
TEST(Twin, SingleStepLatencyIsClosedForm) {
  Design s;
  s.tiles = 1;
  s.dpus = 16;
  s.width = 8;
  s.input = 8;
  s.hidden = 4;  // 16 rows: one block of 16 DPUs, 4 elements
  s.seq = 1;
  s.schedule = "inter_gate";
  s.mfu_lanes = 2;
  s.mfu_latency = 5;
  // 1 W·x pass + 1 U·h pass, adder tree log2(8) + 1 = 4, MFU 4 elements / 2 lanes, latency 5.
  EXPECT_EQ(run_cycle_level(s).cycles, 2u + 4u + 2u + 5u);
}

// A random machine and workload for the twin's comparisons; the i-th of a run: from 200 on,
// reconfigurable stacks of a narrow and a wide layer.
Design random_design(std::mt19937& rng, int i, int* streamed, int* throttled) {
  auto pick = [&](std::vector<int> v) { return v[rng() % v.size()]; };
  const std::vector<std::string> schedules = {"sequential", "inter_gate", "unfolded", "sharp"};
  Design s;
  s.tiles = pick({1, 2, 3, 4, 8, 16});
  s.dpus = pick({4, 8, 16, 32});
  s.width = pick({8, 16, 32, 64, 128, 256});
  s.reconfigurable = rng() % 2;
  s.schedule = schedules[rng() % 4];
  s.input = 16 + static_cast<int>(rng() % 500);
  s.hidden = 16 + static_cast<int>(rng() % 500);
  s.layers = 1 + static_cast<int>(rng() % 2);
  s.bidirectional = rng() % 4 == 0;
  s.seq = 10 + static_cast<int>(rng() % 40);
  s.mfu_lanes = pick({4, 8, 16, 32});
  s.mfu_latency = 2 + static_cast<int>(rng() % 14);
  // A third stream part of their weights: 4-64 KiB per tile against layers of up to
  // 4 x 516 x 1032 x 2 B = 4.3 MB in all.
  if (rng() % 3 == 0) {
    s.sram_kib = pick({4, 16, 64});
    ++*streamed;
  }
  // A sixth have fewer banks than the lanes need (1-4 banks of 32 B per tile).
  if (rng() % 6 == 0) {
    s.macro_kib = std::min(1.0, s.sram_kib);
    s.banks = pick({1, 2, 4});
    ++*throttled;
  }
  if (i >= 200) {
    s.reconfigurable = true;
    s.layers = 2 + static_cast<int>(rng() % 2);
    const int narrow = 16 + static_cast<int>(rng() % 25),
              wide = 100 + static_cast<int>(rng() % 401);
    s.input = rng() % 2 ? narrow : wide;
    s.hidden = s.input == narrow ? wide : narrow;
  }
  // Reconfiguration costs from none to more than a small layer takes (-1: the default).
  if (s.reconfigurable) s.reconfig = pick({-1, 0, 40, 400, 4000});
  s.functional = false;
  return s;
}

// 240 random machines and workloads: the twin within 5% of the cycle-level model. They
// include weights streamed from off-chip (a few KiB of SRAM per tile), bidirectional
// layers, SRAM banks that throttle the DPUs, 1-16 tiles, K 8-256, hidden sizes that are
// not powers of two, and reconfiguration costs; the last 40 are reconfigurable stacks of
// 2-3 layers whose input is far narrower or wider than the hidden size (16-40 against
// 100-500, or the reverse), where the layers run at different widths and pay for it.
TEST(Twin, WithinFivePercentOnRandomConfigurations) {
  std::mt19937 rng(2024);
  double worst = 0;
  int streamed = 0, throttled = 0, switched = 0;
  for (int i = 0; i < 240; ++i) {
    const Design s = random_design(rng, i, &streamed, &throttled);
    const double sim = static_cast<double>(run_cycle_level(s).cycles);
    const SimResult twin_run = twin_result(s);
    const double twin = static_cast<double>(twin_run.cycles);
    if (s.reconfig != 0 && twin_run.metrics.at("reconfigurations") > 0) ++switched;
    const double err = std::abs(twin - sim) / sim;
    worst = std::max(worst, err);
    if (err > 0.02)
      std::printf(
          "%.3f %s T=%d D=%d K=%d X=%d H=%d seq=%d lanes=%d lat=%d sram=%g banks=%d%s "
          "sim %.0f twin %.0f\n",
          err, s.schedule.c_str(), s.tiles, s.dpus, s.width, s.input, s.hidden, s.seq, s.mfu_lanes,
          s.mfu_latency, s.sram_kib, s.banks, s.bidirectional ? " bi" : "", sim, twin);
    EXPECT_LE(err, 0.05) << "config " << i << ": " << s.schedule << " T=" << s.tiles
                         << " D=" << s.dpus << " K=" << s.width << " X=" << s.input
                         << " H=" << s.hidden << " sram " << s.sram_kib << " banks " << s.banks
                         << " sim " << sim << " twin " << twin;
  }
  EXPECT_GE(streamed, 40);
  EXPECT_GE(throttled, 20);
  EXPECT_GE(switched, 10);  // runs that paid for at least one width change
  std::printf("worst twin error over 240 configurations: %.2f%% (%d paid for reconfiguration)\n",
              100 * worst, switched);
}

// The same comparison with batches of 2-16 sequences (docs/lstm_sharp.md, "Batch"): a pass
// takes max(batch, SRAM or link cycles) and the MFU a block's elements once per sequence,
// in both models; 100 random machines (the generator above, another seed; the last 20
// reconfigurable stacks), half of them with one bank a tile, so that some batches ride on
// the SRAM's pass time.
TEST(Twin, WithinFivePercentOnRandomBatchedConfigurations) {
  std::mt19937 rng(4242);
  double worst = 0, sum = 0;
  int streamed = 0, throttled = 0, fed = 0, exact = 0;
  for (int i = 0; i < 100; ++i) {
    // The last 20: reconfigurable stacks of a narrow and a wide layer.
    Design s = random_design(rng, i < 80 ? 0 : 200, &streamed, &throttled);
    s.batch = std::vector<int>{2, 3, 4, 8, 16}[rng() % 5];
    if (i % 2 == 0 && s.banks == 0) {
      s.macro_kib = std::min(1.0, s.sram_kib);
      s.banks = 1;
      ++throttled;
    }
    const double sim = static_cast<double>(run_cycle_level(s).cycles);
    const SimResult twin_run = twin_result(s);
    const double twin = static_cast<double>(twin_run.cycles);
    if (twin_run.metrics.at("weight_sram_feed_fraction") < 1) ++fed;
    const double err = std::abs(twin - sim) / sim;
    worst = std::max(worst, err);
    sum += err;
    exact += twin == sim;
    EXPECT_LE(err, 0.05) << "config " << i << ": " << s.schedule << " B=" << s.batch
                         << " T=" << s.tiles << " D=" << s.dpus << " K=" << s.width
                         << " X=" << s.input << " H=" << s.hidden << " sram " << s.sram_kib
                         << " banks " << s.banks << " sim " << sim << " twin " << twin;
  }
  EXPECT_GE(streamed, 20);
  EXPECT_GE(fed, 40);
  std::printf("batched: worst twin error %.3f%%, mean %.4f%%, %d of 100 exact\n", 100 * worst,
              100 * sum / 100, exact);
}

// Counters of the small layer of Counters.EqualTheHandCountOfASmallLayer (X = 24, H = 32,
// 6 steps, K = 16, 4H = 128 rows in 16 blocks of 8) at batch 4, in both models: MACs,
// accumulates, activation reads, MFU work and the network's input and output are 4x the
// batch-1 hand count; the weights are read from the SRAM once per pass for all four.
TEST(Batch, CountersEqualTheHandCount) {
  for (const char* model : {"lstm_sharp", "lstm_sharp_analytical"}) {
    for (std::string schedule : {"sequential", "sharp"}) {
      Design s;
      s.schedule = schedule;
      s.functional = false;
      s.batch = 4;
      const Config e = experiment(s, model);
      const std::string json =
          testing::in_child_bytes([&] { return run_experiment(e).to_json().dump(); });
      ASSERT_FALSE(json.empty()) << model << " " << schedule;
      const SimResult r = SimResult::from_json(nlohmann::json::parse(json));
      const uint64_t dense = 4 * 32 * (24 + 32) * 6, elements = 32 * 6;
      EXPECT_EQ(r.counters.at("dpus.mac_int16"), 4 * dense) << model << schedule;
      EXPECT_EQ(r.counters.at("weight_sram.sram_macro_32kib_read_byte"), 2 * dense)
          << model << schedule;
      EXPECT_EQ(r.counters.at("dpus.acc_int48"), 4u * 128 * (2 + 2) * 6) << model << schedule;
      // 16 blocks x 6 steps x 4 passes x 16 lanes x 2 B per sequence.
      EXPECT_EQ(r.counters.at("act_buffer.sram_macro_8kib_read_byte"), 4u * 16 * 6 * 4 * 16 * 2)
          << model << schedule;
      EXPECT_EQ(r.counters.at("offchip.dram_read_byte"), 4u * 6 * 24 * 2) << model << schedule;
      EXPECT_EQ(r.counters.at("offchip.dram_write_byte"), 4u * 6 * 32 * 2) << model << schedule;
      EXPECT_EQ(r.counters.at("mfu.mfu_cell_update"), 4 * elements) << model << schedule;
      EXPECT_DOUBLE_EQ(r.metrics.at("cycles_per_sample"), static_cast<double>(r.cycles) / 4);
      EXPECT_NEAR(r.metrics.at("utilization"),
                  4.0 * static_cast<double>(dense) / (4 * 8 * 16 * static_cast<double>(r.cycles)),
                  1e-12);
    }
  }
}

// Compute-bound: 8 banks of 32 B feed a tile's 8 x 16 lanes (256 B a pass) in one cycle, so
// a pass takes max(1, B) cycles. X = H = 256: 1024 rows in 128 blocks, 32 a tile, each 16 W·x
// + 16 U·h passes: 1024 passes a tile a step, 1024 x B cycles of DPU work, which bounds the
// run below (x 20 steps); the rest (adder tree, MFU drain, the last step's dependence tail)
// is under 3% at batch 1, so batch 4 takes between 3.9x and 4x the cycles of batch 1 (every
// part of a step is at most 4x longer). Feed-bound: one 1 KiB macro bank of 32 B a tile
// delivers a pass's 256 B in 8 cycles, which hides a batch of up to 8 (a pass takes
// max(8, B)): batch 4 takes at most 5% more cycles than batch 1 (its MFU work is 4x), 3.8x
// the sequences per second; batch 16 doubles the pass time.
TEST(Batch, ComputeBoundScalesAndFeedBoundGains) {
  for (const char* model : {"lstm_sharp", "lstm_sharp_analytical"}) {
    Design s;
    s.functional = false;
    s.input = s.hidden = 256;
    s.seq = 20;
    s.schedule = "inter_gate";
    std::map<int, SimResult> compute, feed;
    for (int batch : {1, 4, 16}) {
      s.batch = batch;
      s.macro_kib = 0, s.banks = 0;
      compute[batch] = std::string(model) == "lstm_sharp" ? cycle_level_result(s) : twin_result(s);
      s.macro_kib = 1, s.banks = 1;
      feed[batch] = std::string(model) == "lstm_sharp" ? cycle_level_result(s) : twin_result(s);
    }
    const double c1 = static_cast<double>(compute[1].cycles);
    const double c4 = static_cast<double>(compute[4].cycles);
    EXPECT_DOUBLE_EQ(compute[1].metrics.at("weight_sram_feed_fraction"), 1) << model;
    EXPECT_GE(c1, 1024.0 * 20) << model;
    EXPECT_LE(c1, 1.03 * 1024 * 20) << model;
    EXPECT_GE(c4, 4.0 * 1024 * 20) << model;
    EXPECT_GE(c4 / c1, 3.9) << model;
    EXPECT_LE(c4 / c1, 4.0) << model;
    const double f1 = static_cast<double>(feed[1].cycles);
    const double f4 = static_cast<double>(feed[4].cycles);
    const double f16 = static_cast<double>(feed[16].cycles);
    EXPECT_DOUBLE_EQ(feed[1].metrics.at("weight_sram_feed_fraction"), 32.0 / 256) << model;
    EXPECT_GE(f1, 8.0 * 1024 * 20) << model;  // 8 cycles a pass
    EXPECT_LE(f4, 1.05 * f1) << model;
    EXPECT_GE(feed[4].metrics.at("samples_per_second"),
              3.8 * feed[1].metrics.at("samples_per_second"))
        << model;
    EXPECT_GE(f16 / f1, 1.9) << model;
    EXPECT_LE(f16 / f1, 2.0) << model;
    // The weights are read once a pass whatever the batch.
    EXPECT_EQ(feed[16].counters.at("weight_sram.sram_macro_1kib_read_byte"),
              feed[1].counters.at("weight_sram.sram_macro_1kib_read_byte"))
        << model;
  }
}

// The GPU anchors are cuDNN at batch 1: a batched run reports no GPU comparison rather than
// one against a GPU that did not batch; batch 1 keeps it.
TEST(Batch, NoGpuComparisonAboveBatchOne) {
  Design s;
  s.functional = false;
  s.gpu = true;
  EXPECT_GT(twin_result(s).metrics.count("speedup_vs_gpu"), 0u);
  s.batch = 2;
  const SimResult r = twin_result(s);
  EXPECT_EQ(r.metrics.count("speedup_vs_gpu"), 0u);
  EXPECT_EQ(r.metrics.count("gpu_seconds_estimate"), 0u);
}

// A batch outside 1-4096, a batch in functional mode or with the co-simulated DPU, and
// buffers too small for a batch:
// config errors at the key. The activation buffer of Buffers.TooSmallIsAConfigErrorAtTheKey
// (SHARP, 3 steps ahead) needs 320 B a sequence: 1280 B for 4.
TEST(Batch, BadValuesAreConfigErrorsAtTheKey) {
  auto error = [](const Design& s) {
    try {
      twin_result(s);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  Design s;
  s.functional = false;
  for (int batch : {0, -2, 4097}) {
    s.batch = batch;
    EXPECT_NE(error(s).find("workload.batch"), std::string::npos) << batch << ": " << error(s);
  }
  s.batch = 2;
  s.functional = true;
  const std::string functional = testing::in_child_bytes([&] {
    try {
      run_experiment(experiment(s, "lstm_sharp"));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  });
  EXPECT_NE(functional.find("workload.batch"), std::string::npos) << functional;
  // The co-simulated DPU (where this build has it) takes one input slice per pass.
  if (rtl_dpu_available()) {
    Design r = s;
    r.functional = false;
    r.rtl = true;
    r.width = 8, r.dpus = 16;
    const std::string rtl = testing::in_child_bytes([&] {
      try {
        run_experiment(experiment(r, "lstm_sharp"));
      } catch (const ConfigError& e) {
        return std::string(e.what());
      }
      return std::string();
    });
    EXPECT_NE(rtl.find("workload.batch: the co-simulated DPU"), std::string::npos) << rtl;
  }
  s.functional = false;
  s.batch = 4;
  s.runahead = 3;
  s.act_kib = 1;  // 1024 B < 1280 B
  EXPECT_NE(error(s).find("hw.act_buffer_kib"), std::string::npos) << error(s);
  EXPECT_NE(error(s).find("needs 1280 bytes"), std::string::npos) << error(s);
  s.act_kib = 1.25;
  EXPECT_EQ(error(s), "");
}

// Reconfiguration is not free: a layer that runs at another DPU width than the one before
// it starts reconfig_cycles later, in the cycle-level model and in the twin alike. Layer 0
// reads 300 inputs, layer 1 12 (and 12 cells: 48 rows), so the rule picks different widths
// for them; a cost of 7 cycles does not change that choice (the narrower width saves
// about 3 cycles a step for 60 steps), and the run is exactly 7 cycles longer. A cost
// larger than the whole layer keeps layer 0's width.
TEST(Reconfiguration, EachWidthChangeCostsReconfigCycles) {
  for (std::string schedule : {"inter_gate", "sharp"}) {
    Design s;
    s.schedule = schedule;
    s.reconfigurable = true;
    s.input = 300;
    s.hidden = 12;
    s.layers = 2;
    s.seq = 60;
    s.functional = false;
    s.reconfig = 0;
    const SimResult free_twin = twin_result(s), free_sim = cycle_level_result(s);
    s.reconfig = 7;
    const SimResult paid_twin = twin_result(s), paid_sim = cycle_level_result(s);
    const double k0 = free_twin.metrics.at("dpu_width_layer0");
    const double k1 = free_twin.metrics.at("dpu_width_layer1");
    ASSERT_NE(k0, k1) << schedule;
    for (const SimResult* r : {&free_sim, &paid_twin, &paid_sim}) {
      EXPECT_EQ(r->metrics.at("dpu_width_layer0"), k0) << schedule;
      EXPECT_EQ(r->metrics.at("dpu_width_layer1"), k1) << schedule;
      EXPECT_EQ(r->metrics.at("reconfigurations"), 1) << schedule;
    }
    EXPECT_EQ(paid_twin.cycles, free_twin.cycles + 7) << schedule;
    EXPECT_EQ(paid_sim.cycles, free_sim.cycles + 7) << schedule;
    s.reconfig = 1000000;
    const SimResult stay_twin = twin_result(s), stay_sim = cycle_level_result(s);
    EXPECT_EQ(stay_twin.metrics.at("reconfigurations"), 0) << schedule;
    EXPECT_EQ(stay_twin.metrics.at("dpu_width_layer1"), k0) << schedule;
    EXPECT_EQ(stay_sim.metrics.at("dpu_width_layer1"), k0) << schedule;
    EXPECT_GT(stay_sim.cycles, free_sim.cycles) << schedule;  // the switch was worth 0 cycles
  }
}

// Where the twin is exact (barrier schedules), the reconfigurable datapath is never slower
// than the same datapath fixed at any one of its widths: the rule minimises the whole
// stack, switches included. (Chosen layer by layer it was not: a first layer's favourite
// width then cost a switch or a poor fit later; 0.98x on a 2-layer 256-cell LSTM at 64K.)
TEST(Reconfiguration, NeverSlowerThanAnyFixedWidthOfTheDatapath) {
  std::mt19937 rng(7);
  auto pick = [&](std::vector<int> v) { return v[rng() % v.size()]; };
  int compared = 0;
  for (int i = 0; i < 60; ++i) {
    Design s;
    s.tiles = pick({1, 2, 4});
    s.dpus = pick({8, 16, 32});
    s.width = pick({8, 16, 32});
    s.schedule = rng() % 2 ? "inter_gate" : "sequential";
    s.layers = 2 + static_cast<int>(rng() % 2);
    s.input = pick({16, 24, 300, 700});
    s.hidden = 12 + static_cast<int>(rng() % 300);
    s.seq = 20;
    s.reconfig = pick({0, 100, 1000, 10000});
    s.functional = false;
    s.reconfigurable = true;
    const uint64_t adaptive = twin_cycles(s);
    // Every width the reconfigurable design may take, pinned.
    const int budget = s.tiles * s.dpus * s.width;
    for (int k : {4, 8, 16, 32, 64, 128}) {
      if (budget % (s.tiles * k) != 0 || (budget / (s.tiles * k)) % 4 != 0) continue;
      Design fixed = s;
      fixed.reconfigurable = false;
      fixed.width = k;
      fixed.dpus = budget / (s.tiles * k);
      EXPECT_LE(adaptive, twin_cycles(fixed)) << "config " << i << " K=" << k;
      ++compared;
    }
  }
  EXPECT_GE(compared, 150);
}

// The default cost from the machine's structure (lstm_sharp_params.h): D of the narrowest
// width (one grouping register per DPU, written one a cycle) + the widest adder tree's
// ceil(log2 K) + 1 stages. base.yaml, widths 8-256 in 4 tiles: 4K MACs 1024/8 + 8 + 1 = 137;
// 64K MACs 16384/8 + 9 = 2057. A fixed datapath never switches: 0.
TEST(Reconfiguration, DefaultCostFollowsTheDatapath) {
  const std::string base = std::string(TESSEL_SOURCE_DIR) + "/configs/hw/lstm_sharp/";
  Config hw = Config::load(base + "base.yaml", "x");
  EXPECT_EQ(read_machine(hw).reconfig_cycles, 137);
  hw.set("mac_budget", Config::parse("65536", "x"));
  EXPECT_EQ(read_machine(hw).reconfig_cycles, 2057);
  EXPECT_EQ(read_machine(Config::load(base + "epur_asic.yaml", "x")).reconfig_cycles, 0);
}

// The dispatcher's dependences, observed: every DPU pass of U·h on a K-wide slice of
// h(t-1) starts no earlier than the last element of that slice is ready (SHARP), or than
// all of h(t-1) (the barrier schedules); every W·x pass of layer l > 0 starts after the
// elements of layer l-1 it reads (both directions' h at that time step) exist. A
// bidirectional, reconfigurable 2-layer network of 40 cells (a last slice narrower than K
// for K = 16 or 32) under every schedule, with weights resident and streamed. Returns
// {violations, U·h passes seen, U·h passes expected, SHARP passes before the whole h(t-1)}.
std::vector<double> dependence_audit(const Design& s) {
  const Config e = experiment(s, "lstm_sharp");
  const MachineParams m = read_machine(e.child("hw"));
  const LstmWorkload w = read_lstm_workload(e.child("workload"));
  const std::vector<PassPlan> passes = plan_workload(m, w);
  sim::prepare_systemc();
  LstmSharp top("lstm_sharp", m, passes, w.seq_len, nullptr, nullptr);
  top.dispatcher().record();
  sc_core::sc_start();
  const int64_t seq = w.seq_len;
  // ready[p][step][element], from what the tiles published.
  std::vector<std::vector<std::vector<int64_t>>> ready(passes.size());
  double violations = 0;
  for (size_t p = 0; p < passes.size(); ++p)
    ready[p].assign(static_cast<size_t>(seq),
                    std::vector<int64_t>(static_cast<size_t>(passes[p].plan.hidden), -1));
  for (const auto& d : top.dispatcher().produced())
    for (int64_t e = d.first_element; e < d.first_element + d.elements; ++e) {
      int64_t& r = ready[d.pass][static_cast<size_t>(d.step)][static_cast<size_t>(e)];
      if (r >= 0) ++violations;  // produced twice
      r = d.ready;
    }
  for (const auto& per_pass : ready)
    for (const auto& step : per_pass)
      for (int64_t r : step) violations += r < 0;  // never produced
  auto latest = [&](size_t p, int64_t step, int64_t first, int64_t last) {
    int64_t t = 0;
    for (int64_t e = first; e <= last; ++e)
      t = std::max(t, ready[p][static_cast<size_t>(step)][static_cast<size_t>(e)]);
    return t;
  };
  double uh_seen = 0, uh_expected = 0, early = 0;
  for (const auto& pp : passes)
    uh_expected +=
        static_cast<double>(seq * pp.plan.uh_passes) * static_cast<double>(pp.plan.blocks.size());
  for (const auto& r : top.dispatcher().reads()) {
    const PassPlan& pp = passes[r.pass];
    if (r.segment >= 0) {
      ++uh_seen;
      if (r.step == 0) continue;  // the initial state
      const int64_t k = pp.plan.dpu_width;
      const int64_t need = latest(r.pass, r.step - 1, r.segment * k,
                                  std::min(pp.plan.hidden, (r.segment + 1) * k) - 1);
      const int64_t all = latest(r.pass, r.step - 1, 0, pp.plan.hidden - 1);
      violations += r.start < need;
      if (s.schedule != "sharp") violations += r.start < all;
      early += r.start < all;
    } else if (pp.layer > 0) {
      // x of this pass at its step r.step is layer l-1's h at time t from both directions.
      const int64_t t = pp.direction ? seq - 1 - r.step : r.step;
      for (size_t q = 0; q < passes.size(); ++q) {
        if (passes[q].layer != pp.layer - 1) continue;
        const int64_t step = passes[q].direction ? seq - 1 - t : t;
        violations += r.start < latest(q, step, 0, passes[q].plan.hidden - 1);
      }
    }
  }
  return {violations, uh_seen, uh_expected, early};
}

TEST(Dispatcher, NoSliceStartsBeforeTheRowsItReadsExist) {
  for (std::string schedule : {"sequential", "inter_gate", "unfolded", "sharp"}) {
    for (double sram_kib : {4096.0, 2.0}) {
      // K = 16, D = 8 (fixed) in 3 tiles: a block completes 2 elements, so a slice of h is
      // produced by 8 blocks on all tiles, and the tiles hold 7, 7 and 6 of the 20 blocks, so
      // one tile reaches a slice while its last block is still running elsewhere: the case a
      // per-slice scoreboard can get wrong (counting a slice ready at its first block fails
      // this test).
      Design s = with(schedule, 2, true, false, sram_kib);
      s.tiles = 3;
      s.hidden = 40;
      s.seq = 8;
      s.mfu_lanes = 2;  // a slow MFU: slices of h arrive well apart
      s.functional = false;
      const auto v = testing::in_child([&] { return dependence_audit(s); }, 4);
      const std::string name = schedule + (sram_kib < 64 ? " streamed" : "");
      ASSERT_FALSE(std::isnan(v[0])) << name;
      EXPECT_EQ(v[0], 0) << name << ": passes started before their inputs existed";
      EXPECT_EQ(v[1], v[2]) << name << ": every U·h pass is seen";
      // SHARP's point: some slices start before the whole of h(t-1) exists (else the check
      // above would be the barrier's and prove nothing about per-slice tracking). Streamed
      // at the link's rate, the passes are so slow that every slice is there in time.
      if (schedule == "sharp" && sram_kib > 64) EXPECT_GT(v[3], 0) << name;
    }
  }
}

// The buffers' needs by hand (buffers.h) for X = 24, H = 32, 4 tiles of 8 DPUs (K = 16):
// 128 rows in 16 blocks of 8, 4 blocks = 32 rows a tile. SHARP with 3 steps of run-ahead
// holds x of 4 steps plus h(t-1) and h(t): (4 x 24 + 2 x 32) x 2 B = 320 B, and parks the
// W·x sums of 4 steps of 32 rows, 6 B each: 768 B. A barrier schedule parks none.
TEST(Buffers, TooSmallIsAConfigErrorAtTheKey) {
  Design s;
  s.runahead = 3;
  s.functional = false;
  s.act_kib = 0.25;  // 256 B < 320 B
  try {
    twin_result(s);
    FAIL() << "an activation buffer of 256 B accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.yaml:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hw.act_buffer_kib"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needs 320 bytes"), std::string::npos) << e.what();
  }
  s.act_kib = 0.3125;  // exactly 320 B
  s.psum_kib = 0.5;    // 512 B < 768 B
  try {
    twin_result(s);
    FAIL() << "a partial-sum buffer of 512 B accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("hw.psum_buffer_kib"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("needs 768 bytes"), std::string::npos) << e.what();
  }
  // The cycle-level model checks the same at configure time.
  const std::string message = testing::in_child_bytes([&] {
    try {
      run_experiment(experiment(s, "lstm_sharp"));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  });
  EXPECT_NE(message.find("hw.psum_buffer_kib"), std::string::npos) << message;
  s.psum_kib = 0.75;
  EXPECT_NO_THROW(twin_result(s));
  s.schedule = "inter_gate";  // no run-ahead: x of one step, no parked sums
  s.act_kib = 0.25;           // (24 + 64) x 2 = 176 B
  s.psum_kib = 0.001;
  EXPECT_NO_THROW(twin_result(s));
}

// The cycle-level model's peak of parked partial sums stays within the bound the buffer is
// sized by, for 1, 3 and unlimited steps of run-ahead; and a derived buffer's capacity is
// counted in the SRAM (leakage, area): H = 256, 200 steps, unlimited run-ahead (E-PUR
// style): 1024 rows in blocks of 8, 256 rows a tile, 200 steps x 256 x 6 B = 307,200 B,
// ten 32 KiB macros; x of 200 steps + 2h: (200 x 24 + 512) x 2 = 10,624 B, two 8 KiB macros.
TEST(Buffers, PeakPartialSumsWithinTheDerivedNeed) {
  for (int runahead : {1, 3, 1000000}) {
    Design s;
    s.schedule = "unfolded";
    s.runahead = runahead;
    s.functional = false;
    s.mfu_lanes = 1;  // long drains: W·x runs far ahead
    s.seq = 20;
    const SimResult r = cycle_level_result(s);
    const int64_t window = std::min(runahead + 1, 20);
    uint64_t peak = 0;
    for (const auto& [name, value] : r.counters)
      if (name.find("psum_peak_bytes") != std::string::npos)
        peak = std::max(peak, static_cast<uint64_t>(value));
    EXPECT_GT(peak, 0u) << runahead;
    EXPECT_LE(peak, static_cast<uint64_t>(window * 32 * 6)) << runahead;
  }
  Design s;
  s.schedule = "unfolded";
  s.runahead = 1000000;
  s.hidden = 256;
  s.seq = 200;
  s.functional = false;
  EXPECT_DOUBLE_EQ(twin_result(s).metrics.at("sram_capacity_kib"), 4 * (4096 + 16 + 320));
}

// The weight SRAM as built: a bank is one macro, so 16 MiB of 32 KiB macros is 512 banks
// per tile. At 64K MACs in 4 tiles the lanes want 16384 x 2 B = 32 KiB per cycle, of which
// 512 banks x 4 B deliver 1/16 (hand count).
TEST(WeightSram, BanksAreBoundedByTheMacrosTheCapacityHolds) {
  const std::string machine =
      "model: lstm_sharp\nclock_ghz: 0.5\nmac_budget: 65536\ntiles: 4\ndpu_width: 64\n"
      "mfu: {lanes: 16, latency_cycles: 8}\noffchip: {read_gbps: 410}\n";
  const MachineParams m = read_machine(
      Config::parse(machine + "weight_sram: {kib_per_tile: 16384, bank_bytes: 4}\n", "m.yaml"));
  EXPECT_EQ(m.weight_sram_macros, 512);
  EXPECT_EQ(m.weight_sram_banks, 512);
  // Smaller macros: 2 KiB ones give 8192, all the lanes need.
  const MachineParams small = read_machine(Config::parse(
      machine + "weight_sram: {kib_per_tile: 16384, bank_bytes: 4, macro_kib: 2}\n", "m.yaml"));
  EXPECT_EQ(small.weight_sram_banks, 8192);
  try {
    read_machine(Config::parse(
        machine + "weight_sram: {kib_per_tile: 16384, bank_bytes: 4, banks: 8192}\n", "m.yaml"));
    FAIL() << "8192 banks of 32 KiB in 16 MiB accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("m.yaml:8:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("weight_sram.banks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 512 banks"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_machine(Config::parse(
                   machine + "weight_sram: {kib_per_tile: 16, bank_bytes: 4}\n", "m.yaml")),
               ConfigError);
}

// No shipped LSTM-Sharp design point asks for more banks than its SRAM holds macros, or for
// a macro larger than its SRAM (issue "LSTM-Sharp fidelity": no physically impossible point).
TEST(WeightSram, EveryShippedSweepPointIsBuildable) {
  int points = 0;
  for (const char* name : {"lstm_sharp.yaml", "lstm_sharp_ablation.yaml", "lstm_sharp_hidden.yaml",
                           "quickstart.yaml"}) {
    const sweep::SweepPlan plan =
        sweep::load_sweep(std::string(TESSEL_SOURCE_DIR) + "/configs/sweeps/" + name);
    for (const auto& p : plan.points) {
      const Config hw = sweep::point_experiment(plan, p).child("hw");
      if (hw.get<std::string>("model") != "lstm_sharp") continue;
      const MachineParams m = read_machine(hw);
      ++points;
      EXPECT_LE(m.weight_sram_banks * m.weight_sram_macro_kib, m.weight_sram_kib + 1e-9)
          << name << " " << p.id;
    }
  }
  EXPECT_GE(points, 900);
}

// The schedules remove synchronisation one step at a time, so on every shipped workload
// the cycle-level machine must order them sharp <= unfolded <= inter_gate <= sequential
// (same datapath, reconfigurable), at a compute-bound (4K) and an SRAM-bound (64K) budget.
TEST(Schedules, EachRemovesWaitingOnEveryShippedWorkload) {
  const sweep::SweepPlan plan =
      sweep::load_sweep(std::string(TESSEL_SOURCE_DIR) + "/configs/sweeps/lstm_sharp.yaml");
  std::map<std::string, std::map<std::string, double>> cycles;  // workload/budget -> schedule
  for (const auto& p : plan.points) {
    const nlohmann::json& a = p.params;
    const std::string hw = a.at("hw").get<std::string>(), budget = a.at("hw.mac_budget").dump();
    if (hw.find("base.yaml") == std::string::npos || !a.at("hw.reconfigurable").get<bool>() ||
        (budget != "4096" && budget != "65536") || a.at("hw.weight_sram.macro_kib") != 32)
      continue;
    const Config e = sweep::point_experiment(plan, p);
    cycles[a.at("workload").get<std::string>() + " @" + budget]
          [a.at("hw.schedule").get<std::string>()] =
              testing::in_child([&] { return static_cast<double>(run_experiment(e).cycles); });
  }
  ASSERT_GE(cycles.size(), 16u);
  for (const auto& [name, c] : cycles) {
    ASSERT_EQ(c.size(), 4u) << name;
    for (const auto& kv : c) ASSERT_FALSE(std::isnan(kv.second)) << name << " " << kv.first;
    EXPECT_LE(c.at("sharp"), c.at("unfolded")) << name;
    EXPECT_LE(c.at("unfolded"), c.at("inter_gate")) << name;
    EXPECT_LE(c.at("inter_gate"), c.at("sequential")) << name;
  }
}

// Counters against a hand count for a 1-layer LSTM (X = 24, H = 32, 6 steps) whose weights
// all fit on chip: each step multiplies every one of the 4H x (X + H) weights once (MACs,
// and 2 bytes of SRAM read each), and the MFU applies 5 activations, one c update and
// one h output per element; off chip move only the inputs and the outputs.
TEST(Counters, EqualTheHandCountOfASmallLayer) {
  for (std::string schedule : {"sequential", "sharp"}) {
    Design s;
    s.schedule = schedule;
    s.functional = false;
    const Config e = experiment(s, "lstm_sharp");
    const std::string json =
        testing::in_child_bytes([&] { return run_experiment(e).to_json().dump(); });
    ASSERT_FALSE(json.empty()) << schedule;
    const SimResult r = SimResult::from_json(nlohmann::json::parse(json));
    const uint64_t macs = 4 * 32 * (24 + 32) * 6, elements = 32 * 6;
    EXPECT_EQ(r.counters.at("dpus.mac_int16"), macs) << schedule;
    EXPECT_EQ(r.counters.at("weight_sram.sram_macro_32kib_read_byte"), 2 * macs) << schedule;
    // K = 16: W·x takes ceil(24/16) = 2 passes and U·h ceil(32/16) = 2 for each of the
    // 4H = 128 rows, every step; each pass updates the row's 48-bit accumulator once.
    EXPECT_EQ(r.counters.at("dpus.acc_int48"), 128u * (2 + 2) * 6) << schedule;
    // Off chip: only the input sequence in (6 x 24 int16) and h out (6 x 32 int16).
    EXPECT_EQ(r.counters.at("offchip.dram_read_byte"), 6u * 24 * 2) << schedule;
    EXPECT_EQ(r.counters.at("offchip.dram_write_byte"), 6u * 32 * 2) << schedule;
    EXPECT_EQ(r.counters.at("mfu.mfu_activation"), 5 * elements) << schedule;
    EXPECT_EQ(r.counters.at("mfu.mfu_cell_update"), elements) << schedule;
    EXPECT_EQ(r.counters.at("mfu.mfu_hidden_output"), elements) << schedule;
  }
}

// Energy of the same small layer by hand (45 nm table, no scaling), with its weights in
// 2 KiB and in 32 KiB macros. inter_gate: no partial sums are parked. Per the counts above:
// 43,008 MACs at 0.875 pJ and 3,072 48-bit accumulates at 0.15 pJ; 86,016 weight bytes at
// 1.25 pJ (2 KiB macro: Horowitz's 8 KB array, the clamp) or 2.5 pJ (32 KB); 16 blocks x 6
// steps x 4 passes x 16 lanes x 2 B = 12,288 activation bytes from the 8 KiB buffer at 1.25
// pJ; 192 elements x (5 x 5.875 + 1.65 + 0.775) pJ in the MFU; 672 bytes off chip at 243.75
// pJ. Leakage: 4 tiles x (4096 + 8 + 32) KiB x 8192 bits x 29.7 pW (CACTI 45 nm LSTP: 4.62 x
// 0.045 um x 1.3e-10 A/um x 1.1 V) x the run's time. Clock and control: 24% of on-chip
// dynamic + clock/control energy (Dally et al. 2008), i.e. 0.24 / 0.76 of the dynamic part.
TEST(Energy, EqualsTheHandCountForTwoMacroSizes) {
  std::map<double, double> weight_pj;
  for (double macro : {2.0, 32.0}) {
    Design s;
    s.schedule = "inter_gate";
    s.functional = false;
    s.macro_kib = macro;
    const Config e = experiment(s, "lstm_sharp");
    const std::string json =
        testing::in_child_bytes([&] { return run_experiment(e).to_json().dump(); });
    ASSERT_FALSE(json.empty()) << macro;
    const SimResult r = SimResult::from_json(nlohmann::json::parse(json));
    const double macs = 4 * 32 * (24 + 32) * 6;
    const double dram = 6 * 24 * 2 + 6 * 32 * 2;
    const double sram_pj = macro == 2 ? 10.0 / 8 : 20.0 / 8;
    weight_pj[macro] = r.energy_pj.at("weight_sram");
    EXPECT_NEAR(r.energy_pj.at("weight_sram"), 2 * macs * sram_pj, 1e-6) << macro;
    EXPECT_NEAR(r.energy_pj.at("dpus"), macs * 0.875 + 128 * 4 * 6 * 0.15, 1e-6) << macro;
    EXPECT_NEAR(r.energy_pj.at("act_buffer"), 16 * 6 * 4 * 16 * 2 * 1.25, 1e-6) << macro;
    EXPECT_EQ(r.counters.at("psum_buffer.sram_macro_32kib_write_byte"), 0u) << macro;
    EXPECT_NEAR(r.energy_pj.at("mfu"), 192 * (5 * 5.875 + 1.65 + 0.775), 1e-6) << macro;
    EXPECT_NEAR(r.energy_pj.at("offchip"), dram * 243.75, 1e-6) << macro;
    const double bits = 4.0 * (4096 + 8 + 32) * 8192;
    const double seconds = static_cast<double>(r.cycles) / 0.5e9;
    const double leak_w_per_bit = 4.62 * 0.045 * 1.3e-10 * 1.1;
    EXPECT_NEAR(r.energy_pj.at("sram_leakage"), bits * leak_w_per_bit * seconds * 1e12,
                2e-3 * r.energy_pj.at("sram_leakage"))
        << macro;
    const double dynamic = r.energy_pj.at("weight_sram") + r.energy_pj.at("dpus") +
                           r.energy_pj.at("act_buffer") + r.energy_pj.at("mfu");
    EXPECT_NEAR(r.energy_pj.at("clock_control"), dynamic * 0.24 / 0.76, 1e-4 * dynamic) << macro;
    // The same numbers as metrics, part by part, and they sum to the total.
    EXPECT_NEAR(r.metrics.at("energy_compute_pj"), r.energy_pj.at("dpus") + r.energy_pj.at("mfu"),
                1e-6);
    EXPECT_NEAR(r.metrics.at("energy_offchip_pj"), dram * 243.75, 1e-6);
    EXPECT_GT(r.metrics.at("area_mm2"), 0);
  }
  // Halving the array energy halves the weight reads' cost, and nothing else changes.
  EXPECT_NEAR(weight_pj.at(32) / weight_pj.at(2), 2.0, 1e-12);
}

// On the cycle-level model and its twin, with weights on chip and streamed, the five parts
// of the breakdown sum to the total energy.
TEST(Energy, BreakdownSumsToTheTotal) {
  for (const char* model : {"lstm_sharp", "lstm_sharp_analytical"}) {
    for (double sram_kib : {4096.0, 2.0}) {
      Design s;
      s.functional = false;
      s.sram_kib = sram_kib;  // 2 KiB: most weights stream
      const Config e = experiment(s, model);
      const std::string json =
          testing::in_child_bytes([&] { return run_experiment(e).to_json().dump(); });
      ASSERT_FALSE(json.empty()) << model;
      const SimResult r = SimResult::from_json(nlohmann::json::parse(json));
      double parts = 0;
      for (const char* k : {"energy_compute_pj", "energy_sram_dynamic_pj", "energy_leakage_pj",
                            "energy_clock_control_pj", "energy_offchip_pj"}) {
        ASSERT_EQ(r.metrics.count(k), 1u) << k;
        EXPECT_GT(r.metrics.at(k), 0) << model << " " << k;
        parts += r.metrics.at(k);
      }
      EXPECT_NEAR(parts, r.total_energy_pj(), 1e-9 * r.total_energy_pj()) << model << sram_kib;
    }
  }
}

// The GPU baseline from the shipped H100 anchors, by hand: at h = 512 the 2-layer, 100-step
// run took 2.8552 ms, 14.276 us per layer-step (latency bound: 8 x 512 x 1024 / 2.17e12 is
// under 2 us). A bidirectional layer shares that latency (one cuDNN call runs both
// directions), so 3 bidirectional layers of 40 steps take 3 x 40 x 14.276 us, as many as
// unidirectional ones; a layer too large for the latency floor pays both directions' FLOPs.
TEST(GpuBaseline, BidirectionalLayersShareTheLatency) {
  const GpuReference g = GpuReference::load(std::string(TESSEL_SOURCE_DIR) +
                                            "/configs/baselines/gpu_h100_cudnn_lstm.yaml");
  LstmWorkload w;
  w.input_size = 512;
  w.hidden_size = 512;
  w.layers = 3;
  w.seq_len = 40;
  const double uni = g.seconds(w);
  w.bidirectional = true;
  EXPECT_NEAR(uni, 3 * 40 * 2.8552e-3 / 200, 1e-12);
  EXPECT_NEAR(g.seconds(w), uni, 1e-12);
  // h = 8192: 8 x 8192 x 16384 / 2172.7e9 = 0.494 ms per direction, far above the latency.
  EXPECT_NEAR(g.layer_step_seconds(8192, 8192, 2), 2 * 8.0 * 8192 * 16384 / 2172.7e9, 1e-12);
}

// ---- Declared keys (runtime/core/keys.h) ------------------------------------------------

const std::string kConfigs = std::string(TESSEL_SOURCE_DIR) + "/configs/";

// A misspelt key is an error at its file and line naming the declared key it is closest to.
TEST(Keys, TypoNamesTheNearestDeclaredKey) {
  const auto expect = [](const KeySet& set, const std::string& text, const std::string& says) {
    try {
      set.check(Config::parse(text, "t.yaml", "hw"));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
  };
  expect(model_keys().hw, "tiles: 4\nrunahed_steps: 2\n",
         "t.yaml:2:1: hw.runahed_steps: unknown key (did you mean 'runahead_steps'?)");
  expect(model_keys().hw, "weight_sram: {kib_per_tile: 16, macro_kb: 8}\n",
         "hw.weight_sram.macro_kb: unknown key (did you mean 'macro_kib'?)");
  expect(model_keys().hw, "rtl: {dpus: true}\n", "hw.rtl.dpus: unknown key (did you mean 'dpu'?)");
  expect(model_keys().hw, "weight_layout: tiled\n", "expected one of interleaved, tile_major");
  expect(model_keys().workload, "kind: lstm\nhiden_size: 8\n", "did you mean 'hidden_size'?");
  expect(gpu_reference_keys(), "peak_gflop: 1\n", "did you mean 'peak_gflops'?");
}

// Every shipped hw file and workload of the LSTM-Sharp models uses declared keys only (the
// shipped-configs test runs the experiments; this covers the files no experiment names).
TEST(Keys, EveryShippedFileUsesDeclaredKeys) {
  KeySet hw("lstm_sharp hw file");
  hw.include("", shared_hw_keys(true));
  hw.include("", model_keys().hw);
  int files = 0;
  for (const auto& [folder, set] : std::vector<std::pair<std::string, const KeySet*>>{
           {"hw/lstm_sharp", &hw},
           {"workloads/lstm", &model_keys().workload},
           {"baselines", &gpu_reference_keys()}}) {
    for (const auto& e : std::filesystem::directory_iterator(kConfigs + folder)) {
      if (e.path().extension() != ".yaml") continue;
      ++files;
      EXPECT_NO_THROW(set->check(Config::load(e.path().string()))) << e.path();
    }
  }
  EXPECT_GE(files, 16);
}

// Removes the key at a dotted path, if it is there.
void erase(Config& c, const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) {
    c.erase(path);
  } else if (c.has(path.substr(0, dot))) {
    Config parent = c.child(path.substr(0, dot));
    erase(parent, path.substr(dot + 1));
  }
}

std::string machine_text(const MachineParams& p) {
  std::ostringstream o;
  o << p.clock_ghz << ' ' << p.mac_budget << ' ' << p.tiles << ' ' << p.dpu_width << ' '
    << p.reconfigurable << ' ' << static_cast<int>(p.schedule) << ' ' << p.runahead_steps << ' '
    << p.weight_sram_kib << ' ' << p.weight_sram_banks << ' ' << p.weight_sram_macros << ' '
    << p.weight_sram_bank_bytes << ' ' << p.weight_sram_macro_kib << ' ' << p.mfu_lanes << ' '
    << p.mfu_latency << ' ' << p.offchip_bytes_per_cycle << ' ' << p.offchip_latency_cycles << ' '
    << p.offchip_memory << ' ' << p.stream_buffer_bytes << ' ' << p.tile_major_layout << ' '
    << p.memory_bytes_per_cycle << ' ' << p.memory_latency_cycles << ' ' << p.gpu_reference << ' '
    << p.rtl_dpu << " options";
  for (int64_t k : p.dpu_width_options) o << ' ' << k;
  return o.str();
}

std::string workload_text(const LstmWorkload& w) {
  std::ostringstream o;
  o << w.name << ' ' << w.input_size << ' ' << w.hidden_size << ' ' << w.layers << ' ' << w.seq_len
    << ' ' << w.bidirectional << ' ' << w.functional;
  return o.str();
}

// Each declared default is what the readers use: a shipped file read with the key left out
// and read with the key set to the declared text give the same parameters.
TEST(Keys, DeclaredDefaultsAreWhatTheReadersUse) {
  int checked = 0;
  const auto same = [&](const std::string& file, const KeySet& set, auto read) {
    for (const Key& key : set.keys()) {
      if (!key.fallback) continue;
      Config without = Config::load(kConfigs + file, "x");
      erase(without, key.path);
      Config with = Config::load(kConfigs + file, "x");
      erase(with, key.path);
      with.set(key.path, Config::parse(*key.fallback, "default"));
      EXPECT_EQ(read(without), read(with)) << key.path << " = " << *key.fallback;
      ++checked;
    }
  };
  same("hw/lstm_sharp/base.yaml", model_keys().hw,
       [](const Config& c) { return machine_text(read_machine(c)); });
  same("hw/lstm_sharp/ddr4.yaml", model_keys().hw,
       [](const Config& c) { return machine_text(read_machine(c)); });
  same("workloads/lstm/tiny_functional.yaml", model_keys().workload,
       [](const Config& c) { return workload_text(read_lstm_workload(c)); });
  EXPECT_GE(checked, 2 * 10 + 3);
}

}  // namespace
}  // namespace tessel::lstm_sharp
