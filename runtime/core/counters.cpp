// Counter bookkeeping and energy accounting.
#include "runtime/core/counters.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "runtime/core/error.h"

namespace tessel {

void Counters::define_action(const std::string& action, double pj, const std::string& source) {
  if (!std::isfinite(pj) || pj < 0) {
    std::ostringstream msg;
    msg << "energy action '" << action << "': derived price " << pj
        << " pJ is not a finite non-negative number (" << source << ")";
    throw std::logic_error(msg.str());
  }
  auto it = defined_.find(action);
  if (it != defined_.end()) {
    if (it->second.pj == pj) return;
    std::ostringstream msg;
    msg.precision(17);
    msg << "energy action '" << action << "' defined twice with different prices: " << it->second.pj
        << " pJ (" << it->second.source << ") and " << pj << " pJ (" << source << ")";
    throw std::logic_error(msg.str());
  }
  EnergyTable::Action a;
  a.pj = pj;
  a.scales = false;
  a.source = source;
  defined_.emplace(action, a);
}

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
  // Every clash is an error even when its action was not counted in this run: the table
  // and the model must never both claim a name.
  for (const auto& kv : defined_)
    if (table.has(kv.first))
      throw ConfigError(table.file() + ": energy table '" + table.name() + "' has an action '" +
                        kv.first + "' that the model prices itself (" + kv.second.source +
                        "); rename or remove the table's entry");
  std::map<std::string, double> out;
  for (const auto& kv : actions_) {
    auto d = defined_.find(kv.first.second);
    const double pj = d != defined_.end() ? d->second.pj : table.pj(kv.first.second);
    out[kv.first.first] += static_cast<double>(kv.second) * pj;
  }
  return out;
}

std::map<std::string, double> Counters::defined_energy_pj() const {
  std::map<std::string, double> out;
  for (const auto& kv : actions_) {
    auto d = defined_.find(kv.first.second);
    if (d != defined_.end()) out[kv.first.first] += static_cast<double>(kv.second) * d->second.pj;
  }
  return out;
}

}  // namespace tessel
