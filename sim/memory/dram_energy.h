// DRAM energy per action from a preset's parameters: DRAMPower's IDD equations, or
// per-bit figures; and the counters that price a run's commands with them.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/core/counters.h"
#include "sim/memory/dram_channel.h"
#include "sim/memory/dram_params.h"

namespace tessel::memory {

// A price in pJ and how it was derived (the numbers that went in), for the energy record.
struct DramPrice {
  double pj = 0;
  std::string source;
};

// Energy of one action, in pJ. With IDD currents (JESD79 measurement conditions),
// following Chandrasekar et al., "Improved power modeling of DDR SDRAMs" (DSD 2011) and
// DRAMPower (Chandrasekar et al., DATE 2011), per device, times devices per rank:
//   ACT+PRE pair        VDD·[IDD0·tRC − (IDD3N·tRAS + IDD2N·(tRC − tRAS))], at least 0
//   read burst          VDD·(IDD4R − IDD3N)·tBURST,  write burst with IDD4W
//   refresh (REF)       VDD·(IDD5B − IDD3N)·tRFC
//   background          VDD·IDD3N·tCK per rank-cycle with a bank open,
//                       VDD·IDD2N·tCK per rank-cycle with all banks closed
// A per-bit preset (HBM) prices a read or write burst at burst bits × pJ/bit; its figure
// is a whole-access energy (activation included), so its other actions cost 0.
struct DramActionPrices {
  DramPrice activate, read_burst, write_burst, refresh, background_active, background_idle;
};
DramActionPrices dram_action_prices(const DramParams& p);

// Energy in pJ by part: counts × prices.
struct DramEnergy {
  double activate = 0, read = 0, write = 0, refresh = 0, background = 0;
  double total() const { return activate + read + write + refresh + background; }
};

// Rank-cycles with every bank closed: `rank_cycles` less those with a bank open.
uint64_t dram_idle_rank_cycles(const DramChannelStats& stats, uint64_t rank_cycles);

// `stats` summed over channels; `rank_cycles` = cycles simulated × ranks × channels.
DramEnergy dram_energy(const DramParams& p, const DramChannelStats& stats, uint64_t rank_cycles);

// Defines the tier's actions ("<tier>_activate", "<tier>_read_burst", "<tier>_write_burst",
// "<tier>_refresh", "<tier>_background_active_cycle", "<tier>_background_idle_cycle") and
// counts them on the components "<tier>.activate", ".read", ".write", ".refresh" and
// ".background".
void count_dram_energy(const std::string& tier, const DramParams& p, const DramChannelStats& stats,
                       uint64_t rank_cycles, Counters& counters);

}  // namespace tessel::memory
