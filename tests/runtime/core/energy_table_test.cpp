// Energy table: the shipped 45 nm table, technology scaling, counters × energies.
#include "runtime/core/energy_table.h"

#include <gtest/gtest.h>

#include "runtime/core/counters.h"

namespace tessel {
namespace {

const std::string kTable = std::string(TESSEL_SOURCE_DIR) + "/configs/energy/45nm.yaml";

TEST(EnergyTable, ShippedTableHoldsHorowitzFigures) {
  EnergyTable t = EnergyTable::load(kTable);
  EXPECT_EQ(t.node_nm(), 45);
  EXPECT_DOUBLE_EQ(t.pj("mult_int8"), 0.2);
  EXPECT_DOUBLE_EQ(t.pj("add_fp32"), 0.9);
  EXPECT_DOUBLE_EQ(t.pj("mac_int8"), t.pj("mult_int8") + t.pj("add_int32"));
  EXPECT_DOUBLE_EQ(t.pj("sram_32kb_read_byte"), 20.0 / 8);
  for (const auto& [name, action] : t.actions()) EXPECT_FALSE(action.source.empty()) << name;
}

TEST(EnergyTable, ScalesOnChipAsCV2AndLeavesDramAlone) {
  EnergyTable t = EnergyTable::load(kTable);
  EnergyTable s = t.scaled_to(22);
  const double factor = (22.0 / 45.0) * (0.8 / 0.9) * (0.8 / 0.9);
  EXPECT_NEAR(s.pj("mac_int8"), 0.3 * factor, 1e-12);
  EXPECT_DOUBLE_EQ(s.pj("dram_read_byte"), t.pj("dram_read_byte"));
  // Between listed nodes the voltage is interpolated: 30 nm lies between 28 (0.9) and 32 (0.9).
  EXPECT_NEAR(t.scaled_to(30).pj("add_int32"), 0.1 * 30 / 45, 1e-12);
}

TEST(EnergyTable, UnknownActionNamesTheTable) {
  EnergyTable t = EnergyTable::load(kTable);
  try {
    t.pj("mac_int3");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              kTable + ": energy table 'horowitz_45nm' has no action 'mac_int3'");
  }
}

TEST(Counters, EnergyPerComponentIsCountTimesActionEnergy) {
  EnergyTable t = EnergyTable::load(kTable);
  Counters c;
  c.add("array", "mac_int8", 1000);
  c.add("array", "add_int32", 10);
  c.add("buffer", "sram_8kb_read_byte", 64);
  c.stat("array.stall_cycles", 5);
  auto e = c.energy_pj(t);
  EXPECT_DOUBLE_EQ(e.at("array"), 1000 * 0.3 + 10 * 0.1);
  EXPECT_DOUBLE_EQ(e.at("buffer"), 64 * 1.25);
  auto flat = c.flat();
  EXPECT_EQ(flat.at("array.mac_int8"), 1000u);
  EXPECT_EQ(flat.at("array.stall_cycles"), 5u);
}

}  // namespace
}  // namespace tessel
