// Memory-device energy through the one energy path (Counters::define_action): tiny
// hand-made traces whose commands, cycles and energies are worked out by hand from the
// device files, against what the "memory" model reports. SystemC runs one simulation per
// process: ctest runs each TEST in its own process.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "runtime/core/config.h"
#include "runtime/core/error.h"
#include "runtime/core/runner.h"

namespace tessel {
namespace {

const std::string kSrc = TESSEL_SOURCE_DIR;
const std::string kHw = kSrc + "/configs/hw/memory/";

// Runs the memory model on `device` (a file of configs/hw/memory) replaying `trace_text`
// (requests issued as soon as accepted), priced with the energy table `table`.
SimResult run_trace(const std::string& device, const std::string& trace_text,
                    const std::string& hw_extra = "",
                    const std::string& table = kSrc + "/configs/energy/memory_devices.yaml") {
  const std::string path =
      std::string(TESSEL_BINARY_DIR) + "/memory_energy_" + std::to_string(::getpid()) + ".trace";
  std::ofstream(path) << trace_text;
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove_trace{path};
  Config e = Config::parse("hw: {model: memory, energy: {table: " + table + "}, device: " + kHw +
                               device + hw_extra + "}\nworkload: {kind: trace, trace: " + path +
                               ", max_outstanding: 8, check_timing: true}\nseed: 1\n",
                           "memory_energy_test.yaml");
  SimResult r = run_experiment(e);
  for (const Check& c : r.checks) EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
  return r;
}

// The energy the model reports, three ways that must agree: the components (energy_pj),
// their sum (energy_total_pj), and the experiment's own energy per byte (priced before the
// runner applies the table).
void expect_total(const SimResult& r, double expected_pj, double bytes) {
  double sum = 0;
  for (const auto& kv : r.energy_pj) sum += kv.second;
  EXPECT_NEAR(sum, expected_pj, 1e-9 * expected_pj);
  EXPECT_NEAR(r.total_energy_pj(), expected_pj, 1e-9 * expected_pj);
  EXPECT_NEAR(r.metrics.at("energy_pj_per_byte") * bytes, expected_pj, 1e-9 * expected_pj);
  for (const auto& kv : r.counters)
    EXPECT_EQ(kv.first.find("energy_fj"), std::string::npos) << kv.first;
}

// DRAMPower (Chandrasekar et al., "Improved power modeling of DDR SDRAMs", DSD 2011), from
// the IDD currents and JEDEC timings of a device file, per rank of `devices` chips.
struct Drampower {
  double act, rd, wr, ref, bg_active, bg_idle;  // pJ per ACT+PRE, burst, REF, rank-cycle
  explicit Drampower(const std::string& device) {
    Config d = Config::load(kHw + device, "hw").child("dram");
    Config pw = d.child("power"), t = d.child("timing_ck");
    const double vdd = pw.get<double>("vdd"), n = pw.get<double>("devices_per_rank");
    const double idd0 = pw.get<double>("idd0_ma"), idd2n = pw.get<double>("idd2n_ma");
    const double idd3n = pw.get<double>("idd3n_ma"), idd4r = pw.get<double>("idd4r_ma");
    const double idd4w = pw.get<double>("idd4w_ma"), idd5b = pw.get<double>("idd5b_ma");
    const double tck = 2000.0 / d.get<double>("data_rate_mtps");  // ns, double data rate
    const double trc = t.get<double>("RC") * tck, tras = t.get<double>("RAS") * tck;
    const double tburst = d.get<double>("burst_length") / 2 * tck;
    act = vdd * (idd0 * trc - (idd3n * tras + idd2n * (trc - tras))) * n;
    rd = vdd * (idd4r - idd3n) * tburst * n;
    wr = vdd * (idd4w - idd3n) * tburst * n;
    ref = vdd * (idd5b - idd3n) * t.get<double>("RFC") * tck * n;
    bg_active = vdd * idd3n * tck * n;
    bg_idle = vdd * idd2n * tck * n;
  }
};

// DDR4-3200 (mapping [ro, ra, ba, co, bg, ch]: burst index bits 0-1 bank group, 2-8
// column, 9-10 bank, 11- row; one channel, one rank):
//   R 0x0      bank group 0, row 0      ACT @0, RD @22 (tRCD)
//   R 0x40     bank group 1, row 0      ACT @4 (tRRD_S), RD @26
//   R 0x100    bank group 0, row 0      row hit: RD @30 (tCCD_L after @22)
//   W 0x20000  bank group 0, row 1      conflict: PRE @52 (tRAS; tRTP from @30 is 42),
//                                       ACT @74 (tRP), WR @96 (tRCD), data to @116 (CWL+4)
// 3 ACT, 1 PRE, 3 RD, 1 WR, no REF (tREFI 12480); a bank stays open (open page) from
// cycle 0 to the end at cycle 116 (72.5 ns): 116 active rank-cycles, none idle.
TEST(MemoryEnergy, Ddr4TinyTraceMatchesHandDrampower) {
  const Drampower e("ddr4_3200.yaml");
  SimResult r =
      run_trace("ddr4_3200.yaml", "- R 0x0 64\n- R 0x40 64\n- R 0x100 64\n- W 0x20000 64\n");
  EXPECT_EQ(r.counters.at("dram.act"), 3u);
  EXPECT_EQ(r.counters.at("dram.pre"), 1u);
  EXPECT_EQ(r.counters.at("dram.rd"), 3u);
  EXPECT_EQ(r.counters.at("dram.wr"), 1u);
  EXPECT_EQ(r.counters.at("dram.ref"), 0u);
  EXPECT_DOUBLE_EQ(r.metrics.at("latency_max_ns"), 72.5);
  EXPECT_EQ(r.counters.at("dram.background.dram_background_active_cycle"), 116u);
  EXPECT_EQ(r.counters.at("dram.background.dram_background_idle_cycle"), 0u);
  EXPECT_NEAR(r.energy_pj.at("dram.activate"), 3 * e.act, 1e-9);
  EXPECT_NEAR(r.energy_pj.at("dram.read"), 3 * e.rd, 1e-9);
  EXPECT_NEAR(r.energy_pj.at("dram.write"), 1 * e.wr, 1e-9);
  EXPECT_NEAR(r.energy_pj.at("dram.refresh"), 0, 1e-9);
  EXPECT_NEAR(r.energy_pj.at("dram.background"), 116 * e.bg_active, 1e-9);
  // The same arithmetic in numbers (DDR4 preset: 1.2 V, 8 devices, tCK 0.625 ns):
  // 3·3408 + 3·2208 + 1920 + 116·258 = 48696 pJ for 256 bytes.
  expect_total(r, 48696, 256);
  EXPECT_NEAR(3 * e.act + 3 * e.rd + e.wr + 116 * e.bg_active, 48696, 1e-9);
  // The derived prices travel with the result.
  EXPECT_NEAR(r.energy_actions.at("dram_activate").pj, e.act, 1e-9);
  EXPECT_NEAR(r.energy_actions.at("dram_refresh").pj, e.ref, 1e-6);
  EXPECT_NE(r.energy_actions.at("dram_activate").source.find("IDD0"), std::string::npos);
}

// One read at 0 and one at 10 µs to the same row: the bank stays open until the refresh
// manager precharges it when REF falls due (tREFI, cycle 12480), REF issues tRP later, and
// the bank stays closed until the second request at cycle 16000 (10 µs) misses:
//   ACT @0, RD @22, done @48; PRE @12480, REF @12502; ACT @16000, RD @16022, done @16048.
// Active rank-cycles 12480 + 48 = 12528, idle 16000 − 12480 = 3520; 2 ACT, 2 RD, 1 REF.
TEST(MemoryEnergy, Ddr4RefreshAndIdleBackgroundMatchHandDrampower) {
  const Drampower e("ddr4_3200.yaml");
  SimResult r = run_trace("ddr4_3200.yaml", "0 R 0x0 64\n10000 R 0x0 64\n");
  EXPECT_EQ(r.counters.at("dram.act"), 2u);
  EXPECT_EQ(r.counters.at("dram.pre"), 1u);
  EXPECT_EQ(r.counters.at("dram.rd"), 2u);
  EXPECT_EQ(r.counters.at("dram.ref"), 1u);
  EXPECT_EQ(r.counters.at("dram.background.dram_background_active_cycle"), 12528u);
  EXPECT_EQ(r.counters.at("dram.background.dram_background_idle_cycle"), 3520u);
  EXPECT_NEAR(r.energy_pj.at("dram.refresh"), e.ref, 1e-6);
  EXPECT_NEAR(r.energy_pj.at("dram.background"), 12528 * e.bg_active + 3520 * e.bg_idle, 1e-6);
  // 2·3408 + 2·2208 + 695520 + 12528·258 + 3520·204 = 4657056 pJ for 128 bytes.
  expect_total(r, 4657056, 128);
}

// HBM2E per-bit preset (3.9 pJ/bit, O'Connor et al. MICRO 2017): a 64 B read and a 64 B
// write are two 32 B bursts each, 256 bits × 3.9 = 998.4 pJ per burst; the figure is a
// whole-access energy, so activation, refresh and background cost nothing on top.
TEST(MemoryEnergy, HbmPerBitPresetPricesBurstsOnly) {
  SimResult r = run_trace("hbm2e.yaml", "- R 0x0 64\n- W 0x40 64\n");
  EXPECT_EQ(r.counters.at("hbm.rd"), 2u);
  EXPECT_EQ(r.counters.at("hbm.wr"), 2u);
  EXPECT_NEAR(r.energy_pj.at("hbm.read"), 2 * 998.4, 1e-9);
  EXPECT_NEAR(r.energy_pj.at("hbm.write"), 2 * 998.4, 1e-9);
  for (const char* part : {"hbm.activate", "hbm.refresh", "hbm.background"})
    EXPECT_EQ(r.energy_pj.at(part), 0) << part;
  expect_total(r, 4 * 998.4, 128);
}

// Optane preset (PCM array energy, Lee et al. ISCA 2009: 2.47 / 16.82 pJ/bit): one
// aligned 256 B read and one aligned 256 B write are one media line each (no RMW):
// 2048 bits × 2.47 = 5058.56 pJ and 2048 × 16.82 = 34447.36 pJ.
TEST(MemoryEnergy, NvmMediaLinesPricedPerBit) {
  SimResult r = run_trace("optane_pmm.yaml", "- R 0x0 256\n- W 0x10000 256\n");
  EXPECT_EQ(r.counters.at("nvm.media_read_lines"), 1u);
  EXPECT_EQ(r.counters.at("nvm.media_write_lines"), 1u);
  EXPECT_NEAR(r.energy_pj.at("nvm.media_read"), 5058.56, 1e-6);
  EXPECT_NEAR(r.energy_pj.at("nvm.media_write"), 34447.36, 1e-6);
  expect_total(r, 5058.56 + 34447.36, 512);
}

// TLC NVMe preset behind a PCIe 3.0 x4 link given 5 pJ/bit here: a 4 KiB read is one page
// read, 3.3 V × 25 mA × 60 µs = 4950000 pJ; the 4 KiB write stays in the write buffer (no
// program yet). On the wire each 4 KiB transfer is 16 TLPs of 256 B + 24 B overhead and
// each request a 24 B TLP the other way: 2 × (4480 + 24) = 9008 bytes × 40 pJ = 360320 pJ.
TEST(MemoryEnergy, SsdPageReadAndPcieSerdesPricedFromDeviceFiles) {
  SimResult r = run_trace("tlc_nvme.yaml", "- R 0x0 4096\n- W 0x100000 4096\n",
                          ", link: {gen: 3, lanes: 4, latency_ns: 250, pj_per_bit: 5}");
  EXPECT_EQ(r.counters.at("ssd.page_reads"), 1u);
  EXPECT_EQ(r.counters.at("ssd.page_programs"), 0u);
  EXPECT_NEAR(r.energy_pj.at("ssd.page_read"), 4950000, 1e-6);
  EXPECT_EQ(r.energy_pj.at("ssd.page_program"), 0);
  EXPECT_EQ(r.energy_pj.at("ssd.erase"), 0);
  EXPECT_NEAR(r.energy_pj.at("ssd_link.serdes"), 360320, 1e-6);
  EXPECT_NEAR(r.energy_actions.at("ssd_page_program").pj, 3.3 * 25 * 700 * 1e3, 1e-3);
  EXPECT_NEAR(r.energy_actions.at("ssd_block_erase").pj, 3.3 * 25 * 3500 * 1e3, 1e-3);
  expect_total(r, 4950000 + 360320, 8192);
}

// A hierarchy behind an accelerator is priced with the accelerator's table: the memory
// energy is the same under any table that does not claim the devices' action names.
TEST(MemoryEnergy, AnyEnergyTablePricesTheSameMemoryEnergy) {
  SimResult r =
      run_trace("ddr4_3200.yaml", "- R 0x0 64\n- R 0x40 64\n- R 0x100 64\n- W 0x20000 64\n", "",
                kSrc + "/configs/energy/45nm.yaml");
  expect_total(r, 48696, 256);
}

// A table that also prices a device's action is an error naming the action: one action,
// one price.
TEST(MemoryEnergy, TableClaimingADeviceActionIsAConfigError) {
  const std::string table = std::string(TESSEL_BINARY_DIR) + "/memory_energy_clash_" +
                            std::to_string(::getpid()) + ".yaml";
  std::ofstream(table) << "name: clash\nsource: test\nnode_nm: 45\nvdd: 1.2\n"
                          "actions:\n  dram_activate: {pj: 1, scales: false, source: test}\n";
  try {
    run_trace("ddr4_3200.yaml", "- R 0x0 64\n", "", table);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& err) {
    const std::string what = err.what();
    EXPECT_NE(what.find("'dram_activate'"), std::string::npos) << what;
    EXPECT_NE(what.find("'clash'"), std::string::npos) << what;
    EXPECT_EQ(what.rfind(table + ": ", 0), 0u) << what;  // starts with the table's file
  }
  std::remove(table.c_str());
}

}  // namespace
}  // namespace tessel
