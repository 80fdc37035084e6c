// Energy of a run beyond per-action table entries: SRAM priced by macro size, leakage, clock
// and control, and the per-part breakdown every LSTM-Sharp model reports.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/core/config.h"
#include "runtime/core/counters.h"
#include "runtime/core/energy_table.h"
#include "sim/lstm_sharp/lstm_sharp_params.h"
#include "sim/lstm_sharp/sram_energy.h"

namespace tessel::lstm_sharp {

// Prices the SRAM actions of `macros` (reads and writes, a write priced as a read) from
// Horowitz's arrays in `table`, log-log by macro size (sram_energy.h).
void define_sram_actions(const SramMacros& macros, const EnergyTable& table, Counters& out);

// Components whose energy is on-chip dynamic energy, by part.
inline const char* const kComputeComponents[] = {"dpus", "mfu"};
inline const char* const kSramComponents[] = {"weight_sram", "stream_buffer", "act_buffer",
                                              "psum_buffer"};

// After the run's activity is counted: leakage of the on-chip SRAM (component
// `sram_leakage`: capacity in KiB × run time in ns, priced by the table's
// sram_leakage_kib_ns) and clock tree and control (component `clock_control`: the on-chip
// dynamic energy in pJ, priced by clock_control_per_dynamic_pj).
void add_static_and_clock_counters(const MachineParams& m, uint64_t cycles,
                                   const EnergyTable& table, Counters& out);

// Metrics energy_compute_pj, energy_sram_dynamic_pj, energy_leakage_pj,
// energy_clock_control_pj and energy_offchip_pj (everything else: the link's or the memory
// model's energy), which sum to the run's total; sram_capacity_kib; area_mm2 (SRAM cells and
// MACs at the table's node, a proxy).
void add_energy_metrics(const MachineParams& m, const Counters& counters, const EnergyTable& table,
                        std::map<std::string, double>& metrics);

}  // namespace tessel::lstm_sharp
