// Counters: actions priced by the table or by the model itself (define_action), one price
// per action, and energy breakdowns that add up.
#include "runtime/core/counters.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/core/error.h"
#include "runtime/core/sim_result.h"

namespace tessel {
namespace {

const std::string kTable = std::string(TESSEL_SOURCE_DIR) + "/configs/energy/45nm.yaml";

// Expects `f` to throw E whose message contains every string of `parts`.
template <class E, class F>
void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Counters, DefinedActionsArePricedBeforeTheTable) {
  EnergyTable t = EnergyTable::load(kTable);
  Counters c;
  c.define_action("hbm_read_burst", 998.4, "256 bits x 3.9 pJ/bit");
  c.add("hbm.read", "hbm_read_burst", 3);
  c.add("array", "mac_int8", 1000);  // table: 0.3 pJ (Horowitz 2014, derived)
  auto e = c.energy_pj(t);
  EXPECT_DOUBLE_EQ(e.at("hbm.read"), 2995.2);
  EXPECT_DOUBLE_EQ(e.at("array"), 300);
  // Only the defined part, before any table.
  auto d = c.defined_energy_pj();
  EXPECT_EQ(d.size(), 1u);
  EXPECT_DOUBLE_EQ(d.at("hbm.read"), 2995.2);
  const auto& a = c.defined_actions().at("hbm_read_burst");
  EXPECT_DOUBLE_EQ(a.pj, 998.4);
  EXPECT_FALSE(a.scales);  // off-chip: a device figure, not a logic-node one
  EXPECT_EQ(a.source, "256 bits x 3.9 pJ/bit");
  // Off the table and defined by nobody: the table's error, naming the action.
  c.add("x", "no_such_action");
  expect_error<ConfigError>([&] { c.energy_pj(t); }, {"no_such_action", "horowitz_45nm"});
}

TEST(Counters, DefinedActionsIgnoreTheTableNode) {
  // A derived price is a device's, whatever node the accelerator's table is scaled to.
  EnergyTable t = EnergyTable::load(kTable).scaled_to(7);
  Counters c;
  c.define_action("dram_activate", 3408, "DRAMPower");
  c.add("dram.activate", "dram_activate", 2);
  EXPECT_DOUBLE_EQ(c.energy_pj(t).at("dram.activate"), 6816);
}

TEST(Counters, SamePriceTwiceIsOneActionAnotherPriceIsAnError) {
  Counters c;
  c.define_action("dram_refresh", 695520, "DDR4 preset");
  c.define_action("dram_refresh", 695520, "DDR4 preset, second channel group");
  EXPECT_EQ(c.defined_actions().size(), 1u);
  expect_error<std::logic_error>([&] { c.define_action("dram_refresh", 1, "other preset"); },
                                 {"'dram_refresh'", "695520", "other preset"});
  expect_error<std::logic_error>([&] { c.define_action("bad", -1, "negative"); }, {"'bad'"});
  expect_error<std::logic_error>(
      [&] { c.define_action("nan", std::numeric_limits<double>::quiet_NaN(), "nan"); }, {"'nan'"});
}

TEST(Counters, ActionInBothTableAndModelIsAConfigError) {
  EnergyTable t = EnergyTable::load(kTable);
  Counters c;
  c.define_action("dram_read_byte", 10, "a device's own figure");
  // Even uncounted: the table and the model must never both claim a name.
  expect_error<ConfigError>([&] { c.energy_pj(t); }, {kTable + ": ", "'dram_read_byte'",
                                                      "horowitz_45nm", "a device's own figure"});
}

TEST(Counters, BreakdownComponentsSumToTheHandTotal) {
  EnergyTable t = EnergyTable::load(kTable);
  Counters c;
  // DDR4 preset prices (DRAMPower by hand, tests/sim/memory/dram_channel_test.cpp).
  c.define_action("dram_activate", 3408, "ACT+PRE");
  c.define_action("dram_read_burst", 2208, "RD");
  c.define_action("dram_background_active_cycle", 258, "IDD3N");
  c.define_action("dram_background_idle_cycle", 204, "IDD2N");
  c.add("dram.activate", "dram_activate", 3);
  c.add("dram.read", "dram_read_burst", 3);
  c.add("dram.background", "dram_background_active_cycle", 100);
  c.add("dram.background", "dram_background_idle_cycle", 16);
  c.add("pe", "mac_fp16", 10);  // 2.0 pJ in the table
  c.stat("dram.act", 3);        // statistics carry no energy
  auto e = c.energy_pj(t);
  EXPECT_EQ(e.size(), 4u);
  EXPECT_DOUBLE_EQ(e.at("dram.background"), 100 * 258 + 16 * 204);
  double sum = 0;
  for (const auto& kv : e) sum += kv.second;
  EXPECT_DOUBLE_EQ(sum, 3 * 3408 + 3 * 2208 + 100 * 258 + 16 * 204 + 10 * 2.0);
  EXPECT_EQ(c.flat().at("dram.background.dram_background_idle_cycle"), 16u);
}

// The derived prices in a point record: a fixed JSON text read, and written back the same.
TEST(SimResultEnergyActions, ReadAndWrittenAsDocumented) {
  const std::string text = R"({"model": "memory", "cycles": 1, "clock_ghz": 1.0,
    "seconds": 1e-9, "counters": {"dram.activate.dram_activate": 2},
    "energy_pj": {"dram.activate": 6816.0}, "energy_total_pj": 6816.0, "metrics": {},
    "checks": [], "energy_actions": {"dram_activate": {"pj": 3408.0, "source": "DRAMPower"}}})";
  SimResult r = SimResult::from_json(nlohmann::json::parse(text));
  ASSERT_EQ(r.energy_actions.size(), 1u);
  EXPECT_DOUBLE_EQ(r.energy_actions.at("dram_activate").pj, 3408);
  EXPECT_EQ(r.energy_actions.at("dram_activate").source, "DRAMPower");
  EXPECT_EQ(r.to_json(), nlohmann::json::parse(text));
  // Records without derived prices (every model before memory devices) keep their shape.
  r.energy_actions.clear();
  EXPECT_FALSE(r.to_json().contains("energy_actions"));
}

}  // namespace
}  // namespace tessel
