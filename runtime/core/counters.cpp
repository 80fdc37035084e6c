// Counter bookkeeping and energy accounting.
#include "runtime/core/counters.h"

namespace tessel {

uint64_t Counters::action(const std::string& component, const std::string& action) const {
  auto it = actions_.find({component, action});
  return it == actions_.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> Counters::flat() const {
  std::map<std::string, uint64_t> out = stats_;
  for (const auto& kv : actions_) out[kv.first.first + "." + kv.first.second] += kv.second;
  return out;
}

std::map<std::string, double> Counters::energy_pj(const EnergyTable& table) const {
  std::map<std::string, double> out;
  for (const auto& kv : actions_)
    out[kv.first.first] += static_cast<double>(kv.second) * table.pj(kv.first.second);
  return out;
}

}  // namespace tessel
