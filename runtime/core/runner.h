// Loads an experiment (hardware + workload) and runs it through the registered model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/core/config.h"
#include "runtime/core/energy_table.h"
#include "runtime/core/experiment.h"
#include "runtime/core/sim_result.h"
#include "runtime/core/trace_writer.h"

namespace tessel {

// A value that replaces the one at a dotted key path (`hw.tiles`), from a sweep or --set.
struct Override {
  std::string path;
  Config value;
};

// Loads an experiment file. `hw:` and `workload:` may be mappings or paths of YAML files
// (relative to the experiment file); overrides are applied after those are resolved.
Config load_experiment(const std::string& path, const std::vector<Override>& overrides = {});

// Parses `key.path=value` (value in YAML syntax) from the command line.
Override parse_override(const std::string& assignment);

// A configured model, ready to run: every key of the experiment has been read and
// unknown keys rejected.
struct PreparedRun {
  std::string model;
  uint64_t seed = 1;
  std::unique_ptr<Experiment> experiment;
  EnergyTable energy;  // empty for algorithm runs (Experiment::uses_energy_table false)
};

// Validates an experiment tree without simulating. Throws ConfigError for bad configs.
PreparedRun prepare_experiment(const Config& experiment);
// The same from separate hardware and workload trees (front ends such as `tessel train`
// that build an experiment from a file of their own, keeping its key paths in messages).
PreparedRun prepare_run(const Config& hw, const Config& workload, uint64_t seed);
// Where a run may write its own files and progress (RunContext has the meaning of each).
struct RunOutputs {
  std::string artifact_dir;
  std::string cache_dir;
  std::ostream* log = nullptr;
};

// Runs a prepared experiment once (SystemC: once per process).
SimResult execute(PreparedRun& run, TraceWriter* trace = nullptr, const RunOutputs& outputs = {});
// prepare_experiment + execute.
SimResult run_experiment(const Config& experiment, TraceWriter* trace = nullptr);

}  // namespace tessel
