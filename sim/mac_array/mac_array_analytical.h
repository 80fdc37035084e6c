// Analytical twin of the MAC array: the same pipeline as an event-free recurrence.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/counters.h"
#include "sim/mac_array/mac_array_params.h"

namespace tessel::mac_array {

// Cycle at which the last output tile is stored. Equal, by construction of both, to the
// SystemC model's finish cycle: each stage starts at the max of its inputs' ready times.
uint64_t pipeline_cycles(const MacArrayParams& p, const std::vector<Chunk>& chunks);
// The activity the SystemC model counts, computed in closed form from the schedule.
void count_activity(const MacArrayParams& p, const std::vector<Chunk>& chunks, Counters& out);

}  // namespace tessel::mac_array
