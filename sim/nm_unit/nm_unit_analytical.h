// Analytical twin of the N:M unit: the SystemC pipeline as an event-free recurrence.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/counters.h"
#include "sim/nm_unit/nm_unit_params.h"

namespace tessel::nm_unit {

// Cycle at which the last output tile is stored. Each stage (load, decode, array, store)
// starts at the max of its inputs' ready times and its own previous finish, exactly as the
// SystemC processes block on their FIFOs, so the two agree to the cycle.
uint64_t pipeline_cycles(const NmUnitParams& p, const Mapping& map, const std::vector<Step>& steps);
// The activity the SystemC blocks count, in closed form from the schedule.
void count_activity(const NmUnitParams& p, const Mapping& map, const std::vector<Step>& steps,
                    Counters& out);
// Useful MACs (stored weights x tokens) and dense-equivalent MACs (m * n * k).
uint64_t useful_macs(const Mapping& map, const std::vector<Step>& steps);

}  // namespace tessel::nm_unit

#include "runtime/core/sim_result.h"

namespace tessel::nm_unit {

// Metrics both models report: utilization of the MAC lanes, dense-equivalent throughput
// ("gflops": 2*m*n*k per second, so sparse and dense runs compare directly), the ideal
// M/N, the array's own bound k_per_cycle/lanes, the chosen tiling, and the area proxy
// (area_mm2 and its parts area_macs_mm2, area_sram_mm2, area_nm_logic_mm2; area()).
void add_metrics(const NmUnitParams& p, const NmUnitWorkload& w, const Mapping& map,
                 const std::vector<Step>& steps, SimResult& r);

}  // namespace tessel::nm_unit
