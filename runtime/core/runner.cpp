// Experiment loading and the single-point run path shared by `tessel run` and sweeps.
#include "runtime/core/runner.h"

#include <filesystem>

#include "runtime/core/energy_table.h"
#include "runtime/core/registry.h"

namespace tessel {

Config load_experiment(const std::string& path, const std::vector<Override>& overrides) {
  Config root = Config::load(path);
  if (!root.is_map()) root.fail("", "an experiment file must be a mapping");
  for (const char* part : {"hw", "workload"}) {
    if (!root.has(part)) root.fail("", std::string("missing required key '") + part + "'");
    Config value = root.at(part);
    if (value.is_scalar()) {
      Config loaded = Config::load(root.get_path(part), part);
      if (!loaded.is_map()) loaded.fail("", "expected a mapping");
      root.set(part, loaded);
    }
  }
  for (const auto& o : overrides) root.set(o.path, o.value);
  return root;
}

Override parse_override(const std::string& assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set " + assignment + ": expected key.path=value");
  Override o;
  o.path = assignment.substr(0, eq);
  o.value = Config::parse(assignment.substr(eq + 1), "--set " + o.path);
  return o;
}

SimResult run_experiment(const Config& experiment, TraceWriter* trace) {
  experiment.get<std::string>("name", "");
  experiment.get<std::string>("description", "");
  uint64_t seed = experiment.get<uint64_t>("seed", 1);
  Config hw = experiment.child("hw");
  Config workload = experiment.child("workload");

  std::string model = hw.get<std::string>("model");
  auto exp = Registry::instance().create(model);
  if (!exp) {
    std::string known;
    for (const auto& e : Registry::instance().entries())
      known += (known.empty() ? "" : ", ") + e.name;
    hw.fail("model", "unknown model '" + model + "' (registered: " + known + ")");
  }
  Config energy = hw.child("energy");
  EnergyTable table = EnergyTable::load(energy.get_path("table"));
  table = table.scaled_to(energy.get_positive("node_nm", table.node_nm()));

  exp->configure(hw, workload);
  experiment.reject_unused();

  RunContext ctx;
  ctx.seed = seed;
  ctx.trace = trace;
  SimResult r = exp->run(ctx);
  r.model = model;
  r.counters = ctx.counters.flat();
  r.energy_pj = ctx.counters.energy_pj(table);
  if (r.seconds == 0 && r.clock_ghz > 0) r.seconds = static_cast<double>(r.cycles) / (r.clock_ghz * 1e9);
  if (r.seconds > 0) r.metrics["power_w"] = r.total_energy_pj() * 1e-12 / r.seconds;
  return r;
}

}  // namespace tessel
