// Experiment loading and the single-point run path shared by `tessel run` and sweeps.
#include "runtime/core/runner.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include "runtime/core/energy_table.h"
#include "runtime/core/registry.h"

namespace tessel {
namespace {

// The CPU model from /proc/cpuinfo ("unknown" elsewhere).
std::string host_cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  return "unknown";
}

}  // namespace

Config load_experiment(const std::string& path, const std::vector<Override>& overrides) {
  Config root = Config::load(path);
  if (!root.is_map()) root.fail("", "an experiment file must be a mapping");
  // Overrides of a whole part (a sweep axis over hardware files) go in before file
  // references are resolved; a relative path is taken from the file that names it.
  for (const auto& o : overrides)
    if (o.path == "hw" || o.path == "workload") root.set(o.path, o.value);
  for (const char* part : {"hw", "workload"}) {
    if (!root.has(part)) root.fail(part, "missing required key");
    Config value = root.at(part);
    if (value.is_scalar()) {
      // A file that cannot be read is still an I/O error, named from the line that refers
      // to it (a sweep axis names its own file and line).
      Config loaded;
      try {
        loaded = Config::load(root.get_path(part), part);
      } catch (const IoError& e) {
        throw IoError(value.location().str() + ": " + part + ": " + e.what());
      }
      if (!loaded.is_map()) loaded.fail("", "expected a mapping");
      root.set(part, loaded);
    }
  }
  for (const auto& o : overrides)
    if (o.path != "hw" && o.path != "workload") root.set(o.path, o.value);
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

PreparedRun prepare_experiment(const Config& experiment) {
  experiment.get<std::string>("name", "");
  experiment.get<std::string>("description", "");
  const uint64_t seed = experiment.get<uint64_t>("seed", 1);
  PreparedRun run = prepare_run(experiment.child("hw"), experiment.child("workload"), seed);
  experiment.reject_unused();
  return run;
}

PreparedRun prepare_run(const Config& hw, const Config& workload, uint64_t seed) {
  PreparedRun run;
  run.seed = seed;
  run.model = hw.get<std::string>("model");
  run.experiment = Registry::instance().create(run.model);
  if (!run.experiment) {
    // Models renamed since configs were written: name the new spelling, not the whole list.
    static const std::pair<const char*, const char*> kRenamed[] = {
        {"nxm", "nm_unit"},  // issue 26: one spelling for N:M (docs/nm_unit.md)
        {"nxm_analytical", "nm_unit_analytical"},
    };
    for (const auto& [old_name, new_name] : kRenamed)
      if (run.model == old_name)
        hw.fail("model", "model '" + run.model + "' was renamed to '" + new_name +
                             "'; write model: " + new_name);
    std::string known;
    for (const auto& e : Registry::instance().entries())
      known += (known.empty() ? "" : ", ") + e.name;
    hw.fail("model", "unknown model '" + run.model + "' (registered: " + known + ")");
  }
  const bool priced = run.experiment->uses_energy_table();
  if (!priced && hw.has("energy"))
    hw.fail("energy", "model '" + run.model +
                          "' runs on this host and is not priced with an energy table; remove "
                          "hw.energy");
  // Keys are checked against the model's declaration before anything reads them, so an
  // unknown or out-of-range key is reported whatever branch configure() takes.
  const ModelKeys& keys = run.experiment->keys();
  KeySet hw_keys(run.model + " hw");
  hw_keys.include("", shared_hw_keys(priced));
  hw_keys.include("", keys.hw);
  hw_keys.check(hw);
  keys.workload.check(workload);
  if (priced) run.energy = EnergyTable::for_run(hw.child("energy"));

  run.experiment->configure(hw, workload);
  return run;
}

SimResult execute(PreparedRun& run, TraceWriter* trace, const RunOutputs& outputs) {
  RunContext ctx;
  ctx.seed = run.seed;
  ctx.trace = trace;
  ctx.artifact_dir = outputs.artifact_dir;
  ctx.cache_dir = outputs.cache_dir;
  ctx.log = outputs.log;
  SimResult r = run.experiment->run(ctx);
  r.model = run.model;
  if (!run.experiment->uses_energy_table()) {
    // An algorithm's "hardware" is the host it ran on: the record says which.
    r.labels.emplace("host_cpu", host_cpu_name());
    r.labels.emplace("host_cores", std::to_string(std::thread::hardware_concurrency()));
  }
  r.counters = ctx.counters.flat();
  r.energy_pj = ctx.counters.energy_pj(run.energy);
  for (const auto& [name, a] : ctx.counters.defined_actions())
    r.energy_actions[name] = {a.pj, a.source};
  if (r.seconds == 0 && r.clock_ghz > 0)
    r.seconds = static_cast<double>(r.cycles) / (r.clock_ghz * 1e9);
  if (r.seconds > 0) {
    double watts = r.total_energy_pj() * 1e-12 / r.seconds;
    r.metrics["power_w"] = watts;
    auto gflops = r.metrics.find("gflops");
    if (gflops != r.metrics.end() && watts > 0) r.metrics["gflops_per_w"] = gflops->second / watts;
  }
  return r;
}

SimResult run_experiment(const Config& experiment, TraceWriter* trace) {
  PreparedRun run = prepare_experiment(experiment);
  return execute(run, trace);
}

}  // namespace tessel
