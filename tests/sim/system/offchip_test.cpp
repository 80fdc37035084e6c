// The off-chip port (sim/core/offchip_port.h) on its own, and the N:M unit bound to the
// simulated memory (sim/system/offchip.h). One SystemC elaboration per ctest process.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>

#include "runtime/core/error.h"
#include "runtime/core/runner.h"
#include "sim/core/offchip_port.h"
#include "sim/memory/memory_system.h"
#include "sim/system/offchip.h"
#include "tests/sim/in_child.h"
#include "tests/sim/nm_unit/nm_unit_yaml.h"

namespace tessel::sim {
namespace {

const std::string kRepo = TESSEL_SOURCE_DIR;

// Runs `body` in one SC_THREAD and returns the simulated time at which it ended (ns).
struct Driver : sc_core::sc_module {
  SC_HAS_PROCESS(Driver);
  Driver(sc_core::sc_module_name n, std::function<void()> body)
      : sc_module(n), body_(std::move(body)) {
    SC_THREAD(run);
  }
  void run() {
    body_();
    end_ns = sc_core::sc_time_stamp().to_seconds() * 1e9;
  }
  std::function<void()> body_;
  double end_ns = -1;
};

TEST(LinkPort, PipelinedOverlapsLatencySerialisedDoesNot) {
  prepare_systemc();
  Clock clock(1.0);
  LinkPort pipelined(clock, 10.0, 50, true), serial(clock, 10.0, 50, false);
  std::vector<double> done;
  Driver d("driver", [&] {
    // 100 B at 10 B/cycle = 10 cycles each. Pipelined: the link frees at 10 and 20, data
    // lands 50 later (60, 70). Serialised: each holds the link 60 cycles (done 120, 180).
    auto a = pipelined.read(0, 100);
    auto b = pipelined.read(100, 100);
    EXPECT_EQ(clock.now_cycles(), 20u);
    pipelined.wait_done(a);
    done.push_back(clock.now_ns());
    pipelined.wait_done(b);
    done.push_back(clock.now_ns());
    auto c = serial.read(0, 100);
    done.push_back(clock.now_ns());
    serial.write(0, 100);
    serial.wait_done(c);
    done.push_back(clock.now_ns());
  });
  sc_core::sc_start();
  ASSERT_EQ(done.size(), 4u);
  EXPECT_DOUBLE_EQ(done[0], 60);
  EXPECT_DOUBLE_EQ(done[1], 70);
  EXPECT_DOUBLE_EQ(done[2], 130);
  EXPECT_DOUBLE_EQ(done[3], 190);
  EXPECT_EQ(serial.bytes_read(), 100u);
  EXPECT_EQ(serial.bytes_written(), 100u);
}

memory::HierarchySpec ddr4() {
  Config c = Config::load(kRepo + "/configs/hw/memory/ddr4_3200.yaml", "hw");
  return memory::read_hierarchy(c);
}

struct MemoryRun {
  Counters counters;
  std::map<std::string, double> metrics;
  uint64_t requests = 0;
  double end_ns = 0;
};

// Reads the given ranges through a MemoryPort bound to DDR4-3200, waiting for all.
MemoryRun read_through_ddr4(const std::vector<OffchipPort::Range>& ranges,
                            MemoryPortParams params) {
  prepare_systemc();
  Clock clock(1.0);
  memory::MemorySystem mem(ddr4());
  MemoryPort port("port", clock, params);
  port.socket.bind(mem.socket());
  Driver d("driver", [&] {
    std::vector<OffchipPort::Ticket> t;
    for (const OffchipPort::Range& r : ranges) t.push_back(port.read({r}));
    for (auto x : t) port.wait_done(x);
  });
  sc_core::sc_start();
  MemoryRun r;
  r.end_ns = d.end_ns;
  mem.report(sc_core::sc_time(d.end_ns, sc_core::SC_NS), r.counters, r.metrics);
  r.requests = port.requests();
  return r;
}

TEST(MemoryPort, RequestsAreAlignedPiecesOfTheTransfer) {
  // [100, 1100) in 64-byte aligned pieces: [100,128), 15 whole lines [128,1088), [1088,1100).
  MemoryRun r = read_through_ddr4({{100, 1000}}, MemoryPortParams{64, 16});
  EXPECT_EQ(r.requests, 17u);
  EXPECT_GT(r.end_ns, 0);
}

TEST(MemoryPort, StreamingReadHitsTheOpenRow) {
  // 4 MiB in address order. DDR4-3200 x8 rank: a row holds 1024 columns x 8 B = 8 KiB, 128
  // bursts of 64 B, so a stream opens each row once: hit rate 127/128 = 0.992 (refresh,
  // which closes every bank each 7.8 us, costs a few more activations).
  MemoryRun r = read_through_ddr4({{0, 4u << 20}}, MemoryPortParams{64, 64});
  EXPECT_EQ(r.requests, (4u << 20) / 64);
  EXPECT_GT(r.metrics.at("dram.row_hit_rate"), 0.98);
  EXPECT_LE(r.metrics.at("dram.row_hit_rate"), 127.0 / 128 + 1e-9);
  // Peak 25.6 GB/s less refresh (tRFC/tREFI = 560/12480): a stream reaches 90% of it.
  const double gbps = static_cast<double>(4u << 20) / r.end_ns;
  EXPECT_GT(gbps, 0.9 * 25.6 * (1 - 560.0 / 12480));
  EXPECT_LT(gbps, 25.6);
}

TEST(MemoryPort, ScatteredReadsConflictInTheBanks) {
  // 4096 random cache lines over 512 MiB: 16 banks x 4096 rows of 8 KiB each. Two
  // consecutive accesses to a bank hit the same row with probability 1/4096, and the
  // read queue (32 deep) finds few same-row pairs: the hit rate is near zero.
  std::mt19937_64 rng(7);
  std::vector<OffchipPort::Range> ranges;
  for (int i = 0; i < 4096; ++i) ranges.push_back({(rng() % (512u << 20)) / 64 * 64, 64});
  MemoryRun r = read_through_ddr4(ranges, MemoryPortParams{64, 64});
  const double expect = 32.0 / 4096;  // a queue of 32 gives each request 32 chances
  EXPECT_LT(r.metrics.at("dram.row_hit_rate"), expect + 0.02);
  EXPECT_GT(r.counters.flat().at("dram.row_conflicts"), 3500u);
}

// --- The N:M unit bound to a memory -------------------------------------------------------

std::string with_memory(std::string yaml, const std::string& memory_file,
                        const std::string& port = "") {
  const std::string at = "  offchip: {";
  const size_t i = yaml.find(at);
  yaml.insert(i, "  memory: " + memory_file + "\n");
  if (!port.empty()) {
    const size_t j = yaml.find('}', yaml.find(at));
    yaml.insert(j, ", " + port);
  }
  return yaml;
}

SimResult run_yaml(const std::string& yaml) {
  return run_experiment(Config::parse(yaml, "exp.yaml"));
}

TEST(NmUnitOnMemory, BytesMovedAreTheDataflowArithmetic) {
  // W 64 x 256 at 2:4 int8, X 256 x 32: one 32-token tile, two 32-row blocks, K fits one
  // chunk. The cheaper loop order keeps the single token tile's activations resident and
  // streams the row blocks past them: values 64 x 128 B, metadata 64 rows x 128 indices x
  // 2 bits = 2048 B, activations once (256 x 32 B); the int32 outputs 64 x 32 x 4 B.
  nm_unit::testing::Gemm g{64, 32, 256, "2:4", true, ""};
  const std::string yaml = with_memory(nm_unit::testing::experiment_yaml({}, g, "nm_unit"),
                                       kRepo + "/configs/hw/memory/ddr4_3200.yaml");
  SimResult r = run_yaml(yaml);
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_TRUE(r.checks[0].passed) << r.checks[0].detail;
  const uint64_t read = 64 * 128 + 2048 + 256 * 32, written = 64 * 32 * 4;
  EXPECT_EQ(r.counters.at("offchip_port.read_bytes"), read);
  EXPECT_EQ(r.counters.at("offchip_port.write_bytes"), written);
  // DDR4 bursts are 64 B and every range starts 64-aligned here (a region's start is
  // 4 KiB aligned, blocks are multiples of 64 B): the memory saw exactly that many bursts.
  EXPECT_EQ(r.counters.at("dram.rd"), read / 64);
  EXPECT_EQ(r.counters.at("dram.wr"), written / 64);
  EXPECT_EQ(r.labels.at("offchip"), kRepo + "/configs/hw/memory/ddr4_3200.yaml");
  // The memory's energy replaces the link's per-byte figure.
  EXPECT_EQ(r.energy_pj.count("offchip"), 0u);
  EXPECT_GT(r.energy_pj.at("dram.read"), 0);
}

TEST(NmUnitOnMemory, AVeryFastMemoryMatchesTheLink) {
  // HBM3 widened to 256 channels (26.2 TB/s peak) against a link of that bandwidth and of
  // HBM3's unloaded read latency (tRCD + CL = 94 clocks of 0.3125 ns = 29 ns): both leave
  // the unit compute-bound, and cycles agree within 1%.
  const std::string dir = ::testing::TempDir() + "/nm_unit_fast_memory";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/wide_hbm3.yaml");
    f << "base: " << kRepo << "/configs/hw/memory/hbm3.yaml\n"
      << "dram: {org: {channels: 256, ranks: 1, bankgroups: 4, banks_per_group: 4, "
         "rows: 32768, columns: 256}}\n";
  }
  nm_unit::testing::Gemm g{256, 128, 1024, "2:4", false, ""};
  nm_unit::testing::Machine fast;
  fast.read_gbps = fast.write_gbps = 26214;
  fast.latency_ns = 29;
  const std::string link = nm_unit::testing::experiment_yaml(fast, g, "nm_unit");
  const double a = testing::in_child([&] { return double(run_yaml(link).cycles); });
  const double b = testing::in_child([&] {
    return double(
        run_yaml(with_memory(link, dir + "/wide_hbm3.yaml", "max_outstanding: 4096")).cycles);
  });
  std::printf("link %.0f cycles, wide HBM3 %.0f cycles\n", a, b);
  EXPECT_NEAR(b, a, 0.01 * a);
}

TEST(NmUnitOnMemory, DdrIsSlowerThanHbmAndTheBusShowsWhy) {
  // Weight streaming at 2:4 needs ~300 B/cycle for this shape: DDR4 (25.6 GB/s) is
  // memory-bound with its data bus near saturation; HBM2e (410 GB/s) is not.
  nm_unit::testing::Gemm g{512, 32, 1024, "2:4", false, ""};
  const std::string base = nm_unit::testing::experiment_yaml({}, g, "nm_unit");
  auto run = [&](const char* preset, const char* tier) {
    return testing::in_child(
        [&] {
          SimResult r = run_yaml(with_memory(base, kRepo + "/configs/hw/memory/" + preset));
          return std::vector<double>{double(r.cycles),
                                     r.metrics.at(std::string(tier) + ".data_bus_utilization")};
        },
        2);
  };
  const std::vector<double> d = run("ddr4_3200.yaml", "dram"), h = run("hbm2e.yaml", "hbm");
  std::printf("DDR4 %.0f cycles (bus %.2f), HBM2e %.0f cycles (bus %.2f)\n", d[0], d[1], h[0],
              h[1]);
  EXPECT_GT(d[0], 5 * h[0]);
  EXPECT_GT(d[1], 0.8);
  EXPECT_LT(h[1], d[1]);
}

std::string config_error(const std::string& yaml) {
  try {
    run_yaml(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(NmUnitOnMemory, BadMemoryBindingsNameTheKey) {
  nm_unit::testing::Gemm g{64, 32, 256, "2:4", false, ""};
  const std::string base = nm_unit::testing::experiment_yaml({}, g, "nm_unit");
  // Not a memory model's file.
  std::string e = config_error(with_memory(base, kRepo + "/configs/hw/nm_unit/base.yaml"));
  EXPECT_NE(e.find("model"), std::string::npos) << e;
  EXPECT_NE(e.find("configs/hw/nm_unit/base.yaml"), std::string::npos) << e;
  // A memory too small for the operands' layout.
  const std::string dir = ::testing::TempDir() + "/nm_unit_tiny_memory";
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir + "/tiny.yaml");
    f << "base: " << kRepo << "/configs/hw/memory/ddr4_3200.yaml\n"
      << "dram: {org: {channels: 1, ranks: 1, bankgroups: 1, banks_per_group: 1, rows: 1, "
         "columns: 1024}}\n";
  }
  e = config_error(with_memory(base, dir + "/tiny.yaml"));
  EXPECT_NE(e.find("hw.memory"), std::string::npos) << e;
  EXPECT_NE(e.find("8192"), std::string::npos) << e;  // the memory's capacity, in bytes
  // Requests must be aligned powers of two.
  e = config_error(
      with_memory(base, kRepo + "/configs/hw/memory/ddr4_3200.yaml", "request_bytes: 96"));
  EXPECT_NE(e.find("hw.offchip.request_bytes"), std::string::npos) << e;
  // Mismatched widths: 32 B requests on DDR4's 64 B bursts.
  e = config_error(
      with_memory(base, kRepo + "/configs/hw/memory/ddr4_3200.yaml", "request_bytes: 32"));
  EXPECT_NE(e.find("hw.offchip.request_bytes"), std::string::npos) << e;
  EXPECT_NE(e.find("64 B"), std::string::npos) << e;
}

TEST(BoundBy, ThresholdsAsDocumented) {
  // sim/system/offchip.h: compute at >= 90% busy (on-chip bandwidth if fed < 90%), then
  // off-chip bandwidth at >= 70% busy, else latency.
  EXPECT_EQ(bound_by(0.95, 0.99), "compute");
  EXPECT_EQ(bound_by(0.90, 0.0), "compute");
  EXPECT_EQ(bound_by(0.95, 0.2, 0.25), "onchip_bandwidth");
  EXPECT_EQ(bound_by(0.95, 0.2, 0.90), "compute");
  EXPECT_EQ(bound_by(0.89, 0.70, 0.25), "offchip_bandwidth");
  EXPECT_EQ(bound_by(0.5, 0.69), "latency");
}

// LSTM-Sharp at 16K MACs keeps its weights on chip (16 MiB a tile) but its 512 banks of
// 4 bytes feed a quarter of the 4,096 lanes of a tile each cycle (2 bytes per lane), so a
// pass takes 4 cycles (docs/lstm_sharp.md): the tiles are busy, the weight SRAM bounds them.
// At batch 4 the DPUs take an input slice per sequence in those 4 cycles: compute-bound, 4x
// the work in about the same cycles (within 2%: more x and h through the memory).
TEST(LstmSharpOnMemory, SramFeedBoundAtBatchOneComputeBoundAtBatchFour) {
  struct Out {
    char bound[32];
    double cycles;
  };
  auto run = [&](int batch) {
    const std::string bytes = testing::in_child_bytes([&] {
      Config hw = Config::load(kRepo + "/configs/hw/lstm_sharp/hbm2e.yaml", "hw");
      hw.set("mac_budget", Config::parse("16384", "test", "hw.mac_budget"));
      Config w = Config::load(kRepo + "/configs/workloads/lstm/char_rnn.yaml", "workload");
      w.set("batch", Config::parse(std::to_string(batch), "test", "workload.batch"));
      PreparedRun r = prepare_run(hw, w, 1);
      const SimResult s = execute(r, nullptr);
      Out o{};
      std::snprintf(o.bound, sizeof o.bound, "%s", s.labels.at("bound").c_str());
      o.cycles = static_cast<double>(s.cycles);
      return std::string(reinterpret_cast<const char*>(&o), sizeof o);
    });
    Out o{};
    EXPECT_EQ(bytes.size(), sizeof o);
    if (bytes.size() == sizeof o) std::memcpy(&o, bytes.data(), sizeof o);
    return o;
  };
  const Out one = run(1), four = run(4);
  EXPECT_STREQ(one.bound, "onchip_bandwidth");
  EXPECT_STREQ(four.bound, "compute");
  EXPECT_NEAR(four.cycles, one.cycles, 0.02 * one.cycles);
}

}  // namespace
}  // namespace tessel::sim
