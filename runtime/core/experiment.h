// The interface every model implements, and what the runner hands it.
#pragma once

#include <cstdint>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "runtime/core/sim_result.h"
#include "runtime/core/trace_writer.h"

namespace tessel {

struct RunContext {
  uint64_t seed = 1;             // the point's seed; models derive all randomness from it
  TraceWriter* trace = nullptr;  // non-null when the user asked for --trace
  Counters counters;             // filled by the model; the runner turns it into energy
};

// A hardware model run on a workload. The runner calls configure() (which must read every
// key the model uses), rejects keys nobody read, then calls run() once.
class Experiment {
 public:
  virtual ~Experiment() = default;
  virtual void configure(const Config& hw, const Config& workload) = 0;
  // Fills cycles, clock_ghz, metrics and checks; activity goes to ctx.counters.
  virtual SimResult run(RunContext& ctx) = 0;
};

}  // namespace tessel
