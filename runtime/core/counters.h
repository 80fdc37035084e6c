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
  // `action` must name an entry of the energy table ("mac_int16", "sram_read_byte").
  void add(const std::string& component, const std::string& action, uint64_t n = 1) {
    actions_[{component, action}] += n;
  }
  // A plain statistic with no energy (busy cycles, stalls...).
  void stat(const std::string& name, uint64_t n = 1) { stats_[name] += n; }

  uint64_t action(const std::string& component, const std::string& action) const;
  // "component.action" and stat names → count, as written to SimResult.counters.
  std::map<std::string, uint64_t> flat() const;
  // component → pJ, summing count × table energy over the component's actions.
  std::map<std::string, double> energy_pj(const EnergyTable& table) const;

 private:
  std::map<std::pair<std::string, std::string>, uint64_t> actions_;
  std::map<std::string, uint64_t> stats_;
};

}  // namespace tessel
