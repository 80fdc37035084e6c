// Loads an experiment (hardware + workload) and runs it through the registered model.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/config.h"
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

// Runs one experiment tree in this process. Throws ConfigError for bad configs.
SimResult run_experiment(const Config& experiment, TraceWriter* trace = nullptr);

}  // namespace tessel
