// Per-action energies (pJ) loaded from configs/energy/*.yaml, scaled to a technology node.
#pragma once

#include <map>
#include <string>

#include "runtime/core/config.h"

namespace tessel {

class EnergyTable {
 public:
  struct Action {
    double pj = 0;       // energy per action at the table's node and supply voltage
    bool scales = true;  // false for off-chip actions (DRAM, links): not tied to the logic node
    std::string source;  // citation or derivation
  };

  // Loads a table; `node` is the table's mapping (for example the whole file).
  static EnergyTable from_config(const Config& node);
  static EnergyTable load(const std::string& path);
  // The table a run is priced with: `energy` is a hardware file's `energy:` section, its
  // `table` loaded and scaled to its `node_nm` (1 to 1000 nm: every process node ever made;
  // default the table's own node). The runner prices with it, and models whose energy or area
  // depends on their own parameters read it the same way.
  static EnergyTable for_run(const Config& energy);

  // The same table at another node: on-chip energies scale as C·V², with C proportional
  // to the feature size and V taken from the table's `scaling.vdd` list (see the YAML).
  EnergyTable scaled_to(double node_nm) const;

  bool has(const std::string& action) const { return actions_.count(action) != 0; }
  double pj(const std::string& action) const;  // throws ConfigError naming the table
  const std::map<std::string, Action>& actions() const { return actions_; }
  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }  // the YAML it was loaded from
  double node_nm() const { return node_nm_; }
  double vdd() const { return vdd_; }

 private:
  std::string name_;
  std::string file_;
  double node_nm_ = 0;
  double vdd_ = 0;
  std::map<double, double> vdd_by_node_;
  std::map<std::string, Action> actions_;
};

}  // namespace tessel
