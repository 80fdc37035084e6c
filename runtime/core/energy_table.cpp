// Energy table loading and technology scaling.
#include "runtime/core/energy_table.h"

#include <cmath>

namespace tessel {

EnergyTable EnergyTable::from_config(const Config& c) {
  EnergyTable t;
  t.file_ = c.location().file;
  t.name_ = c.get<std::string>("name");
  c.get<std::string>("source");
  t.node_nm_ = c.get_positive("node_nm");
  t.vdd_ = c.get_positive("vdd");
  if (c.has("scaling")) {
    Config s = c.child("scaling");
    s.get_choice("rule", {"cv2"});
    Config vdd = s.child("vdd");
    for (const auto& key : vdd.keys()) {
      char* end = nullptr;
      double node = std::strtod(key.c_str(), &end);
      if (*end != '\0' || node <= 0) vdd.fail(key, "expected a node size in nm as the key");
      t.vdd_by_node_[node] = vdd.get_positive(key);
    }
  }
  t.vdd_by_node_[t.node_nm_] = t.vdd_;
  Config actions = c.child("actions");
  for (const auto& name : actions.keys()) {
    Config a = actions.child(name);
    Action act;
    act.pj = a.get_non_negative("pj", -1);
    if (act.pj < 0) a.fail("pj", "missing required key");
    act.scales = a.get<bool>("scales", true);
    act.source = a.get<std::string>("source");
    t.actions_[name] = act;
  }
  c.reject_unused();
  return t;
}

EnergyTable EnergyTable::load(const std::string& path) {
  return from_config(Config::load(path, "energy"));
}

EnergyTable EnergyTable::for_run(const Config& energy) {
  const EnergyTable table = load(energy.get_path("table"));
  return table.scaled_to(energy.get_number_range("node_nm", 1, 1000, table.node_nm()));
}

EnergyTable EnergyTable::scaled_to(double node_nm) const {
  if (node_nm == node_nm_) return *this;
  // Supply voltage at the target node: linear interpolation in the table's vdd list,
  // clamped at its ends.
  double v = vdd_;
  if (!vdd_by_node_.empty()) {
    auto hi = vdd_by_node_.lower_bound(node_nm);
    if (hi == vdd_by_node_.end()) {
      v = std::prev(hi)->second;
    } else if (hi->first == node_nm || hi == vdd_by_node_.begin()) {
      v = hi->second;
    } else {
      auto lo = std::prev(hi);
      double f = (node_nm - lo->first) / (hi->first - lo->first);
      v = lo->second + f * (hi->second - lo->second);
    }
  }
  EnergyTable t = *this;
  t.node_nm_ = node_nm;
  t.vdd_ = v;
  double factor = (node_nm / node_nm_) * (v / vdd_) * (v / vdd_);
  for (auto& kv : t.actions_)
    if (kv.second.scales) kv.second.pj *= factor;
  return t;
}

double EnergyTable::pj(const std::string& action) const {
  auto it = actions_.find(action);
  if (it == actions_.end())
    throw ConfigError(file_ + ": energy table '" + name_ + "' has no action '" + action + "'");
  return it->second.pj;
}

}  // namespace tessel
