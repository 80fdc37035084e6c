// LSTM-Sharp SRAM energy by macro size: Horowitz's points, the log-log rule, its range.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "runtime/core/energy_table.h"
#include "runtime/core/error.h"
#include "sim/core/area_proxy.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"
#include "sim/lstm_sharp/sram_energy.h"

namespace tessel::lstm_sharp {
namespace {

const EnergyTable& table() {
  static const EnergyTable t =
      EnergyTable::load(std::string(TESSEL_SOURCE_DIR) + "/configs/energy/45nm.yaml");
  return t;
}

// Horowitz, ISSCC 2014, Fig. 1.1.9: 64-bit reads from 8 KB, 32 KB and 1 MB arrays cost 10,
// 20 and 100 pJ, so 1.25, 2.5 and 12.5 pJ a byte; the rule returns them exactly.
TEST(SramEnergy, ReturnsHorowitzsThreePoints) {
  const auto points = horowitz_sram_points(table());
  EXPECT_DOUBLE_EQ(sram_read_pj_per_byte(points, 8), 10.0 / 8);
  EXPECT_DOUBLE_EQ(sram_read_pj_per_byte(points, 32), 20.0 / 8);
  EXPECT_DOUBLE_EQ(sram_read_pj_per_byte(points, 1024), 100.0 / 8);
}

// Between the points, a straight line in log-log: 16 KiB is the geometric mean of the 8 and
// 32 KB energies (sqrt(10 x 20) = 14.14 pJ per 64 bits), and 128 KiB, 2 of the 5 octaves
// from 32 KB to 1 MB, is 20 x 5^(2/5) = 38.07 pJ. Below 8 KB the 8 KB energy.
TEST(SramEnergy, InterpolatesLogLogAndClampsBelowTheSmallestArray) {
  const auto points = horowitz_sram_points(table());
  EXPECT_NEAR(sram_read_pj_per_byte(points, 16) * 8, std::sqrt(10.0 * 20.0), 1e-12);
  EXPECT_NEAR(sram_read_pj_per_byte(points, 128) * 8, 20 * std::pow(5.0, 0.4), 1e-12);
  EXPECT_DOUBLE_EQ(sram_read_pj_per_byte(points, 2), 10.0 / 8);
  EXPECT_DOUBLE_EQ(sram_read_pj_per_byte(points, kMinMacroKib), 10.0 / 8);
  EXPECT_THROW(sram_read_pj_per_byte(points, 2048), std::invalid_argument);
}

// Never cheaper for a larger macro, on a fine grid over the whole allowed range.
TEST(SramEnergy, IsMonotonicInMacroSize) {
  const auto points = horowitz_sram_points(table());
  double last = 0;
  for (double kib = kMinMacroKib; kib <= kMaxMacroKib; kib *= 1.01) {
    const double pj = sram_read_pj_per_byte(points, kib);
    EXPECT_GE(pj, last) << kib;
    last = pj;
  }
  EXPECT_LE(last, 100.0 / 8);
}

// The macros a buffer is built of, and the capacity leakage and area are charged on:
// 4 tiles x (16 MiB weights + 8 KiB activations + 32 KiB partial sums).
TEST(SramEnergy, MacrosAndCapacityAsBuilt) {
  const std::string machine =
      "model: lstm_sharp\nclock_ghz: 0.5\nmac_budget: 4096\ntiles: 4\ndpu_width: 32\n"
      "mfu: {lanes: 16, latency_cycles: 8}\noffchip: {read_gbps: 410}\n";
  const MachineParams m = read_machine(Config::parse(
      machine + "weight_sram: {kib_per_tile: 16384, bank_bytes: 4, macro_kib: 2}\n", "m.yaml"));
  const SramMacros s = sram_macros(m);
  EXPECT_EQ(s.weight, 2);
  EXPECT_EQ(s.act, 8);
  EXPECT_EQ(s.psum, 32);
  EXPECT_EQ(sram_capacity_kib(m), 4 * (16384 + 8 + 32));
  EXPECT_EQ(sram_read_action(2), "sram_macro_2kib_read_byte");
  EXPECT_EQ(sram_write_action(0.5), "sram_macro_0.5kib_write_byte");
}

// Area proxy by hand: 64 MiB of 0.346 um² cells at 70% array efficiency is 265.3 mm² at
// 45 nm; 4096 int16 MACs of 5137.7/4 + 179.4 um² (40 nm) are 6.00 mm² at 40 nm.
TEST(SramEnergy, AreaIsCellsOverEfficiencyPlusMacs) {
  EXPECT_NEAR(sram_area_mm2(65536, 45), 65536.0 * 8192 * 0.346 / 0.7 * 1e-6, 1e-9);
  EXPECT_NEAR(sram_area_mm2(65536, 28), 265.3 * (28.0 / 45) * (28.0 / 45), 0.1);
  EXPECT_NEAR(mac_area_mm2(4096, 40), 4096 * (5137.736 / 4 + 179.443) * 1e-6, 1e-9);
}

// The shared proxy's MAC widths by hand from Aladdin's 40 nm units (32-bit multiplier
// 5137.736, adder 179.443, shifter 519.755 um²): int8 = 5137.736/16 + 179.443 = 500.55,
// int16 = 5137.736/4 + 179.443 = 1463.88, fp16 = 1463.88 + 2 x 519.755 = 2503.39 um².
TEST(SramEnergy, SharedProxyMacWidthsByHand) {
  using sim::area::MacType;
  EXPECT_NEAR(sim::area::mac_area_mm2(1000, MacType::kInt8, 40), 0.50055, 1e-5);
  EXPECT_NEAR(sim::area::mac_area_mm2(1000, MacType::kInt16, 40), 1.46388, 1e-5);
  EXPECT_NEAR(sim::area::mac_area_mm2(1000, MacType::kFp16, 40), 2.50339, 1e-5);
  // LSTM-Sharp's MACs are the shared int16 ones, to the bit.
  EXPECT_EQ(mac_area_mm2(4096, 28), sim::area::mac_area_mm2(4096, MacType::kInt16, 28));
  // 32 one-bit gates are Aladdin's 32-bit bitwise unit, 50.370 um².
  EXPECT_NEAR(sim::area::gate_bits_area_mm2(32, 40), 50.36996e-6, 1e-12);
}

// A macro outside what the rule prices is a config error at weight_sram.macro_kib.
TEST(SramEnergy, MacroOutsideThePricedRangeIsAConfigError) {
  const std::string machine =
      "model: lstm_sharp\nclock_ghz: 0.5\nmac_budget: 4096\ntiles: 4\ndpu_width: 32\n"
      "mfu: {lanes: 16, latency_cycles: 8}\noffchip: {read_gbps: 410}\n";
  for (const char* kib : {"2048", "0.0625"}) {
    try {
      read_machine(Config::parse(machine +
                                     "weight_sram: {kib_per_tile: 16384, bank_bytes: 4, "
                                     "macro_kib: " +
                                     std::string(kib) + "}\n",
                                 "m.yaml"));
      ADD_FAILURE() << "macro_kib " << kib << " accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("weight_sram.macro_kib"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tessel::lstm_sharp
