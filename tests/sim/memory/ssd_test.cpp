// NVMe SSD model: die scheduling and multi-plane rules (directed and replayed through an
// independent checker), high-queue-depth read IOPS, steady-state write amplification of
// greedy GC against the published formula, page-level mapping's read-modify-write, host
// completion costs, and batch completion times from trace batch markers.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/error.h"
#include "runtime/core/memory_trace.h"
#include "runtime/core/runner.h"
#include "runtime/core/seed.h"
#include "sim/memory/flash_array.h"
#include "sim/memory/ftl.h"
#include "tests/sim/in_child.h"

namespace tessel::memory {
namespace {

const std::string kHw = std::string(TESSEL_SOURCE_DIR) + "/configs/hw/memory/";

SsdParams preset(const std::string& file = "tlc_nvme.yaml") {
  return read_ssd_params(Config::load(kHw + file, "hw").child("ssd"));
}

// Runs the registered "memory" model on `device` (a file in configs/hw/memory, or an
// absolute path) with an inline workload.
SimResult run_memory(const std::string& device, const std::string& workload) {
  const std::string path = device[0] == '/' ? device : kHw + device;
  std::string text = "hw: {model: memory, energy: {table: " + std::string(TESSEL_SOURCE_DIR) +
                     "/configs/energy/memory_devices.yaml, node_nm: 45}, device: " + path +
                     "}\nworkload: " + workload + "\nseed: 3\n";
  return run_experiment(Config::parse(text, "ssd_test.yaml"));
}

using tessel::testing::in_child;

// A device file that derives from a preset with `ssd` keys changed (YAML flow mapping body).
std::string derived_device(const std::string& name, const std::string& base,
                           const std::string& ssd_keys) {
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/" + name;
  FILE* f = fopen(path.c_str(), "w");
  fprintf(f, "base: %s%s\nssd: {%s}\n", kHw.c_str(), base.c_str(), ssd_keys.c_str());
  fclose(f);
  return path;
}

// ---- Die scheduling and multi-plane rules ----------------------------------------------

TEST(SsdFlash, MultiPlaneReadNeedsTheSamePageOffsetOnTheDie) {
  FlashGeometry g = preset().geometry();  // 2 planes per die, tR 60 us, 800 MB/s
  const double xfer = 4096 / g.channel_mbps;
  FlashArray a(g);
  // Die 0: planes 0 and 1, same page offset, issued together: one multi-plane read.
  const double p0 = a.read(0, 3, 17, 1000, 4096, 0);
  const double p1 = a.read(1, 8, 17, 2000, 4096, 0);
  EXPECT_NEAR(p0, g.read_us + xfer, 1e-9);
  EXPECT_NEAR(p1, g.read_us + 2 * xfer, 1e-9);  // same array time, then the bus
  // Die 1 (planes 2, 3): different page offsets: one after the other on the die.
  const double q0 = a.read(2, 3, 17, 3000, 4096, 0);
  const double q1 = a.read(3, 8, 18, 4000, 4096, 0);
  EXPECT_NEAR(q0, g.read_us + xfer, 1e-9);  // die 1 sits on channel 1
  EXPECT_NEAR(q1, 2 * g.read_us + xfer, 1e-9);
  EXPECT_EQ(a.stats().multi_plane_reads, 1u);
  // Multi-plane off: the same pair as die 0's is serialised.
  g.multi_plane = false;
  FlashArray b(g);
  b.read(0, 3, 17, 1000, 4096, 0);
  EXPECT_GE(b.read(1, 8, 17, 2000, 4096, 0), 2 * g.read_us);
  EXPECT_EQ(b.stats().multi_plane_reads, 0u);
}

TEST(SsdFlash, CheckerFindsOverlapsAndBadMultiPlaneOperations) {
  const FlashGeometry g = preset().geometry();
  std::string first;
  // Two operations overlapping on die 0.
  std::vector<FlashOp> overlap = {{1, FlashOp::kRead, 0, 0, 0, 5, 0, 60},
                                  {2, FlashOp::kRead, 0, 1, 1, 5, 30, 90}};
  EXPECT_EQ(check_flash_ops(g, overlap, &first), 1u);
  EXPECT_NE(first.find("overlaps"), std::string::npos) << first;
  // One multi-plane operation with different page offsets.
  std::vector<FlashOp> offsets = {{1, FlashOp::kRead, 0, 0, 0, 5, 0, 60},
                                  {1, FlashOp::kRead, 0, 1, 1, 6, 0, 60}};
  EXPECT_EQ(check_flash_ops(g, offsets, &first), 1u);
  // A block whose address selects another plane.
  std::vector<FlashOp> parity = {{1, FlashOp::kProgram, 0, 1, 2, 5, 0, 700}};
  EXPECT_EQ(check_flash_ops(g, parity, &first), 1u);
}

// Random reads and writes (with GC) and sequential reads on the TLC preset's FTL: the log of
// array operations obeys the die rules, and sequential reads do use multi-plane reads.
void replay_rules(bool multi_plane) {
  SsdParams p = preset();
  p.logical_bytes = 1ull << 30;
  p.multi_plane = multi_plane;
  Ftl f(p);
  f.prefill(1.0);
  std::vector<FlashOp> log;
  f.flash().set_log(&log);
  uint64_t s = 7;
  double t = 0;
  for (int i = 0; i < 300000; ++i) {
    const uint64_t u = splitmix64(s) % f.units();
    if (i % 3 == 0)
      t = std::max(t, f.write(u, 4096, t));
    else
      f.read(u, 4096, t);
    if (i % 10000 == 9999) {  // a sequential stretch of 256 KiB reads
      for (uint64_t v = 0; v < 64; ++v) f.read((u + v) % f.units(), 4096, t);
    }
    t += 1.0;
  }
  ASSERT_GT(f.stats().gc_runs, 0u);
  std::string first;
  EXPECT_EQ(check_flash_ops(p.geometry(), log, &first), 0u) << first;
  if (multi_plane)
    EXPECT_GT(f.flash().stats().multi_plane_reads, 0u);
  else
    EXPECT_EQ(f.flash().stats().multi_plane_reads, 0u);
}

TEST(SsdFlash, OperationLogObeysDieRulesWithMultiPlane) {
  replay_rules(true);
}
TEST(SsdFlash, OperationLogObeysDieRulesWithoutMultiPlane) {
  replay_rules(false);
}

// Finding: with planes independent, 4 KiB random reads at queue depth 64-256 reached 533k,
// 717k and 795k IOPS on the TLC preset (PCIe-bound), 1.5-2x what its 32 dies can serve one
// read at a time: 32 / 60 us = 533k IOPS. Random reads rarely share a page offset, so
// multi-plane reads add little; the bound allows for those that do.
TEST(SsdSim, RandomReadIopsAtHighQueueDepthAreDieBound) {
  const SsdParams p = preset();
  const double dies = static_cast<double>(p.channels * p.dies_per_channel);
  const double die_bound = dies / (p.read_us * 1e-6);
  double last = 0;
  for (int qd : {64, 128, 256}) {
    // Array reads per second (reads that joined a multi-plane read share its slot).
    const double iops = in_child([&] {
      SimResult r = run_memory("tlc_nvme.yaml", "{kind: synthetic, pattern: random, requests: " +
                                                    std::to_string(2000 + 200 * qd) +
                                                    ", request_bytes: 4096, footprint_mib: 8192, "
                                                    "max_outstanding: " +
                                                    std::to_string(qd) + "}");
      const double reads = static_cast<double>(r.counters.at("ssd.page_reads"));
      const double mp = static_cast<double>(r.counters.at("ssd.multi_plane_reads"));
      // Little's law (requests in flight = IOPS x mean latency) or no result.
      const double in_flight =
          r.metrics.at("requests_per_us") * r.metrics.at("latency_mean_ns") / 1000;
      if (std::abs(in_flight - qd) > 0.05 * qd) return -in_flight;
      return r.metrics.at("requests_per_us") * 1e6 * (reads - mp) / reads;
    });
    ASSERT_GT(iops, 0) << "qd " << qd << ": NaN, or Little's law off (in flight " << -iops << ")";
    std::printf("qd %d: %.0f array reads/s, die bound %.0f\n", qd, iops, die_bound);
    EXPECT_LE(iops, die_bound * 1.01) << "qd " << qd;
    EXPECT_GE(iops, last) << "qd " << qd;
    last = iops;
  }
  EXPECT_GE(last, 0.8 * die_bound);
}

// ---- Garbage collection ------------------------------------------------------------------

// Greedy GC under uniform random writes: Xiang and Kurkoski, "An improved analytic
// expression for write amplification in NAND flash" (ICNC 2012, arXiv:1110.4245), which
// refines Agarwal and Marrow (GLOBECOM 2010, (1 + rho) / (2 rho)):
//   A = (1 + rho) / (1 + rho + W0(-(1 + rho) e^-(1 + rho))),  rho = over-provisioning.
// It gives 2.36 at rho = 0.3 (their stated check) and 7.82 at the preset's 7 %.
double greedy_wa(double rho) {
  const double a = 1 + rho, x = -a * std::exp(-a);
  double w = -0.5;  // principal branch, -1 < W0 < 0 here: Newton from the middle
  for (int i = 0; i < 100; ++i) w -= (w * std::exp(w) - x) / (std::exp(w) * (w + 1));
  return a / (a + w);
}

TEST(SsdGc, GreedyFormulaReference) {
  EXPECT_NEAR(greedy_wa(0.3), 2.36, 0.01);  // Xiang and Kurkoski's own figure
  EXPECT_NEAR(greedy_wa(0.07), 7.82, 0.01);
}

// Steady-state write amplification of the FTL (plain C++: no timing needed) under uniform
// random 4 KiB writes over a full drive: `warm` drive writes to reach steady state, then
// `measured` more. Returns programmed bytes per host byte over the measured part.
double measure_wa(const SsdParams& p, double warm, double measured, uint64_t* gc_runs = nullptr) {
  Ftl f(p);
  f.prefill(1.0);
  uint64_t s = 11;
  double t = 0;
  const uint64_t n = f.units();
  auto run = [&](double drive_writes) {
    const uint64_t writes = static_cast<uint64_t>(drive_writes * static_cast<double>(n));
    for (uint64_t i = 0; i < writes; ++i) {
      t = std::max(t, f.write(splitmix64(s) % n, 4096, t));
      if (i % 64 == 0) f.advance(t);
    }
  };
  run(warm);
  const double programs0 = static_cast<double>(f.flash().stats().page_programs);
  const double host0 = static_cast<double>(f.stats().host_bytes_written);
  run(measured);
  if (gc_runs) *gc_runs = f.stats().gc_runs;
  return (static_cast<double>(f.flash().stats().page_programs) - programs0) *
         static_cast<double>(p.page_bytes) /
         (static_cast<double>(f.stats().host_bytes_written) - host0);
}

// On a drive with the preset's NAND (16 KiB pages, 256-page blocks, 4 KiB sectors) and
// over-provisioning, on one die so that a superblock is one block and the drive has about a
// thousand of them, as real drives do per plane. Warm up for two drive writes, then measure.
double steady_wa(double op, uint64_t* gc_runs = nullptr) {
  SsdParams p = preset();
  p.channels = p.dies_per_channel = p.planes_per_die = 1;
  p.logical_bytes = 4ull << 30;
  p.overprovisioning = op;
  return measure_wa(p, 2, 1, gc_runs);
}

TEST(SsdGc, SteadyStateWriteAmplificationMatchesGreedyFormula) {
  uint64_t runs = 0;
  const double wa = steady_wa(0.07, &runs);  // the TLC preset's over-provisioning
  EXPECT_GT(runs, 1000u);
  EXPECT_NEAR(wa, greedy_wa(0.07), 0.03 * greedy_wa(0.07));
  // An enterprise-style 28 % spare: far less amplification, still on the curve.
  const double wa28 = steady_wa(0.28);
  EXPECT_NEAR(wa28, greedy_wa(0.28), 0.05 * greedy_wa(0.28));
  std::printf("write amplification: %.3f at 7 %% (formula %.3f), %.3f at 28 %% (formula %.3f)\n",
              wa, greedy_wa(0.07), wa28, greedy_wa(0.28));
}

// Over-provisioning of a drive as the greedy formula sees it: the physical space (whole
// blocks of a die's planes, as many as the spare asks for, derived here from the
// parameters, not read from the FTL) less the logical space, less `reserved_units` that
// cannot hold data, per logical unit.
double spare(const SsdParams& p, double reserved_units) {
  const double planes = p.multi_plane ? static_cast<double>(p.planes_per_die) : 1;
  const double block_units = static_cast<double>(p.page_bytes / p.sector_bytes) * planes *
                             static_cast<double>(p.pages_per_block);
  const double logical = static_cast<double>(p.logical_bytes / p.sector_bytes);
  const double blocks = std::ceil(logical * (1 + p.overprovisioning) / block_units);
  return (blocks * block_units - reserved_units - logical) / logical;
}

// Why the TLC preset is off the formula (issue 18: 9.6 against 7.8). Greedy GC collects a
// whole superblock (one block on every die) into another superblock, so when a victim is
// chosen one superblock must be entirely free to take its data; the formula (Xiang and
// Kurkoski; Desnoyers, ACM TOS 2012, whose T counts the blocks that can hold data) has no
// such reserve. That reserve is 1/N of the drive for N superblocks: nothing on a real
// drive (thousands of blocks per plane), 1.45 % of a 16 GiB drive on the preset's 32 dies
// (69 superblocks), which takes its spare from 7.0 % to 5.5 % and the amplification 24 %
// over the formula (issue 18's finding: 9.6 against 7.8, when the preset had 16 GiB). The
// FTL matches the formula evaluated at the spare less one superblock at both scales; the
// preset's 64 GiB (274 superblocks, a 0.36 % reserve) is within 8 % of the plain formula.
TEST(SsdGc, PresetScaleWriteAmplificationIsGreedyLessOneSuperblock) {
  const uint64_t preset_gib = preset().logical_bytes >> 30;
  ASSERT_EQ(preset_gib, 64u);
  for (const uint64_t gib : {uint64_t{16}, preset_gib}) {
    SsdParams p = preset();  // 32 dies of 2 planes, 256-page blocks
    p.logical_bytes = gib << 30;
    const double superblock_units =
        static_cast<double>(p.channels * p.dies_per_channel * p.planes_per_die * p.pages_per_block *
                            static_cast<int64_t>(p.page_bytes / p.sector_bytes));
    const double wa = measure_wa(p, 1.5, 0.5);
    const double plain = greedy_wa(spare(p, 0)), reserved = greedy_wa(spare(p, superblock_units));
    std::printf("%llu GiB: write amplification %.3f; formula %.3f, less one superblock %.3f\n",
                static_cast<unsigned long long>(gib), wa, plain, reserved);
    EXPECT_NEAR(wa, reserved, 0.04 * reserved) << gib << " GiB";
    if (gib == 16) {
      EXPECT_GT(wa, 1.15 * plain);  // the reserve is what the formula misses
    } else {
      EXPECT_NEAR(wa, plain, 0.08 * plain);  // the preset: within 8 %
    }
  }
}

// Finding: a run that reached GC never finished (GC repacked victims holding more than
// (pages - 1) x sectors-per-page valid sectors into a whole block of padded pages, so it
// looped without freeing space). Random writes over the whole TLC preset for one drive
// write now complete; programmed units = host units + moved units, less what waits in the
// controller.
TEST(SsdGc, FullDriveRandomWritesCompleteAndConserveUnits) {
  SsdParams p = preset();
  Ftl f(p);
  f.prefill(1.0);
  uint64_t s = 5;
  double t = 0;
  const uint64_t n = f.units();
  for (uint64_t i = 0; i < n; ++i) {
    t = std::max(t, f.write(splitmix64(s) % n, 4096, t));
    if (i % 64 == 0) f.advance(t);
  }
  const Ftl::Stats& st = f.stats();
  ASSERT_GT(st.gc_runs, 10u);
  const double per_page = static_cast<double>(p.page_bytes / f.unit_bytes());
  const double programmed = static_cast<double>(f.flash().stats().page_programs) * per_page;
  const double in =
      static_cast<double>(n - st.buffer_hits) + static_cast<double>(st.gc_moved_units);
  // Units still in the controller: the host's partial page, GC moves not yet rewritten.
  EXPECT_LE(programmed, in);
  EXPECT_GE(programmed, in - static_cast<double>(f.gc_backlog()) - 64);
  EXPECT_GT(f.write_amplification(), 1.5);
}

// ---- Mapping unit ------------------------------------------------------------------------

// Page-level mapping: a 4 KiB write into a 16 KiB mapping unit reads the rest of the page
// and rewrites all of it (write amplification page/sector = 4 before any GC); aligned 16 KiB
// writes need no read. Sector mapping packs 4 KiB writes four to a page (amplification 1).
TEST(SsdMapping, PageMappingPaysReadModifyWriteForSubPageWrites) {
  for (bool page : {false, true}) {
    SsdParams p = preset();
    p.page_mapping = page;
    p.logical_bytes = 1ull << 30;
    Ftl f(p);
    f.prefill(0.5);  // half full: no GC in this run
    uint64_t s = 3;
    double t = 0;
    const uint64_t sectors = (p.logical_bytes / 2) / 4096;
    const uint64_t writes = 20000;
    for (uint64_t i = 0; i < writes; ++i) {
      const uint64_t byte = (splitmix64(s) % sectors) * 4096;
      const uint64_t u = byte / f.unit_bytes();
      t = std::max(t, f.write(u, 4096, t));
    }
    EXPECT_EQ(f.stats().gc_runs, 0u);
    const double host_hits = static_cast<double>(f.stats().buffer_hits);
    if (page) {
      EXPECT_NEAR(static_cast<double>(f.stats().rmw_reads), writes - host_hits, 1);
      EXPECT_NEAR(f.write_amplification(), 4.0, 0.05);
    } else {
      EXPECT_EQ(f.stats().rmw_reads, 0u);
      EXPECT_NEAR(f.write_amplification(), 1.0, 0.01);
    }
  }
  SsdParams p = preset();
  p.page_mapping = true;
  p.logical_bytes = 1ull << 30;
  Ftl f(p);
  f.prefill(0.5);
  double t = 0;
  for (uint64_t u = 0; u < 5000; ++u) t = std::max(t, f.write(u * 7 % f.units(), 16384, t));
  EXPECT_EQ(f.stats().rmw_reads, 0u);
}

// ---- Host side ---------------------------------------------------------------------------

// Interrupt-driven completion costs the host more than polling (Yang et al., FAST'12);
// host costs lengthen each command but occupy no device resource: saturated IOPS are
// the same in both modes.
TEST(SsdHost, CompletionModeChangesLatencyNotThroughput) {
  const SsdParams p = preset();
  const std::string poll =
      derived_device("ssd_test_polling.yaml", "tlc_nvme.yaml", "completion: polling");
  auto qd1 = [](const std::string& dev) {
    return in_child([&] {
      return run_memory(dev,
                        "{kind: synthetic, pattern: random, requests: 300, request_bytes: 4096, "
                        "footprint_mib: 8192, max_outstanding: 1}")
          .metrics.at("latency_p50_ns");
    });
  };
  auto saturated = [](const std::string& dev) {
    return in_child([&] {
      return run_memory(dev,
                        "{kind: synthetic, pattern: random, requests: 40000, request_bytes: 4096, "
                        "footprint_mib: 8192, max_outstanding: 512}")
          .metrics.at("requests_per_us");
    });
  };
  const double interrupt_ns = qd1("tlc_nvme.yaml"), polling_ns = qd1(poll);
  EXPECT_NEAR(interrupt_ns - polling_ns, (p.host_interrupt_us - p.host_poll_us) * 1000, 1);
  EXPECT_NEAR(saturated(poll), saturated("tlc_nvme.yaml"), 0.02 * saturated(poll));
}

TEST(SsdHost, BadKeysNameFileLineAndKey) {
  const std::string dev = derived_device("ssd_test_bad.yaml", "tlc_nvme.yaml", "mapping: words");
  try {
    run_memory(dev, "{kind: synthetic, pattern: random, requests: 1, footprint_mib: 1}");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(dev + ":2:"), std::string::npos) << m;
    EXPECT_NE(m.find("ssd.mapping"), std::string::npos) << m;
  }
}

// ---- Batch completion --------------------------------------------------------------------

// A re-rank issues a batch of vector reads at once: its completion is the last read's
// completion minus the first issue. One-request batches reproduce the per-request
// latency; a batch of 32 reads over the TLC preset's 32 dies takes longer than one read
// (die collisions, the shared buses and link) and less than 32 reads one after another.
TEST(SsdBatch, BatchCompletionTimeFromTraceMarkers) {
  MemoryTrace t;
  const uint32_t obj = t.object_index("vectors");
  uint64_t s = 9;
  for (uint32_t b = 0; b < 40; ++b) {
    const uint32_t n = b < 20 ? 1 : 32;
    for (uint32_t i = 0; i < n; ++i) {
      MemoryRequest r;
      r.object = obj;
      r.address = (splitmix64(s) % 100000) * 4096;
      r.bytes = 4096;
      r.batch = b;
      r.time_ps = static_cast<int64_t>(b) * 2000000000;  // 2 ms apart: each batch alone
      t.requests.push_back(r);
    }
  }
  const std::string path = std::string(TESSEL_BINARY_DIR) + "/ssd_test_batches.trace";
  write_memory_trace(path, t, true);
  SimResult r =
      run_memory("tlc_nvme.yaml", "{kind: trace, trace: " + path + ", max_outstanding: 64}");
  for (const Check& c : r.checks) EXPECT_TRUE(c.passed) << c.name;
  EXPECT_EQ(r.metrics.at("batch_count"), 40);
  // The median batch is the slowest of the 20 single reads (the 32-read batches are all
  // slower); a single read on an idle drive costs at least firmware + tR + the bus.
  const SsdParams p = preset();
  const double single = r.metrics.at("batch_latency_p50_ns");
  const double worst = r.metrics.at("batch_latency_max_ns");
  const double one_read = (p.firmware_us + p.read_us + 4096 / p.channel_mbps) * 1000;
  EXPECT_GE(single, one_read);
  EXPECT_GT(worst, 1.2 * single);
  EXPECT_LT(worst, 32 * single);
}

}  // namespace
}  // namespace tessel::memory
