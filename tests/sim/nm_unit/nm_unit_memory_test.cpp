// The N:M unit's twin with a memory term (hw.memory: a DRAM preset) against the cycle-level
// model on random machines, shapes, patterns, presets and outstanding limits, against the
// preset's figures by hand, and the memories, ports and layers the twin refuses.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "runtime/core/error.h"
#include "runtime/core/runner.h"
#include "runtime/core/seed.h"
#include "tests/sim/in_child.h"
#include "tests/sim/nm_unit/nm_unit_yaml.h"

namespace tessel::nm_unit {
namespace {

using testing::Gemm;
using testing::Machine;

std::string preset(const char* name) {
  return std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/" + name + ".yaml";
}

Config experiment(const Machine& h, const Gemm& g, const char* model) {
  return Config::parse(experiment_yaml(h, g, model), "exp.yaml");
}

// The cycle-level model's cycles, run in a child (SystemC elaborates once per process); 0
// when it failed.
double sim_cycles(const Machine& h, const Gemm& g) {
  const Config e = experiment(h, g, "nm_unit");
  const double c =
      tessel::testing::in_child([&] { return static_cast<double>(run_experiment(e).cycles); });
  return std::isnan(c) ? 0 : c;
}

// Machines and GEMMs drawn around the base unit: PE arrays 8-64 a side, 4 or 8 lanes,
// windows 1-4x the lanes, 2-4 buffer slots of 16-256 KiB, 0.5-2 GHz; BERT/GPT-2-like and
// odd shapes; every pattern; a DRAM preset with 32-512 requests in flight.
struct Draw {
  Machine h;
  Gemm g;
};

Draw draw(uint64_t index) {
  const char* memories[] = {"ddr4_3200", "ddr5_4800"};
  uint64_t s = derive_seed(2424, index);
  auto pick = [&](uint64_t n) { return static_cast<int64_t>(splitmix64(s) % n); };
  Draw d;
  Machine& h = d.h;
  h.rows = static_cast<int>(8 << pick(4));
  h.cols = static_cast<int>(8 << pick(4));
  h.lanes = static_cast<int>(4 << pick(2));
  h.window = h.lanes * static_cast<int>(1 << pick(3));
  h.slots = static_cast<int>(2 + pick(3));
  h.weight_kib = 16.0 * (1 << pick(5));
  h.act_kib = 16.0 * (1 << pick(5));
  h.out_kib = 64;
  h.clock_ghz = 0.5 + 0.25 * static_cast<double>(pick(7));
  h.dtype = pick(4) == 0 ? "fp16" : "int8";
  h.patterns = h.window >= 8 ? "[\"1:4\", \"2:4\", \"2:8\", \"4:8\"]" : "[\"1:4\", \"2:4\"]";
  h.memory = preset(memories[pick(2)]);
  h.max_outstanding = static_cast<int>(32 << pick(5));
  const char* patterns[] = {"dense", "1:4", "2:4", "2:8", "4:8"};
  Gemm& g = d.g;
  g.pattern = patterns[pick(5)];
  if (h.window < 8 && (g.pattern == "2:8" || g.pattern == "4:8")) g.pattern = "2:4";
  g.m = 32 * (1 + pick(48)) + pick(2) * pick(32);
  g.n = 16 * (1 + pick(32)) + pick(2) * pick(16);
  g.k = 64 * (1 + pick(32));
  g.functional = false;
  return d;
}

std::string describe(const Draw& d) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%s %dx%d lanes %d window %d slots %d %s %.2f GHz out %d %s %ldx%ldx%ld",
                d.h.memory.substr(d.h.memory.rfind('/') + 1).c_str(), d.h.rows, d.h.cols, d.h.lanes,
                d.h.window, d.h.slots, d.h.dtype, d.h.clock_ghz, d.h.max_outstanding,
                d.g.pattern.c_str(), d.g.m, d.g.n, d.g.k);
  return buf;
}

