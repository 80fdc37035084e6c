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
// The same with a memory (the twin's memory term, mac_array_twin.cpp): load_bus[c] is the
// data-bus time of chunk c's load, store_bus[c] that of its tile's store (its last chunk),
// in accelerator cycles; the refreshes and latency are p's memory_* fields.
uint64_t memory_pipeline_cycles(const MacArrayParams& p, const std::vector<Chunk>& chunks,
                                const std::vector<double>& load_bus,
                                const std::vector<double>& store_bus);
// The activity the SystemC model counts, computed in closed form from the schedule.
void count_activity(const MacArrayParams& p, const std::vector<Chunk>& chunks, Counters& out);

}  // namespace tessel::mac_array
