// The interface every model implements (simulators and algorithm runs), and what the runner
// hands it.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "runtime/core/keys.h"
#include "runtime/core/sim_result.h"
#include "runtime/core/trace_writer.h"

namespace tessel {

struct RunContext {
  uint64_t seed = 1;             // the point's seed; models derive all randomness from it
  TraceWriter* trace = nullptr;  // non-null when the user asked for --trace
  Counters counters;             // filled by the model; the runner turns it into energy
  // Folder for the point's own files (curves, checkpoints, indexes); empty: write none.
  // Artifacts are recorded in SimResult::artifacts relative to this folder.
  std::string artifact_dir;
  // Folder shared by every point of a sweep for results worth reusing between points
  // (a search index built once for an L sweep); empty: no cache.
  std::string cache_dir;
  std::ostream* log = nullptr;  // progress lines for a person watching; may be null
};

// A hardware model or an algorithm run on a workload. The runner checks the configs against
// keys(), calls configure(), then calls run() once.
class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual void configure(const Config& hw, const Config& workload) = 0;
  // The keys this model's hw and workload files may hold (runtime/core/keys.h). The runner
  // checks both files against them before configure(); configure() reads through them.
  virtual const ModelKeys& keys() const = 0;
  // Fills cycles, clock_ghz, metrics and checks; activity goes to ctx.counters.
  virtual SimResult run(RunContext& ctx) = 0;
  // Simulations price their activity with hw.energy; an algorithm that runs on the host
  // has no energy table and says so here.
  virtual bool uses_energy_table() const { return true; }
};

}  // namespace tessel
