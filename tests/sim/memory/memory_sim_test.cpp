// Memory hierarchy over TLM-2.0: each preset's bandwidth and unloaded latency against
// theory or published figures, NVM asymmetry and read-modify-write, SSD IOPS vs queue
// depth, PCIe overhead, conservation on random traces. SystemC runs one simulation per
// process, so curves that need several simulations fork one child per point.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include "runtime/core/error.h"
#include "runtime/core/runner.h"
#include "sim/core/sc_runtime.h"
#include "sim/memory/dram_params.h"
#include "sim/memory/ftl.h"
#include "sim/memory/memory_keys.h"
#include "sim/memory/memory_system.h"
#include "sim/memory/pcie_link.h"
#include "sim/memory/workload.h"
#include "tests/sim/in_child.h"

namespace tessel::memory {
namespace {

const std::string kHw = std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/";

// Runs the registered "memory" model on `device` (a file in configs/hw/memory) with an
// inline workload (YAML flow mapping).
SimResult run_memory(const std::string& device, const std::string& workload,
                     const std::string& hw_extra = "") {
  std::string text = "hw: {model: memory, energy: {table: " + std::string(TESSEL_SOURCE_DIR) +
                     "/configs/energy/memory_devices.yaml, node_nm: 45}, device: " + kHw + device +
                     hw_extra + "}\nworkload: " + workload + "\nseed: 3\n";
  Config experiment = Config::parse(text, "test_experiment.yaml");
  return run_experiment(experiment);
}

using tessel::testing::in_child;

void expect_checks(const SimResult& r) {
  for (const Check& c : r.checks) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
}

DramParams dram_preset(const std::string& file) {
  Config c = Config::load(kHw + file, "hw");
  return read_dram_params(c.child("dram"), c.child("controller"));
}

// ---- DRAM: streaming bandwidth and unloaded latency per preset --------------------------

// Streaming reads through the TLM path reach the refresh-bound peak, data rate x width x
// (1 - tRFC/tREFI), within 5 %.
// Enough requests in flight to cover every channel's bandwidth-latency product.
void dram_streaming(const std::string& file, int64_t outstanding) {
  DramParams p = dram_preset(file);
  SimResult r = run_memory(file,
                           "{kind: synthetic, pattern: streaming, requests: 400000, "
                           "request_bytes: 64, footprint_mib: 256, max_outstanding: " +
                               std::to_string(outstanding) + "}");
  expect_checks(r);
  const double bw = r.metrics.at("bandwidth_gbps");
  EXPECT_NEAR(bw, p.refresh_bound_gbps(), 0.05 * p.refresh_bound_gbps())
      << file << ": peak " << p.peak_gbps() << " GB/s";
  EXPECT_LE(bw, p.peak_gbps());
}

TEST(MemoryDram, Ddr4StreamingBandwidth) {
  dram_streaming("ddr4_3200.yaml", 64);
}
TEST(MemoryDram, Ddr5StreamingBandwidth) {
  dram_streaming("ddr5_4800.yaml", 128);
}
TEST(MemoryDram, Hbm2eStreamingBandwidth) {
  dram_streaming("hbm2e.yaml", 1024);
}
TEST(MemoryDram, Hbm3StreamingBandwidth) {
  dram_streaming("hbm3.yaml", 2048);
}

// One read at a time to fresh rows: tRCD + CL + tBURST (closed bank), exactly.
void dram_unloaded(const std::string& file) {
  DramParams p = dram_preset(file);
  SimResult r = run_memory(file,
                           "{kind: synthetic, pattern: random, requests: 2000, "
                           "request_bytes: " +
                               std::to_string(p.burst_bytes()) +
                               ", footprint_mib: 4096, max_outstanding: 1, "
                               "interarrival_ns: 2000}");
  expect_checks(r);
  const double miss_ns = static_cast<double>(p.t.rcd + p.t.cl + p.t.burst) * p.tck_ns;
  const double conflict_ns = miss_ns + static_cast<double>(p.t.rp) * p.tck_ns;
  // Random rows: with open pages a request finds its bank closed (tRCD + CL + tBURST) or
  // on another row (+ tRP); the median is one of the two, refresh collisions aside.
  const double p50 = r.metrics.at("latency_p50_ns");
  const bool miss = std::abs(p50 - miss_ns) <= 0.01 * miss_ns;
  const bool conflict = std::abs(p50 - conflict_ns) <= 0.01 * conflict_ns;
  EXPECT_TRUE(miss || conflict) << file << ": p50 " << p50 << " ns, miss " << miss_ns
                                << " ns, conflict " << conflict_ns << " ns";
}

TEST(MemoryDram, Ddr4UnloadedLatency) {
  // DDR4-3200AA: 22 + 22 + 4 = 48 tCK = 30 ns closed bank; 43.75 ns with a conflict.
  DramParams p = dram_preset("ddr4_3200.yaml");
  SimResult r = run_memory("ddr4_3200.yaml",
                           "{kind: synthetic, pattern: streaming, requests: 1, request_bytes: 64, "
                           "footprint_mib: 1, max_outstanding: 1}");
  expect_checks(r);
  EXPECT_NEAR(r.metrics.at("latency_p50_ns"), 30.0, 0.05 * 30.0);
  EXPECT_NEAR(r.metrics.at("latency_p50_ns"),
              static_cast<double>(p.t.rcd + p.t.cl + p.t.burst) * p.tck_ns, 0.01);
}

TEST(MemoryDram, Ddr4RandomUnloadedLatency) {
  dram_unloaded("ddr4_3200.yaml");
}

TEST(MemoryDram, Ddr5UnloadedLatency) {
  dram_unloaded("ddr5_4800.yaml");
}
TEST(MemoryDram, Hbm2eUnloadedLatency) {
  dram_unloaded("hbm2e.yaml");
}
TEST(MemoryDram, Hbm3UnloadedLatency) {
  dram_unloaded("hbm3.yaml");
}

// Row-buffer locality orders the latencies: streaming (hits) < random in one bank's rows
// (misses and conflicts). Checked through the row outcome counters of the same model.
TEST(MemoryDram, RowHitMissConflictCountsAndEnergy) {
  DramParams p = dram_preset("ddr4_3200.yaml");
  SimResult s = run_memory("ddr4_3200.yaml",
                           "{kind: synthetic, pattern: streaming, requests: 100000, "
                           "request_bytes: 64, footprint_mib: 64, max_outstanding: 64}");
  expect_checks(s);
  const double bursts = 100000;
  // 512 bursts per activated row set (4 bank groups x 128 columns): hit rate 1 - 4/512.
  EXPECT_NEAR(s.metrics.at("dram.row_hit_rate"), 1.0 - 4.0 / 512, 0.01);
  // DRAMPower read energy: bursts x VDD (IDD4R - IDD3N) tBURST x devices.
  const double per_burst =
      p.power.vdd * (p.power.idd4r - p.power.idd3n) * static_cast<double>(p.t.burst) * p.tck_ns * 8;
  EXPECT_NEAR(s.energy_pj.at("dram.read"), bursts * per_burst, 1e-6 * bursts * per_burst);
  const double act =
      p.power.vdd *
      (p.power.idd0 * p.t.rc - (p.power.idd3n * p.t.ras + p.power.idd2n * (p.t.rc - p.t.ras))) *
      p.tck_ns * 8;
  EXPECT_NEAR(s.energy_pj.at("dram.activate"), static_cast<double>(s.counters.at("dram.act")) * act,
              1.0);
  EXPECT_GT(s.counters.at("dram.ref"), 0u);
}

// ---- DRAM controller under load: queueing, latency two ways ------------------------------

// One metric of a run on the device file `device` (a full path), in a child process.
double dram_metric(const std::string& device, const std::string& workload, const std::string& key) {
  return in_child([&]() -> double {
    Config e =
        Config::parse("hw: {model: memory, energy: {table: " + std::string(TESSEL_SOURCE_DIR) +
                          "/configs/energy/memory_devices.yaml, node_nm: 45}, device: " + device +
                          "}\nworkload: " + workload + "\nseed: 3\n",
                      "test_experiment.yaml");
    SimResult r = run_experiment(e);
    for (const Check& c : r.checks)
      if (!c.passed) return NAN;
    return r.metrics.at(key);
  });
}

// Open-loop random reads at rising offered load: the latency from arrival at the controller
// grows with the queueing (the wait of a queue grows as load / (1 - load)), the latency
// from the first DRAM command stays near the device's service time.
TEST(MemoryDram, LatencyFromArrivalGrowsWithLoadFromIssueDoesNot) {
  std::vector<double> arrival, issue;
  for (double ia : {20.0, 10.0, 6.5}) {
    const std::string w =
        "{kind: synthetic, pattern: random, requests: 60000, "
        "request_bytes: 64, footprint_mib: 1024, max_outstanding: 4096, "
        "interarrival_ns: " +
        std::to_string(ia) + "}";
    arrival.push_back(dram_metric(kHw + "ddr4_3200.yaml", w, "dram.latency_from_arrival_mean_ns"));
    issue.push_back(dram_metric(kHw + "ddr4_3200.yaml", w, "dram.latency_from_issue_mean_ns"));
  }
  for (size_t i = 1; i < arrival.size(); ++i) EXPECT_GT(arrival[i], arrival[i - 1]);
  // Queueing (arrival less issue) at 85 % of the random-read capacity: several times that
  // at 28 %; the service part: within 50 % of it.
  EXPECT_GT(arrival[2] - issue[2], 3 * (arrival[0] - issue[0]));
  EXPECT_LT(issue[2], 1.5 * issue[0]);
  // Unloaded, a random read is a closed-bank or conflicting access: 30 to 43.75 ns.
  EXPECT_GT(issue[0], 30.0);
  EXPECT_LT(issue[0], 50.0);
}

// Little's law (requests in the system = throughput x time in the system): with 16 requests
// in flight, all admitted (32-entry read queue), the latency from arrival is 16 requests
// over the throughput. With 64 in flight the 32-entry read queue holds the rest back at the
// initiator; a 64-entry read queue lets the controller hold all 64.
TEST(MemoryDram, SaturatedLatencyFollowsLittlesLaw) {
  const std::string stream =
      "{kind: synthetic, pattern: streaming, requests: 200000, "
      "request_bytes: 64, footprint_mib: 256, max_outstanding: ";
  auto in_controller = [&](const std::string& device, int outstanding) {
    const std::string w = stream + std::to_string(outstanding) + "}";
    const double lat = dram_metric(device, w, "dram.latency_from_arrival_mean_ns");
    return lat * dram_metric(device, w, "bandwidth_gbps") / 64.0;
  };
  EXPECT_NEAR(in_controller(kHw + "ddr4_3200.yaml", 16), 16, 0.03 * 16);
  EXPECT_LT(in_controller(kHw + "ddr4_3200.yaml", 64), 48);
  // The preset with a 64-entry read queue, written to the build tree.
  std::string text;
  FILE* f = fopen((kHw + "ddr4_3200.yaml").c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  fclose(f);
  for (auto [from, to] : {std::pair<std::string, std::string>{"read_queue: 32", "read_queue: 64"},
                          {"../../energy/", std::string(TESSEL_SOURCE_DIR) + "/configs/energy/"}}) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
  }
  const std::string variant = std::string(TESSEL_BINARY_DIR) + "/ddr4_3200_read_queue_64.yaml";
  f = fopen(variant.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(text.c_str(), f);
  fclose(f);
  EXPECT_NEAR(in_controller(variant, 64), 64, 0.03 * 64);
}

// ---- NVM: Optane-like asymmetry, RMW, bandwidth caps -----------------------------------

// One metric (or counter) of a run in a child process: several runs in one test.
double metric(const std::string& device, const std::string& workload, const std::string& key) {
  return in_child([&]() -> double {
    SimResult r = run_memory(device, workload);
    for (const Check& c : r.checks)
      if (!c.passed) return std::nan("");
    auto m = r.metrics.find(key);
    if (m != r.metrics.end()) return m->second;
    return static_cast<double>(r.counters.at(key));
  });
}

TEST(MemoryNvm, UnloadedLatenciesMatchPublishedFigures) {
  // Izraelevitz et al. 2019: random read 305 ns, sequential read 169 ns, write 94 ns.
  EXPECT_NEAR(metric("optane_pmm.yaml",
                     "{kind: synthetic, pattern: random, requests: 2000, request_bytes: 64, "
                     "footprint_mib: 8192, max_outstanding: 1}",
                     "latency_p50_ns"),
              305, 0.05 * 305);
  // Three of four 64 B reads of a 256 B line hit the on-DIMM buffer.
  EXPECT_NEAR(metric("optane_pmm.yaml",
                     "{kind: synthetic, pattern: streaming, requests: 4000, request_bytes: 64, "
                     "footprint_mib: 64, max_outstanding: 1}",
                     "latency_p50_ns"),
              169, 0.05 * 169);
  EXPECT_NEAR(metric("optane_pmm.yaml",
                     "{kind: synthetic, pattern: random, requests: 2000, request_bytes: 64, "
                     "footprint_mib: 8192, max_outstanding: 1, read_fraction: 0, "
                     "interarrival_ns: 2000}",
                     "latency_p50_ns"),
              94, 0.05 * 94);
}

// Bandwidth under load (large writes, mixes, many writers) is checked against published
// measurements in nvm_test.cpp; the media rates themselves are inputs.
TEST(MemoryNvm, EnergyPerByteFollowsMediaLines) {
  const std::string rd =
      "{kind: synthetic, pattern: streaming, requests: 50000, request_bytes: 256, "
      "footprint_mib: 1024, max_outstanding: 64}";
  const std::string wr =
      "{kind: synthetic, pattern: streaming, requests: 50000, request_bytes: 256, "
      "footprint_mib: 1024, max_outstanding: 64, read_fraction: 0}";
  // Whole lines, each read or written once: the PCM array energies (16.82 vs 2.47 pJ/bit).
  const double e_rd = metric("optane_pmm.yaml", rd, "energy_pj_per_byte");
  const double e_wr = metric("optane_pmm.yaml", wr, "energy_pj_per_byte");
  EXPECT_NEAR(e_rd, 2.47 * 8, 0.01 * 2.47 * 8);
  EXPECT_NEAR(e_wr, 16.82 * 8, 0.01 * 16.82 * 8);
}

TEST(MemoryNvm, SmallRandomWritesPayReadModifyWrite) {
  // 64 B writes to distinct random lines: each line is written back whole after a read
  // of the old line: write amplification 256/64 = 4 and one RMW per request.
  const std::string rnd =
      "{kind: synthetic, pattern: random, requests: 20000, request_bytes: 64, "
      "footprint_mib: 65536, max_outstanding: 16, read_fraction: 0}";
  EXPECT_NEAR(metric("optane_pmm.yaml", rnd, "nvm.write_amplification"), 4.0, 0.02);
  EXPECT_NEAR(metric("optane_pmm.yaml", rnd, "nvm.rmw"), 20000, 20);
  // RMW steals read bandwidth and writes whole lines: at most 64/256 of the write cap.
  EXPECT_LT(metric("optane_pmm.yaml", rnd, "bandwidth_gbps"), 2.3 / 4 * 1.05);
  // Sequential 64 B writes combine into full lines: no RMW, amplification 1.
  const std::string seq =
      "{kind: synthetic, pattern: streaming, requests: 20000, request_bytes: 64, "
      "footprint_mib: 64, max_outstanding: 16, read_fraction: 0}";
  EXPECT_NEAR(metric("optane_pmm.yaml", seq, "nvm.write_amplification"), 1.0, 1e-9);
  EXPECT_EQ(metric("optane_pmm.yaml", seq, "nvm.rmw"), 0);
}

// ---- SSD: IOPS vs queue depth, unloaded latency, garbage collection ---------------------

double ssd_iops(const std::string& device, int qd) {
  return in_child([&] {
    SimResult r = run_memory(
        device, "{kind: synthetic, pattern: random, requests: " + std::to_string(2000 + 200 * qd) +
                    ", request_bytes: 4096, footprint_mib: 8192, "
                    "max_outstanding: " +
                    std::to_string(qd) + "}");
    return r.metrics.at("requests_per_us") * 1e6;
  });
}

TEST(MemorySsd, IopsRiseWithQueueDepthThenSaturate) {
  std::vector<int> qds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  std::vector<double> iops;
  for (int qd : qds) iops.push_back(ssd_iops("tlc_nvme.yaml", qd));
  for (size_t i = 0; i < iops.size(); ++i) {
    ASSERT_FALSE(std::isnan(iops[i])) << "qd " << qds[i];
    if (i) {
      EXPECT_GE(iops[i], iops[i - 1] * 0.98) << "monotone at qd " << qds[i];
    }
  }
  EXPECT_GT(iops[1] / iops[0], 1.8);                     // QD1 → QD2 nearly doubles
  EXPECT_LT(iops.back() / iops[iops.size() - 2], 1.10);  // saturated at the top
  // QD1 IOPS is 1 / unloaded latency.
  // The ceiling: 32 dies each serving one read (tR) at a time, or the PCIe 3.0 x4 link.
  PcieParams link;
  link.gen = 3;
  link.lanes = 4;
  const double link_iops = link.raw_gbps() * 1e9 / static_cast<double>(link.wire_bytes(4096));
  const double die_iops = 32 / (60 * 1e-6);
  EXPECT_LE(iops.back(), std::min(link_iops, die_iops) * 1.02);
  EXPECT_GE(iops.back(), std::min(link_iops, die_iops) * 0.7);
}

TEST(MemorySsd, UnloadedReadLatencyMatchesArithmetic) {
  // TLC: host submission 1 + firmware 10 + tR 60 + 4 KiB over an 800 MB/s flash bus + link
  // each way + completion TLPs over PCIe 3.0 x4 + interrupt-driven completion 5.
  const double host_us = 1 + 5;
  PcieParams link;
  link.gen = 3;
  link.lanes = 4;
  const double pcie_us =
      static_cast<double>(link.wire_bytes(4096) + link.wire_bytes(0)) / (link.raw_gbps() * 1e3);
  const double expected = host_us + 10 + 60 + 4096.0 / 800 + 2 * 0.25 + pcie_us;
  const double tlc = in_child([] {
    return run_memory("tlc_nvme.yaml",
                      "{kind: synthetic, pattern: random, requests: 500, "
                      "request_bytes: 4096, footprint_mib: 8192, "
                      "max_outstanding: 1}")
        .metrics.at("latency_p50_ns");
  });
  EXPECT_NEAR(tlc / 1000, expected, 0.05 * expected);
  // Z-NAND class: Cheong et al. (ISSCC 2018) report 15 us for the device; the host's
  // submission and completion come on top.
  const double z = in_child([] {
    return run_memory("znand_nvme.yaml",
                      "{kind: synthetic, pattern: random, requests: 500, "
                      "request_bytes: 4096, footprint_mib: 8192, "
                      "max_outstanding: 1}")
        .metrics.at("latency_p50_ns");
  });
  EXPECT_NEAR(z / 1000 - host_us, 15.0, 0.05 * 15.0);
  const double mlc = in_child([] {
    return run_memory("mlc_nvme.yaml",
                      "{kind: synthetic, pattern: random, requests: 500, "
                      "request_bytes: 4096, footprint_mib: 8192, "
                      "max_outstanding: 1}")
        .metrics.at("latency_p50_ns");
  });
  EXPECT_LT(z, mlc);
  EXPECT_LT(mlc, tlc * 1.1);
}

TEST(MemorySsd, RandomWritesOnAFullDriveTriggerGarbageCollection) {
  SimResult r = run_memory("ssd_tlc_full.yaml",
                           "{kind: synthetic, pattern: random, requests: 2000000, "
                           "request_bytes: 4096, footprint_mib: 14000, max_outstanding: 64, "
                           "read_fraction: 0}");
  expect_checks(r);
  EXPECT_GT(r.counters.at("ssd.gc_runs"), 0u);
  EXPECT_GT(r.counters.at("ssd.erases"), 0u);
  EXPECT_GT(r.metrics.at("ssd.write_amplification"), 1.05);
  // Sustained random writes are bounded by programs: 64 planes x 16 KiB per tPROG.
  const double program_bound = 64 * 16384 / 700e-6 / 1e9;
  EXPECT_LT(r.metrics.at("bandwidth_gbps"), program_bound);
}

// ---- PCIe ------------------------------------------------------------------------------

TEST(MemoryPcie, EncodingAndTlpOverheadArithmetic) {
  PcieParams p;
  p.gen = 3;
  p.lanes = 16;
  EXPECT_NEAR(p.raw_gbps(), 8 * 16 * 128.0 / 130 / 8, 1e-12);  // 15.75 GB/s
  p.gen = 4;
  EXPECT_NEAR(p.raw_gbps(), 31.5077, 1e-3);
  p.gen = 5;
  EXPECT_NEAR(p.raw_gbps(), 63.0154, 1e-3);
  p.gen = 2;
  EXPECT_NEAR(p.raw_gbps(), 5 * 16 * 0.8 / 8, 1e-12);
  EXPECT_EQ(p.wire_bytes(4096), 4096u + 16 * 24);
  EXPECT_EQ(p.wire_bytes(64), 64u + 24);
  EXPECT_EQ(p.wire_bytes(0), 24u);
}

TEST(MemoryPcie, LinkCapsBandwidthAtEffectiveRate) {
  // HBM behind a PCIe 4.0 x4 link: 4 KiB reads stream at raw x 256 / (256 + 24).
  SimResult r = run_memory("hbm2e.yaml",
                           "{kind: synthetic, pattern: streaming, requests: 5000, "
                           "request_bytes: 4096, footprint_mib: 256, max_outstanding: 64}",
                           ", link: {gen: 4, lanes: 4, latency_ns: 250}");
  expect_checks(r);
  PcieParams p;
  p.gen = 4;
  p.lanes = 4;
  const double expected = p.raw_gbps() * 4096 / static_cast<double>(p.wire_bytes(4096));
  EXPECT_NEAR(r.metrics.at("bandwidth_gbps"), expected, 0.05 * expected);
}

// ---- Hierarchy, trace front end, conservation ------------------------------------------

TEST(MemoryHierarchy, RandomMixedTraceConservesEveryRequest) {
  SimResult r = run_experiment(load_experiment(std::string(TESSEL_SOURCE_DIR) +
                                               "/configs/experiments/memory_tiers_trace.yaml"));
  expect_checks(r);
  EXPECT_GT(r.metrics.at("dram.latency_p50_ns"), 0);
  EXPECT_GT(r.metrics.at("nvm.latency_p50_ns"), r.metrics.at("dram.latency_p50_ns"));
  EXPECT_GT(r.metrics.at("ssd.latency_p50_ns"), r.metrics.at("nvm.latency_p50_ns"));
}

TEST(MemoryHierarchy, SyntheticMixedOnEveryDeviceConserves) {
  for (const char* dev : {"ddr4_3200.yaml", "hbm3.yaml", "optane_6dimm.yaml", "znand_nvme.yaml"}) {
    const double ok = in_child([&] {
      SimResult r = run_memory(dev,
                               "{kind: synthetic, pattern: mixed, requests: 20000, "
                               "request_bytes: 200, footprint_mib: 512, "
                               "max_outstanding: 48}");
      for (const Check& c : r.checks)
        if (!c.passed) return 0.0;
      return r.metrics.at("requests");
    });
    EXPECT_EQ(ok, 20000) << dev;
  }
}

TEST(MemoryHierarchy, MalformedTraceNamesTheLine) {
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/memory_bad.trace";
  FILE* f = fopen(path.c_str(), "w");
  fputs("# two good lines, then a bad one\n0 R 0x0 64\n1 W 0x40 64\n2 Q 0x80 64\n", f);
  fclose(f);
  try {
    run_memory("ddr4_3200.yaml", "{kind: trace, trace: " + path + "}");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":4: expected R or W, got 'Q'");
  }
}

TEST(MemoryHierarchy, UnknownKeysAndBadValuesAreConfigErrors) {
  EXPECT_THROW(run_memory("ddr4_3200.yaml",
                          "{kind: synthetic, pattern: zigzag, requests: 1, "
                          "footprint_mib: 1}"),
               ConfigError);
  EXPECT_THROW(run_memory("ddr4_3200.yaml",
                          "{kind: synthetic, pattern: random, requests: 1, "
                          "footprint_mib: 1, colour: red}"),
               ConfigError);
}

// ---- Declared keys (sim/memory/memory_keys.cpp) -----------------------------------------

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// The ConfigError a memory run with these hw keys (a flow mapping's body) stops with.
std::string hw_error(const std::string& hw) {
  const std::string text = "hw: {model: memory, energy: {table: " + std::string(TESSEL_SOURCE_DIR) +
                           "/configs/energy/memory_devices.yaml, node_nm: 45}, " + hw +
                           "}\nworkload: {kind: synthetic, pattern: streaming, requests: 10, "
                           "footprint_mib: 1}\nseed: 1\n";
  try {
    run_experiment(Config::parse(text, "keys_test.yaml"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

// Every file of configs/hw/memory is of a declared form: a memory hw file (one device,
// `device:` or `tiers:`; a device file is a complete device too) or a PCIe link file.
TEST(MemoryKeys, EveryShippedMemoryFileIsDeclared) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kHw)) {
    SCOPED_TRACE(entry.path().string());
    const Config c = Config::load(entry.path().string(), "hw");
    if (c.has("gen")) {
      EXPECT_NO_THROW(pcie_keys().check(c));
    } else {
      EXPECT_NO_THROW(memory_file_keys().check(c));
      if (c.has("kind")) EXPECT_NO_THROW(device_keys().check(c));
    }
    ++files;
  }
  EXPECT_GE(files, 14);
}

// A misspelt key is named with its file, line and the nearest declared key, in the hw file,
// in a device file it names and in a link file; a value out of range in a device file too.
TEST(MemoryKeys, TyposNameTheFileLineAndNearestKey) {
  std::string m = hw_error("device: " + kHw + "ddr4_3200.yaml, descripton: x");
  EXPECT_NE(m.find("hw.descripton: unknown key (did you mean 'description'?)"), std::string::npos)
      << m;
  const std::string dev =
      write_file("memory_keys_typo_device.yaml", "base: " + kHw + "ddr4_3200.yaml\nnmae: dram2\n");
  m = hw_error("device: " + dev);
  EXPECT_NE(m.find(dev + ":2:"), std::string::npos) << m;
  EXPECT_NE(m.find("nmae: unknown key (did you mean 'name'?)"), std::string::npos) << m;
  const std::string link = write_file("memory_keys_typo_link.yaml",
                                      "gen: 3\nlanes: 4\nlatency_ns: 250\nmax_paylod_bytes: 256\n");
  m = hw_error("device: " + kHw + "tlc_nvme.yaml, link: " + link);
  EXPECT_NE(m.find(link + ":4:"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'max_payload_bytes'?"), std::string::npos) << m;
  const std::string bad =
      write_file("memory_keys_range_device.yaml",
                 "base: " + kHw + "ddr4_3200.yaml\ncontroller: {read_queue: 0}\n");
  m = hw_error("tiers: [{name: a, device: " + bad + "}]");
  EXPECT_NE(m.find(bad + ":2:"), std::string::npos) << m;
  EXPECT_NE(m.find("controller.read_queue: expected an integer from 1 to 4096"), std::string::npos)
      << m;
  // Keys of one form next to another would be ignored: an error instead.
  m = hw_error("device: " + kHw + "ddr4_3200.yaml, kind: dram");
  EXPECT_NE(m.find("hw.kind: has no meaning next to `device:`"), std::string::npos) << m;
}

// Sets `dotted` (one level of sections at most) below `c` to the YAML scalar `text`, or
// removes it when `text` is empty.
void set_or_erase(Config c, const std::string& dotted, const std::string& text) {
  const size_t dot = dotted.find('.');
  Config parent = dot == std::string::npos ? c : c.child(dotted.substr(0, dot));
  const std::string key = dot == std::string::npos ? dotted : dotted.substr(dot + 1);
  if (text.empty())
    parent.erase(key);
  else
    parent.set(key, Config::parse(text, "default"));
}

// For every key of `set` with a declared default: the section of `file` read with the key
// removed equals the section read with the key set to the declared text.
void expect_declared_defaults(const KeySet& set, const std::string& file,
                              const std::string& section,
                              const std::function<std::string(const Config&)>& read) {
  int checked = 0;
  for (const Key& k : set.keys()) {
    if (!k.fallback) continue;
    SCOPED_TRACE(file + ": " + section + "." + k.path);
    const Config absent = Config::load(kHw + file, "hw");
    const Config given = Config::load(kHw + file, "hw");
    set_or_erase(section.empty() ? absent : absent.child(section), k.path, "");
    set_or_erase(section.empty() ? given : given.child(section), k.path, *k.fallback);
    EXPECT_EQ(read(absent), read(given));
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

std::string dram_summary(const DramParams& p) {
  std::ostringstream s;
  s << p.open_page << " " << static_cast<int>(p.scheduler) << " " << p.read_queue << " "
    << p.write_queue << " " << p.write_high << " " << p.write_low << " " << p.bank_queue << " "
    << p.row_hit_cap << " " << p.t.rtrs << " " << p.t.rcd_wr;
  return s.str();
}

std::string ssd_summary(const SsdParams& p) {
  std::ostringstream s;
  s << p.sector_bytes << " " << p.page_mapping << " " << p.multi_plane << " " << p.host_submit_us
    << " " << p.polling << " " << p.host_poll_us << " " << p.host_interrupt_us << " "
    << p.gc_reserve << " " << p.prefill;
  return s.str();
}

std::string pcie_summary(const PcieParams& p) {
  std::ostringstream s;
  s << p.max_payload_bytes << " " << p.tlp_overhead_bytes << " " << p.pj_per_bit;
  return s.str();
}

// The declared defaults are the readers' and the documented figures: Ramulator 2.0's
// controller (queues of 32, watermarks 0.8 and 0.2), tRTRS 2 and tRCD_WR = tRCD (JEDEC),
// the SSD host times of docs/memory.md (1 µs submission, 5 µs interrupt, 1 µs polled), the
// PCIe payload and overhead of pcie_gen3_x4.yaml's comment (256 B, 24 B).
TEST(MemoryKeys, DeclaredDefaultsAreWhatTheReadersUse) {
  auto dram = [](const Config& c) {
    return dram_summary(read_dram_params(c.child("dram"), c.child("controller")));
  };
  expect_declared_defaults(controller_keys(), "ddr4_3200.yaml", "controller", dram);
  expect_declared_defaults(dram_keys(), "ddr4_3200.yaml", "dram", dram);
  auto ssd = [](const Config& c) { return ssd_summary(read_ssd_params(c.child("ssd"))); };
  expect_declared_defaults(ssd_keys(), "tlc_nvme.yaml", "ssd", ssd);
  auto pcie = [](const Config& c) { return pcie_summary(read_pcie_params(c)); };
  expect_declared_defaults(pcie_keys(), "pcie_gen3_x4.yaml", "", pcie);

  const Config d = Config::load(kHw + "ddr4_3200.yaml", "hw");
  for (const Key& k : controller_keys().keys())
    if (k.fallback) d.child("controller").erase(k.path);
  d.child("dram").child("timing_ck").erase("RTRS");
  const DramParams p = read_dram_params(d.child("dram"), d.child("controller"));
  EXPECT_EQ(dram_summary(p), "1 " +
                                 std::to_string(static_cast<int>(DramPolicy::kFrFcfsWriteDrain)) +
                                 " 32 32 0.8 0.2 0 16 2 " + std::to_string(p.t.rcd));
  const Config s = Config::load(kHw + "tlc_nvme.yaml", "hw");
  for (const char* k : {"sector_bytes", "mapping", "multi_plane", "host_submit_us", "completion",
                        "host_poll_us", "host_interrupt_us", "gc_reserve_superblocks", "prefill"})
    s.child("ssd").erase(k);
  EXPECT_EQ(ssd_summary(read_ssd_params(s.child("ssd"))), "4096 0 1 1 0 1 5 0 0");
  const Config l = Config::parse("{gen: 3, lanes: 4, latency_ns: 250}", "link.yaml");
  EXPECT_EQ(pcie_summary(read_pcie_params(l)), "256 24 0");

  auto workload = [](const std::string& pattern) {
    return read_memory_workload(Config::parse(
        "{kind: synthetic, pattern: " + pattern + ", requests: 1, footprint_mib: 1}", "w.yaml"));
  };
  const MemoryWorkload w = workload("streaming");
  EXPECT_EQ(w.request_bytes, 64u);
  EXPECT_EQ(w.interarrival_ns, 0);
  EXPECT_EQ(w.max_outstanding, 64);
  EXPECT_EQ(w.read_fraction, 1.0);
  EXPECT_EQ(w.tier, "");
  EXPECT_EQ(workload("random").read_fraction, 1.0);
  EXPECT_EQ(workload("mixed").read_fraction, 2.0 / 3.0);
}

// An accelerator-style initiator using the blocking interface: one thread, b_transport.
SC_MODULE(BlockingInitiator) {
  SC_HAS_PROCESS(BlockingInitiator);
  tlm_utils::simple_initiator_socket<BlockingInitiator> socket;
  std::vector<std::pair<uint64_t, uint32_t>> reads;
  std::vector<double> latency_ns;
  std::vector<tlm::tlm_response_status> status;
  explicit BlockingInitiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    SC_THREAD(run);
  }
  void run() {
    for (auto [addr, bytes] : reads) {
      tlm::tlm_generic_payload p;
      p.set_command(tlm::TLM_READ_COMMAND);
      p.set_address(addr);
      p.set_data_length(bytes);
      p.set_streaming_width(bytes);
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      const sc_core::sc_time t0 = sc_core::sc_time_stamp();
      socket->b_transport(p, delay);
      sc_core::wait(delay);
      latency_ns.push_back((sc_core::sc_time_stamp() - t0).to_seconds() * 1e9);
      status.push_back(p.get_response_status());
    }
  }
};

TEST(MemoryHierarchy, BlockingTransportFromAnAcceleratorThread) {
  sim::prepare_systemc();
  Config hw = Config::load(kHw + "dram_nvm_ssd.yaml", "hw");
  HierarchySpec spec = read_hierarchy(hw);
  MemorySystem system(spec);
  BlockingInitiator init("accelerator");
  const uint64_t nvm = spec.tiers[1].base, ssd = spec.tiers[2].base;
  init.reads = {{0x0, 64}, {0x100, 64}, {nvm, 64}, {ssd, 4096}, {ssd + spec.tiers[2].capacity, 64}};
  init.socket.bind(system.socket());
  sc_core::sc_start();
  ASSERT_EQ(init.latency_ns.size(), 5u);
  DramParams d = spec.tiers[0].dram;
  // Closed bank, then a row hit four bursts on (bank groups interleave per burst):
  // tRCD + CL + tBURST, then CL + tBURST (JESD79-4 arithmetic).
  EXPECT_NEAR(init.latency_ns[0], (d.t.rcd + d.t.cl + d.t.burst) * d.tck_ns, 0.01);
  EXPECT_NEAR(init.latency_ns[1], (d.t.cl + d.t.burst) * d.tck_ns, 0.01);
  EXPECT_NEAR(init.latency_ns[2], 305, 1);  // Optane random read
  // SSD behind PCIe 3.0 x4: host submission + firmware + tR + flash bus + link both ways +
  // serialisation + interrupt-driven completion.
  const PcieParams& l = spec.tiers[2].link;
  const double ssd_ns = (1 + 10 + 60 + 4096.0 / 800 + 5) * 1000 + 2 * l.latency_ns +
                        static_cast<double>(l.wire_bytes(4096) + l.wire_bytes(0)) / l.raw_gbps();
  EXPECT_NEAR(init.latency_ns[3], ssd_ns, 0.01 * ssd_ns);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(init.status[i], tlm::TLM_OK_RESPONSE) << i;
  EXPECT_EQ(init.status[4], tlm::TLM_ADDRESS_ERROR_RESPONSE);  // past the last tier
}

}  // namespace
}  // namespace tessel::memory