// The twin's message when it refuses a configuration ("" when it runs).
std::string refusal(const Machine& h, const Gemm& g) {
  try {
    run_experiment(experiment(h, g, "nm_unit_analytical"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// Random configurations on DDR4-3200 and DDR5-4800: the twin runs the ones it holds (48 of
// them) and refuses the rest at the key that decides it. Measured: worst 3.84%, mean 1.11%
// (and on 120 other draws, seed 7777: worst 4.77%, mean 1.01%; docs/systems.md "Limits").
TEST(NmUnitMemory, TwinWithinFivePercentOnRandomConfigurations) {
  double worst = 0, sum = 0;
  int held = 0;
  std::map<std::string, int> refused;  // by key
  for (uint64_t i = 0; held < 48 && i < 1000; ++i) {
    const Draw d = draw(i);
    const std::string why = refusal(d.h, d.g);
    if (!why.empty()) {
      const char* keys[] = {"hw.memory", "hw.offchip.max_outstanding", "hw.buffers.slots"};
      const char* key = nullptr;
      for (const char* k : keys)
        if (why.find(std::string(k) + ": nm_unit_analytical") != std::string::npos) key = k;
      EXPECT_NE(key, nullptr) << why;
      ++refused[key ? key : "other"];
      continue;
    }
    const double sim = sim_cycles(d.h, d.g);
    ASSERT_GT(sim, 0) << "draw " << i;
    const double twin =
        static_cast<double>(run_experiment(experiment(d.h, d.g, "nm_unit_analytical")).cycles);
    const double err = std::abs(twin - sim) / sim;
    worst = std::max(worst, err);
    sum += err;
    ++held;
    EXPECT_LE(err, 0.05) << "draw " << i << ": " << describe(d) << " sim " << sim << " twin "
                         << twin;
  }
  std::printf("twin with memory: worst %.2f%%, mean %.2f%% over %d configurations; refused:",
              100 * worst, 100 * sum / held, held);
  for (const auto& [key, n] : refused) std::printf(" %d at %s", n, key.c_str());
  std::printf("\n");
  EXPECT_EQ(held, 48);
}

// By hand: a weight-streaming layer on DDR4-3200 is bound by the memory's sustained rate,
// 25.6 GB/s x (1 - tRFC/tREFI = 560/12480) x 1 / (1 + (tRP + tRCD = 44) / (128 bursts x 4
// bank groups x 4 clocks)) = 23.94 GB/s, i.e. 23.94 B a cycle at 1 GHz; 256 requests of 64 B
// over the row-miss latency (22 + 22 + 4 clocks of 0.625 ns = 30 ns) would allow 546 GB/s.
// Reads and output writes share the bus.
TEST(NmUnitMemory, MemoryBoundLayerTakesItsBytesOverTheSustainedRate) {
  Machine h;
  h.memory = preset("ddr4_3200");
  const Gemm g{1024, 128, 2048, "2:4", false, ""};
  const SimResult r = run_experiment(experiment(h, g, "nm_unit_analytical"));
  const double bytes = static_cast<double>(r.counters.at("offchip.dram_read_byte") +
                                           r.counters.at("offchip.dram_write_byte"));
  const double sustained = 25.6 * (1 - 560.0 / 12480) / (1 + 44.0 / 2048);
  EXPECT_NEAR(static_cast<double>(r.cycles), bytes / sustained, 0.01 * bytes / sustained);
}

// The memories and ports the twin does not hold, each refused at the key that decides it.
TEST(NmUnitMemory, TwinRefusesWhatItDoesNotHold) {
  const Gemm layer{1024, 128, 2048, "2:4", false, ""};
  Machine h;
  for (const char* memory : {"hbm2e", "hbm3", "dram_nvm_ssd"}) {
    h.memory = preset(memory);
    const std::string why = refusal(h, layer);
    EXPECT_NE(why.find("hw.memory"), std::string::npos) << memory << ": " << why;
  }
  h.memory = preset("hbm2e");
  EXPECT_NE(refusal(h, layer).find("a row switch costs 0.168 of an open row's bus time"),
            std::string::npos)
      << refusal(h, layer);
  // DDR4-3200: 6 x 25.6 B/ns x 30 ns = 4,608 B in flight = 72 requests of 64 B.
  h.memory = preset("ddr4_3200");
  h.max_outstanding = 64;
  EXPECT_NE(refusal(h, layer).find("hw.offchip.max_outstanding: nm_unit_analytical needs "
                                   "requests in flight for at least 6x bandwidth x latency (72 "
                                   "requests of 64 B"),
            std::string::npos)
      << refusal(h, layer);
  h.max_outstanding = 72;
  EXPECT_EQ(refusal(h, layer), "");
  // Double buffering.
  h.slots = 2;
  EXPECT_NE(refusal(h, layer).find("hw.buffers.slots: nm_unit_analytical needs at least 3"),
            std::string::npos)
      << refusal(h, layer);
  h.slots = 4;
  // 64 x 64 x 128 on an 8 x 8 array: K is one chunk, so the cheaper loop order keeps each
  // token tile's activations (8 x 128 B, one region) on chip while its 8 row blocks stream
  // (8 rows x 64 values + 8 x 16 B of 2-bit indices, two regions): 8 x 1024 + 64 x 640 =
  // 49,152 B over 8 + 128 regions = 361 B per region; outputs 64 tiles x 256 B = 16,384 B,
  // 25.0% of the bytes.
  h.rows = h.cols = 8;
  const std::string why = refusal(h, Gemm{64, 64, 128, "2:4", false, ""});
  EXPECT_NE(why.find("hw.memory"), std::string::npos) << why;
  EXPECT_NE(why.find("this layer reads 361 B per region and writes 25.0% of its bytes"),
            std::string::npos)
      << why;
}

}  // namespace
}  // namespace tessel::nm_unit
