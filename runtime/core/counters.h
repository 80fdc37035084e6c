// Activity counters: what each hardware component did, turned into energy by a table.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/core/energy_table.h"

namespace tessel {

class Counters {
 public:
  // An energy-bearing action performed `n` times by `component` ("tile0", "weight_sram").
  // `action` must name an entry of the energy table ("mac_int16", "sram_read_byte") or an
  // action the model defined with define_action().
  void add(const std::string& component, const std::string& action, uint64_t n = 1) {
    actions_[{component, action}] += n;
  }
  // A plain statistic with no energy (busy cycles, stalls...).
  void stat(const std::string& name, uint64_t n = 1) { stats_[name] += n; }

  // An action whose price the model derives itself from its device parameters (a DRAM's
  // ACT+PRE pair from its IDD currents, a NAND page program from VCC·ICC·tPROG), because
  // it depends on the device file rather than on the logic node: off-chip, never scaled.
  // Defining it again at the same price is harmless (two tiers of one preset reporting);
  // another price under the same name throws std::logic_error naming the action, as does
  // a negative or non-finite price.
  void define_action(const std::string& action, double pj, const std::string& source);
  const std::map<std::string, EnergyTable::Action>& defined_actions() const { return defined_; }

  uint64_t action(const std::string& component, const std::string& action) const;
  // "component.action" and stat names → count, as written to SimResult.counters.
  std::map<std::string, uint64_t> flat() const;
  // component → pJ, summing count × energy over the component's actions: the defined
  // price, else the table's. An action both defined and in the table is a ConfigError
  // naming both (one action, one price); one in neither is the table's ConfigError.
  std::map<std::string, double> energy_pj(const EnergyTable& table) const;
  // component → pJ over the defined actions only (what a model can price before the
  // runner applies the table: the memory model's energy per byte). Components without a
  // defined action are absent.
  std::map<std::string, double> defined_energy_pj() const;

 private:
  std::map<std::pair<std::string, std::string>, uint64_t> actions_;
  std::map<std::string, uint64_t> stats_;
  std::map<std::string, EnergyTable::Action> defined_;
};

}  // namespace tessel
