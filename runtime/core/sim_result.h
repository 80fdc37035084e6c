// SimResult: everything one design point produced (a simulation or an algorithm run),
// serialised as one JSON object.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessel {

// A functional comparison against a reference (golden model).
struct Check {
  std::string name;
  bool passed = false;
  double max_error = 0;  // largest absolute difference seen
  double tolerance = 0;  // allowed absolute difference (0 = bit-exact)
  std::string detail;    // first mismatch, when there is one
};

// A simulation fills cycles, clock, seconds, counters and energy. An algorithm run
// (training, search) leaves those at zero and reports through `metrics` (loss, accuracy,
// recall, qps, tokens_per_s, wall_s, cpu_s), `labels` (the host it ran on, the backend)
// and `artifacts` (files it wrote: curves, checkpoints, indexes).
struct SimResult {
  std::string model;
  uint64_t cycles = 0;
  double clock_ghz = 0;
  double seconds = 0;                        // simulated time
  std::map<std::string, uint64_t> counters;  // action or statistic → count
  std::map<std::string, double> energy_pj;   // component → pJ
  std::map<std::string, double> metrics;     // utilization, gflops, loss, recall, ...
  std::vector<Check> checks;
  std::map<std::string, std::string> labels;  // host_cpu, backend, index kind, ...
  // Prices the model derived itself from its device parameters (Counters::define_action),
  // action → pJ and how it was derived: a reader can check every energy without the code.
  struct DerivedAction {
    double pj = 0;
    std::string source;
  };
  std::map<std::string, DerivedAction> energy_actions;
  // Artifact name → file path relative to the folder the run wrote into (a sweep's
  // results folder: "points/p0003/eval.jsonl").
  std::map<std::string, std::string> artifacts;

  double total_energy_pj() const;
  bool checks_passed() const;
  nlohmann::json to_json() const;
  static SimResult from_json(const nlohmann::json& j);
};

}  // namespace tessel
